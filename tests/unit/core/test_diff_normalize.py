"""Normalization, value equivalences, three-way prediction and the comparison walk."""

from __future__ import annotations

import base64
from fractions import Fraction
from typing import Any

import pytest

from argosy.core.diff import (
    DiffMode,
    DiffOptions,
    ItemKey,
    ItemValue,
    StatusComparison,
    diff,
    format_path,
    normalize,
    parse_compare_options,
    parse_quantity,
    predict_live,
)
from argosy.core.diff.compare import compare, equivalent


def deployment(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "prod"},
        "spec": spec,
    }


def container(name: str = "web", **fields: Any) -> dict[str, Any]:
    return {"name": name, "image": "nginx:1.27", **fields}


def pod_spec(*containers: dict[str, Any]) -> dict[str, Any]:
    return {"template": {"spec": {"containers": list(containers)}}}


# --- normalization -------------------------------------------------------------------------------

SERVER_METADATA = {
    "uid": "0b5f5a5e-1",
    "resourceVersion": "123",
    "generation": 4,
    "creationTimestamp": "2025-01-01T00:00:00Z",
    "selfLink": "/apis/apps/v1/namespaces/prod/deployments/web",
    "managedFields": [{"manager": "kubectl", "operation": "Update", "fieldsV1": {}}],
    "deletionTimestamp": "2025-01-02T00:00:00Z",
    "deletionGracePeriodSeconds": 30,
}


@pytest.mark.parametrize("field", sorted(SERVER_METADATA))
def test_server_managed_metadata_is_dropped(field: str) -> None:
    obj = deployment(replicas=1)
    obj["metadata"][field] = SERVER_METADATA[field]
    assert field not in normalize(obj)["metadata"]
    assert field in obj["metadata"], "the input is not modified"


@pytest.mark.parametrize(
    "annotation",
    [
        "kubectl.kubernetes.io/last-applied-configuration",
        "argocd.argoproj.io/tracking-id",
        "argocd.argoproj.io/installation-id",
    ],
)
def test_bookkeeping_annotations_are_dropped_and_empty_maps_removed(annotation: str) -> None:
    obj = deployment()
    obj["metadata"]["annotations"] = {annotation: "x"}
    assert "annotations" not in normalize(obj)["metadata"]


def test_tracking_label_is_dropped_only_when_named() -> None:
    obj = deployment()
    obj["metadata"]["labels"] = {"app.kubernetes.io/instance": "guestbook", "tier": "web"}
    assert normalize(obj)["metadata"]["labels"] == obj["metadata"]["labels"]
    labels = normalize(obj, tracking_label="app.kubernetes.io/instance")["metadata"]["labels"]
    assert labels == {"tier": "web"}


@pytest.mark.parametrize(
    ("mode", "kind", "api_version", "kept"),
    [
        (StatusComparison.ALL, "Deployment", "apps/v1", False),
        (StatusComparison.ALL, "CustomResourceDefinition", "apiextensions.k8s.io/v1", False),
        (StatusComparison.CRD, "Deployment", "apps/v1", True),
        (StatusComparison.CRD, "CustomResourceDefinition", "apiextensions.k8s.io/v1", False),
        (StatusComparison.NONE, "CustomResourceDefinition", "apiextensions.k8s.io/v1", True),
    ],
)
def test_status_comparison(mode: StatusComparison, kind: str, api_version: str, kept: bool) -> None:
    obj = {"apiVersion": api_version, "kind": kind, "metadata": {"name": "x"}, "status": {"a": 1}}
    assert ("status" in normalize(obj, status=mode)) is kept


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", StatusComparison.ALL),
        ("ignoreResourceStatusField: crd\n", StatusComparison.CRD),
        ("ignoreResourceStatusField: none\nignoreAggregatedRoles: true\n", StatusComparison.NONE),
    ],
)
def test_parse_compare_options(text: str, expected: StatusComparison) -> None:
    assert parse_compare_options({"resource.compareoptions": text}) is expected


def test_parse_compare_options_rejects_unknown() -> None:
    with pytest.raises(ValueError, match="ignoreResourceStatusField"):
        parse_compare_options({"resource.compareoptions": "ignoreResourceStatusField: some\n"})


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize(
    ("secret", "data"),
    [
        ({"stringData": {"user": "admin"}}, {"user": b64("admin")}),
        ({"data": {"a": b64("x")}, "stringData": {"b": "y"}}, {"a": b64("x"), "b": b64("y")}),
        ({"data": {"a": b64("old")}, "stringData": {"a": "new"}}, {"a": b64("new")}),
        ({"data": {"a": None}}, {"a": ""}),
        ({"stringData": {"ü": "é"}}, {"ü": b64("é")}),
    ],
)
def test_secret_string_data_moves_into_data(secret: dict[str, Any], data: dict[str, str]) -> None:
    obj = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, **secret}
    out = normalize(obj)
    assert out["data"] == data
    assert "stringData" not in out


