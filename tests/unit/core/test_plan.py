"""build_plan / order_tasks: ordering, bubbling, hooks, prunes, selective sync, errors."""

from __future__ import annotations

from typing import Any

import pytest

from argosy.core.plan import Operation, PlanError, PlanOptions, SyncTask, build_plan, kind_rank
from argosy.model.annotations import HookDeletePolicy, HookType, SyncPhase, parse_sync_options
from argosy.model.resources import GroupKind, ResourceKey


def obj(
    kind: str,
    name: str,
    *,
    api: str = "v1",
    ns: str = "",
    generate: str = "",
    spec: dict[str, Any] | None = None,
) -> dict[str, Any]:
    metadata: dict[str, Any] = {"annotations": {}}
    if name:
        metadata["name"] = name
    if generate:
        metadata["generateName"] = generate
    if ns:
        metadata["namespace"] = ns
    return {"apiVersion": api, "kind": kind, "metadata": metadata, "spec": spec or {}}


def hook(kind: str, name: str, types: str, **extra: Any) -> dict[str, Any]:
    manifest = obj(kind, name, api="batch/v1", **extra)
    manifest["metadata"]["annotations"]["argocd.argoproj.io/hook"] = types
    return manifest


def annotate(manifest: dict[str, Any], **values: str) -> dict[str, Any]:
    manifest["metadata"]["annotations"].update(
        {f"argocd.argoproj.io/{k.replace('_', '-')}": v for k, v in values.items()}
    )
    return manifest


def names(tasks: tuple[SyncTask, ...] | list[SyncTask]) -> list[str]:
    return [t.display_name for t in tasks]


def test_kind_rank_table() -> None:
    assert kind_rank("Namespace") == -35
    assert kind_rank("APIService") == -1
    assert kind_rank("Rollout") == 0


def test_orders_by_phase_wave_kind_name_and_is_deterministic() -> None:
    desired = [
        obj("Deployment", "web", api="apps/v1"),
        obj("Service", "web"),
        obj("ConfigMap", "b"),
        obj("ConfigMap", "a"),
        annotate(obj("Secret", "late"), sync_wave="2"),
        annotate(obj("Widget", "w", api="example.com/v1"), sync_wave="-1"),
        hook("Job", "post", "PostSync"),
        hook("Job", "pre", "PreSync"),
        hook("Job", "fail", "SyncFail"),
    ]
    plan = build_plan(desired)
    assert names(plan.tasks) == ["pre", "w", "a", "b", "web", "web", "late", "post", "fail"]
    assert [t.key.kind for t in plan.tasks][4:6] == ["Service", "Deployment"]
    assert build_plan(reversed(desired)) == plan


def test_namespace_bubbles_ahead_of_hook_and_inherits_phase_and_wave() -> None:
    desired = [
        annotate(obj("Namespace", "apps"), sync_wave="3"),
        hook("Job", "migrate", "PreSync", ns="apps"),
        obj("ConfigMap", "cfg", ns="apps"),
    ]
    plan = build_plan(desired)
    assert names(plan.tasks) == ["apps", "migrate", "cfg"]
    ns_task = plan.tasks[0]
    assert (ns_task.phase, ns_task.wave) == (SyncPhase.PRE_SYNC, 0)
    assert "moved ahead of Job/migrate" in ns_task.reason


def test_crd_bubbles_ahead_of_its_custom_resources() -> None:
    crd = obj(
        "CustomResourceDefinition",
        "widgets.example.com",
        api="apiextensions.k8s.io/v1",
        spec={"group": "example.com", "names": {"kind": "Widget"}},
    )
    desired = [
        annotate(crd, sync_wave="5"),
        annotate(obj("Widget", "w", api="example.com/v1"), sync_wave="1"),
    ]
    plan = build_plan(desired)
    assert names(plan.tasks) == ["widgets.example.com", "w"]
    assert plan.tasks[0].defines == GroupKind("example.com", "Widget")
    assert plan.tasks[0].wave == 1


