"""The engine against the real local control plane: sync executor and compare service."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from argosy.adapters.kube import KubeClient, load_kubeconfig
from argosy.core.plan import OperationPhase, PlanOptions, SyncPlan, build_plan
from argosy.model.annotations import parse_sync_options
from argosy.model.resources import ResourceKey
from argosy.services.compare import CompareSettings, SyncStatus, compare_app
from argosy.services.sync import ARGOCD_FIELD_MANAGER, SyncEvent, SyncExecutor, SyncResult, SyncSettings
from tests.support.cluster import ControlPlane

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

FAIL_LABEL = "pod-container-running-failed.stage.kwok.x-k8s.io"
APP = "artemis"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def kube(control_plane: ControlPlane) -> AsyncIterator[KubeClient]:
    async with KubeClient(load_kubeconfig(control_plane.kubeconfig)) as client:
        yield client


def settings(**overrides: Any) -> SyncSettings:
    values: dict[str, Any] = {"app_name": APP, "wave_delay": 0.0, "poll_interval": 0.2, "timeout": 120.0}
    values.update(overrides)
    return SyncSettings(**values)


def meta(name: str, namespace: str | None, **annotations: str) -> dict[str, Any]:
    out: dict[str, Any] = {"name": name}
    if namespace is not None:
        out["namespace"] = namespace
    if annotations:
        out["annotations"] = {f"argocd.argoproj.io/{k.replace('_', '-')}": v for k, v in annotations.items()}
    return out


def configmap(
    name: str, namespace: str, data: dict[str, str] | None = None, **annotations: str
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": meta(name, namespace, **annotations),
        "data": data or {"k": name},
    }


def job(
    name: str, namespace: str, *, fail: bool = False, generate: bool = False, **annotations: str
) -> dict[str, Any]:
    metadata = meta(name, namespace, **annotations)
    if generate:
        metadata["generateName"] = metadata.pop("name") + "-"
    template: dict[str, Any] = {
        "spec": {
            "restartPolicy": "Never",
            "containers": [
                {"name": "main", "image": "ghcr.io/sophia-intel-ai/tool:v1.0.0", "command": ["true"]}
            ],
        }
    }
    if fail:
        template["metadata"] = {"labels": {FAIL_LABEL: "true"}}
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": metadata,
        "spec": {"backoffLimit": 0, "template": template},
    }


def deployment(name: str, namespace: str, image: str = "nginx:1.27", **annotations: str) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta(name, namespace, **annotations),
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": name, "image": image}]},
            },
        },
    }


def spec_app(namespace: str) -> list[dict[str, Any]]:
    """Spec §5.2: namespace, config, wave-1 Deployment, wave-2 Service, PreSync/PostSync hook Jobs."""
    migration = job(
        "database-migration", namespace, hook="PreSync", hook_weight="10", hook_delete_policy="HookSucceeded"
    )
    migration["spec"]["template"]["spec"]["containers"][0]["env"] = [
        {
            "name": "DATABASE_URL",
            "valueFrom": {"secretKeyRef": {"name": "artemis-credentials", "key": "database-url"}},
        }
    ]
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}},
        configmap("artemis-config", namespace),
        deployment("artemis-orchestrator", namespace, sync_wave="1"),
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": meta("artemis-orchestrator", namespace, sync_wave="2"),
            "spec": {
                "selector": {"app": "artemis-orchestrator"},
                "ports": [{"port": 80, "targetPort": 8080}],
            },
        },
        migration,
        job("schema-check", namespace, hook="PreSync", hook_weight="5", hook_delete_policy="HookSucceeded"),
        job("smoke-tests", namespace, hook="PostSync", hook_weight="20", hook_delete_policy="HookSucceeded"),
    ]


def writes(result: SyncResult | list[SyncEvent]) -> list[tuple[str, str, str, int]]:
    events = result.events if isinstance(result, SyncResult) else result
    return [e.as_tuple() for e in events if e.kind != "wave-start"]


def names(control_plane: ControlPlane, kind: str, namespace: str) -> set[str]:
    items = control_plane.get_json(kind, "-n", namespace)["items"]
    return {i["metadata"]["name"] for i in items if not i["metadata"].get("deletionTimestamp")}


async def test_spec_app_syncs_in_documented_order(
    kube: KubeClient, control_plane: ControlPlane, namespace: str
) -> None:
    plan = build_plan(spec_app(namespace), [], PlanOptions(default_namespace=namespace))
    result = await SyncExecutor(kube, plan, settings()).run()
    assert result.phase is OperationPhase.SUCCEEDED, result.message
    ns = namespace
    assert writes(result) == [
        ("apply", f"/Namespace//{ns}", "PreSync", 5),  # bubbled in front of the first task in it
        ("hook-created", f"batch/Job/{ns}/schema-check", "PreSync", 5),
        ("hook-created", f"batch/Job/{ns}/database-migration", "PreSync", 10),
        ("apply", f"/ConfigMap/{ns}/artemis-config", "Sync", 0),
        ("apply", f"apps/Deployment/{ns}/artemis-orchestrator", "Sync", 1),
        ("apply", f"/Service/{ns}/artemis-orchestrator", "Sync", 2),
        ("hook-created", f"batch/Job/{ns}/smoke-tests", "PostSync", 20),
        ("hook-deleted", f"batch/Job/{ns}/schema-check", "PreSync", 5),
        ("hook-deleted", f"batch/Job/{ns}/database-migration", "PreSync", 10),
        ("hook-deleted", f"batch/Job/{ns}/smoke-tests", "PostSync", 20),
    ]
    assert {r.code for r in result.resources} == {"Synced"}
    # HookSucceeded: the hook Jobs are gone afterwards; the app's resources are there and tracked.
    control_plane.wait_for("hook jobs deleted", lambda: not names(control_plane, "jobs", ns))
    cm = control_plane.get_json("configmap", "artemis-config", "-n", ns, "--show-managed-fields")
    assert (
        cm["metadata"]["annotations"]["argocd.argoproj.io/tracking-id"]
        == f"{APP}:/ConfigMap:{ns}/artemis-config"
    )
    managers = {(m["manager"], m["operation"]) for m in cm["metadata"]["managedFields"]}
    assert ("argosy-controller", "Apply") in managers
    deploy = control_plane.get_json("deployment", "artemis-orchestrator", "-n", ns)
    assert deploy["status"].get("availableReplicas") == 1
    json.dumps(result.to_dict())  # results are plain data


async def test_failing_presync_hook_fails_the_sync_and_runs_sync_fail_hooks(
    kube: KubeClient, control_plane: ControlPlane, namespace: str
) -> None:
    manifests = [
        job("migrate", namespace, fail=True, hook="PreSync", hook_delete_policy="HookFailed"),
        configmap("app-config", namespace),
        deployment("web", namespace, sync_wave="1"),
        job("on-failure", namespace, generate=True, hook="SyncFail", hook_delete_policy="HookSucceeded"),
        job("post", namespace, hook="PostSync"),
    ]
    plan = build_plan(manifests, [], PlanOptions(default_namespace=namespace))
    result = await SyncExecutor(kube, plan, settings()).run()
    assert result.phase is OperationPhase.FAILED
    assert "batch/Job/migrate" in result.message
    migrate = result.resource("Job", "migrate")
    assert migrate.code == "SyncFailed" and migrate.hook_phase == "Failed"
    assert migrate.message  # the Job's failure condition
    kinds = [e[0] for e in writes(result)]
    assert ("apply" not in kinds) and ("pruned" not in kinds)
    # Nothing of the Sync (or PostSync) phase was written.
    assert "app-config" not in names(control_plane, "configmaps", namespace)
    assert not names(control_plane, "deployments", namespace)
    for skipped in ("app-config", "web", "post"):
        assert next(r for r in result.resources if r.key.name == skipped).code == "Skipped"
    # The SyncFail hook ran (generateName), succeeded and was deleted (HookSucceeded); the failed
    # PreSync hook was deleted (HookFailed).
    created = [e for e in result.events if e.kind == "hook-created"]
    assert [e.phase for e in created] == ["PreSync", "SyncFail"]
    sync_fail_name = created[1].key.rsplit("/", 1)[1]
    assert sync_fail_name.startswith("on-failure-")
    assert result.resource("Job", sync_fail_name).hook_phase == "Succeeded"
    deleted = {(e.key.rsplit("/", 1)[1], e.detail) for e in result.events if e.kind == "hook-deleted"}
    assert deleted == {("migrate", "HookFailed"), (sync_fail_name, "HookSucceeded")}
    control_plane.wait_for("hooks deleted", lambda: not names(control_plane, "jobs", namespace))


async def _live(kube: KubeClient, namespace: str, kinds: list[tuple[str, str]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for api_version, kind in kinds:
        listed = await kube.list(api_version, kind, namespace)
        for item in listed.items:
            annotations = item["metadata"].get("annotations") or {}
            if str(annotations.get("argocd.argoproj.io/tracking-id", "")).startswith(f"{APP}:"):
                out.append(item)
    return out


async def test_prune_reverse_waves_foreground_and_prune_last(
    kube: KubeClient, control_plane: ControlPlane, namespace: str
) -> None:
    first = [
        configmap("keep", namespace),
        configmap("cm-a", namespace, sync_wave="0"),
        deployment("web", namespace, sync_wave="1"),
        configmap("cm-c", namespace, sync_wave="2"),
        configmap("cm-last", namespace, sync_options="PruneLast=true"),
    ]
    options = PlanOptions(default_namespace=namespace, prune=True)
    done = await SyncExecutor(kube, build_plan(first, [], options), settings()).run()
    assert done.phase is OperationPhase.SUCCEEDED, done.message
    control_plane.wait_for("web's replica set", lambda: names(control_plane, "replicasets", namespace))

    live = await _live(kube, namespace, [("v1", "ConfigMap"), ("apps/v1", "Deployment")])
    plan = build_plan([configmap("keep", namespace, {"k": "v2"})], live, options)
    result = await SyncExecutor(kube, plan, settings()).run()
    assert result.phase is OperationPhase.SUCCEEDED, result.message
    ns = namespace
    assert writes(result) == [
        ("pruned", f"/ConfigMap/{ns}/cm-c", "Sync", 0),  # wave 2 mirrored to 0: pruned first
        ("apply", f"/ConfigMap/{ns}/keep", "Sync", 0),
        ("pruned", f"apps/Deployment/{ns}/web", "Sync", 1),
        ("pruned", f"/ConfigMap/{ns}/cm-a", "Sync", 2),  # wave 0 mirrored to 2
        ("pruned", f"/ConfigMap/{ns}/cm-last", "Sync", 3),  # PruneLast: after every other wave
    ]
    assert {e.detail for e in result.events if e.kind == "pruned"} == {"Foreground"}
    # Foreground: the Deployment was gone (so were its ReplicaSets) before the next wave started.
    assert not names(control_plane, "replicasets", ns)
    assert names(control_plane, "configmaps", ns) & {"keep", "cm-a", "cm-c", "cm-last"} == {"keep"}
    assert {r.code for r in result.resources if r.key.name != "keep"} == {"Pruned"}


async def test_server_side_apply_removes_fields_and_takes_over_from_argocd(
    kube: KubeClient, control_plane: ControlPlane, namespace: str
) -> None:
    options = PlanOptions(default_namespace=namespace)
    v1 = [configmap("plain", namespace, {"a": "1", "b": "2"})]
    assert (
        await SyncExecutor(kube, build_plan(v1, [], options), settings()).run()
    ).phase is OperationPhase.SUCCEEDED
    v2 = [configmap("plain", namespace, {"a": "1"})]
    assert (
        await SyncExecutor(kube, build_plan(v2, [], options), settings()).run()
    ).phase is OperationPhase.SUCCEEDED
    assert control_plane.get_json("configmap", "plain", "-n", namespace)["data"] == {"a": "1"}

    # An object Argo CD applied (server-side, manager argocd-controller) is taken over.
    argo = configmap("adopted", namespace, {"a": "1", "b": "2"})
    argo["metadata"]["labels"] = {"old": "x"}
    control_plane.kubectl(
        "apply", "--server-side", f"--field-manager={ARGOCD_FIELD_MANAGER}", "-f", "-", input=json.dumps(argo)
    )
    desired = [configmap("adopted", namespace, {"a": "1"})]
    result = await SyncExecutor(
        kube, build_plan(desired, [], options), settings(take_over_managers=(ARGOCD_FIELD_MANAGER,))
    ).run()
    assert result.phase is OperationPhase.SUCCEEDED, result.message
    assert [e.kind for e in result.events if e.kind != "wave-start"] == ["took-over", "apply"]
    adopted = control_plane.get_json("configmap", "adopted", "-n", namespace, "--show-managed-fields")
    assert adopted["data"] == {"a": "1"}
    assert "old" not in (adopted["metadata"].get("labels") or {})
    assert {m["manager"] for m in adopted["metadata"]["managedFields"]} == {"argosy-controller"}


async def test_replace_puts_the_whole_object(
    kube: KubeClient, control_plane: ControlPlane, namespace: str
) -> None:
    options = PlanOptions(default_namespace=namespace)
    desired = [configmap("replaced", namespace, {"a": "1"}, sync_options="Replace=true")]
    first = await SyncExecutor(kube, build_plan(desired, [], options), settings()).run()
    assert writes(first) == [("create", f"/ConfigMap/{namespace}/replaced", "Sync", 0)]
    control_plane.kubectl("-n", namespace, "label", "configmap", "replaced", "extra=1")
    uid = control_plane.get_json("configmap", "replaced", "-n", namespace)["metadata"]["uid"]
    second = await SyncExecutor(kube, build_plan(desired, [], options), settings()).run()
    assert second.phase is OperationPhase.SUCCEEDED, second.message
    assert writes(second) == [("replace", f"/ConfigMap/{namespace}/replaced", "Sync", 0)]
    live = control_plane.get_json("configmap", "replaced", "-n", namespace, "--show-managed-fields")
    assert live["metadata"]["uid"] == uid  # same object, whole content replaced
    assert "extra" not in (live["metadata"].get("labels") or {})
    assert ("argosy-controller", "Update") in {
        (m["manager"], m["operation"]) for m in live["metadata"]["managedFields"]
    }


@pytest.mark.parametrize("where", ["annotation", "sync-flag", "app-options"])
async def test_force_recreates_on_an_immutable_change(
    kube: KubeClient, control_plane: ControlPlane, namespace: str, where: str
) -> None:
    options = PlanOptions(default_namespace=namespace)

    def frozen(value: str, **annotations: str) -> dict[str, Any]:
        cm = configmap("frozen", namespace, {"a": value}, **annotations)
        cm["immutable"] = True
        return cm

    await SyncExecutor(kube, build_plan([frozen("1")], [], options), settings()).run()
    uid = control_plane.get_json("configmap", "frozen", "-n", namespace)["metadata"]["uid"]
    # Without Force the dry run refuses the change and nothing is written.
    refused = await SyncExecutor(kube, build_plan([frozen("2")], [], options), settings()).run()
    assert refused.phase is OperationPhase.FAILED
    assert refused.message == "one or more objects failed to apply (dry run)"
    assert "immutable" in refused.resource("ConfigMap", "frozen").message
    annotations = {"sync_options": "Force=true"} if where == "annotation" else {}
    extra: dict[str, Any] = {
        "annotation": {},
        "sync-flag": {"force": True},
        "app-options": {"app_sync_options": parse_sync_options(["Force=true"])},
    }[where]
    result = await SyncExecutor(
        kube, build_plan([frozen("2", **annotations)], [], options), settings(**extra)
    ).run()
    assert result.phase is OperationPhase.SUCCEEDED, result.message
    assert writes(result) == [("recreate", f"/ConfigMap/{namespace}/frozen", "Sync", 0)]
    live = control_plane.get_json("configmap", "frozen", "-n", namespace)
    assert live["data"] == {"a": "2"} and live["metadata"]["uid"] != uid
    if where == "app-options":
        assert any("Force=true in the app-level syncOptions" in w for w in result.warnings)


async def test_replace_with_force_always_recreates(
    kube: KubeClient, control_plane: ControlPlane, namespace: str
) -> None:
    options = PlanOptions(default_namespace=namespace)
    desired = [configmap("rf", namespace, sync_options="Replace=true,Force=true")]
    await SyncExecutor(kube, build_plan(desired, [], options), settings()).run()
    uid = control_plane.get_json("configmap", "rf", "-n", namespace)["metadata"]["uid"]
    result = await SyncExecutor(kube, build_plan(desired, [], options), settings()).run()
    assert writes(result) == [("recreate", f"/ConfigMap/{namespace}/rf", "Sync", 0)]
    assert control_plane.get_json("configmap", "rf", "-n", namespace)["metadata"]["uid"] != uid


async def test_kubectl_patch_shows_as_drift_with_its_manager(
    kube: KubeClient, control_plane: ControlPlane, namespace: str
) -> None:
    desired = [deployment("web", namespace), configmap("web-config", namespace)]
    plan = build_plan(desired, [], PlanOptions(default_namespace=namespace))
    assert (await SyncExecutor(kube, plan, settings()).run()).phase is OperationPhase.SUCCEEDED
    compare_settings = CompareSettings(app_name=APP, default_namespace=namespace)
    before = await compare_app(kube, desired, settings=compare_settings)
    assert before.sync_status is SyncStatus.SYNCED, [r.drift for r in before.out_of_sync]

    patch = {"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "nginx:9.9"}]}}}}
    control_plane.kubectl("-n", namespace, "patch", "deployment", "web", "-p", json.dumps(patch))
    after = await compare_app(kube, desired, settings=compare_settings)
    assert after.sync_status is SyncStatus.OUT_OF_SYNC
    web = after.resource(ResourceKey("apps", "Deployment", namespace, "web"))
    assert web.status is SyncStatus.OUT_OF_SYNC and web.diff is not None
    assert web.diff.strategy == "server-side"
    assert ("spec.template.spec.containers[name=web].image", "kubectl-patch") in web.drift
    change = next(c for c in web.diff.changes if c.path == "spec.template.spec.containers[name=web].image")
    assert (change.before, change.after) == ("nginx:9.9", "nginx:1.27")
    assert after.resource(ResourceKey("", "ConfigMap", namespace, "web-config")).status is SyncStatus.SYNCED


async def test_changed_secret_values_never_reach_the_compare_result(
    kube: KubeClient, control_plane: ControlPlane, namespace: str
) -> None:
    old, new = "old-s3cret-value-4711", "new-s3cret-value-0815"
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "creds", "namespace": namespace},
        "type": "Opaque",
        "stringData": {"password": old},
    }
    plan = build_plan([secret], [], PlanOptions(default_namespace=namespace))
    assert (await SyncExecutor(kube, plan, settings()).run()).phase is OperationPhase.SUCCEEDED
    encoded_new = base64.b64encode(new.encode()).decode()
    control_plane.kubectl(
        "-n", namespace, "patch", "secret", "creds", "-p", json.dumps({"data": {"password": encoded_new}})
    )
    result = await compare_app(
        kube, [secret], settings=CompareSettings(app_name=APP, default_namespace=namespace)
    )
    creds = result.resource(ResourceKey("", "Secret", namespace, "creds"))
    assert creds.status is SyncStatus.OUT_OF_SYNC
    assert [path for path, _ in creds.drift] == ["data.password"]
    text = json.dumps(result.to_dict()) + repr(result)
    for value in (old, new):
        for form in (value, base64.b64encode(value.encode()).decode()):
            assert form not in text


async def test_resume_does_not_rerun_finished_hooks(
    kube: KubeClient, control_plane: ControlPlane, namespace: str
) -> None:
    def plan() -> SyncPlan:
        return build_plan(spec_app(namespace), [], PlanOptions(default_namespace=namespace))

    first = SyncExecutor(kube, plan(), settings())
    stopped = await first.run(max_waves=2)  # PreSync waves 5 and 10: both hooks created and done
    assert stopped.phase is OperationPhase.RUNNING
    assert [e for e in writes(stopped) if e[0] == "apply" and e[2] == "Sync"] == []
    saved = first.save_state()
    job_uid = control_plane.get_json("job", "database-migration", "-n", namespace)["metadata"]["uid"]

    # A new controller process: new client, plan rebuilt from the same manifests, state loaded.
    async with KubeClient(load_kubeconfig(control_plane.kubeconfig)) as fresh:
        resumed = SyncExecutor(fresh, plan(), settings(), state=saved)
        result = await resumed.run()
    assert result.phase is OperationPhase.SUCCEEDED, result.message
    created = [e[1].rsplit("/", 1)[1] for e in writes(result) if e[0] == "hook-created"]
    assert created.count("database-migration") == 1
    assert created.count("schema-check") == 1
    new_events = result.events[len(stopped.events) :]
    assert not any(e.kind == "hook-created" and e.phase == "PreSync" for e in new_events)
    deleted = [e for e in new_events if e.kind == "hook-deleted" and e.key.endswith("/database-migration")]
    assert len(deleted) == 1
    assert job_uid  # the Job that was created once is the one HookSucceeded deleted
    control_plane.wait_for("hook jobs deleted", lambda: not names(control_plane, "jobs", namespace))
