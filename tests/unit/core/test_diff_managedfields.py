"""managedFields: fieldsV1 decoding and drift attribution, with managedFields as kubectl writes them."""

from __future__ import annotations

import json
from typing import Any

import pytest

from argosy.core.diff import (
    DiffOptions,
    FieldManager,
    ItemKey,
    ItemValue,
    ManagedFieldsError,
    attribute,
    decode_fields_v1,
    diff,
    managed_fields,
)

LAST_APPLIED = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "web", "namespace": "prod", "labels": {"app": "web"}},
    "spec": {
        "replicas": 2,
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {
                "containers": [
                    {
                        "name": "web",
                        "image": "nginx:1.27",
                        "args": ["--port", "8080"],
                        "ports": [{"containerPort": 8080}],
                    }
                ]
            },
        },
    },
}

# What `kubectl apply` (client side), then `kubectl patch`, `kubectl edit`, the deployment
# controller and `kubectl scale` leave in metadata.managedFields.
MANAGED_FIELDS: list[dict[str, Any]] = [
    {
        "manager": "kubectl-client-side-apply",
        "operation": "Update",
        "apiVersion": "apps/v1",
        "time": "2025-03-01T10:00:00Z",
        "fieldsType": "FieldsV1",
        "fieldsV1": {
            "f:metadata": {
                "f:annotations": {".": {}, "f:kubectl.kubernetes.io/last-applied-configuration": {}},
                "f:labels": {".": {}, "f:app": {}},
            },
            "f:spec": {
                "f:progressDeadlineSeconds": {},
                "f:selector": {},
                "f:template": {
                    "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
                    "f:spec": {
                        "f:containers": {
                            'k:{"name":"web"}': {
                                ".": {},
                                "f:args": {},
                                "f:image": {},
                                "f:imagePullPolicy": {},
                                "f:name": {},
                                "f:ports": {
                                    ".": {},
                                    'k:{"containerPort":8080,"protocol":"TCP"}': {
                                        ".": {},
                                        "f:containerPort": {},
                                        "f:protocol": {},
                                    },
                                },
                            }
                        },
                        "f:dnsPolicy": {},
                    },
                },
            },
        },
    },
    {
        "manager": "kubectl-patch",
        "operation": "Update",
        "apiVersion": "apps/v1",
        "time": "2025-03-02T09:30:00Z",
        "fieldsType": "FieldsV1",
        "fieldsV1": {
            "f:spec": {
                "f:template": {
                    "f:spec": {"f:containers": {'k:{"name":"web"}': {"f:image": {}}}},
                }
            }
        },
    },
    {
        "manager": "kubectl-edit",
        "operation": "Update",
        "apiVersion": "apps/v1",
        "time": "2025-03-03T08:00:00Z",
        "fieldsType": "FieldsV1",
        "fieldsV1": {
            "f:metadata": {"f:labels": {"f:team": {}}},
            "f:spec": {
                "f:template": {
                    "f:spec": {
                        "f:containers": {
                            'k:{"name":"web"}': {
                                "f:env": {
                                    ".": {},
                                    'k:{"name":"DEBUG"}': {".": {}, "f:name": {}, "f:value": {}},
                                }
                            }
                        }
                    }
                }
            },
        },
    },
    {
        "manager": "kube-controller-manager",
        "operation": "Update",
        "apiVersion": "apps/v1",
        "time": "2025-03-03T08:00:05Z",
        "fieldsType": "FieldsV1",
        "fieldsV1": {"f:metadata": {"f:annotations": {"f:deployment.kubernetes.io/revision": {}}}},
    },
    {
        "manager": "kubectl",
        "operation": "Update",
        "apiVersion": "apps/v1",
        "time": "2025-03-04T12:00:00Z",
        "fieldsType": "FieldsV1",
        "fieldsV1": {"f:spec": {"f:replicas": {}}},
        "subresource": "scale",
    },
]


def live_object() -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "web",
            "namespace": "prod",
            "uid": "7d1c",
            "resourceVersion": "4242",
            "generation": 5,
            "labels": {"app": "web", "team": "payments"},
            "annotations": {
                "kubectl.kubernetes.io/last-applied-configuration": json.dumps(LAST_APPLIED),
                "deployment.kubernetes.io/revision": "3",
            },
            "managedFields": MANAGED_FIELDS,
        },
        "spec": {
            "replicas": 5,
            "progressDeadlineSeconds": 600,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "dnsPolicy": "ClusterFirst",
                    "containers": [
                        {
                            "name": "web",
                            "image": "nginx:1.28-debug",
                            "imagePullPolicy": "IfNotPresent",
                            "args": ["--port", "9090"],
                            "ports": [{"containerPort": 8080, "protocol": "TCP"}],
                            "env": [{"name": "DEBUG", "value": "1"}],
                        }
                    ],
                },
            },
        },
        "status": {"replicas": 5},
    }


