"""``GET /api/v1/delivery/dora``: DORA figures per application and environment, per day or week.

Computed from the long-term history store (the deployments the controller writes) through the
``HistoryReader`` port with ``argosy.core.dora``; docs/ui.md defines the request and the answer, and
docs/metrics.md the figures. Only applications the caller may ``applications get`` are counted.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from argosy.api.common import APP_API
from argosy.api.context import ApiContext, Caller, allowed, authenticate, ctx_of
from argosy.api.errors import GRPC_INVALID_ARGUMENT, GRPC_UNAVAILABLE, ApiError, from_kube
from argosy.api.settings import ServerSettings
from argosy.core.dora import DoraFigures, figures_for
from argosy.model.application import format_time
from argosy.model.history import DeploymentRecord
from argosy.ports.history import HistoryReader

__all__ = ["BUCKETS", "LOOKBACK", "MAX_BUCKETS", "bucket_starts", "parse_rfc3339", "router"]

router = APIRouter(prefix="/api/v1/delivery", tags=["DeliveryService"])
CallerDep = Annotated[Caller, Depends(authenticate)]

BUCKETS = {"day": timedelta(days=1), "week": timedelta(weeks=1)}
MAX_BUCKETS = 1000
DEFAULT_PERIOD = timedelta(days=30)
GRPC_UNIMPLEMENTED = 12
LOOKBACK = timedelta(days=30)
"""Records this long before ``from`` are read too: a failure episode that began before the period
is not counted as one that starts in it."""


def invalid(message: str) -> ApiError:
    return ApiError(422, message, GRPC_INVALID_ARGUMENT)


EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)


def parse_rfc3339(name: str, value: str) -> datetime:
    """An RFC 3339 time with an offset (``Z`` or ``+hh:mm``), in UTC, from 1970 to 9000; 422 otherwise."""
    text = value.strip()
    parsed: datetime | None
    try:
        parsed = datetime.fromisoformat(text[:-1] + "+00:00" if text[-1:] in ("Z", "z") else text)
        if parsed.tzinfo is not None:
            parsed = parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        parsed = None
    if parsed is None or "T" not in text.upper() or parsed.tzinfo is None:
        raise invalid(f"{name}: {value!r} is not an RFC 3339 time with an offset (e.g. 2026-01-01T00:00:00Z)")
    if not EARLIEST <= parsed < LATEST:
        raise invalid(f"{name}: {value!r} is outside 1970-01-01 .. 9000-01-01")
    return parsed


def bucket_starts(start: datetime, end: datetime, bucket: str) -> list[datetime]:
    """Bucket boundaries covering ``[start, end)``: days from UTC midnight, weeks from Monday 00:00 UTC.
    The first bucket starts at or before ``start``."""
    step = BUCKETS[bucket]
    first = start.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if bucket == "week":
        first -= timedelta(days=first.weekday())
    starts = []
    at = first
    while at < end:
        starts.append(at)
        at += step
    return starts


def _seconds(value: timedelta | None) -> float | None:
    return None if value is None else round(value.total_seconds(), 3)


def _stamp(value: datetime) -> str:
    return format_time(value)


def _anchors(records: Sequence[DeploymentRecord]) -> list[int]:
    """For each index, the last index at or before it that ends any failure episode (a successful,
    non-failed, healthy record: the core's restore), or 0. The core's scan visits every such record,
    so scanning from one gives the same episodes as scanning from the first record."""
    out: list[int] = []
    last = 0
    for i, r in enumerate(records):
        rolled_back = i + 1 < len(records) and records[i + 1].rollback
        failed = not r.rollback and (not r.succeeded or rolled_back)
        if not failed and r.succeeded and r.healthy_at is not None:
            last = i
        out.append(last)
    return out


def _around(
    records: Sequence[DeploymentRecord],
    times: Sequence[datetime],
    anchors: Sequence[int],
    lo: datetime,
    hi: datetime,
) -> Sequence[DeploymentRecord]:
    """The records that decide the figures of ``[lo, hi)`` (sorted input): from the last restore before
    ``lo`` (a failure episode open before the bucket is not one that starts in it), through the bucket,
    and one after (a rollback marks the change before it as failed). Same figures as every record
    gives (tested), without rescanning the whole history per bucket."""
    first = bisect_left(times, lo)
    begin = anchors[first - 1] if first > 0 else 0
    end = bisect_right(times, hi) + 1
    return records[begin:end]


def _series(
    records: Sequence[DeploymentRecord],
    *,
    start: datetime,
    end: datetime,
    starts: Sequence[datetime],
    step: timedelta,
    project: str,
) -> dict[str, Any]:
    records = sorted(records, key=lambda r: r.deployed_at)
    times = [r.deployed_at for r in records]
    anchors = _anchors(records)
    first = records[0]
    whole = figures_for(
        records,
        now=end,
        period=end - start,
        environment=first.environment,
        app_namespace=first.app_namespace,
        app_name=first.app_name,
    )
    parts: list[tuple[datetime, DoraFigures]] = []
    for bucket_start in starts:
        # Each bucket is a period of its own, clipped to [from, to): the core's definitions apply
        # unchanged (a restore counts in the bucket its failure started in when done by the bucket's end).
        lo, hi = max(bucket_start, start), min(bucket_start + step, end)
        figures = figures_for(
            _around(records, times, anchors, lo, hi), now=hi, period=hi - lo, environment=first.environment
        )
        parts.append((bucket_start, figures))
    rate = whole.change_failure_rate
    return {
        "app": first.app_name,
        "namespace": first.app_namespace,
        "project": project,
        "environment": first.environment,
        "deploymentFrequency": {
            "perDay": round(whole.deployment_frequency_per_day, 4),
            "count": whole.deployments,
            "buckets": [{"start": _stamp(s), "count": f.deployments} for s, f in parts],
        },
        "leadTimeSeconds": {
            "median": _seconds(whole.lead_time_median),
            "p90": _seconds(whole.lead_time_p90),
            "samples": whole.lead_time_samples,
            "buckets": [{"start": _stamp(s), "median": _seconds(f.lead_time_median)} for s, f in parts],
        },
        "changeFailureRate": {
            "rate": None if rate is None else round(rate, 4),
            "failed": whole.failed_changes,
            "total": whole.changes,
            "buckets": [
                {"start": _stamp(s), "failed": f.failed_changes, "total": f.changes} for s, f in parts
            ],
        },
        "timeToRestoreSeconds": {
            "median": _seconds(whole.time_to_restore_median),
            "restores": whole.restores,
            "open": whole.open_failures,
            "buckets": [{"start": _stamp(s), "median": _seconds(f.time_to_restore_median)} for s, f in parts],
        },
    }


async def _projects(ctx: ApiContext) -> dict[str, str]:
    """Application name -> project, from the list cache when it is synced, else from the apiserver."""
    cache = ctx.cache
    if cache is not None and cache.synced:
        return {e.name: e.project for e in cache.items()}
    try:
        result = await ctx.deps.kube.list(APP_API, "Application", ctx.deps.namespace, limit=500)
    except Exception as exc:
        raise from_kube(exc, "applications") from exc
    out: dict[str, str] = {}
    for obj in result.items:
        name = str((obj.get("metadata") or {}).get("name") or "")
        out[name] = str((obj.get("spec") or {}).get("project") or "default")
    return out


async def _visible(
    ctx: ApiContext,
    history: HistoryReader,
    settings: ServerSettings,
    caller: Caller,
    names: Iterable[str],
) -> dict[str, str]:
    """The application names the caller may ``get``, with their project. A deleted application is
    judged by the project of its last recorded operation; with none, it needs ``*/<name>``."""
    live = await _projects(ctx)
    out: dict[str, str] = {}
    for name in sorted(set(names)):
        project = live.get(name)
        if project is None:
            last = await history.operations(app_namespace=ctx.deps.namespace, app_name=name, limit=1)
            project = last[0].project if last else ""
        obj = f"{project}/{name}" if project else f"*/{name}"
        if allowed(settings, caller, "applications", "get", obj):
            out[name] = project
    return out


@router.get("/dora", summary="DORA figures per application and environment (docs/ui.md)")
async def dora(
    request: Request,
    *,
    caller: CallerDep,
    from_: Annotated[str | None, Query(alias="from")] = None,
    to: str | None = None,
    bucket: str = "day",
    app: str = "",
    environment: str = "",
) -> dict[str, Any]:
    ctx = ctx_of(request)
    now = ctx.now().astimezone(UTC)
    end = parse_rfc3339("to", to) if to else now
    start = parse_rfc3339("from", from_) if from_ else end - DEFAULT_PERIOD
    if bucket not in BUCKETS:
        raise invalid(f"bucket: {bucket!r} is not one of day, week")
    if start >= end:
        raise invalid(f"from ({_stamp(start)}) must be before to ({_stamp(end)})")
    step = BUCKETS[bucket]
    count = math.ceil((end - start) / step) + 1
    if count > MAX_BUCKETS:
        raise invalid(
            f"the range from {_stamp(start)} to {_stamp(end)} needs over {MAX_BUCKETS} {bucket} buckets"
        )
    history = ctx.deps.history
    if history is None:
        raise ApiError(
            501, "DORA figures need the history store, which this server does not have", GRPC_UNIMPLEMENTED
        )
    settings = await ctx.settings.load()
    try:
        records = await history.deployments(
            app_namespace=ctx.deps.namespace,
            app_name=app or None,
            environment=environment or None,
            since=start - LOOKBACK,
        )
    except Exception as exc:
        message = f"the history store is unavailable: {type(exc).__name__}"
        raise ApiError(503, message, GRPC_UNAVAILABLE) from exc
    records = [r for r in records if r.deployed_at <= end]
    visible = await _visible(ctx, history, settings, caller, (r.app_name for r in records))
    groups: dict[tuple[str, str], list[DeploymentRecord]] = {}
    for record in records:
        if record.app_name in visible:
            groups.setdefault((record.app_name, record.environment), []).append(record)
    starts = bucket_starts(start, end, bucket)
    series = [
        _series(group, start=start, end=end, starts=starts, step=step, project=visible[name])
        for (name, _env), group in sorted(groups.items())
    ]
    # Applications with records only before the period still get a (zero) series: their absence of
    # deployments is a figure too.
    return {"period": {"from": _stamp(start), "to": _stamp(end)}, "bucket": bucket, "series": series}
