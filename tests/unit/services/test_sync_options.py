"""Sync options in SyncExecutor and compare_app over the in-memory fake port (no cluster)."""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from argosy.core.diff import IgnoreRule
from argosy.core.plan import OperationPhase, PlanOptions, build_plan
from argosy.model.annotations import parse_sync_options
from argosy.model.resources import ResourceKey
from argosy.services.compare import CompareMemo, CompareSettings, SyncStatus, _target, compare_app
from argosy.services.sync import (
    SHARED_RESOURCE_FOUND,
    PriorDryRun,
    SyncExecutor,
    SyncSettings,
    deletion_approved,
    dry_run_fingerprint,
    prepare_manifest,
    tracked_by,
    tracking_id,
)
from tests.unit.services.test_sync_executor import FakeError, FakeKube

pytestmark = pytest.mark.anyio

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class PatchingKube(FakeKube):
    """The fake port plus merge patches, GET counting and an Application to read."""

    def __init__(self) -> None:
        super().__init__()
        self.patches: list[dict[str, Any]] = []
        self.gets = 0

    async def get(
        self, api_version: str, kind: str, name: str, namespace: str | None = None
    ) -> dict[str, Any]:
        self.gets += 1
        return await super().get(api_version, kind, name, namespace)

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
        assert patch_type == "merge" and isinstance(patch, Mapping)
        self.calls.append(("patch", name, dry_run))
        self.patches.append(copy.deepcopy(dict(patch)))
        key = (kind, namespace or "", name)
        current = self.objects.get(key)
        if current is None:
            raise FakeError(404, "NotFound")
        merged = _merge_patch(current, patch)
        self.objects[key] = self._stored(merged)
        return copy.deepcopy(self.objects[key])


def _merge_patch(target: Any, patch: Any) -> Any:
    if not isinstance(patch, Mapping):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, Mapping) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = _merge_patch(out.get(key), value)
    return out


def cm(name: str, data: dict[str, str] | None = None, **annotations: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": name,
            "namespace": "ns",
            "annotations": {f"argocd.argoproj.io/{k.replace('_', '-')}": v for k, v in annotations.items()},
        },
        "data": data or {"k": name},
    }


def fast(**kw: Any) -> SyncSettings:
    return SyncSettings(app_name="app", wave_delay=0.0, poll_interval=0.0, timeout=10.0, **kw)


def key(name: str) -> ResourceKey:
    return ResourceKey("", "ConfigMap", "ns", name)


def seed(fake: FakeKube, obj: dict[str, Any], app: str | None = None) -> None:
    stored = copy.deepcopy(obj)
    if app is not None:
        stored["metadata"]["annotations"]["argocd.argoproj.io/tracking-id"] = tracking_id(
            app, key(obj["metadata"]["name"])
        )
    fake.objects[("ConfigMap", "ns", obj["metadata"]["name"])] = fake._stored(stored)


# --- pure helpers ----------------------------------------------------------------------------------


def test_tracked_by_reads_the_app_from_the_tracking_id() -> None:
    assert (
        tracked_by({"metadata": {"annotations": {"argocd.argoproj.io/tracking-id": "a:/ConfigMap:ns/x"}}})
        == "a"
    )
    assert tracked_by({"metadata": {}}) == ""
    assert tracked_by(None) == ""
    assert tracked_by({"metadata": {"annotations": {"argocd.argoproj.io/tracking-id": "garbage"}}}) == ""


def test_deletion_approved_needs_a_time_after_the_start() -> None:
    started = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)

    def app(value: str) -> dict[str, Any]:
        return {"metadata": {"annotations": {"argocd.argoproj.io/deletion-approved": value}}}

    assert deletion_approved(app("2026-11-25T12:00:01Z"), started)
    assert not deletion_approved(app("2026-11-25T11:59:59Z"), started)
    assert not deletion_approved(app("not a time"), started)
    assert not deletion_approved({"metadata": {}}, started)
    assert deletion_approved(app("2026-11-25T13:00:00+01:00"), started)  # same instant counts


