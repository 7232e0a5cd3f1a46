"""argosy.adapters.audit: JSON lines, lumberjack-style rotation, masking, failures never raised."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from argosy.adapters.audit import AuditEvent, AuditLogWriter, mask_secret_objects
from argosy.adapters.audit.writer import MASK


class Clock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw: float) -> None:
        self.now += timedelta(**kw)


T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def _event(i: int = 0, **kw: Any) -> AuditEvent:
    base: dict[str, Any] = {
        "actor": "alice",
        "action": "sync",
        "outcome": "success",
        "groups": ["sophia-intel-ai:devops"],
        "source": "127.0.0.1",
        "kind": "Application",
        "name": f"app-{i}",
        "namespace": "argocd",
        "project": "infrastructure",
        "application": f"infrastructure/app-{i}",
        "request_id": f"req-{i}",
        "summary": {"revision": "abc123"},
    }
    base.update(kw)
    return AuditEvent(**base)


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_one_json_line_per_event(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    with AuditLogWriter(path, clock=Clock(T0)) as writer:
        assert writer.write(_event(1))
        assert writer.write(_event(2, outcome="denied", message="rbac denied"))
    first, second = _lines(path)
    assert list(first) == [
        "time",
        "actor",
        "groups",
        "source",
        "action",
        "kind",
        "name",
        "namespace",
        "project",
        "application",
        "outcome",
        "requestId",
        "summary",
    ]
    assert first["time"] == "2025-03-01T12:00:00.000Z"
    assert first["actor"] == "alice" and first["groups"] == ["sophia-intel-ai:devops"]
    assert first["application"] == "infrastructure/app-1" and first["requestId"] == "req-1"
    assert first["summary"] == {"revision": "abc123"}
    assert second["outcome"] == "denied" and second["message"] == "rbac denied"
    assert writer.stats.written == 2 and writer.stats.failed == 0


def test_event_time_wins_over_clock(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    writer = AuditLogWriter(path, clock=Clock(T0))
    writer.write(_event(time=datetime(2024, 1, 1, 1, 2, 3, 456789, tzinfo=UTC)))
    writer.close()
    assert _lines(path)[0]["time"] == "2024-01-01T01:02:03.456Z"


def test_rotates_under_small_maxsize_and_keeps_exactly_maxbackups(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    clock = Clock(T0)
    writer = AuditLogWriter(path, max_size_bytes=1000, max_backups=3, clock=clock)
    for i in range(60):
        assert writer.write(_event(i))
        clock.advance(seconds=1)
    writer.close()
    backups = writer.backups()
    assert len(backups) == 3
    assert all(p.name.startswith("audit-2025-03-01T12-") and p.name.endswith(".log") for p in backups)
    assert path.stat().st_size <= 1000
    for backup in backups:
        assert backup.stat().st_size <= 1000
        assert all(isinstance(rec["name"], str) for rec in _lines(backup))
    stats = writer.stats
    assert stats.rotations > 3 and stats.removed_backups == stats.rotations - 3
    # the newest events are in the live file and the kept backups, in order
    names = [rec["name"] for p in [*backups, path] for rec in _lines(p)]
    assert names[-1] == "app-59" and names == sorted(names, key=lambda n: int(n.split("-")[1]))


def test_maxbackups_zero_keeps_all(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    clock = Clock(T0)
    writer = AuditLogWriter(path, max_size_bytes=600, clock=clock)
    for i in range(20):
        writer.write(_event(i))
        clock.advance(seconds=1)
    writer.close()
    assert len(writer.backups()) == writer.stats.rotations >= 5


def test_deletes_backups_older_than_maxage(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    old = tmp_path / "audit-2025-02-20T00-00-00.000.log"
    recent = tmp_path / "audit-2025-02-28T00-00-00.000.log"
    unrelated = tmp_path / "other-2025-01-01T00-00-00.000.log"
    for p in (old, recent, unrelated):
        p.write_text("{}\n")
    clock = Clock(T0)
    writer = AuditLogWriter(path, max_size_bytes=500, max_age=timedelta(days=7), clock=clock)
    writer.write(_event(1))
    writer.write(_event(2))  # rotates, then prunes by age
    writer.close()
    assert not old.exists()
    assert recent.exists() and unrelated.exists()
    # later, the "recent" one ages out too
    clock.advance(days=8)
    writer.write(_event(3))
    writer.write(_event(4))
    writer.close()
    assert not recent.exists()
    assert all(p.name.startswith("audit-2025-03-") for p in writer.backups())


def test_appends_to_existing_file_and_counts_its_size(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    path.write_text("x" * 900 + "\n")
    writer = AuditLogWriter(path, max_size_bytes=1000, clock=Clock(T0))
    writer.write(_event(1))
    writer.close()
    assert len(writer.backups()) == 1 and len(_lines(path)) == 1


def test_oversized_line_is_written_alone(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    writer = AuditLogWriter(path, max_size_bytes=200, clock=Clock(T0))
    assert writer.write(_event(1, summary={"blob": "y" * 500}))
    assert writer.write(_event(2))
    writer.close()
    assert len(writer.backups()) == 1
    assert _lines(writer.backups()[0])[0]["summary"]["blob"] == "y" * 500


SECRET_OBJ = {
    "apiVersion": "v1",
    "kind": "Secret",
    "metadata": {"name": "db"},
    "data": {"password": "c3VwZXJzZWNyZXQ="},
    "stringData": {"token": "supersecret-token"},
}


def test_secret_in_change_summary_never_shows_its_value(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    writer = AuditLogWriter(path, clock=Clock(T0))
    summary = {
        "resources": [
            {"before": SECRET_OBJ, "after": {**SECRET_OBJ, "data": {"password": "bmV3c2VjcmV0"}}},
            {"kind": "ConfigMap", "data": {"visible": "yes"}},
        ]
    }
    writer.write(_event(1, summary=summary))
    # the audited object itself is a Secret and the summary is a bare patch without kind
    writer.write(
        _event(2, kind="Secret", name="db", summary={"patch": {"stringData": {"k": "patched-secret"}}})
    )
    writer.close()
    text = path.read_text()
    for value in ("c3VwZXJzZWNyZXQ=", "supersecret-token", "bmV3c2VjcmV0", "patched-secret"):
        assert value not in text
    first, second = _lines(path)
    before = first["summary"]["resources"][0]["before"]
    assert before["data"] == {"password": MASK} and before["stringData"] == {"token": MASK}
    assert first["summary"]["resources"][1]["data"] == {"visible": "yes"}
    assert second["summary"]["patch"]["stringData"] == {"k": MASK}
    assert SECRET_OBJ["data"] == {"password": "c3VwZXJzZWNyZXQ="}  # the caller's object is untouched


def test_injected_mask_runs_first(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    seen: list[Any] = []

    def mask(summary: Any) -> Any:
        seen.append(summary)
        return {"masked-by": "core"}

    writer = AuditLogWriter(path, clock=Clock(T0), mask=mask)
    writer.write(_event(1, summary={"a": 1}))
    writer.write(_event(2, summary=None))
    writer.close()
    assert seen == [{"a": 1}]
    assert [rec["summary"] for rec in _lines(path)] == [{"masked-by": "core"}, None]


def test_mask_failure_is_counted_not_raised_and_not_leaked(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(summary: Any) -> Any:
        raise RuntimeError(f"cannot mask {summary}")

    writer = AuditLogWriter(tmp_path / "audit.log", clock=Clock(T0), mask=broken)
    assert not writer.write(_event(1, summary={"password": "leaky-value"}))
    assert not writer.write(_event(2, summary={"password": "leaky-value"}))
    stats = writer.stats
    assert stats.failed == 2 and stats.written == 0 and "RuntimeError" in stats.last_error
    assert "leaky-value" not in stats.last_error and "leaky-value" not in caplog.text
    assert len([r for r in caplog.records if r.name.endswith("audit.writer")]) == 1


def test_write_failure_is_counted_not_raised(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("file")
    writer = AuditLogWriter(blocker / "audit.log", clock=Clock(T0))
    assert not writer.write(_event(1))
    assert writer.stats.failed == 1 and writer.stats.last_error.startswith("audit log write failed")


def test_unserialisable_values_become_text(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    writer = AuditLogWriter(path, clock=Clock(T0))
    assert writer.write(_event(1, summary={"when": T0, "set": {1}}))
    writer.close()
    assert _lines(path)[0]["summary"]["when"] == "2025-03-01 12:00:00+00:00"


def test_concurrent_writers_never_interleave(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    writer = AuditLogWriter(path, max_size_bytes=5000, max_backups=0, clock=Clock(T0))

    def work(t: int) -> None:
        for i in range(50):
            writer.write(_event(t * 1000 + i, summary={"pad": "z" * (i % 7) * 10}))

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    writer.close()
    records = [rec for p in [*writer.backups(), path] for rec in _lines(p)]
    assert len(records) == 400 and writer.stats.written == 400 and writer.stats.failed == 0


def test_mask_secret_objects_shapes() -> None:
    assert mask_secret_objects({"kind": "Secret", "data": "opaque"}) == {"kind": "Secret", "data": MASK}
    assert mask_secret_objects([{"kind": "Secret", "stringData": {"a": "b"}}]) == [
        {"kind": "Secret", "stringData": {"a": MASK}}
    ]
    assert mask_secret_objects({"data": {"a": "b"}}) == {"data": {"a": "b"}}
    assert mask_secret_objects({"data": {"a": "b"}}, mask_all=True) == {"data": {"a": MASK}}
    assert mask_secret_objects("plain") == "plain"


def test_bad_settings_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        AuditLogWriter(tmp_path / "a.log", max_size_bytes=0)
    with pytest.raises(ValueError):
        AuditLogWriter(tmp_path / "a.log", max_backups=-1)