def test_secret_string_data_equals_live_data_no_diff() -> None:
    desired = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "s"},
        "stringData": {"p": "hunter2"},
    }
    live = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "data": {"p": b64("hunter2")}}
    assert not diff(desired, live).modified


# --- quantities and equivalences -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("500m", Fraction(1, 2)),
        ("0.5", Fraction(1, 2)),
        (0.5, Fraction(1, 2)),
        (2, Fraction(2)),
        ("1Gi", Fraction(2**30)),
        ("1024Mi", Fraction(2**30)),
        ("1e3", Fraction(1000)),
        ("1k", Fraction(1000)),
        ("100n", Fraction(1, 10**7)),
        ("abc", None),
        ("1Gb", None),
        (True, None),
        (None, None),
    ],
)
def test_parse_quantity(text: Any, value: Fraction | None) -> None:
    assert parse_quantity(text) == value


@pytest.mark.parametrize(
    ("path", "a", "b", "same"),
    [
        (("resources", "limits", "cpu"), "500m", "0.5", True),
        (("resources", "limits", "cpu"), "500m", 0.5, True),
        (("resources", "requests", "cpu"), "1", 1, True),
        (("resources", "requests", "memory"), "1Gi", "1024Mi", True),
        (("resources", "requests", "memory"), "1G", "1Gi", False),
        (("spec", "hard", "pods"), "10", 10, True),
        (("emptyDir", "sizeLimit"), "1Gi", "1073741824", True),
        (("metadata", "labels", "cpu"), "500m", "0.5", False),
        (("ports", 0, "containerPort"), 80, "80", True),
        (("spec", "ports", 0, "targetPort"), "8080", 8080, True),
        (("spec", "ports", 0, "targetPort"), "http", 8080, False),
        (("spec", "replicas"), 3, "3", False),
        (("spec", "paused"), True, 1, False),
        (("spec", "x"), 1, 1.0, True),
        (("spec", "x"), None, {}, True),
        (("spec", "x"), [], None, True),
    ],
)
def test_equivalent(path: tuple[Any, ...], a: Any, b: Any, same: bool) -> None:
    assert equivalent(path, a, b) is same
    assert equivalent(path, b, a) is same


def test_quantity_spelling_does_not_make_a_diff() -> None:
    limits = {"cpu": "0.5", "memory": "1Gi"}
    desired = deployment(**pod_spec(container(resources={"limits": limits})))
    live = deployment(**pod_spec(container(resources={"limits": {"cpu": "500m", "memory": "1024Mi"}})))
    assert not diff(desired, live).modified


def test_empty_vs_missing_maps_and_lists() -> None:
    desired = deployment(**pod_spec(container(env=[], args=None)))
    desired["metadata"]["annotations"] = {}
    live = deployment(**pod_spec(container()))
    assert not diff(desired, live).modified


# --- paths ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "text"),
    [
        ((), ""),
        (("spec", "replicas"), "spec.replicas"),
        (
            ("spec", "template", "spec", "containers", ItemKey.of(name="web"), "image"),
            "spec.template.spec.containers[name=web].image",
        ),
        (("metadata", "annotations", "example.com/x"), 'metadata.annotations["example.com/x"]'),
        (("spec", "args", 0), "spec.args[0]"),
        (("ports", ItemKey.of(containerPort=80, protocol="TCP")), "ports[containerPort=80,protocol=TCP]"),
        (("x", ItemKey.of(name="80")), 'x[name="80"]'),
        (("metadata", "finalizers", ItemValue("kubernetes")), 'metadata.finalizers[="kubernetes"]'),
    ],
)
def test_format_path(path: tuple[Any, ...], text: str) -> None:
    assert format_path(path) == text


# --- three-way prediction ------------------------------------------------------------------------

THREE_WAY_CASES: list[tuple[str, dict[str, Any], dict[str, Any], dict[str, Any] | None, dict[str, Any]]] = [
    ("desired sets a field", {"a": 2}, {"a": 1}, {"a": 1}, {"a": 2}),
    ("unmentioned live field kept", {"a": 1}, {"a": 1, "b": 2}, {"a": 1}, {"a": 1, "b": 2}),
    (
        "removed from desired, in last-applied: deleted",
        {"a": 1},
        {"a": 1, "b": 2},
        {"a": 1, "b": 2},
        {"a": 1},
    ),
    ("two-way never deletes", {"a": 1}, {"a": 1, "b": 2}, None, {"a": 1, "b": 2}),
    (
        "nested deletion",
        {"m": {"x": 1}},
        {"m": {"x": 1, "y": 2, "z": 3}},
        {"m": {"x": 1, "y": 2}},
        {"m": {"x": 1, "z": 3}},
    ),
    ("null deletes", {"a": None}, {"a": 1}, None, {}),
    ("scalar list replaced", {"l": [1]}, {"l": [1, 2]}, None, {"l": [1]}),
    (
        "keyed list merged",
        {"containers": [{"name": "web", "image": "v2"}]},
        {"containers": [{"name": "web", "image": "v1", "imagePullPolicy": "Always"}, {"name": "sidecar"}]},
        {"containers": [{"name": "web", "image": "v1"}]},
        {"containers": [{"name": "web", "image": "v2", "imagePullPolicy": "Always"}, {"name": "sidecar"}]},
    ),
    (
        "keyed item removed from desired and in last-applied: deleted",
        {"containers": [{"name": "web"}]},
        {"containers": [{"name": "web"}, {"name": "old"}]},
        {"containers": [{"name": "web"}, {"name": "old"}]},
        {"containers": [{"name": "web"}]},
    ),
    (
        "ports keyed by containerPort",
        {"ports": [{"containerPort": 80}]},
        {"ports": [{"containerPort": 80, "protocol": "TCP"}]},
        None,
        {"ports": [{"containerPort": 80, "protocol": "TCP"}]},
    ),
]