def test_dry_run_fingerprint_covers_object_manager_and_validation() -> None:
    a = dry_run_fingerprint({"a": 1, "b": 2}, "m")
    assert a == dry_run_fingerprint({"b": 2, "a": 1}, "m")
    assert a != dry_run_fingerprint({"a": 1, "b": 3}, "m")
    assert a != dry_run_fingerprint({"a": 1, "b": 2}, "other")
    assert a != dry_run_fingerprint({"a": 1, "b": 2}, "m", validate=False)


# --- executor --------------------------------------------------------------------------------------


async def test_respect_ignore_differences_pre_patches_from_live() -> None:
    fake = PatchingKube()
    seed(fake, cm("x", {"k": "live", "other": "live"}), app="app")
    rules = (IgnoreRule(kind="ConfigMap", json_pointers=("/data/k",)),)
    options = parse_sync_options(["RespectIgnoreDifferences=true"])
    plan = build_plan(
        [cm("x", {"k": "git", "other": "git"}), cm("new", {"k": "git"})],
        [],
        PlanOptions(sync_options=options),
    )
    result = await SyncExecutor(fake, plan, fast(ignore_rules=rules)).run()
    assert result.phase is OperationPhase.SUCCEEDED, result.message
    assert fake.objects[("ConfigMap", "ns", "x")]["data"] == {"k": "live", "other": "git"}
    assert fake.objects[("ConfigMap", "ns", "new")]["data"] == {"k": "git"}  # no live object: as desired
    # Without the option (or without a matching rule) nothing is read beforehand.
    fake.gets = 0
    plain = build_plan([cm("x", {"k": "git"})], [], PlanOptions())
    await SyncExecutor(fake, plain, fast(ignore_rules=rules)).run()
    assert fake.gets == 0
    assert fake.objects[("ConfigMap", "ns", "x")]["data"] == {"k": "git"}


async def test_fail_on_shared_resource_fails_before_the_dry_run() -> None:
    fake = PatchingKube()
    seed(fake, cm("shared"), app="other")
    seed(fake, cm("mine"), app="app")
    plan = build_plan(
        [cm("shared"), cm("mine"), cm("new")],
        [],
        PlanOptions(sync_options=parse_sync_options(["FailOnSharedResource=true"])),
    )
    result = await SyncExecutor(fake, plan, fast()).run()
    assert result.phase is OperationPhase.FAILED
    assert result.message == f"{SHARED_RESOURCE_FOUND}: ConfigMap/shared (tracked by application other)"
    assert [c for c in fake.calls if c[0] != "get"] == []  # not even a dry run
    assert {r.code for r in result.resources} == {"Skipped"}


async def test_client_side_apply_creates_then_patches_three_way() -> None:
    fake = PatchingKube()
    options = parse_sync_options(["ServerSideApply=false"])
    plan = build_plan([cm("x", {"a": "1", "b": "2"})], [], PlanOptions(sync_options=options))
    first = await SyncExecutor(fake, plan, fast(dry_run=False)).run()
    assert first.phase is OperationPhase.SUCCEEDED, first.message
    assert [c[0] for c in fake.calls] == ["create"]
    stored = fake.objects[("ConfigMap", "ns", "x")]
    recorded = json.loads(stored["metadata"]["annotations"][LAST_APPLIED])
    assert recorded["data"] == {"a": "1", "b": "2"}
    assert recorded["metadata"]["annotations"]["argocd.argoproj.io/tracking-id"] == "app:/ConfigMap:ns/x"

    stored["data"]["theirs"] = "t"  # written by someone else
    plan = build_plan([cm("x", {"a": "9"})], [], PlanOptions(sync_options=options))
    second = await SyncExecutor(fake, plan, fast(dry_run=False)).run()
    assert second.phase is OperationPhase.SUCCEEDED, second.message
    assert fake.objects[("ConfigMap", "ns", "x")]["data"] == {"a": "9", "theirs": "t"}
    patch = fake.patches[-1]
    assert patch["data"] == {"a": "9", "b": None}
    assert set(patch["metadata"]) == {"annotations"}

    # Nothing changed: no request after the GET.
    calls = len(fake.calls)
    third = await SyncExecutor(fake, plan, fast(dry_run=False)).run()
    assert third.phase is OperationPhase.SUCCEEDED
    assert len(fake.calls) == calls
    assert [e.detail for e in third.events if e.kind == "apply"] == ["client-side, unchanged"]


