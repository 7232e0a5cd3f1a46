"""DORA figures from deployment records (argosy.core.dora)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from argosy.core.dora import GroupBy, dora_figures, percentile
from argosy.model.history import DeploymentRecord

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
H = timedelta(hours=1)


def dep(
    at: datetime,
    *,
    ok: bool = True,
    app: str = "web",
    env: str = "production",
    commit_ago: timedelta | None = 2 * H,
    healthy_after: timedelta | None = timedelta(minutes=10),
    rollback: bool = False,
    rev: str = "r",
) -> DeploymentRecord:
    return DeploymentRecord(
        app_namespace="argocd",
        app_name=app,
        environment=env,
        revision=rev,
        deployed_at=at,
        succeeded=ok,
        commit_time=at - commit_ago if commit_ago is not None else None,
        healthy_at=at + healthy_after if ok and healthy_after is not None else None,
        rollback=rollback,
    )


def test_percentile() -> None:
    values = [timedelta(minutes=m) for m in (10, 20, 30, 40)]
    assert percentile(values, 0.5) == timedelta(minutes=25)
    assert percentile(values, 0.0) == timedelta(minutes=10)
    assert percentile(values, 1.0) == timedelta(minutes=40)
    assert percentile([], 0.5) is None


def test_steady_successful_deployments() -> None:
    records = [dep(NOW - i * DAY, commit_ago=(i + 1) * H) for i in range(1, 11)]  # 10 in the last 10 days
    (fig,) = dora_figures(records, now=NOW, period=timedelta(days=10))
    assert (fig.environment, fig.app_namespace, fig.app_name) == ("production", "argocd", "web")
    assert fig.deployments == 10 and fig.changes == 10
    assert fig.deployment_frequency_per_day == pytest.approx(1.0)
    # lead time = commit -> healthy = (i+1)h + 10 min, i = 1..10: median between 6h10 and 7h10
    assert fig.lead_time_median == timedelta(hours=6, minutes=40)
    assert fig.lead_time_samples == 10
    assert fig.change_failure_rate == 0.0
    assert fig.time_to_restore_median is None and fig.restores == 0 and fig.open_failures == 0


def test_failures_rollbacks_and_time_to_restore() -> None:
    t = NOW - 5 * DAY
    records = [
        dep(t),  # good
        dep(t + 1 * H, ok=False),  # failed deployment ...
        dep(t + 2 * H, ok=False),  # ... still failing (same episode)
        dep(t + 3 * H, healthy_after=timedelta(minutes=30)),  # fixed: healthy at +3h30
        dep(t + DAY),  # good, then rolled back (a failed change)
        dep(t + DAY + H, rollback=True, healthy_after=timedelta(minutes=5)),  # restored at +1d 1h05
        dep(t + 2 * DAY, ok=False),  # failed and never restored
    ]
    (fig,) = dora_figures(records, now=NOW, period=7 * DAY)
    assert fig.changes == 6  # the rollback is not a change
    assert fig.failed_changes == 4  # two failed, one rolled back, one failed at the end
    assert fig.change_failure_rate == pytest.approx(4 / 6)
    assert fig.deployments == 3  # successful changes
    assert fig.restores == 2
    # episode 1: t+1h -> t+3h30 = 2h30; episode 2: t+1d -> t+1d1h05 = 1h05; median = 1h47m30s
    assert fig.time_to_restore_median == timedelta(hours=1, minutes=47, seconds=30)
    assert fig.open_failures == 1


def test_period_bounds_and_grouping() -> None:
    records = [
        dep(NOW - 40 * DAY),  # outside a 30-day period
        dep(NOW - 10 * DAY),
        dep(NOW + H),  # in the future: ignored
        dep(NOW - 2 * DAY, app="api"),
        dep(NOW - 3 * DAY, env="staging", commit_ago=None),
    ]
    figures = dora_figures(records, now=NOW)
    keys = [(f.environment, f.app_name, f.deployments) for f in figures]
    assert keys == [("production", "api", 1), ("production", "web", 1), ("staging", "web", 1)]
    staging = figures[2]
    assert staging.lead_time_median is None and staging.lead_time_samples == 0
    by_env = dora_figures(records, now=NOW, group_by=GroupBy.ENVIRONMENT)
    assert [(f.environment, f.app_name, f.deployments) for f in by_env] == [
        ("production", "", 2),
        ("staging", "", 1),
    ]
    assert by_env[0].deployment_frequency_per_day == pytest.approx(2 / 30)


def test_failure_before_the_period_restored_inside_is_not_an_episode_of_the_period() -> None:
    records = [dep(NOW - 31 * DAY, ok=False), dep(NOW - 29 * DAY)]
    (fig,) = dora_figures(records, now=NOW)
    assert fig.restores == 0 and fig.open_failures == 0
    assert fig.change_failure_rate == 0.0 and fig.changes == 1


def test_no_changes_means_no_failure_rate() -> None:
    (fig,) = dora_figures([dep(NOW - 60 * DAY)], now=NOW)
    assert fig.changes == 0 and fig.change_failure_rate is None and fig.deployment_frequency_per_day == 0.0


def test_period_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        dora_figures([], now=NOW, period=timedelta(0))
