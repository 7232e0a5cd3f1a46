"""DORA figures from deployment records: deployment frequency, lead time for changes, change failure
rate and time to restore, per application and environment (or per environment) over a period.

Layer 1 (``argosy.core``): pure. Input is ``argosy.model.history.DeploymentRecord``s (from the
history store) and an injected ``now``. Definitions (docs/metrics.md, "DORA figures"):

* **change**: a deployment record that is not a rollback;
* **deployment frequency**: successful changes in the period / days in the period;
* **lead time for changes**: ``healthy_at - commit_time`` of the successful changes in the period
  that have both (median, and the 90th percentile);
* **change failure rate**: failed changes / changes in the period, where a change failed if its
  deployment failed or the next record of the same application and environment is a rollback;
* **time to restore**: for each failure episode that starts in the period (one or more failed
  changes in a row), from the first failure (its ``deployed_at``) to the first later healthy
  deployment (``healthy_at``, a rollback counts); median over restored episodes. Episodes not yet
  restored are counted in ``open_failures``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from argosy.model.history import DeploymentRecord

__all__ = ["DoraFigures", "GroupBy", "dora_figures", "figures_for", "percentile"]


class GroupBy(StrEnum):
    APP = "app"
    ENVIRONMENT = "environment"


@dataclass(frozen=True, slots=True)
class DoraFigures:
    environment: str
    app_namespace: str
    """Empty when grouped by environment."""
    app_name: str
    period_start: datetime
    period_end: datetime
    deployments: int
    """Successful changes in the period."""
    deployment_frequency_per_day: float
    lead_time_median: timedelta | None
    lead_time_p90: timedelta | None
    lead_time_samples: int
    changes: int
    failed_changes: int
    change_failure_rate: float | None
    """None when there was no change in the period."""
    time_to_restore_median: timedelta | None
    restores: int
    open_failures: int


def percentile(values: Sequence[timedelta], q: float) -> timedelta | None:
    """Linear-interpolated percentile (``q`` in 0..1) of durations; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    frac = pos - low
    return ordered[low] + (ordered[high] - ordered[low]) * frac


def _sorted(records: Iterable[DeploymentRecord]) -> list[DeploymentRecord]:
    return sorted(records, key=lambda r: r.deployed_at)


def _failed_changes(history: Sequence[DeploymentRecord]) -> list[bool]:
    """For each record of one app/environment (sorted): is it a failed change?"""
    flags: list[bool] = []
    for i, record in enumerate(history):
        if record.rollback:
            flags.append(False)
            continue
        rolled_back = i + 1 < len(history) and history[i + 1].rollback
        flags.append((not record.succeeded) or rolled_back)
    return flags


def _restores(
    history: Sequence[DeploymentRecord], failed: Sequence[bool], start: datetime, end: datetime
) -> tuple[list[timedelta], int]:
    durations: list[timedelta] = []
    open_failures = 0
    i = 0
    while i < len(history):
        if not failed[i]:
            i += 1
            continue
        began = history[i].deployed_at
        j = i + 1
        restored_at: datetime | None = None
        while j < len(history):
            candidate = history[j]
            if not failed[j] and candidate.succeeded and candidate.healthy_at is not None:
                restored_at = candidate.healthy_at
                break
            j += 1
        if start <= began < end:
            if restored_at is not None and restored_at <= end:
                durations.append(restored_at - began)
            else:
                open_failures += 1
        i = j if j > i else i + 1
    return durations, open_failures


def figures_for(
    history: Sequence[DeploymentRecord],
    *,
    now: datetime,
    period: timedelta,
    environment: str,
    app_namespace: str = "",
    app_name: str = "",
) -> DoraFigures:
    """Figures of one group; ``history`` may span several applications (each is chained separately)."""
    start = now - period
    days = period.total_seconds() / 86400
    by_app: dict[tuple[str, str], list[DeploymentRecord]] = {}
    for record in _sorted(history):
        by_app.setdefault((record.app_namespace, record.app_name), []).append(record)
    deployments = changes = failed_changes = open_failures = 0
    lead_times: list[timedelta] = []
    restores: list[timedelta] = []
    for records in by_app.values():
        failed = _failed_changes(records)
        for record, is_failed in zip(records, failed, strict=True):
            if not (start <= record.deployed_at < now) or record.rollback:
                continue
            changes += 1
            failed_changes += is_failed
            if record.succeeded:
                deployments += 1
                if record.commit_time is not None and record.healthy_at is not None:
                    lead_times.append(record.healthy_at - record.commit_time)
        durations, still_open = _restores(records, failed, start, now)
        restores.extend(durations)
        open_failures += still_open
    return DoraFigures(
        environment=environment,
        app_namespace=app_namespace,
        app_name=app_name,
        period_start=start,
        period_end=now,
        deployments=deployments,
        deployment_frequency_per_day=deployments / days if days > 0 else 0.0,
        lead_time_median=percentile(lead_times, 0.5),
        lead_time_p90=percentile(lead_times, 0.9),
        lead_time_samples=len(lead_times),
        changes=changes,
        failed_changes=failed_changes,
        change_failure_rate=failed_changes / changes if changes else None,
        time_to_restore_median=percentile(restores, 0.5),
        restores=len(restores),
        open_failures=open_failures,
    )


def dora_figures(
    records: Iterable[DeploymentRecord],
    *,
    now: datetime,
    period: timedelta = timedelta(days=30),
    group_by: GroupBy = GroupBy.APP,
) -> list[DoraFigures]:
    """Figures per application and environment (or per environment), sorted by their keys.

    Pass every record up to ``now`` (earlier ones too: a rollback or a restore after the period's
    start may refer to a deployment before it); records after ``now`` are ignored.
    """
    if period <= timedelta(0):
        raise ValueError("period must be positive")
    groups: dict[tuple[str, str, str], list[DeploymentRecord]] = {}
    for record in records:
        if record.deployed_at > now:
            continue
        if group_by is GroupBy.APP:
            key = (record.environment, record.app_namespace, record.app_name)
        else:
            key = (record.environment, "", "")
        groups.setdefault(key, []).append(record)
    return [
        figures_for(history, now=now, period=period, environment=env, app_namespace=ns, app_name=name)
        for (env, ns, name), history in sorted(groups.items())
    ]
