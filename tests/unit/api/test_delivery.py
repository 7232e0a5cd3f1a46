"""``GET /api/v1/delivery/dora`` over a history store (in memory, and SQLite through the real SQL
store): the figures, the buckets, RBAC per application and the parameter checks."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.ext.asyncio import create_async_engine

from argosy.adapters.db import SqlStore, default_sqlite_url, open_store
from argosy.api import ApiDeps, create_app, delivery
from argosy.api.delivery import BUCKETS, bucket_starts
from argosy.core.dora import figures_for
from argosy.model.history import DeploymentRecord, OperationKind, OperationRecord
from argosy.ports.history import HistoryStore
from argosy.services.memory_history import MemoryHistoryStore
from tests.unit.api.fakes import NOW, NS, FakeKube, seed

FROM = "2026-02-19T00:00:00Z"
TO = "2026-03-01T00:00:00Z"


def t(day: int, hour: int = 0, minute: int = 0, month: int = 2) -> datetime:
    return NOW.replace(month=month, day=day, hour=hour, minute=minute)


def dep(app: str, at: datetime, *, ok: bool = True, env: str = "production", **kw: Any) -> DeploymentRecord:
    return DeploymentRecord(NS, app, env, kw.pop("revision", f"{app}-{at:%d%H%M}"), at, ok, **kw)


def op(app: str, project: str, at: datetime) -> OperationRecord:
    return OperationRecord(
        NS, app, project, "production", OperationKind.SYNC, ("abc",), "admin", False, "Succeeded", "", at, at
    )


async def populate(store: HistoryStore) -> None:
    # artemis-web: ok (lead 1.5 h), a failure restored 1.5 h later (lead 3.5 h), ok without a commit time.
    await store.record_deployment(dep("artemis-web", t(20, 10), commit_time=t(20, 9), revision="r1"))
    await store.mark_healthy(NS, "artemis-web", "r1", t(20, 10, 30))
    await store.record_deployment(dep("artemis-web", t(21, 10), ok=False, revision="r2"))
    await store.record_deployment(dep("artemis-web", t(21, 11), commit_time=t(21, 8), revision="r3"))
    await store.mark_healthy(NS, "artemis-web", "r3", t(21, 11, 30))
    await store.record_deployment(dep("artemis-web", t(25, 10), revision="r4"))
    # Another environment of an app of the same name is a series of its own.
    await store.record_deployment(dep("artemis-web", t(26, 10), env="staging"))
    # Before the period, after it, and in another namespace: not counted.
    await store.record_deployment(dep("artemis-web", t(10, 10), revision="r0"))
    await store.record_deployment(dep("artemis-web", t(1, 10, month=3), revision="r9"))
    await store.record_deployment(DeploymentRecord("other-ns", "artemis-web", "production", "x", t(22), True))
    await store.record_deployment(dep("sophia-api", t(22)))
    # Deleted applications: one whose last operation names its project, one with no operation.
    await store.record_operation(op("old-app", "sophia", t(23)))
    await store.record_deployment(dep("old-app", t(23)))
    await store.record_deployment(dep("ghost", t(24)))


@pytest.fixture(params=["memory", "sqlite"])
def history(request: pytest.FixtureRequest, tmp_path: Path) -> HistoryStore:
    if request.param == "memory":
        store = MemoryHistoryStore()
        asyncio.run(populate(store))
        return store
    url = default_sqlite_url(tmp_path / "argosy.db")

    async def fill() -> None:
        async with await open_store(url) as sql:
            await populate(sql)

    asyncio.run(fill())
    # A new engine: it connects lazily, in the test client's event loop.
    return SqlStore(create_async_engine(url))


class Client:
    def __init__(self, client: TestClient, tokens: dict[str, str]) -> None:
        self.client, self.tokens = client, tokens

    def dora(self, who: str = "admin", **params: str) -> Any:
        query = {"from": FROM, "to": TO, "bucket": "day", **params}
        query = {k: v for k, v in query.items() if v != ""}
        return self.client.get(
            "/api/v1/delivery/dora", params=query, headers={"Authorization": f"Bearer {self.tokens[who]}"}
        )


def _client(history: HistoryStore | None) -> Iterator[Client]:
    kube = FakeKube()
    tokens = seed(kube)
    app = create_app(ApiDeps(kube=kube, namespace=NS, clock=lambda: NOW, watch_cache=False, history=history))
    with TestClient(app, base_url="https://testserver") as client:
        yield Client(client, tokens)
    if isinstance(history, SqlStore):
        asyncio.run(history.close())


@pytest.fixture
def api(history: HistoryStore) -> Iterator[Client]:
    yield from _client(history)


@pytest.fixture
def mem_api() -> Iterator[Client]:
    store = MemoryHistoryStore()
    asyncio.run(populate(store))
    yield from _client(store)


def series(body: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(s["app"], s["environment"]): s for s in body["series"]}


def test_figures_and_day_buckets(api: Client) -> None:
    r = api.dora()
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["period"] == {"from": FROM, "to": TO}
    assert body["bucket"] == "day"
    by = series(body)
    assert set(by) == {
        ("artemis-web", "production"),
        ("artemis-web", "staging"),
        ("sophia-api", "production"),
        ("old-app", "production"),
        ("ghost", "production"),
    }
    web = by["artemis-web", "production"]
    assert web["project"] == "artemis"
    # r1, r3, r4 succeeded in the 10 days (r0 is before, r9 after the period).
    assert web["deploymentFrequency"]["count"] == 3
    assert web["deploymentFrequency"]["perDay"] == pytest.approx(0.3)
    assert web["leadTimeSeconds"]["median"] == pytest.approx(9000)  # of 5400 and 12600
    assert web["leadTimeSeconds"]["samples"] == 2
    assert (web["changeFailureRate"]["rate"], web["changeFailureRate"]["failed"]) == (0.25, 1)
    assert web["changeFailureRate"]["total"] == 4
    assert web["timeToRestoreSeconds"]["median"] == pytest.approx(5400)
    assert web["timeToRestoreSeconds"]["open"] == 0

    buckets = web["deploymentFrequency"]["buckets"]
    assert [b["start"] for b in buckets] == [f"2026-02-{d:02d}T00:00:00Z" for d in range(19, 29)]
    assert [b["count"] for b in buckets] == [0, 1, 1, 0, 0, 0, 1, 0, 0, 0]
    cfr = {b["start"][8:10]: (b["failed"], b["total"]) for b in web["changeFailureRate"]["buckets"]}
    assert cfr["21"] == (1, 2) and cfr["20"] == (0, 1) and cfr["19"] == (0, 0)
    lead = {b["start"][8:10]: b["median"] for b in web["leadTimeSeconds"]["buckets"]}
    assert lead["20"] == 5400 and lead["21"] == 12600 and lead["25"] is None
    ttr = {b["start"][8:10]: b["median"] for b in web["timeToRestoreSeconds"]["buckets"]}
    assert ttr["21"] == 5400 and ttr["20"] is None

    sophia = by["sophia-api", "production"]
    assert sophia["changeFailureRate"]["rate"] == 0.0
    assert sophia["leadTimeSeconds"]["median"] is None  # no commit time recorded
    assert sophia["timeToRestoreSeconds"]["median"] is None
    assert by["old-app", "production"]["project"] == "sophia"


def test_week_buckets_start_on_monday(api: Client) -> None:
    r = api.dora(bucket="week")
    assert r.status_code == 200, r.text
    web = series(r.json())["artemis-web", "production"]
    starts = [b["start"] for b in web["deploymentFrequency"]["buckets"]]
    # 2026-02-19 is a Thursday: its week starts on Monday 16th; the period ends on Sunday 1 March.
    assert starts == ["2026-02-16T00:00:00Z", "2026-02-23T00:00:00Z"]
    assert [b["count"] for b in web["deploymentFrequency"]["buckets"]] == [2, 1]
    assert sum(b["total"] for b in web["changeFailureRate"]["buckets"]) == 4


def test_rbac_counts_only_applications_the_caller_may_get(api: Client) -> None:
    artemis = series(api.dora("artemis").json())
    assert set(artemis) == {("artemis-web", "production"), ("artemis-web", "staging")}
    readonly = series(api.dora("readonly").json())
    # role:readonly has applications get */*: every app, the deleted ones included.
    assert {k[0] for k in readonly} == {"artemis-web", "sophia-api", "old-app", "ghost"}
    nobody = api.dora("nobody")
    assert nobody.status_code == 200
    assert nobody.json()["series"] == []
    # Asking for an app one may not see gives nothing rather than an error that confirms it exists.
    assert api.dora("artemis", app="sophia-api").json()["series"] == []


def test_app_and_environment_filters(api: Client) -> None:
    assert set(series(api.dora(app="artemis-web").json())) == {
        ("artemis-web", "production"),
        ("artemis-web", "staging"),
    }
    assert set(series(api.dora(environment="staging").json())) == {("artemis-web", "staging")}
    assert api.dora(app="no-such-app").json()["series"] == []


def test_default_period_is_the_last_30_days(mem_api: Client) -> None:
    r = mem_api.dora(**{"from": "", "to": ""})
    assert r.status_code == 200, r.text
    assert r.json()["period"] == {"from": "2026-01-30T12:00:00Z", "to": "2026-03-01T12:00:00Z"}
    web = series(r.json())["artemis-web", "production"]
    assert len(web["deploymentFrequency"]["buckets"]) == 31  # 30 days from noon: 31 calendar days
    assert web["deploymentFrequency"]["count"] == 5  # r0..r4 minus the failure, plus r9 on 1 March


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"from": "yesterday"}, "from: 'yesterday' is not an RFC 3339 time"),
        ({"to": "2026-03-01"}, "to: '2026-03-01' is not an RFC 3339 time"),
        ({"to": "2026-03-01T00:00:00"}, "with an offset"),
        ({"from": TO, "to": FROM}, "from (2026-03-01T00:00:00Z) must be before to (2026-02-19T00:00:00Z)"),
        ({"from": TO}, "must be before"),
        ({"bucket": "month"}, "bucket: 'month' is not one of day, week"),
        ({"from": "0001-01-01T00:00:00+01:00"}, "is not an RFC 3339 time"),
        ({"from": "1969-12-31T00:00:00Z"}, "outside 1970-01-01 .. 9000-01-01"),
        ({"to": "9999-12-31T23:59:59-01:00"}, "is not an RFC 3339 time"),
        ({"from": "2020-01-01T00:00:00Z"}, "needs over 1000 day buckets"),
    ],
)
def test_bad_parameters_answer_422(mem_api: Client, params: dict[str, str], message: str) -> None:
    r = mem_api.dora(**params)
    assert r.status_code == 422, r.text
    assert message in r.json()["message"]
    assert r.json()["code"] == 3


def test_unauthenticated_and_no_history_store() -> None:
    for client in _client(None):
        r = client.client.get("/api/v1/delivery/dora")
        assert r.status_code == 401
        r = client.dora()
        assert r.status_code == 501
        assert "history store" in r.json()["message"]


def test_offsets_are_converted_to_utc(mem_api: Client) -> None:
    r = mem_api.dora(**{"from": "2026-02-19T01:00:00+01:00", "to": "2026-02-28T20:00:00-04:00"})
    assert r.status_code == 200, r.text
    assert r.json()["period"] == {"from": FROM, "to": TO}


def test_weeks_span_is_limited_too(mem_api: Client) -> None:
    start = NOW - timedelta(weeks=1001)
    r = mem_api.dora(**{"from": start.strftime("%Y-%m-%dT%H:%M:%SZ"), "bucket": "week"})
    assert r.status_code == 422
    assert "1000 week buckets" in r.json()["message"]


@pytest.mark.parametrize("bucket", ["day", "week"])
def test_bucket_figures_equal_the_core_over_every_record(bucket: str) -> None:
    """The route hands each bucket only the records around it; the figures must be those of the core
    over the whole history (random histories with failures, rollbacks and restores)."""
    rng = random.Random(8)
    end = NOW
    start = end - timedelta(days=60)
    starts = bucket_starts(start, end, bucket)
    step = BUCKETS[bucket]
    for app in range(20):
        records, at = [], start - timedelta(days=10)
        while at < end + timedelta(days=2):
            at += timedelta(hours=rng.uniform(0.5, 30))
            ok = rng.random() > 0.25
            healthy = at + timedelta(minutes=rng.uniform(1, 600)) if ok and rng.random() > 0.1 else None
            records.append(
                dep(
                    f"a{app}",
                    at,
                    ok=ok,
                    commit_time=at - timedelta(hours=1),
                    healthy_at=healthy,
                    rollback=rng.random() < 0.1,
                )
            )
        records = [r for r in records if r.deployed_at <= end]
        got = delivery._series(records, start=start, end=end, starts=starts, step=step, project="p")
        for i, s in enumerate(starts):
            lo, hi = max(s, start), min(s + step, end)
            want = figures_for(records, now=hi, period=hi - lo, environment="production")
            assert got["deploymentFrequency"]["buckets"][i]["count"] == want.deployments
            cfr = got["changeFailureRate"]["buckets"][i]
            assert (cfr["failed"], cfr["total"]) == (want.failed_changes, want.changes)
            assert got["leadTimeSeconds"]["buckets"][i]["median"] == delivery._seconds(want.lead_time_median)
            ttr = got["timeToRestoreSeconds"]["buckets"][i]["median"]
            assert ttr == delivery._seconds(want.time_to_restore_median), (app, s)
