"""Metrics computed from history: DORA figures from the ``HistoryStore`` into the ``Metrics`` gauges.

Layer 4 (``argosy.services``): imports ``argosy.core.dora``, ``argosy.ports`` and the standard
library. The controller (or a periodic task) calls :func:`publish_dora`; see docs/metrics.md.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from argosy.core.dora import DoraFigures, GroupBy, dora_figures
from argosy.ports.history import HistoryStore
from argosy.ports.metrics import Metrics

__all__ = ["publish_dora"]


def _seconds(value: timedelta | None) -> float | None:
    return value.total_seconds() if value is not None else None


async def publish_dora(
    history: HistoryStore,
    metrics: Metrics,
    *,
    now: datetime,
    period: timedelta = timedelta(days=30),
    lookback: timedelta | None = None,
) -> list[DoraFigures]:
    """Compute the figures per application and environment over ``period`` and set the gauges.

    Records from ``lookback`` (default: one more period) before the period are read too, so that a
    failure or rollback just after the period's start is tied to the deployment before it.
    """
    since = now - period - (lookback if lookback is not None else period)
    records = await history.deployments(since=since)
    figures = dora_figures(records, now=now, period=period, group_by=GroupBy.APP)
    for f in figures:
        metrics.set_dora(
            namespace=f.app_namespace,
            name=f.app_name,
            environment=f.environment,
            deployments_per_day=f.deployment_frequency_per_day,
            lead_time_seconds=_seconds(f.lead_time_median),
            change_failure_rate=f.change_failure_rate,
            time_to_restore_seconds=_seconds(f.time_to_restore_median),
        )
    return figures