@pytest.mark.parametrize(
    ("desired", "live", "last", "expected"),
    [case[1:] for case in THREE_WAY_CASES],
    ids=[case[0] for case in THREE_WAY_CASES],
)
def test_predict_live(
    desired: dict[str, Any], live: dict[str, Any], last: dict[str, Any] | None, expected: dict[str, Any]
) -> None:
    assert predict_live(desired, live, last) == expected


def test_three_way_diff_reports_field_removed_from_git() -> None:
    live = deployment(replicas=3, minReadySeconds=5)
    live["metadata"]["annotations"] = {
        "kubectl.kubernetes.io/last-applied-configuration": (
            '{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","namespace":"prod"},'
            '"spec":{"replicas":3,"minReadySeconds":5}}'
        )
    }
    result = diff(deployment(replicas=3), live)
    assert result.strategy == "three-way"
    assert [(c.path, c.before, c.after) for c in result.changes] == [("spec.minReadySeconds", 5, None)]


def test_two_way_diff_keeps_server_defaults() -> None:
    live = deployment(replicas=1, revisionHistoryLimit=10, progressDeadlineSeconds=600)
    result = diff(deployment(replicas=2), live)
    assert result.strategy == "two-way"
    assert [(c.path, c.before, c.after) for c in result.changes] == [("spec.replicas", 1, 2)]


def test_explicit_last_applied_overrides_annotation() -> None:
    live = deployment(replicas=1, paused=False)
    result = diff(deployment(replicas=1), live, last_applied=deployment(replicas=1, paused=False))
    assert [c.path for c in result.changes] == ["spec.paused"]


def test_server_side_mode_compares_predicted_object() -> None:
    live = deployment(replicas=1)
    predicted = deployment(replicas=5)
    predicted["metadata"]["managedFields"] = [{"manager": "argocd-controller"}]
    auto = diff(deployment(replicas=1), live, predicted_live=predicted)
    assert auto.strategy == "server-side"
    assert [(c.path, c.before, c.after) for c in auto.changes] == [("spec.replicas", 1, 5)]
    with pytest.raises(ValueError, match="dry-run"):
        diff(deployment(), live, options=DiffOptions(mode=DiffMode.SERVER_SIDE))
    forced = diff(
        deployment(replicas=1), live, predicted_live=predicted, options=DiffOptions(mode=DiffMode.THREE_WAY)
    )
    assert not forced.modified


def test_create_and_delete() -> None:
    created = diff(deployment(replicas=1), None)
    assert created.modified and created.strategy == "create" and created.changes[0].path == ""
    deleted = diff(None, deployment(replicas=1))
    assert deleted.modified and deleted.strategy == "delete" and deleted.predicted_live is None
    with pytest.raises(ValueError, match="desired or a live"):
        diff(None, None)


def test_compare_keyed_and_indexed_lists() -> None:
    before = {"containers": [{"name": "a", "image": "1"}, {"name": "b", "image": "1"}], "args": ["x", "y"]}
    after = {"containers": [{"name": "b", "image": "2"}, {"name": "a", "image": "1"}], "args": ["x", "z"]}
    changes = [(format_path(c.path), c.before, c.after) for c in compare(before, after)]
    assert changes == [("args[1]", "y", "z"), ("containers[name=b].image", "1", "2")]
    longer = compare({"args": ["x"]}, {"args": ["x", "y"]})
    assert [(format_path(c.path), c.before, c.after) for c in longer] == [("args", ["x"], ["x", "y"])]


def test_diff_is_pure_and_key_uses_live_namespace() -> None:
    desired = deployment(replicas=2)
    del desired["metadata"]["namespace"]
    live = deployment(replicas=1)
    snapshot = repr((desired, live))
    result = diff(desired, live)
    assert repr((desired, live)) == snapshot
    assert str(result.key) == "apps/Deployment/prod/web"
