"""ignoreDifferences: JSON pointers, jq subset, managedFieldsManagers, argocd-cm, RespectIgnoreDifferences."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from argosy.core.diff import (
    DiffOptions,
    IgnoreRule,
    IgnoreRuleError,
    JqError,
    apply_ignore_rules,
    compile_jq,
    diff,
    matching_rules,
    parse_app_ignore_differences,
    parse_system_ignore_differences,
    respect_ignore_differences,
)
from argosy.model.resources import ResourceKey


def deployment(replicas: int = 1, image: str = "nginx:1", sidecar: str | None = None) -> dict[str, Any]:
    containers: list[dict[str, Any]] = [{"name": "web", "image": image}]
    if sidecar is not None:
        containers.append({"name": "istio-proxy", "image": sidecar})
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "prod", "annotations": {"a.io/x": "1"}},
        "spec": {"replicas": replicas, "template": {"spec": {"containers": containers}}},
    }


# --- matching ------------------------------------------------------------------------------------

KEY = ResourceKey("apps", "Deployment", "prod", "web")


@pytest.mark.parametrize(
    ("rule", "matches"),
    [
        (IgnoreRule(group="apps", kind="Deployment"), True),
        (IgnoreRule(group="", kind="Deployment"), False),  # empty group is the core group
        (IgnoreRule(group="apps", kind="Deployment", name="web", namespace="prod"), True),
        (IgnoreRule(group="apps", kind="Deployment", name="api"), False),
        (IgnoreRule(group="apps", kind="Deployment", namespace="dev"), False),
        (IgnoreRule(group="*", kind="*"), True),
        (IgnoreRule(group="app*", kind="Deploy*", name="w*"), True),
    ],
)
def test_rule_matching(rule: IgnoreRule, matches: bool) -> None:
    assert rule.matches(KEY) is matches
    assert (matching_rules(KEY, [rule]) == (rule,)) is matches


def test_core_group_rule() -> None:
    rule = parse_app_ignore_differences([{"kind": "ConfigMap", "jsonPointers": ["/data"]}])[0]
    assert rule.matches(ResourceKey("", "ConfigMap", "prod", "x"))


# --- JSON pointers -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pointer", "gone"),
    [
        ("/spec/replicas", ("spec", "replicas")),
        ("/metadata/annotations/a.io~1x", ("metadata", "annotations")),
        ("/spec/template/spec/containers/0/image", None),
        ("/spec/doesnotexist", None),
    ],
)
def test_json_pointer_removes_field(pointer: str, gone: tuple[str, ...] | None) -> None:
    obj = deployment()
    out = apply_ignore_rules(obj, [IgnoreRule(group="apps", kind="Deployment", json_pointers=(pointer,))])
    if pointer.endswith("/image"):
        assert "image" not in out["spec"]["template"]["spec"]["containers"][0]
    elif gone == ("spec", "replicas"):
        assert "replicas" not in out["spec"]
    elif gone == ("metadata", "annotations"):
        assert out["metadata"]["annotations"] == {}
    else:
        assert out == obj


def test_json_pointer_ignores_replicas_diff() -> None:
    rules = parse_app_ignore_differences(
        [{"group": "apps", "kind": "Deployment", "jsonPointers": ["/spec/replicas"]}]
    )
    assert diff(deployment(replicas=2), deployment(replicas=5)).modified
    assert not diff(
        deployment(replicas=2), deployment(replicas=5), options=DiffOptions(ignore_rules=rules)
    ).modified


def test_bad_json_pointer_rejected() -> None:
    with pytest.raises(IgnoreRuleError, match="must start with '/'"):
        parse_app_ignore_differences([{"kind": "X", "jsonPointers": ["spec/replicas"]}])


# --- jq subset -----------------------------------------------------------------------------------

JQ_OBJ = {
    "metadata": {"annotations": {"a.b/c": "1", "d": "2"}, "name": "n"},
    "spec": {
        "containers": [
            {"name": "web", "image": "a", "env": [{"name": "X", "value": "1"}]},
            {"name": "istio-proxy", "image": "b"},
            {"name": "istio-init", "image": "c", "enabled": True},
        ]
    },
}


@pytest.mark.parametrize(
    ("expression", "paths"),
    [
        (".spec", [("spec",)]),
        (".metadata.name", [("metadata", "name")]),
        ('.metadata.annotations."a.b/c"', [("metadata", "annotations", "a.b/c")]),
        ('.metadata.annotations["a.b/c"]', [("metadata", "annotations", "a.b/c")]),
        (".metadata.missing", []),
        (".metadata.missing?", []),
        (".spec.containers[0].image", [("spec", "containers", 0, "image")]),
        (".spec.containers[-1].name", [("spec", "containers", 2, "name")]),
        (".spec.containers[].image", [("spec", "containers", i, "image") for i in range(3)]),
        (".metadata.annotations[]", [("metadata", "annotations", "a.b/c"), ("metadata", "annotations", "d")]),
        ('.spec.containers[] | select(.name == "istio-proxy")', [("spec", "containers", 1)]),
        (
            '.spec.containers[] | select(.name != "web") | .image',
            [("spec", "containers", i, "image") for i in (1, 2)],
        ),
        (
            '.spec.containers[] | select(.name | startswith("istio"))',
            [("spec", "containers", 1), ("spec", "containers", 2)],
        ),
        ('.spec.containers[] | select(.name | endswith("init"))', [("spec", "containers", 2)]),
        ('.spec.containers[] | select(.name | test("^istio-p"))', [("spec", "containers", 1)]),
        (
            '.spec.containers[] | select(.name | contains("stio"))',
            [("spec", "containers", 1), ("spec", "containers", 2)],
        ),
        (".spec.containers[] | select(.enabled)", [("spec", "containers", 2)]),
        (".spec.containers[] | select(.enabled == true)", [("spec", "containers", 2)]),
        (
            ".spec.containers[] | select(.enabled == null) | .name",
            [("spec", "containers", i, "name") for i in (0, 1)],
        ),
        (
            '.spec.containers[] | select(.name == "web" or .name == "istio-init")',
            [("spec", "containers", 0), ("spec", "containers", 2)],
        ),
        ('.spec.containers[] | select(.name == "web" and .image == "b")', []),
        (
            '.spec.containers[] | select((.name == "web") | not) | .name',
            [("spec", "containers", i, "name") for i in (1, 2)],
        ),
        ('.spec.containers[] | select(.env[].name == "X") | .env', [("spec", "containers", 0, "env")]),
    ],
)
def test_jq_subset(expression: str, paths: list[tuple[Any, ...]]) -> None:
    assert compile_jq(expression).paths(JQ_OBJ) == paths


@pytest.mark.parametrize(
    "expression",
    [
        "",
        "..",
        ".a..b",
        "del(.a)",
        ".a | length",
        ".a[1:2]",
        ".a +",
        ".a[] | select(.x > 1)",
        ".a[] | select(.x | ascii_downcase)",
        '.a[] | select(.x | test("("))',
        ".a.",
        "$__loc__",
    ],
)
def test_jq_rejects_unsupported(expression: str) -> None:
    with pytest.raises(JqError, match="supported subset"):
        compile_jq(expression)


def test_jq_rule_rejected_at_parse_time() -> None:
    with pytest.raises(IgnoreRuleError, match=r"spec\.ignoreDifferences\[0\]"):
        parse_app_ignore_differences([{"kind": "X", "jqPathExpressions": [".a | length"]}])


def test_jq_ignores_injected_sidecar_wherever_it_is() -> None:
    rules = parse_app_ignore_differences(
        [
            {
                "group": "apps",
                "kind": "Deployment",
                "jqPathExpressions": ['.spec.template.spec.containers[] | select(.name == "istio-proxy")'],
            }
        ]
    )
    desired = deployment(sidecar="proxy:1")
    live = deployment(sidecar="proxy:2")
    live["spec"]["template"]["spec"]["containers"].reverse()
    assert diff(desired, live).modified
    assert not diff(desired, live, options=DiffOptions(ignore_rules=rules)).modified


# --- managedFieldsManagers -----------------------------------------------------------------------


def hpa_managed_live() -> dict[str, Any]:
    live = deployment(replicas=7)
    live["metadata"]["managedFields"] = [
        {
            "manager": "kubectl-client-side-apply",
            "operation": "Update",
            "apiVersion": "apps/v1",
            "time": "2025-01-01T00:00:00Z",
            "fieldsType": "FieldsV1",
            "fieldsV1": {
                "f:spec": {
                    "f:template": {
                        "f:spec": {
                            "f:containers": {'k:{"name":"web"}': {".": {}, "f:image": {}, "f:name": {}}}
                        }
                    }
                }
            },
        },
        {
            "manager": "kube-controller-manager",
            "operation": "Update",
            "apiVersion": "apps/v1",
            "time": "2025-01-02T00:00:00Z",
            "fieldsType": "FieldsV1",
            "fieldsV1": {"f:spec": {"f:replicas": {}}},
            "subresource": "scale",
        },
    ]
    return live


def test_managed_fields_managers_ignore_owned_fields() -> None:
    rules = parse_app_ignore_differences(
        [{"group": "apps", "kind": "Deployment", "managedFieldsManagers": ["kube-controller-manager"]}]
    )
    live = hpa_managed_live()
    assert not diff(deployment(replicas=2), live, options=DiffOptions(ignore_rules=rules)).modified
    # A field the manager does not own still shows.
    result = diff(deployment(replicas=2, image="nginx:2"), live, options=DiffOptions(ignore_rules=rules))
    assert [c.path for c in result.changes] == ["spec.template.spec.containers[name=web].image"]


def test_managed_fields_manager_keeps_list_item_keys() -> None:
    rules = (
        IgnoreRule(group="apps", kind="Deployment", managed_fields_managers=("kubectl-client-side-apply",)),
    )
    out = apply_ignore_rules(hpa_managed_live(), rules, hpa_managed_live())
    assert out["spec"]["template"]["spec"]["containers"] == [{"name": "web"}]


# --- system level --------------------------------------------------------------------------------


def test_parse_system_ignore_differences() -> None:
    prefix = "resource.customizations.ignoreDifferences."
    cm = {
        "resource.customizations.ignoreDifferences.apps_Deployment": "jsonPointers:\n- /spec/replicas\n",
        prefix + "admissionregistration.k8s.io_MutatingWebhookConfiguration": (
            "jqPathExpressions:\n- .webhooks[]?.clientConfig.caBundle\n"
        ),
        prefix + "all": "managedFieldsManagers:\n- kube-controller-manager\n",
        "resource.customizations.ignoreDifferences.Service": "jsonPointers:\n- /spec/clusterIP\n",
        "resource.customizations": (
            "argoproj.io/Rollout:\n  ignoreDifferences: |\n    jsonPointers:\n    - /spec/replicas\n"
        ),
        "unrelated": "x",
    }
    rules = parse_system_ignore_differences(cm)
    shapes = {(r.group, r.kind): r for r in rules}
    assert shapes[("apps", "Deployment")].json_pointers == ("/spec/replicas",)
    assert shapes[("admissionregistration.k8s.io", "MutatingWebhookConfiguration")].jq_path_expressions == (
        ".webhooks[]?.clientConfig.caBundle",
    )
    assert shapes[("*", "*")].managed_fields_managers == ("kube-controller-manager",)
    assert shapes[("", "Service")].matches(ResourceKey("", "Service", "prod", "svc"))
    assert shapes[("argoproj.io", "Rollout")].json_pointers == ("/spec/replicas",)
    assert shapes[("*", "*")].matches(ResourceKey("", "ConfigMap", "", "x"))


@pytest.mark.parametrize(
    "cm",
    [
        {"resource.customizations.ignoreDifferences.all": "jsonPointers: [: bad"},
        {"resource.customizations.ignoreDifferences.all": "- /spec"},
        {"resource.customizations.ignoreDifferences.all": "jsonPointers: /spec"},
        {"resource.customizations.ignoreDifferences.all": "jqPathExpressions: ['.a | keys']"},
    ],
)
def test_parse_system_ignore_differences_errors(cm: dict[str, str]) -> None:
    with pytest.raises(IgnoreRuleError, match=r"resource\.customizations"):
        parse_system_ignore_differences(cm)


def test_parse_app_ignore_differences_shape_errors() -> None:
    with pytest.raises(IgnoreRuleError, match="must be a list"):
        parse_app_ignore_differences({"kind": "X"})
    with pytest.raises(IgnoreRuleError, match=r"\[0\]: expected a mapping"):
        parse_app_ignore_differences(["x"])
    assert parse_app_ignore_differences(None) == ()


# --- RespectIgnoreDifferences --------------------------------------------------------------------


def test_respect_ignore_differences_keeps_live_values() -> None:
    rules = parse_app_ignore_differences(
        [
            {"group": "apps", "kind": "Deployment", "jsonPointers": ["/spec/replicas"]},
            {
                "group": "apps",
                "kind": "Deployment",
                "jqPathExpressions": [
                    '.spec.template.spec.containers[] | select(.name == "istio-proxy") | .image'
                ],
            },
        ]
    )
    desired = deployment(replicas=2, sidecar="proxy:1")
    live = deployment(replicas=9, sidecar="proxy:7")
    live["spec"]["template"]["spec"]["containers"].reverse()
    before = copy.deepcopy(desired)
    out = respect_ignore_differences(desired, live, rules)
    assert desired == before
    assert out["spec"]["replicas"] == 9
    assert out["spec"]["template"]["spec"]["containers"] == [
        {"name": "web", "image": "nginx:1"},
        {"name": "istio-proxy", "image": "proxy:7"},
    ]


def test_respect_ignore_differences_drops_ignored_fields_live_lacks() -> None:
    rules = (IgnoreRule(group="apps", kind="Deployment", json_pointers=("/spec/replicas",)),)
    live = deployment()
    del live["spec"]["replicas"]
    assert "replicas" not in respect_ignore_differences(deployment(replicas=3), live, rules)["spec"]


def test_respect_ignore_differences_without_live_or_rules() -> None:
    rules = (IgnoreRule(group="apps", kind="Deployment", json_pointers=("/spec/replicas",)),)
    assert respect_ignore_differences(deployment(replicas=3), None, rules) == deployment(replicas=3)
    other = (IgnoreRule(group="", kind="ConfigMap", json_pointers=("/spec/replicas",)),)
    assert (
        respect_ignore_differences(deployment(replicas=3), deployment(replicas=1), other)["spec"]["replicas"]
        == 3
    )


def test_respect_ignore_differences_managed_fields() -> None:
    rules = (
        IgnoreRule(group="apps", kind="Deployment", managed_fields_managers=("kube-controller-manager",)),
    )
    out = respect_ignore_differences(deployment(replicas=2), hpa_managed_live(), rules)
    assert out["spec"]["replicas"] == 7
