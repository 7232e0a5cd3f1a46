"""Sync options against the real local control plane: RespectIgnoreDifferences, FailOnSharedResource,
ServerSideApply=false, Validate=false, Prune=confirm, selective sync, ApplyOutOfSyncOnly with the
compare's dry runs, and SharedResourceWarning."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from argosy.adapters.kube import KubeClient, load_kubeconfig
from argosy.core.diff import IgnoreRule
from argosy.core.plan import OperationPhase, PlanOptions, build_plan
from argosy.deploy import crd_text
from argosy.model.annotations import parse_sync_options
from argosy.model.resources import ResourceKey
from argosy.services.compare import SHARED_RESOURCE_WARNING, CompareSettings, compare_app
from argosy.services.sync import SHARED_RESOURCE_FOUND, SyncExecutor, SyncSettings
from tests.support.cluster import ControlPlane

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

APP = "options-app"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


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


def configmap(name: str, namespace: str, data: dict[str, str], **annotations: str) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, "namespace": namespace}
    if annotations:
        metadata["annotations"] = {
            f"argocd.argoproj.io/{k.replace('_', '-')}": v for k, v in annotations.items()
        }
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": data}


def deployment(name: str, namespace: str, replicas: int, **annotations: str) -> dict[str, Any]:
    labels = {"app": name}
    metadata: dict[str, Any] = {"name": name, "namespace": namespace}
    if annotations:
        metadata["annotations"] = {
            f"argocd.argoproj.io/{k.replace('_', '-')}": v for k, v in annotations.items()
        }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata,
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]},
            },
        },
    }


def cm_data(control_plane: ControlPlane, name: str, namespace: str) -> dict[str, str]:
    data: dict[str, str] = control_plane.get_json("configmap", name, "-n", namespace).get("data") or {}
    return data


async def sync(kube: KubeClient, manifests: list[dict[str, Any]], namespace: str, **kw: Any) -> Any:
    plan_options: dict[str, Any] = {"default_namespace": namespace}
    plan_options.update(kw.pop("plan", {}))
    plan = build_plan(manifests, kw.pop("live", []), PlanOptions(**plan_options))
    return await SyncExecutor(kube, plan, settings(**kw.pop("settings", {})), **kw).run()


async def test_respect_ignore_differences_keeps_live_values_of_ignored_fields(
    kube: KubeClient, control_plane: ControlPlane, namespace: str
) -> None:
    first = await sync(kube, [deployment("web", namespace, 1)], namespace)
    assert first.phase is OperationPhase.SUCCEEDED, first.message
    control_plane.kubectl("-n", namespace, "scale", "deployment/web", "--replicas=3")
    rules = (IgnoreRule(group="apps", kind="Deployment", json_pointers=("/spec/replicas",)),)
    options = parse_sync_options(["RespectIgnoreDifferences=true"])

    # Git still says 1 replica, but the field is ignored and the option is on: the scale stays.
    result = await sync(
        kube,
        [deployment("web", namespace, 1)],
        namespace,
        plan={"sync_options": options},
        settings={"ignore_rules": rules},
    )
    assert result.phase is OperationPhase.SUCCEEDED, result.message
    assert control_plane.get_json("deployment", "web", "-n", namespace)["spec"]["replicas"] == 3

    # Without the option the ignored field is applied as Git has it.
    result = await sync(kube, [deployment("web", namespace, 1)], namespace, settings={"ignore_rules": rules})
    assert result.phase is OperationPhase.SUCCEEDED, result.message
    assert control_plane.get_json("deployment", "web", "-n", namespace)["spec"]["replicas"] == 1

    # A creation is not pre-patched (there is no live object): the desired value is used.
    created = await sync(
        kube,
        [deployment("fresh", namespace, 2)],
        namespace,
        plan={"sync_options": options},
        settings={"ignore_rules": rules},
    )
    assert created.phase is OperationPhase.SUCCEEDED, created.message
    assert control_plane.get_json("deployment", "fresh", "-n", namespace)["spec"]["replicas"] == 2


async def test_fail_on_shared_resource_fails_before_any_write(
    kube: KubeClient, control_plane: ControlPlane, namespace: str
) -> None:
    other = await SyncExecutor(
        kube,
        build_plan([configmap("shared", namespace, {"owner": "other"})], [], PlanOptions()),
        settings(app_name="other-app"),
    ).run()
    assert other.phase is OperationPhase.SUCCEEDED, other.message
    manifests = [
        configmap("mine", namespace, {"k": "v"}),
        configmap("shared", namespace, {"owner": "me"}),
    ]
    options = parse_sync_options(["FailOnSharedResource=true"])
    result = await sync(kube, manifests, namespace, plan={"sync_options": options})
    assert result.phase is OperationPhase.FAILED
    assert result.message.startswith(f"{SHARED_RESOURCE_FOUND}: ConfigMap/shared")
    assert "other-app" in result.message
    assert {r.code for r in result.resources} == {"Skipped"}
    # Nothing was written: neither the shared object nor the unrelated one.
    assert cm_data(control_plane, "shared", namespace) == {"owner": "other"}
    assert control_plane.kubectl("-n", namespace, "get", "cm", "mine", check=False).returncode != 0

    # The compare reports the sharing as a warning.
    compared = await compare_app(kube, manifests, settings=CompareSettings(app_name=APP))
    assert compared.resource(ResourceKey("", "ConfigMap", namespace, "shared")).shared_with == "other-app"
    assert any(w.startswith(SHARED_RESOURCE_WARNING) and "shared" in w for w in compared.warnings)

    # Without the option the sync takes the object over (Argo CD's default).
    taken = await sync(kube, manifests, namespace)
    assert taken.phase is OperationPhase.SUCCEEDED, taken.message
    assert cm_data(control_plane, "shared", namespace) == {"owner": "me"}


async def test_client_side_apply_writes_last_applied_and_removes_dropped_fields(
    kube: KubeClient, control_plane: ControlPlane, namespace: str
) -> None:
    csa = parse_sync_options(["ServerSideApply=false"])
    first = await sync(
        kube, [configmap("csa", namespace, {"a": "1", "b": "2"})], namespace, plan={"sync_options": csa}
    )
    assert first.phase is OperationPhase.SUCCEEDED, first.message
    live = control_plane.get_json("configmap", "csa", "-n", namespace, "--show-managed-fields")
    last = json.loads(live["metadata"]["annotations"][LAST_APPLIED])
    assert last["data"] == {"a": "1", "b": "2"}
    assert LAST_APPLIED not in last["metadata"].get("annotations", {})
    assert all(m["operation"] != "Apply" for m in live["metadata"]["managedFields"])

    # A field someone else adds survives (not in last-applied); a field Git drops is removed.
    control_plane.kubectl(
        "-n", namespace, "patch", "configmap", "csa", "--type=merge", "-p", '{"data":{"extra":"x"}}'
    )
    second = await sync(
        kube, [configmap("csa", namespace, {"a": "10"})], namespace, plan={"sync_options": csa}
    )
    assert second.phase is OperationPhase.SUCCEEDED, second.message
    assert cm_data(control_plane, "csa", namespace) == {"a": "10", "extra": "x"}
    assert [e.detail for e in second.events if e.kind == "apply"] == ["client-side"]

    # Resource-level ServerSideApply=false wins over the app default (server-side apply).
    third = await sync(
        kube, [configmap("res-csa", namespace, {"a": "1"}, sync_options="ServerSideApply=false")], namespace
    )
    assert third.phase is OperationPhase.SUCCEEDED, third.message
    assert (
        LAST_APPLIED
        in control_plane.get_json("configmap", "res-csa", "-n", namespace)["metadata"]["annotations"]
    )

    # Replace=true still wins over client-side apply.
    replaced = await sync(
        kube,
        [configmap("csa", namespace, {"a": "11"}, sync_options="Replace=true")],
        namespace,
        plan={"sync_options": csa},
    )
    assert [e.kind for e in replaced.events if e.kind != "wave-start"] == ["replace"]
    assert cm_data(control_plane, "csa", namespace) == {"a": "11"}


async def test_validate_false_passes_unknown_fields(
    kube: KubeClient, control_plane: ControlPlane, namespace: str
) -> None:
    bad = configmap("loose", namespace, {"k": "v"})
    bad["metadata"]["unknownMetadataField"] = "x"
    strict = await sync(kube, [bad], namespace)
    assert strict.phase is OperationPhase.FAILED
    assert "unknownMetadataField" in strict.resources[0].message
    # Server-side apply cannot carry a field outside the schema even with fieldValidation=Ignore
    # (the apiserver fails to build the typed patch), so Validate=false matters with client-side apply.
    ssa = await sync(kube, [bad], namespace, plan={"sync_options": parse_sync_options(["Validate=false"])})
    assert ssa.phase is OperationPhase.FAILED
    loose = await sync(
        kube,
        [bad],
        namespace,
        plan={"sync_options": parse_sync_options(["Validate=false", "ServerSideApply=false"])},
    )
    assert loose.phase is OperationPhase.SUCCEEDED, str(loose.to_dict())
    assert cm_data(control_plane, "loose", namespace) == {"k": "v"}


def install_application(control_plane: ControlPlane, namespace: str, name: str) -> None:
    control_plane.kubectl("apply", "-f", "-", input=crd_text("application"))
    control_plane.kubectl(
        "wait", "--for=condition=Established", "crd/applications.argoproj.io", "--timeout=60s", timeout=90
    )
    app = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "project": "default",
            "destination": {"server": "https://kubernetes.default.svc", "namespace": namespace},
            "source": {"repoURL": "https://example.invalid/repo.git", "path": "."},
        },
    }
    control_plane.kubectl("apply", "-f", "-", input=json.dumps(app))


async def test_prune_confirm_waits_until_the_app_approves(
    kube: KubeClient, control_plane: ControlPlane, namespace: str
) -> None:
    install_application(control_plane, namespace, APP)
    seeded = await sync(
        kube,
        [
            configmap("keep", namespace, {"k": "v"}),
            configmap("old", namespace, {"k": "v"}, sync_options="Prune=confirm"),
        ],
        namespace,
    )
    assert seeded.phase is OperationPhase.SUCCEEDED, seeded.message
    live = [control_plane.get_json("configmap", "old", "-n", namespace)]
    plan = build_plan(
        [configmap("keep", namespace, {"k": "v"})],
        live,
        PlanOptions(default_namespace=namespace, prune=True, defer_prune_confirmation=True),
    )
    # An approval given before the operation started does not count.
    before = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    control_plane.kubectl(
        "-n", namespace, "annotate", "application", APP, f"argocd.argoproj.io/deletion-approved={before}"
    )
    started = datetime.now(UTC).replace(microsecond=0)
    executor = SyncExecutor(
        kube,
        plan,
        settings(app_namespace=namespace, operation_started_at=started, wait_for_prune_confirmation=False),
    )
    pending = await executor.run()
    assert pending.phase is OperationPhase.RUNNING
    assert pending.message == "Waiting for pruning confirmation of /ConfigMap/old"
    assert cm_data(control_plane, "old", namespace) == {"k": "v"}
    saved = executor.save_state()

    approved = (started + timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    control_plane.kubectl(
        "-n",
        namespace,
        "annotate",
        "--overwrite",
        "application",
        APP,
        f"argocd.argoproj.io/deletion-approved={approved}",
    )
    resumed = SyncExecutor(kube, plan, settings(app_namespace=namespace), state=saved)
    done = await resumed.run()
    assert done.phase is OperationPhase.SUCCEEDED, done.message
    assert [e.key for e in done.events if e.kind == "pruned"] == [f"/ConfigMap/{namespace}/old"]
    control_plane.wait_for(
        "old pruned",
        lambda: control_plane.kubectl("-n", namespace, "get", "cm", "old", check=False).returncode != 0,
    )


async def test_selective_sync_is_honoured_by_the_executor(
    kube: KubeClient, control_plane: ControlPlane, namespace: str
) -> None:
    hook = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": "hook",
            "namespace": namespace,
            "annotations": {"argocd.argoproj.io/hook": "PreSync"},
        },
        "data": {"k": "v"},
    }
    manifests = [configmap("one", namespace, {"k": "1"}), configmap("two", namespace, {"k": "2"}), hook]
    # The plan was built for a full sync; the executor still syncs only the selected resource.
    result = await sync(
        kube,
        manifests,
        namespace,
        settings={"resources": frozenset({ResourceKey("", "ConfigMap", namespace, "two")})},
    )
    assert result.phase is OperationPhase.SUCCEEDED, result.message
    assert [e.key for e in result.events if e.kind == "apply"] == [f"/ConfigMap/{namespace}/two"]
    assert [r.key.name for r in result.resources] == ["two"]
    existing = {i["metadata"]["name"] for i in control_plane.get_json("configmaps", "-n", namespace)["items"]}
    assert "two" in existing and "one" not in existing and "hook" not in existing


async def test_apply_out_of_sync_only_uses_the_compare_dry_runs(
    kube: KubeClient, control_plane: ControlPlane, namespace: str
) -> None:
    manifests = [configmap(f"cm-{i}", namespace, {"k": str(i)}) for i in range(4)]
    first = await sync(kube, manifests, namespace)
    assert first.phase is OperationPhase.SUCCEEDED, first.message
    manifests[1] = configmap("cm-1", namespace, {"k": "changed"})
    compared = await compare_app(
        kube, manifests, settings=CompareSettings(app_name=APP, default_namespace=namespace)
    )
    assert [r.key.name for r in compared.out_of_sync] == ["cm-1"]
    prior = compared.prior_dry_runs()
    assert len(prior) == 4
    options = parse_sync_options(["ApplyOutOfSyncOnly=true"])
    plan = build_plan(manifests, [], PlanOptions(default_namespace=namespace, sync_options=options))
    result = await SyncExecutor(kube, plan, settings(), prior_dry_runs=prior).run()
    assert result.phase is OperationPhase.SUCCEEDED, result.message
    assert [e.key for e in result.events if e.kind == "apply"] == [f"/ConfigMap/{namespace}/cm-1"]
    assert len([e for e in result.events if e.kind == "skipped-in-sync"]) == 3
    assert cm_data(control_plane, "cm-1", namespace) == {"k": "changed"}