async def test_replace_wins_over_client_side_apply() -> None:
    fake = PatchingKube()
    seed(fake, cm("x"))
    options = parse_sync_options(["ServerSideApply=false", "Replace=true"])
    plan = build_plan([cm("x", {"k": "new"})], [], PlanOptions(sync_options=options))
    result = await SyncExecutor(fake, plan, fast(dry_run=False)).run()
    assert [e.kind for e in result.events if e.kind != "wave-start"] == ["replace"]
    assert not fake.patches


async def test_prune_confirm_stays_pending_until_approved() -> None:
    fake = PatchingKube()
    seed(fake, cm("old", sync_options="Prune=confirm"), app="app")
    started = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    application = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": "app", "namespace": "argocd", "annotations": {}},
    }
    fake.objects[("Application", "argocd", "app")] = application
    live = [fake.objects[("ConfigMap", "ns", "old")]]
    plan = build_plan([cm("keep")], live, PlanOptions(prune=True, defer_prune_confirmation=True))
    settings = fast(app_namespace="argocd", operation_started_at=started, wait_for_prune_confirmation=False)
    executor = SyncExecutor(fake, plan, settings)
    first = await executor.run()
    assert first.phase is OperationPhase.RUNNING
    assert first.message == "Waiting for pruning confirmation of /ConfigMap/old"
    assert ("delete", "old", False) not in fake.calls
    # The other wave-0 task did not run either: the whole wave waits, like Argo CD.
    assert ("ConfigMap", "ns", "keep") not in fake.objects

    application["metadata"]["annotations"]["argocd.argoproj.io/deletion-approved"] = (
        started + timedelta(minutes=1)
    ).strftime("%Y-%m-%dT%H:%M:%SZ")
    done = await SyncExecutor(fake, plan, settings, state=executor.save_state()).run()
    assert done.phase is OperationPhase.SUCCEEDED, done.message
    assert ("delete", "old", False) in fake.calls


async def test_prune_confirm_polls_while_waiting_and_times_out() -> None:
    fake = PatchingKube()
    seed(fake, cm("old", sync_options="Prune=confirm"), app="app")
    live = [fake.objects[("ConfigMap", "ns", "old")]]
    plan = build_plan([], live, PlanOptions(prune=True, defer_prune_confirmation=True))
    settings = SyncSettings(app_name="app", wave_delay=0.0, poll_interval=0.01, timeout=0.2)
    with pytest.raises(TimeoutError, match="Waiting for pruning confirmation"):
        await SyncExecutor(fake, plan, settings).run()


async def test_selective_sync_filters_the_plan_and_hooks() -> None:
    fake = PatchingKube()
    hook = cm("hook", hook="PreSync")
    plan = build_plan([cm("a"), cm("b"), hook], [], PlanOptions())
    result = await SyncExecutor(fake, plan, fast(resources=frozenset({key("b")}))).run()
    assert result.phase is OperationPhase.SUCCEEDED, result.message
    assert [r.key.name for r in result.resources] == ["b"]
    assert set(fake.objects) == {("ConfigMap", "ns", "b")}


