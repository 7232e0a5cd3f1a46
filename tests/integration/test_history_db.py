"""The SQL store against SQLite (a file) and a real PostgreSQL 15 (tests/support/postgres.py)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import create_async_engine

from argosy.adapters.db import SqlStore, default_sqlite_url, open_store
from argosy.adapters.db.tables import metadata
from argosy.adapters.metrics import PrometheusMetrics, exposition
from argosy.model.history import DeploymentRecord, OperationKind, OperationRecord
from argosy.ports.history import HistoryStore
from argosy.ports.notify import NotificationOutbox, OutboxItem
from argosy.services.metrics import publish_dora
from tests.support.postgres import postgres_server, postgres_url  # noqa: F401  (fixtures)

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield default_sqlite_url(tmp_path / "argosy.db")
        return
    base: str = request.getfixturevalue("postgres_url")
    name = "t_" + uuid.uuid4().hex[:12]

    async def admin(sql: str) -> None:
        engine = create_async_engine(base, isolation_level="AUTOCOMMIT")
        try:
            async with engine.connect() as conn:
                await conn.execute(text(sql))
        finally:
            await engine.dispose()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    yield base.rsplit("/", 1)[0] + "/" + name
    asyncio.run(admin(f'DROP DATABASE "{name}" WITH (FORCE)'))


def run(url: str, body: Callable[[SqlStore], Awaitable[None]]) -> None:
    async def main() -> None:
        store = await open_store(url)
        try:
            await body(store)
        finally:
            await store.close()

    asyncio.run(main())


def _op(
    name: str, minutes: int, phase: str = "Succeeded", kind: OperationKind = OperationKind.SYNC
) -> OperationRecord:
    return OperationRecord(
        app_namespace="argocd",
        app_name=name,
        project="artemis",
        environment="production",
        kind=kind,
        revisions=("a" * 40, "b" * 40),
        initiated_by="alice",
        automated=False,
        phase=phase,
        message="successfully synced (all tasks run)",
        started_at=T0 + timedelta(minutes=minutes),
        finished_at=T0 + timedelta(minutes=minutes, seconds=30),
        resources=7,
        operation_id=f"op-{minutes}",
    )


def test_schema_matches_tables_and_migration_is_idempotent(db_url: str) -> None:
    async def body(store: SqlStore) -> None:
        async with store.engine.connect() as conn:
            names = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
            assert set(metadata.tables) <= names
            assert "alembic_version" in names
            for table in metadata.tables.values():
                cols = await conn.run_sync(
                    lambda c, t=table.name: {col["name"] for col in inspect(c).get_columns(t)}
                )
                assert cols == {c.name for c in table.columns}, table.name
            version = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar_one()
            assert version == "0001_initial"

    run(db_url, body)
    run(db_url, body)  # a second open_store finds the schema at head and changes nothing


def test_operations_round_trip_filters_and_order(db_url: str) -> None:
    async def body(store: SqlStore) -> None:
        history: HistoryStore = store
        await history.record_operation(_op("web", 0))
        await history.record_operation(_op("web", 10, phase="Failed"))
        await history.record_operation(_op("api", 5, kind=OperationKind.ROLLBACK))
        ops = await history.operations()
        assert [o.operation_id for o in ops] == ["op-10", "op-5", "op-0"]  # newest first
        assert ops[0] == _op("web", 10, phase="Failed")
        assert ops[1].kind is OperationKind.ROLLBACK
        assert ops[0].started_at.tzinfo is not None
        assert [o.operation_id for o in await history.operations(app_name="web")] == ["op-10", "op-0"]
        assert [o.operation_id for o in await history.operations(since=T0 + timedelta(minutes=5))] == [
            "op-10",
            "op-5",
        ]
        assert len(await history.operations(limit=1)) == 1
        assert await history.operations(app_namespace="other") == []

    run(db_url, body)


def test_deployments_and_mark_healthy(db_url: str) -> None:
    async def body(store: SqlStore) -> None:
        history: HistoryStore = store
        plus2 = timezone(timedelta(hours=2))
        first = DeploymentRecord(
            "argocd", "web", "production", "r1", T0, True,
            commit_time=(T0 - timedelta(hours=3)).astimezone(plus2), extra={"image": "web:1"},
        )  # fmt: skip
        failed = DeploymentRecord("argocd", "web", "production", "r2", T0 + timedelta(hours=1), False)
        retry = DeploymentRecord("argocd", "web", "production", "r2", T0 + timedelta(hours=2), True)
        staging = DeploymentRecord(
            "argocd", "web-stg", "staging", "r2", T0 + timedelta(hours=1), True, rollback=True
        )
        for d in (first, failed, retry, staging):
            await history.record_deployment(d)
        await history.mark_healthy("argocd", "web", "r1", T0 + timedelta(minutes=4))
        await history.mark_healthy("argocd", "web", "r1", T0 + timedelta(minutes=9))  # idempotent: first wins
        await history.mark_healthy("argocd", "web", "r2", T0 + timedelta(hours=2, minutes=3))  # the latest r2
        await history.mark_healthy("argocd", "web", "nope", T0)  # unknown revision: nothing
        deps = await history.deployments(environment="production")
        assert [(d.revision, d.succeeded) for d in deps] == [("r1", True), ("r2", False), ("r2", True)]
        assert deps[0].commit_time == T0 - timedelta(hours=3)
        assert deps[0].commit_time is not None and deps[0].commit_time.tzinfo is not None
        assert deps[0].healthy_at == T0 + timedelta(minutes=4)
        assert deps[0].extra == {"image": "web:1"}
        assert deps[1].healthy_at is None
        assert deps[2].healthy_at == T0 + timedelta(hours=2, minutes=3)
        stg = await history.deployments(app_name="web-stg")
        assert len(stg) == 1 and stg[0].rollback
        assert len(await history.deployments(since=T0 + timedelta(minutes=30))) == 3

    run(db_url, body)


def test_outbox_state_and_delivery_bookkeeping(db_url: str) -> None:
    async def body(store: SqlStore) -> None:
        outbox: NotificationOutbox = store
        item = OutboxItem(
            "r1:on-deployed:[0].x:slack:ops", "on-deployed", "slack", "slack", "ops", {"message": "hi ✅"}
        )
        ids = await outbox.enqueue("argocd", "web", {item.dedupe_key: 100, "old": 50}, [item], now=T0)
        assert len(ids) == 1
        assert await outbox.load_state("argocd", "web") == {item.dedupe_key: 100, "old": 50}
        assert await outbox.pending_keys("argocd", "web") == {item.dedupe_key}
        assert await outbox.next_due_at() == T0
        assert await outbox.due(T0 - timedelta(seconds=1)) == []
        (msg,) = await outbox.due(T0)
        assert msg.payload == {"message": "hi ✅"} and msg.status == "pending" and msg.attempts == 0
        await outbox.mark_retry(
            msg.id, attempts=1, next_attempt_at=T0 + timedelta(seconds=5), error="connection refused"
        )
        assert await outbox.due(T0 + timedelta(seconds=4)) == []
        (msg,) = await outbox.due(T0 + timedelta(seconds=5))
        assert msg.attempts == 1 and msg.last_error == "connection refused"
        await outbox.mark_sent(msg.id, at=T0 + timedelta(seconds=6))
        (sent,) = await outbox.messages(status="sent")
        assert sent.attempts == 2 and sent.sent_at == T0 + timedelta(seconds=6) and sent.last_error is None
        assert await outbox.next_due_at() is None
        assert await outbox.pending_keys("argocd", "web") == set()
        # state replaced: "old" removed, new key added, the other app untouched
        await outbox.enqueue("argocd", "api", {"k": 1}, [], now=T0)
        await outbox.enqueue("argocd", "web", {item.dedupe_key: 100, "new": 7}, [], now=T0)
        assert await outbox.load_state("argocd", "web") == {item.dedupe_key: 100, "new": 7}
        assert await outbox.load_state("argocd", "api") == {"k": 1}
        other = OutboxItem("k2", "on-sync-failed", "email", "email", "a@b.c", {"message": "x"})
        (oid,) = await outbox.enqueue("argocd", "api", {"k": 1}, [other], now=T0)
        await outbox.mark_failed(oid, attempts=1, error="550 no such user")
        (failed,) = await outbox.messages(app_name="api")
        assert failed.status == "failed" and failed.sent_at is None

    run(db_url, body)


def test_state_survives_reopen(db_url: str) -> None:
    async def write(store: SqlStore) -> None:
        await store.enqueue("argocd", "web", {"a": 1}, [], now=T0)

    async def read(store: SqlStore) -> None:
        assert await store.load_state("argocd", "web") == {"a": 1}

    run(db_url, write)
    run(db_url, read)


def test_dora_figures_from_the_store_reach_the_metrics(db_url: str) -> None:
    now = T0 + timedelta(days=10)
    metrics = PrometheusMetrics()

    async def body(store: SqlStore) -> None:
        await store.record_deployment(
            DeploymentRecord(
                "argocd", "web", "production", "r1", T0, True, commit_time=T0 - timedelta(hours=1)
            )
        )
        await store.mark_healthy("argocd", "web", "r1", T0 + timedelta(minutes=30))
        await store.record_deployment(
            DeploymentRecord("argocd", "web", "production", "r2", T0 + timedelta(days=1), False)
        )
        await store.record_deployment(
            DeploymentRecord("argocd", "web", "production", "r3", T0 + timedelta(days=2), True)
        )
        await store.mark_healthy("argocd", "web", "r3", T0 + timedelta(days=2, minutes=20))
        (fig,) = await publish_dora(store, metrics, now=now, period=timedelta(days=10))
        assert fig.changes == 3 and fig.failed_changes == 1 and fig.deployments == 2
        assert fig.time_to_restore_median == timedelta(days=1, minutes=20)

    run(db_url, body)
    text = exposition(metrics).decode()
    labels = 'environment="production",name="web",namespace="argocd"'
    assert f"argosy_dora_deployment_frequency_per_day{{{labels}}} 0.2" in text
    assert f"argosy_dora_lead_time_seconds{{{labels}}} 5400.0" in text
    assert f"argosy_dora_change_failure_rate{{{labels}}} 0.3333333333333333" in text
    assert f"argosy_dora_time_to_restore_seconds{{{labels}}} 87600.0" in text
