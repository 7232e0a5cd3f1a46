"""Unit tests for argosy.model.health and argosy.core.health (checks, registry, assess, aggregate)."""

from __future__ import annotations

from typing import Any

import pytest

from argosy.core.health import (
    PENDING_DELETION,
    HealthOverrides,
    HealthRegistry,
    ResourceHealth,
    aggregate,
    assess,
    builtin_registry,
    default_registry,
    load_yaml,
    run_check,
)
from argosy.model.health import HEALTH_ORDER, HealthResult, HealthStatus, worst

H, S, P, M, D, U = (
    HealthStatus.HEALTHY,
    HealthStatus.SUSPENDED,
    HealthStatus.PROGRESSING,
    HealthStatus.MISSING,
    HealthStatus.DEGRADED,
    HealthStatus.UNKNOWN,
)


def deployment(**status: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "generation": 2},
        "spec": {"replicas": 3},
        "status": {"observedGeneration": 2, **status},
    }


# --- model -----------------------------------------------------------------------------------------


def test_health_order_matches_argocd() -> None:
    assert [s.value for s in HEALTH_ORDER] == [
        "Healthy",
        "Suspended",
        "Progressing",
        "Missing",
        "Degraded",
        "Unknown",
    ]
    assert D.is_worse_than(M) and M.is_worse_than(P) and P.is_worse_than(S) and S.is_worse_than(H)
    assert U.is_worse_than(D)
    assert not H.is_worse_than(H)


def test_worst_and_parse() -> None:
    assert worst([]) is H
    assert worst([S, P, H]) is P
    assert worst([D, U, M]) is U
    assert HealthStatus.parse("Degraded") is D
    assert HealthStatus.parse("degraded") is None  # status codes are case-sensitive


def test_health_result_is_frozen() -> None:
    res = HealthResult(H)
    assert res.message == ""
    with pytest.raises(AttributeError):
        res.status = D  # type: ignore[misc]


# --- built-in checks ---------------------------------------------------------------------------------


def test_deployment_rules() -> None:
    ok = deployment(replicas=3, updatedReplicas=3, availableReplicas=3)
    assert assess(ok) == HealthResult(H)
    assert assess(deployment(replicas=3, updatedReplicas=1, availableReplicas=1)).status is P  # type: ignore[union-attr]
    assert assess(deployment(replicas=4, updatedReplicas=3, availableReplicas=3)).status is P  # type: ignore[union-attr]
    assert assess(deployment(replicas=3, updatedReplicas=3, availableReplicas=2)).status is P  # type: ignore[union-attr]
    stuck = deployment(
        replicas=3,
        updatedReplicas=1,
        conditions=[{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}],
    )
    degraded = assess(stuck)
    assert (
        degraded is not None and degraded.status is D and "exceeded its progress deadline" in degraded.message
    )
    behind = deployment(replicas=3, updatedReplicas=3, availableReplicas=3)
    behind["status"]["observedGeneration"] = 1
    assert assess(behind).status is P  # type: ignore[union-attr]
    paused = deployment()
    paused["spec"]["paused"] = True
    assert assess(paused).status is S  # type: ignore[union-attr]


def test_statefulset_partition_and_revisions() -> None:
    sts: dict[str, Any] = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"generation": 1},
        "spec": {
            "replicas": 3,
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 2}},
        },
        "status": {"observedGeneration": 1, "readyReplicas": 3, "updatedReplicas": 0},
    }
    assert assess(sts).status is P  # type: ignore[union-attr]
    sts["status"]["updatedReplicas"] = 1
    assert assess(sts).status is H  # type: ignore[union-attr]
    del sts["spec"]["updateStrategy"]
    sts["status"].update(currentRevision="a", updateRevision="b")
    assert assess(sts).status is P  # type: ignore[union-attr]


def test_pod_restart_policies() -> None:
    pod: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {"restartPolicy": "Never"},
        "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]},
    }
    assert assess(pod).status is P  # type: ignore[union-attr]  # hook semantics
    pod["spec"]["restartPolicy"] = "Always"
    assert assess(pod).status is H  # type: ignore[union-attr]
    pod["status"]["containerStatuses"] = [
        {"name": "c", "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 5m"}}}
    ]
    assert assess(pod) == HealthResult(D, "back-off 5m")
    failed = {
        "apiVersion": "v1",
        "kind": "Pod",
        "spec": {"restartPolicy": "Never"},
        "status": {
            "phase": "Failed",
            "containerStatuses": [{"state": {"terminated": {"exitCode": 137, "reason": "OOMKilled"}}}],
        },
    }
    assert assess(failed) == HealthResult(D, "OOMKilled")