async def test_prior_dry_runs_skip_the_dry_run_and_in_sync_applies() -> None:
    fake = PatchingKube()
    manifests = [cm("same"), cm("changed", {"k": "new"}), cm("other")]
    prepared = {
        m["metadata"]["name"]: prepare_manifest(m, key(m["metadata"]["name"]), "app") for m in manifests
    }
    prior = {
        key("same"): PriorDryRun(dry_run_fingerprint(prepared["same"], "argosy-controller"), in_sync=True),
        key("changed"): PriorDryRun(dry_run_fingerprint(prepared["changed"], "argosy-controller")),
        key("other"): PriorDryRun("stale", in_sync=True),
    }
    options = parse_sync_options(["ApplyOutOfSyncOnly=true"])
    plan = build_plan(manifests, [], PlanOptions(sync_options=options))
    result = await SyncExecutor(fake, plan, fast(), prior_dry_runs=prior).run()
    assert result.phase is OperationPhase.SUCCEEDED, result.message
    dry = [c[1] for c in fake.calls if c[2]]
    assert dry == ["other"]  # the stale fingerprint is dry-run again
    writes = [c[1] for c in fake.calls if c[0] == "apply" and not c[2]]
    assert sorted(writes) == ["changed", "other"]
    assert [e.key for e in result.events if e.kind == "skipped-in-sync"] == ["/ConfigMap/ns/same"]
    # Without ApplyOutOfSyncOnly an in-sync prior only skips the dry run; the apply happens.
    fake.calls.clear()
    plan = build_plan(manifests, [], PlanOptions())
    await SyncExecutor(fake, plan, fast(), prior_dry_runs=prior).run()
    assert sorted(c[1] for c in fake.calls if c[0] == "apply" and not c[2]) == ["changed", "other", "same"]


async def test_dry_run_concurrency_is_bounded() -> None:
    fake = PatchingKube()
    running = {True: 0, False: 0}
    peak = {True: 0, False: 0}
    original = fake.apply

    async def apply(obj: Mapping[str, Any], **kw: Any) -> dict[str, Any]:
        dry = bool(kw.get("dry_run"))
        running[dry] += 1
        peak[dry] = max(peak[dry], running[dry])
        await asyncio.sleep(0.001)
        running[dry] -= 1
        return await original(obj, **kw)

    fake.apply = apply  # type: ignore[method-assign]
    plan = build_plan([cm(f"c{i}") for i in range(20)], [], PlanOptions())
    result = await SyncExecutor(fake, plan, fast(concurrency=8, dry_run_concurrency=3)).run()
    assert result.phase is OperationPhase.SUCCEEDED
    assert peak == {True: 3, False: 8}


# --- compare ---------------------------------------------------------------------------------------


async def test_compare_warns_about_shared_resources_and_records_dry_runs() -> None:
    fake = PatchingKube()
    seed(fake, cm("shared"), app="other")
    seed(fake, cm("mine"), app="app")
    result = await compare_app(fake, [cm("shared"), cm("mine")], settings=CompareSettings(app_name="app"))
    assert result.resource(key("shared")).shared_with == "other"
    assert result.resource(key("mine")).shared_with == ""
    assert result.warnings == (
        "SharedResourceWarning: ConfigMap/shared is part of applications app and other",
    )
    prior = result.prior_dry_runs()
    assert set(prior) == {key("shared"), key("mine")}
    assert prior[key("mine")].fingerprint == dry_run_fingerprint(
        prepare_manifest(cm("mine"), key("mine"), "app"), "argosy-controller"
    )
    assert result.to_dict()["warnings"] == list(result.warnings)


async def test_compare_memo_reuses_statuses_until_desired_or_live_changes() -> None:
    fake = PatchingKube()
    seed(fake, cm("a"), app="app")
    seed(fake, cm("b"), app="app")
    memo = CompareMemo()
    settings = CompareSettings(app_name="app", server_side_diff=False)

    def live() -> list[dict[str, Any]]:
        return [copy.deepcopy(v) for v in fake.objects.values()]

    first = await compare_app(fake, [cm("a"), cm("b")], live=live(), settings=settings, memo=memo)
    assert first.sync_status is SyncStatus.SYNCED
    assert (memo.hits, memo.misses, len(memo)) == (0, 2, 2)
    await compare_app(fake, [cm("a"), cm("b")], live=live(), settings=settings, memo=memo)
    assert memo.hits == 2
    # A changed desired manifest and a new live version are diffed again.
    fake.objects[("ConfigMap", "ns", "b")] = fake._stored(fake.objects[("ConfigMap", "ns", "b")])
    changed = await compare_app(
        fake, [cm("a", {"k": "new"}), cm("b")], live=live(), settings=settings, memo=memo
    )
    assert memo.hits == 2 and memo.misses == 4
    assert [r.key.name for r in changed.out_of_sync] == ["a"]
    # Resources that left the app are forgotten.
    await compare_app(fake, [cm("a")], live=live()[:1], settings=settings, memo=memo)
    assert len(memo) == 1
    memo.clear()
    assert len(memo) == 0