def test_hooks_default_delete_policy_and_multi_phase() -> None:
    plan = build_plan([hook("Pod", "check", "PreSync,PostSync")])
    assert [(t.phase, t.hook_type) for t in plan.tasks] == [
        (SyncPhase.PRE_SYNC, HookType.PRE_SYNC),
        (SyncPhase.POST_SYNC, HookType.POST_SYNC),
    ]
    assert all(t.delete_policies == (HookDeletePolicy.BEFORE_HOOK_CREATION,) for t in plan.tasks)
    assert all(t.operation is Operation.CREATE_HOOK for t in plan.tasks)
    assert len({t.task_id for t in plan.tasks}) == 2


def test_hook_weight_extension_orders_hooks_within_a_phase() -> None:
    desired = [
        annotate(hook("Job", "second", "PreSync"), hook_weight="10"),
        annotate(hook("Job", "first", "PreSync"), hook_weight="-5"),
        annotate(hook("Job", "wave-wins", "PreSync"), hook_weight="-100", sync_wave="20"),
    ]
    plan = build_plan(desired)
    assert [(t.display_name, t.wave) for t in plan.tasks] == [
        ("first", -5),
        ("second", 10),
        ("wave-wins", 20),
    ]
    # On plain resources the extension is ignored.
    assert build_plan([annotate(obj("ConfigMap", "c"), hook_weight="9")]).tasks[0].wave == 0


def test_generate_name_hooks_and_skip() -> None:
    desired = [
        hook("Job", "", "Sync", generate="migrate-"),
        annotate(obj("ConfigMap", "skipped"), hook="Skip"),
    ]
    live = [obj("ConfigMap", "skipped")]
    plan = build_plan(desired, live, PlanOptions(prune=True))
    (task,) = plan.tasks
    assert task.generate_name == "migrate-" and task.key.name == "" and task.display_name == "migrate-*"


def test_unknown_hook_type_is_a_warning_not_a_task() -> None:
    plan = build_plan([hook("Job", "odd", "Sometimes")])
    assert plan.tasks == ()
    assert any("unknown hook type 'Sometimes'" in w for w in plan.warnings)


def test_prunes_reverse_wave_order_and_prune_last() -> None:
    live = [annotate(obj("Pod", f"p{w}"), sync_wave=str(w)) for w in (1, 2, 3)]
    live.append(annotate(obj("Pod", "last"), sync_wave="1", sync_options="PruneLast=true"))
    plan = build_plan([annotate(obj("Pod", "keep"), sync_wave="2")], live, PlanOptions(prune=True))
    waves = {t.display_name: t.wave for t in plan.tasks}
    assert waves == {"p3": 1, "p2": 2, "p1": 3, "keep": 2, "last": 4}
    assert all(t.operation is Operation.PRUNE for t in plan.tasks if t.display_name != "keep")
    # Prunes run first within a wave.
    assert names(plan.tasks) == ["p3", "p2", "keep", "p1", "last"]


def test_prune_last_is_before_post_sync_hooks() -> None:
    options = PlanOptions(prune=True, sync_options=parse_sync_options(["PruneLast=true"]))
    plan = build_plan([obj("Pod", "a"), hook("Job", "smoke", "PostSync")], [obj("Pod", "old")], options)
    assert names(plan.tasks) == ["a", "old", "smoke"]
    assert plan.tasks[1].wave == 1 and plan.tasks[1].phase is SyncPhase.SYNC


def test_prune_disabled_confirm_and_resource_override() -> None:
    live = [
        obj("Pod", "plain"),
        annotate(obj("Pod", "keep"), sync_options="Prune=false"),
        annotate(obj("Pod", "ask"), sync_options="Prune=confirm"),
    ]
    off = {t.display_name: t.operation for t in build_plan([], live).tasks}
    assert set(off.values()) == {Operation.PRUNE_SKIPPED}
    on = {t.display_name: t.operation for t in build_plan([], live, PlanOptions(prune=True)).tasks}
    assert on == {"plain": Operation.PRUNE, "keep": Operation.PRUNE_SKIPPED, "ask": Operation.PRUNE_SKIPPED}
    confirmed = build_plan([], live, PlanOptions(prune=True, prune_confirmed=True)).tasks
    assert {t.display_name: t.operation for t in confirmed}["ask"] is Operation.PRUNE