@pytest.mark.parametrize(
    ("phase", "expected"), [("Bound", H), ("Pending", P), ("Lost", D), ("Whatever", U), (None, U)]
)
def test_pvc(phase: str | None, expected: HealthStatus) -> None:
    pvc = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "status": {"phase": phase}}
    assert assess(pvc).status is expected  # type: ignore[union-attr]


def test_service_and_ingress() -> None:
    lb = {"apiVersion": "v1", "kind": "Service", "spec": {"type": "LoadBalancer"}, "status": {}}
    assert assess(lb).status is P  # type: ignore[union-attr]
    lb["status"] = {"loadBalancer": {"ingress": [{"ip": "10.0.0.1"}]}}
    assert assess(lb).status is H  # type: ignore[union-attr]
    for group in ("networking.k8s.io/v1", "extensions/v1beta1"):
        ing = {"apiVersion": group, "kind": "Ingress", "status": {"loadBalancer": {}}}
        assert assess(ing).status is P  # type: ignore[union-attr]


def test_hpa_v1_annotation_and_v2_conditions() -> None:
    v1 = {
        "apiVersion": "autoscaling/v1",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {
            "annotations": {
                "autoscaling.alpha.kubernetes.io/conditions": (
                    '[{"type":"ScalingActive","status":"False",'
                    '"reason":"FailedGetResourceMetric","message":"no metrics"}]'
                )
            }
        },
    }
    assert assess(v1) == HealthResult(D, "no metrics")
    v1["metadata"]["annotations"]["autoscaling.alpha.kubernetes.io/conditions"] = "{not json"
    broken = assess(v1)
    assert broken is not None and broken.status is U and broken.message  # error, not exception
    v2 = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "status": {"conditions": [{"type": "AbleToScale", "status": "True", "message": "ok"}]},
    }
    assert assess(v2) == HealthResult(H, "ok")


def test_job_and_apiservice() -> None:
    job = {"apiVersion": "batch/v1", "kind": "Job", "status": {}}
    assert assess(job).status is P  # type: ignore[union-attr]
    job["status"] = {"conditions": [{"type": "Failed", "status": "True", "message": "backoff"}]}
    assert assess(job) == HealthResult(D, "backoff")
    svc = {"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService", "status": {}}
    assert assess(svc) == HealthResult(P, "Waiting to be processed")


def test_application_health_is_opt_in() -> None:
    app = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "status": {"health": {"status": "Degraded", "message": "child broke"}},
    }
    assert assess(app) is None  # removed from Argo CD in v1.8
    assert assess(app, registry=default_registry(application_health=True)) == HealthResult(D, "child broke")


def test_unknown_kind_has_no_health() -> None:
    assert assess({"apiVersion": "example.com/v1", "kind": "Widget"}) is None
    assert assess({"apiVersion": "v1", "kind": "ConfigMap"}) is None


def test_pending_deletion_and_hook_finalizer() -> None:
    pod: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"deletionTimestamp": "2024-01-01T00:00:00Z"},
        "status": {"phase": "Succeeded"},
    }
    assert assess(pod) == HealthResult(P, PENDING_DELETION)
    pod["metadata"]["finalizers"] = ["argocd.argoproj.io/hook-finalizer"]
    assert assess(pod).status is H  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "garbage",
    [
        None,
        "a string",
        [],
        {"apiVersion": 3, "kind": None},
        {"apiVersion": "apps/v1", "kind": "Deployment", "status": "nonsense", "spec": []},
        {"apiVersion": "v1", "kind": "Pod", "status": {"containerStatuses": "x", "phase": 5}},
        {"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "status": {"conditions": 7}},
    ],
)
def test_assess_never_raises(garbage: Any) -> None:
    res = assess(garbage)
    assert res is None or isinstance(res, HealthResult)


def test_check_exception_becomes_unknown() -> None:
    def boom(_obj: Any) -> HealthResult:
        raise RuntimeError("kaput")

    registry = HealthRegistry()
    registry.register("example.com", "Widget", boom)
    res = assess({"apiVersion": "example.com/v1", "kind": "Widget"}, registry=registry)
    assert res == HealthResult(U, "health check failed: kaput")


def test_registry_exact_beats_pattern_and_customizations_beat_builtins() -> None:
    registry = HealthRegistry()
    registry.register("*.crossplane.io", "*", lambda _o: HealthResult(P))
    registry.register("pkg.crossplane.io", "Provider", lambda _o: HealthResult(H))
    assert registry.lookup("pkg.crossplane.io", "Provider") is not None
    assert registry.lookup("pkg.crossplane.io", "Provider")({}) == HealthResult(H)  # type: ignore[misc]
    assert registry.lookup("aws.crossplane.io", "Bucket")({}) == HealthResult(P)  # type: ignore[misc]
    assert registry.lookup("crossplane.io.evil.com", "X") is None
    assert ("batch", "CronJob") not in builtin_registry()
    assert ("batch", "CronJob") in default_registry()