def test_decode_fields_v1_keys() -> None:
    decoded = decode_fields_v1(
        {
            "f:metadata": {"f:finalizers": {".": {}, 'v:"example.com/protect"': {}}},
            "f:spec": {
                "f:replicas": {},
                "f:ports": {'k:{"port":80,"protocol":"TCP"}': {".": {}, "f:port": {}}},
                "f:list": {"i:0": {}},
            },
        }
    )
    port = ItemKey.of(port=80, protocol="TCP")
    assert decoded.leaves == {
        ("metadata", "finalizers", ItemValue("example.com/protect")),
        ("spec", "replicas"),
        ("spec", "ports", port, "port"),
        ("spec", "list", 0),
    }
    assert decoded.nodes == {("metadata", "finalizers"), ("spec", "ports", port)}


@pytest.mark.parametrize("key", ["x:foo", 'k:["name"]', "k:{bad", "i:x", 'v:"unterminated'])
def test_decode_fields_v1_rejects_bad_keys(key: str) -> None:
    with pytest.raises(ManagedFieldsError, match="fieldsV1 key"):
        decode_fields_v1({"f:spec": {key: {}}})


def test_managed_fields_entries() -> None:
    entries = managed_fields(live_object())
    assert [e.owner.manager for e in entries] == [
        "kubectl-client-side-apply",
        "kubectl-patch",
        "kubectl-edit",
        "kube-controller-manager",
        "kubectl",
    ]
    assert entries[-1].owner == FieldManager("kubectl", "Update", "2025-03-04T12:00:00Z", "scale", "apps/v1")
    assert managed_fields({"metadata": {"managedFields": [{"fieldsType": "FieldsV2", "manager": "x"}]}}) == []
    assert managed_fields({}) == []


WEB = ItemKey.of(name="web")
CONTAINER = ("spec", "template", "spec", "containers", WEB)


@pytest.mark.parametrize(
    ("path", "manager"),
    [
        # exact leaf; the most recent of two owners wins
        ((*CONTAINER, "image"), "kubectl-patch"),
        (("spec", "replicas"), "kubectl"),
        (("metadata", "labels", "team"), "kubectl-edit"),
        # an atomic list owned as a leaf owns its items
        ((*CONTAINER, "args", 1), "kubectl-client-side-apply"),
        # a keyed list item reached through a different key than managedFields uses
        ((*CONTAINER, "ports", ItemKey.of(containerPort=8080), "protocol"), "kubectl-client-side-apply"),
        # a whole subtree: the owner of the fields below
        ((*CONTAINER, "env"), "kubectl-edit"),
        ((*CONTAINER, "env", ItemKey.of(name="DEBUG"), "value"), "kubectl-edit"),
        # a field nobody set: the owner of the nearest owned node ('.')
        ((*CONTAINER, "workingDir"), "kubectl-client-side-apply"),
        # a list item live does not have: only its list's owners count
        (("spec", "template", "spec", "containers", ItemKey.of(name="sidecar"), "image"), None),
        (("spec", "paused"), None),
    ],
)
def test_attribute(path: tuple[Any, ...], manager: str | None) -> None:
    owner = attribute(live_object(), path)
    assert (owner.manager if owner else None) == manager


def test_attribute_without_managed_fields() -> None:
    live = live_object()
    del live["metadata"]["managedFields"]
    assert attribute(live, ("spec", "replicas")) is None


def test_drift_report_names_managers() -> None:
    result = diff(LAST_APPLIED, live_object())
    assert result.strategy == "three-way"
    report = {c.path: (c.before, c.after, c.manager.manager if c.manager else None) for c in result.changes}
    container = "spec.template.spec.containers[name=web]"
    assert report == {
        f"{container}.args[1]": ("9090", "8080", "kubectl-client-side-apply"),
        f"{container}.image": ("nginx:1.28-debug", "nginx:1.27", "kubectl-patch"),
        "spec.replicas": (5, 2, "kubectl"),
    }
    image = next(c for c in result.changes if c.path.endswith(".image"))
    assert image.manager == FieldManager("kubectl-patch", "Update", "2025-03-02T09:30:00Z", None, "apps/v1")
    assert image.segments == (*CONTAINER, "image")
    # Fields Git never set (team label, env, status, server defaults) are not drift.
    assert not any("team" in p or "env" in p or "status" in p for p in report)


def test_attribution_can_be_turned_off() -> None:
    result = diff(LAST_APPLIED, live_object(), options=DiffOptions(attribute=False))
    assert result.changes and all(c.manager is None for c in result.changes)


def test_malformed_managed_fields_do_not_break_the_diff() -> None:
    live = live_object()
    live["metadata"]["managedFields"] = [{"manager": "x", "fieldsV1": {"bogus": {}}}]
    result = diff(LAST_APPLIED, live)
    assert result.modified and all(c.manager is None for c in result.changes)