def test_live_hooks_are_not_pruned_and_existing_objects_are_updates() -> None:
    live = [hook("Job", "old-hook", "PreSync"), obj("ConfigMap", "c")]
    plan = build_plan([obj("ConfigMap", "c")], live, PlanOptions(prune=True))
    (task,) = plan.tasks
    assert task.exists and task.reason.startswith("update")


def test_selective_sync_skips_hooks_and_other_resources() -> None:
    desired = [
        obj("ConfigMap", "a", ns="x"),
        obj("ConfigMap", "b", ns="x"),
        hook("Job", "h", "PreSync", ns="x"),
    ]
    live = [obj("ConfigMap", "gone", ns="x"), obj("ConfigMap", "other", ns="x")]
    selected = frozenset({ResourceKey("", "ConfigMap", "x", "a"), ResourceKey("", "ConfigMap", "x", "gone")})
    plan = build_plan(desired, live, PlanOptions(prune=True, resources=selected))
    assert [(t.display_name, t.operation) for t in plan.tasks] == [
        ("gone", Operation.PRUNE),
        ("a", Operation.APPLY),
    ]
    assert build_plan(desired, (), PlanOptions(skip_hooks=True)).tasks == build_plan(desired[:2]).tasks


def test_apply_out_of_sync_only() -> None:
    desired = [obj("ConfigMap", "a", ns="x"), obj("ConfigMap", "b", ns="x")]
    options = PlanOptions(
        sync_options=parse_sync_options(["ApplyOutOfSyncOnly=true"]),
        in_sync=frozenset({ResourceKey("", "ConfigMap", "x", "a")}),
    )
    assert names(build_plan(desired, (), options).tasks) == ["b"]


def test_default_namespace_and_force_only_from_resource() -> None:
    options = PlanOptions(default_namespace="apps", sync_options=parse_sync_options(["Force=true"]))
    plan = build_plan(
        [
            obj("ConfigMap", "c"),
            obj("Namespace", "apps"),
            obj("ClusterRole", "r", api="rbac.authorization.k8s.io/v1"),
        ],
        (),
        options,
    )
    keys = {t.key.kind: t.key.namespace for t in plan.tasks}
    assert keys == {"ConfigMap": "apps", "Namespace": "", "ClusterRole": ""}
    assert all(t.options.force is None for t in plan.tasks)
    forced = build_plan([annotate(obj("Pod", "p"), sync_options="Force=true,Replace=true")]).tasks[0]
    assert forced.options.force and forced.options.replace


@pytest.mark.parametrize(
    ("manifest", "message"),
    [
        (annotate(obj("Pod", "p"), sync_wave="soon"), r"Pod/p: annotation argocd.argoproj.io/sync-wave"),
        (
            annotate(obj("Pod", "p"), sync_options="Prune=later"),
            r"Pod/p: annotation argocd.argoproj.io/sync-options",
        ),
        (annotate(hook("Job", "j", "PreSync"), hook_delete_policy="Never"), "unknown policy 'Never'"),
        ({"apiVersion": "v1", "metadata": {"name": "x"}}, "kind and metadata.name"),
        (obj("ConfigMap", "", generate="c-"), "only hooks may use generateName"),
    ],
)
def test_plan_errors_name_the_resource(manifest: dict[str, Any], message: str) -> None:
    with pytest.raises(PlanError, match=message):
        build_plan([manifest])


def test_duplicates_rejected_and_lenient_waves() -> None:
    with pytest.raises(PlanError, match="duplicate resource /ConfigMap//c"):
        build_plan([obj("ConfigMap", "c"), obj("ConfigMap", "c")])
    bad = annotate(obj("Pod", "p"), sync_wave="soon")
    assert build_plan([bad], (), PlanOptions(strict=False)).tasks[0].wave == 0


def test_task_to_dict() -> None:
    (task,) = build_plan([hook("Job", "j", "PreSync", ns="x")]).tasks
    assert task.to_dict() == {
        "phase": "PreSync",
        "wave": 0,
        "operation": "create-hook",
        "group": "batch",
        "kind": "Job",
        "namespace": "x",
        "name": "j",
        "generateName": "",
        "hookType": "PreSync",
        "deletePolicies": ["BeforeHookCreation"],
        "reason": "PreSync hook; default wave 0",
    }