def test_yaml_loader_keeps_timestamps_as_strings() -> None:
    doc = load_yaml("status:\n  lastScheduleTime: 2025-07-30T13:46:00Z\n")
    assert doc == {"status": {"lastScheduleTime": "2025-07-30T13:46:00Z"}}


# --- overrides ---------------------------------------------------------------------------------------

DEGRADE_ALL = 'hs = {}\nhs.status = "Degraded"\nhs.message = "custom: " .. obj.metadata.name\nreturn hs\n'


def test_lua_override_wins_over_builtin() -> None:
    overrides = HealthOverrides.from_argocd_cm(
        {"resource.customizations.health.apps_Deployment": DEGRADE_ALL}
    )
    ok = deployment(replicas=3, updatedReplicas=3, availableReplicas=3)
    assert assess(ok, overrides=overrides) == HealthResult(D, "custom: web")
    assert assess(ok) == HealthResult(H)


def test_lua_override_for_core_group_and_new_kind() -> None:
    overrides = HealthOverrides.from_argocd_cm(
        {
            "resource.customizations.health.PersistentVolumeClaim": (
                'return {status = "Healthy", message = "fine"}'
            ),
            "resource.customizations.health.example.com_Widget": 'return {status = "Suspended"}',
        }
    )
    pvc = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "status": {"phase": "Pending"}}
    assert assess(pvc, overrides=overrides) == HealthResult(H, "fine")
    widget = {"apiVersion": "example.com/v1", "kind": "Widget"}
    assert assess(widget, overrides=overrides) == HealthResult(S, "")


def test_legacy_resource_customizations_and_wildcards() -> None:
    legacy = """
example.com/Widget:
  health.lua: |
    return {status = "Progressing", message = "legacy"}
"*.crossplane.io/*":
  health.lua: |
    return {status = "Healthy", message = "wild"}
Pod:
  ignoreDifferences: |
    jsonPointers: [/spec]
"""
    overrides = HealthOverrides.from_argocd_cm(
        {
            "resource.customizations": legacy,
            # the split key wins over the legacy map for the same group/kind
            "resource.customizations.health.example.com_Widget": (
                'return {status = "Degraded", message = "split"}'
            ),
        }
    )
    assert overrides.errors == ()
    assert assess({"apiVersion": "example.com/v1", "kind": "Widget"}, overrides=overrides) == HealthResult(
        D, "split"
    )
    bucket = {"apiVersion": "s3.aws.crossplane.io/v1", "kind": "Bucket"}
    assert assess(bucket, overrides=overrides) == HealthResult(H, "wild")
    assert overrides.lookup("", "Pod") is None  # no health.lua for Pod


def test_invalid_legacy_yaml_is_reported_not_raised() -> None:
    overrides = HealthOverrides.from_argocd_cm({"resource.customizations": "a: [unclosed"})
    assert not overrides and overrides.errors


def test_run_check_skips_deletion_rule() -> None:
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"deletionTimestamp": "2024-01-01T00:00:00Z"},
    }
    assert assess(crd) == HealthResult(P, PENDING_DELETION)
    assert run_check(crd) == HealthResult(P, "CRD is terminating")


# --- aggregation -------------------------------------------------------------------------------------


def res(status: HealthStatus | None, **kw: Any) -> ResourceHealth:
    group = kw.pop("group", "apps")
    kind = kw.pop("kind", "Deployment")
    return ResourceHealth(
        group=group, kind=kind, health=None if status is None else HealthResult(status), **kw
    )


def test_aggregate_takes_worst() -> None:
    assert aggregate([res(H), res(P), res(S)]).status is P
    assert aggregate([res(H), res(D), res(P)]).status is D
    assert aggregate([]).status is H


def test_aggregate_exclusions() -> None:
    assert aggregate([res(H), res(D, hook=True)]).status is H
    assert aggregate([res(H), res(D, ignore_healthcheck=True)]).status is H
    assert aggregate([res(H), res(D, is_self=True)]).status is H
    assert aggregate([res(H), res(M)]).status is H  # missing resources are OutOfSync, not unhealthy
    assert aggregate([res(H), res(None)]).status is H  # kinds without health do not count
    app = {"group": "argoproj.io", "kind": "Application"}
    assert aggregate([res(H), res(U, **app)]).status is H
    assert aggregate([res(H), res(M, **app)]).status is H
    assert aggregate([res(H), res(D, **app)]).status is D
    assert aggregate([res(H), res(U)]).status is U  # Unknown of a non-Application counts


def test_aggregate_missing_when_nothing_live() -> None:
    assert aggregate([res(M), res(M)], expects_resources=True).status is M
    assert aggregate([], expects_resources=True).status is M
    assert aggregate([res(M), res(H)], expects_resources=True).status is H
