"""SyncExecutor and compare_app over an in-memory fake of the Kube port (no cluster)."""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import Any

import pytest

from argosy.core.plan import OperationPhase, build_plan
from argosy.model.annotations import parse_sync_options
from argosy.model.resources import ResourceKey
from argosy.ports.kube import ErrorKind, Kube, error_kind
from argosy.services.compare import CompareSettings, SyncStatus, compare_app
from argosy.services.sync import SyncExecutor, SyncSettings, tracking_id

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class FakeError(Exception):
    def __init__(self, status: int, reason: str = "", message: str = "") -> None:
        super().__init__(message or reason)
        self.status = status
        self.reason = reason


class FakeType:
    def __init__(self, kind: str, namespaced: bool) -> None:
        self.kind = kind
        self.namespaced = namespaced


class FakeKube:
    """Objects by (kind, namespace, name). Jobs complete at once unless their pods are labelled to fail."""

    def __init__(self, *, unknown_kinds: tuple[str, ...] = (), reject: tuple[str, ...] = ()) -> None:
        self.objects: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.calls: list[tuple[str, str, bool]] = []
        self.unknown_kinds = unknown_kinds
        self.reject = reject
        self._counter = 0

    def _key(self, obj: Mapping[str, Any]) -> tuple[str, str, str]:
        meta = obj.get("metadata") or {}
        return (str(obj["kind"]), str(meta.get("namespace") or ""), str(meta.get("name") or ""))

    def _stored(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        out = copy.deepcopy(dict(obj))
        self._counter += 1
        out["metadata"]["resourceVersion"] = str(self._counter)
        if out["kind"] == "Job":
            labels = ((out["spec"]["template"].get("metadata") or {}).get("labels")) or {}
            failed = labels.get("fail") == "true"
            out["status"] = {
                "conditions": [
                    {"type": "Failed" if failed else "Complete", "status": "True", "message": "backoff limit"}
                ]
            }
        return out

    async def resource(self, api_version: str, kind: str) -> FakeType:
        if kind in self.unknown_kinds:
            raise FakeError(404, "", f"the server does not serve kind {kind!r}")
        return FakeType(kind, kind not in ("Namespace",))

    async def get(
        self, api_version: str, kind: str, name: str, namespace: str | None = None
    ) -> dict[str, Any]:
        found = self.objects.get((kind, namespace or "", name))
        if found is None:
            raise FakeError(404, "NotFound")
        return copy.deepcopy(found)

    async def apply(
        self,
        obj: Mapping[str, Any],
        *,
        field_manager: str,
        force: bool = False,
        dry_run: bool = False,
        validate: bool | None = None,
    ) -> dict[str, Any]:
        key = self._key(obj)
        self.calls.append(("apply", key[2], dry_run))
        if key[2] in self.reject:
            raise FakeError(422, "Invalid", f"{key[2]} is invalid")
        stored = self._stored(obj)
        if dry_run:
            current = self.objects.get(key)
            if current is not None:
                stored["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
            return stored
        self.objects[key] = stored
        return copy.deepcopy(stored)

    async def create(
        self, obj: Mapping[str, Any], *, dry_run: bool = False, field_manager: str | None = None
    ) -> dict[str, Any]:
        obj = copy.deepcopy(dict(obj))
        if not obj["metadata"].get("name"):
            self._counter += 1
            obj["metadata"]["name"] = f"{obj['metadata']['generateName']}{self._counter:05d}"
        key = self._key(obj)
        self.calls.append(("create", key[2], dry_run))
        if key in self.objects:
            raise FakeError(409, "AlreadyExists")
        stored = self._stored(obj)
        if not dry_run:
            self.objects[key] = stored
        return copy.deepcopy(stored)

    async def replace(
        self, obj: Mapping[str, Any], *, dry_run: bool = False, field_manager: str | None = None
    ) -> dict[str, Any]:
        self.calls.append(("replace", self._key(obj)[2], dry_run))
        stored = self._stored(obj)
        if not dry_run:
            self.objects[self._key(obj)] = stored
        return stored

    async def patch(
        self,
        api_version: str,
        kind: str,
        name: str,
        patch: Mapping[str, Any] | list[Any],
        namespace: str | None = None,
        *,
        patch_type: Any = "merge",
        dry_run: bool = False,
        field_manager: str | None = None,
    ) -> dict[str, Any]:
        raise NotImplementedError

    async def delete(
        self,
        api_version: str,
        kind: str,
        name: str,
        namespace: str | None = None,
        *,
        propagation_policy: Any = None,
        grace_period_seconds: int | None = None,
        dry_run: bool = False,
        preconditions: Mapping[str, str] | None = None,
    ) -> dict[str, Any] | None:
        self.calls.append(("delete", name, dry_run))
        if self.objects.pop((kind, namespace or "", name), None) is None:
            raise FakeError(404, "NotFound")
        return None


def _port(fake: FakeKube) -> Kube:
    return fake


def obj(kind: str, name: str, api_version: str = "v1", **annotations: str) -> dict[str, Any]:
    out: dict[str, Any] = {
        "apiVersion": api_version,
        "kind": kind,
        "metadata": {
            "name": name,
            "namespace": "ns",
            "annotations": {f"argocd.argoproj.io/{k.replace('_', '-')}": v for k, v in annotations.items()},
        },
    }
    if kind == "Job":
        out["metadata"].pop("name")
        out["metadata"]["name" if not name.endswith("-") else "generateName"] = name
        out["spec"] = {"template": {"spec": {"containers": [{"name": "c", "image": "x"}]}}}
    return out


def fast(**kw: Any) -> SyncSettings:
    return SyncSettings(app_name="app", wave_delay=0.0, poll_interval=0.0, timeout=10.0, **kw)


def test_error_kinds_come_from_status_and_reason() -> None:
    assert error_kind(FakeError(404)) is ErrorKind.NOT_FOUND
    assert error_kind(FakeError(409, "AlreadyExists")) is ErrorKind.ALREADY_EXISTS
    assert error_kind(FakeError(409, "Conflict")) is ErrorKind.CONFLICT
    assert error_kind(FakeError(422)) is ErrorKind.INVALID
    assert error_kind(ValueError("x")) is ErrorKind.OTHER


async def test_dry_run_precedes_every_write_and_tracking_is_set() -> None:
    kube = FakeKube()
    plan = build_plan([obj("ConfigMap", "a"), obj("ConfigMap", "b", sync_wave="1")])
    result = await SyncExecutor(_port(kube), plan, fast()).run()
    assert result.phase is OperationPhase.SUCCEEDED
    first_write = next(i for i, c in enumerate(kube.calls) if not c[2])
    assert all(c[2] for c in kube.calls[:first_write]) and first_write == 2
    stored = kube.objects[("ConfigMap", "ns", "a")]
    key = ResourceKey("", "ConfigMap", "ns", "a")
    assert stored["metadata"]["annotations"]["argocd.argoproj.io/tracking-id"] == tracking_id("app", key)
    assert tracking_id("app", key) == "app:/ConfigMap:ns/a"


async def test_failed_dry_run_writes_nothing_and_names_the_resource() -> None:
    kube = FakeKube(reject=("bad",))
    plan = build_plan([obj("ConfigMap", "good"), obj("ConfigMap", "bad")])
    result = await SyncExecutor(_port(kube), plan, fast()).run()
    assert result.phase is OperationPhase.FAILED
    assert result.message == "one or more objects failed to apply (dry run)"
    assert result.resource("ConfigMap", "bad").message == "bad is invalid"
    assert result.resource("ConfigMap", "good").code == "Skipped"
    assert all(dry for _, _, dry in kube.calls) and not kube.objects


async def test_skip_dry_run_on_missing_resource() -> None:
    widget = obj("Widget", "w", "example.com/v1", sync_options="SkipDryRunOnMissingResource=true")
    kube = FakeKube(unknown_kinds=("Widget",))
    result = await SyncExecutor(_port(kube), build_plan([widget]), fast()).run()
    # The dry run was skipped; the apply itself then reached the (fake) server.
    assert result.phase is OperationPhase.SUCCEEDED
    assert ("apply", "w", False) in kube.calls and ("apply", "w", True) not in kube.calls
    plain = obj("Widget", "w", "example.com/v1")
    failed = await SyncExecutor(_port(FakeKube(unknown_kinds=("Widget",))), build_plan([plain]), fast()).run()
    assert failed.phase is OperationPhase.FAILED


async def test_generate_name_hooks_get_their_delete_policy() -> None:
    kube = FakeKube()
    hook = obj("Job", "seed-", "batch/v1", hook="PostSync", hook_delete_policy="HookSucceeded")
    result = await SyncExecutor(_port(kube), build_plan([obj("ConfigMap", "a"), hook]), fast()).run()
    assert result.phase is OperationPhase.SUCCEEDED
    created = [e for e in result.events if e.kind == "hook-created"]
    deleted = [e for e in result.events if e.kind == "hook-deleted"]
    assert len(created) == 1 and created[0].key.rsplit("/", 1)[1].startswith("seed-")
    assert [e.key for e in deleted] == [created[0].key]
    assert not [k for k in kube.objects if k[0] == "Job"]


async def test_state_round_trips_and_resume_skips_finished_hooks() -> None:
    kube = FakeKube()
    manifests = [
        obj("Job", "pre", "batch/v1", hook="PreSync", hook_delete_policy="HookSucceeded"),
        obj("ConfigMap", "a"),
        obj("ConfigMap", "b", sync_wave="1"),
    ]
    first = SyncExecutor(_port(kube), build_plan(manifests), fast())
    stopped = await first.run(max_waves=1)
    assert stopped.phase is OperationPhase.RUNNING
    saved = first.save_state()
    assert json.loads(saved)["version"] == 1
    resumed = SyncExecutor(_port(kube), build_plan(manifests), fast(), state=saved)
    assert resumed.save_state() == saved
    result = await resumed.run()
    assert result.phase is OperationPhase.SUCCEEDED
    assert [c for c in kube.calls if c == ("create", "pre", False)] == [("create", "pre", False)]
    with pytest.raises(ValueError, match="unsupported sync state version"):
        SyncExecutor(_port(kube), build_plan(manifests), fast(), state={"version": 99})


async def test_app_level_force_is_an_explicit_option() -> None:
    options = parse_sync_options(["Force=true"])
    warned = SyncExecutor(_port(FakeKube()), build_plan([]), fast(app_sync_options=options))
    assert any("Force=true" in w for w in warned.result().warnings)
    quiet = SyncExecutor(
        _port(FakeKube()), build_plan([]), fast(app_sync_options=options, honour_app_force=False)
    )
    assert quiet.result().warnings == ()


async def test_compare_reports_orphans_missing_and_masks_secrets() -> None:
    kube = FakeKube()
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "s", "namespace": "ns"},
        "data": {"k": "c2VjcmV0LXZhbHVl"},
    }
    live_secret = copy.deepcopy(secret)
    live_secret["data"] = {"k": "b3RoZXItdmFsdWU="}
    await kube.apply(live_secret, field_manager="x")
    orphan = obj("ConfigMap", "orphan")
    result = await compare_app(
        _port(kube),
        [secret, obj("ConfigMap", "missing"), obj("Job", "hook", "batch/v1", hook="PreSync")],
        live=[orphan],
        settings=CompareSettings(),
    )
    assert result.sync_status is SyncStatus.OUT_OF_SYNC
    by_name = {r.key.name: r for r in result.resources}
    assert set(by_name) == {"s", "missing", "orphan"}
    assert by_name["orphan"].requires_pruning
    assert by_name["missing"].health is not None and by_name["missing"].health.status == "Missing"
    assert by_name["s"].status is SyncStatus.OUT_OF_SYNC
    text = json.dumps(result.to_dict())
    for value in ("c2VjcmV0LXZhbHVl", "b3RoZXItdmFsdWU=", "secret-value", "other-value"):
        assert value not in text