def test_compare_target_equals_the_prepared_manifest() -> None:
    plain = cm("x")
    no_namespace = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "y"}, "data": {"a": "b"}}
    no_annotations = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "z", "namespace": "ns"}}
    for manifest, k in ((plain, key("x")), (no_namespace, key("y")), (no_annotations, key("z"))):
        before = copy.deepcopy(manifest)
        for app in ("app", ""):
            assert _target(manifest, k, app) == prepare_manifest(manifest, k, app)
        assert manifest == before


async def test_client_dry_run_mode_makes_no_request_per_object() -> None:
    fake = PatchingKube()
    fake.unknown_kinds = ("Widget",)
    plan = build_plan([cm("a"), cm("b")], [], PlanOptions())
    result = await SyncExecutor(fake, plan, fast(dry_run_mode="client")).run()
    assert result.phase is OperationPhase.SUCCEEDED, result.message
    assert [c for c in fake.calls if c[2]] == []  # no dry-run request
    widget = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w", "namespace": "ns"}}
    failed = await SyncExecutor(
        fake, build_plan([widget], [], PlanOptions()), fast(dry_run_mode="client")
    ).run()
    assert failed.phase is OperationPhase.FAILED
    assert "Widget" in failed.resources[0].message
    bare = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "nons"}}
    missing = await SyncExecutor(
        fake, build_plan([bare], [], PlanOptions()), fast(dry_run_mode="client")
    ).run()
    assert missing.phase is OperationPhase.FAILED
    assert "needs a namespace" in missing.resources[0].message


async def test_cache_compare_sees_a_key_dropped_from_git_through_managed_fields() -> None:
    live = cm("x", {"a": "1", "b": "2"})
    live["metadata"]["annotations"]["argocd.argoproj.io/tracking-id"] = tracking_id("app", key("x"))
    live["metadata"]["resourceVersion"] = "7"
    live["metadata"]["managedFields"] = [
        {
            "manager": "argosy-controller",
            "operation": "Apply",
            "fieldsType": "FieldsV1",
            "fieldsV1": {"f:data": {"f:a": {}, "f:b": {}}},
        }
    ]
    desired = [cm("x", {"a": "1"})]
    fake = PatchingKube()
    on = await compare_app(
        fake, desired, live=[live], settings=CompareSettings(app_name="app", server_side_diff=False)
    )
    assert on.sync_status is SyncStatus.OUT_OF_SYNC
    assert on.resource(key("x")).drift == (("data.b", "argosy-controller"),)
    off = await compare_app(
        fake,
        desired,
        live=[live],
        settings=CompareSettings(app_name="app", server_side_diff=False, managed_fields_base=False),
    )
    assert off.sync_status is SyncStatus.SYNCED  # Argo CD's two-way diff misses it


async def test_compare_memo_forgets_statuses_when_the_settings_change_and_takes_a_keyed_snapshot() -> None:
    fake = PatchingKube()
    seed(fake, cm("a"), app="app")
    memo = CompareMemo()
    snapshot = {key("a"): copy.deepcopy(fake.objects[("ConfigMap", "ns", "a")])}
    settings = CompareSettings(app_name="app", server_side_diff=False)
    first = await compare_app(fake, [cm("a")], live=snapshot, settings=settings, memo=memo)
    assert first.sync_status is SyncStatus.SYNCED and memo.misses == 1
    await compare_app(fake, [cm("a")], live=snapshot, settings=settings, memo=memo)
    assert memo.hits == 1
    # Other settings (here: the two-way diff) must not reuse a status made with the old ones.
    other = CompareSettings(app_name="app", server_side_diff=False, managed_fields_base=False)
    await compare_app(fake, [cm("a")], live=snapshot, settings=other, memo=memo)
    assert (memo.hits, memo.misses) == (1, 2)
