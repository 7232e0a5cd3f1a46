"""Application health: the worst resource health, with Argo CD's exclusions (``setApplicationHealth``)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from argosy.model.health import HealthResult, HealthStatus

APPLICATION_GROUP_KIND = ("argoproj.io", "Application")


@dataclass(frozen=True, slots=True)
class ResourceHealth:
    """One managed resource as aggregation sees it."""

    group: str
    kind: str
    name: str = ""
    namespace: str = ""
    health: HealthResult | None = None
    """None when the kind has no health check."""
    hook: bool = False
    """Hooks (and ``Skip`` resources) never count."""
    ignore_healthcheck: bool = False
    """``argocd.argoproj.io/ignore-healthcheck: "true"``."""
    is_self: bool = False
    """The Application managing itself."""


def aggregate(resources: Iterable[ResourceHealth], *, expects_resources: bool = False) -> HealthResult:
    """The application's health: the worst status among the resources that count.

    Excluded: hooks, ignored resources, the app itself, resources without health, Missing resources
    (OutOfSync already reports them) and child Applications that are Missing or Unknown. When
    ``expects_resources`` is set and nothing is live, the app is Missing. The message is empty, as in
    Argo CD; per-resource messages stay on the resources.
    """
    worst = HealthStatus.HEALTHY
    live = 0
    for res in resources:
        if res.hook or res.ignore_healthcheck or res.is_self:
            continue
        status = res.health.status if res.health is not None else None
        if status is not HealthStatus.MISSING:
            live += 1
        if status is None or status is HealthStatus.MISSING:
            continue
        if (res.group, res.kind) == APPLICATION_GROUP_KIND and status is HealthStatus.UNKNOWN:
            continue
        if status.is_worse_than(worst):
            worst = status
    if expects_resources and live == 0:
        return HealthResult(status=HealthStatus.MISSING)
    return HealthResult(status=worst)
