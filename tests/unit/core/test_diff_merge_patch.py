"""Pure pieces added for the engine: the three-way merge patch of client-side apply,
``plain_copy``, normalization without copying dropped metadata, and deferred prune confirmation."""

from __future__ import annotations

import copy
from types import MappingProxyType
from typing import Any

from argosy.core.diff import (
    DiffOptions,
    applied_configuration,
    applies_no_change,
    diff,
    normalize,
    plain_copy,
    predict_live,
    three_way_merge_patch,
)
from argosy.core.plan import Operation, PlanOptions, build_plan


def test_merge_patch_sets_changed_fields_only() -> None:
    live = {"data": {"a": "1", "b": "2"}, "metadata": {"name": "x", "uid": "u"}}
    desired = {"data": {"a": "1", "b": "3"}, "metadata": {"name": "x"}}
    assert three_way_merge_patch(None, desired, live) == {"data": {"b": "3"}}


def test_merge_patch_deletes_only_fields_we_applied_before() -> None:
    last = {"data": {"a": "1", "gone": "x"}}
    live = {"data": {"a": "1", "gone": "x", "theirs": "y"}}
    desired = {"data": {"a": "1"}}
    assert three_way_merge_patch(last, desired, live) == {"data": {"gone": None}}
    # Two-way (no last-applied): nothing is deleted.
    assert three_way_merge_patch(None, desired, live) == {}


def test_merge_patch_skips_deletions_of_fields_live_no_longer_has() -> None:
    assert three_way_merge_patch({"data": {"a": "1"}}, {}, {"other": 1}) == {}
    assert three_way_merge_patch({"spec": {"x": 1}}, {}, {"spec": {"x": 1}}) == {"spec": None}


def test_merge_patch_sends_lists_whole_and_new_maps_whole() -> None:
    live: dict[str, Any] = {"spec": {"ports": [{"port": 80, "protocol": "TCP"}]}}
    desired = {"spec": {"ports": [{"port": 81}], "selector": {"app": "web"}}}
    assert three_way_merge_patch(None, desired, live) == {
        "spec": {"ports": [{"port": 81}], "selector": {"app": "web"}}
    }
    # Same list: no change. A type change (1 vs "1") is a change.
    assert three_way_merge_patch(None, {"spec": {"ports": [{"port": 80, "protocol": "TCP"}]}}, live) == {}
    assert three_way_merge_patch(None, {"n": "1"}, {"n": 1}) == {"n": "1"}


def test_merge_patch_null_in_desired_deletes_and_inputs_are_untouched() -> None:
    live = {"data": {"a": "1", "b": "2"}}
    desired: dict[str, Any] = {"data": {"a": None, "c": ["x"]}}
    before = copy.deepcopy((live, desired))
    patch = three_way_merge_patch(None, desired, live)
    assert patch == {"data": {"a": None, "c": ["x"]}}
    patch["data"]["c"].append("y")
    assert (live, desired) == before


def test_plain_copy_is_deep_and_turns_mappings_into_dicts() -> None:
    original: dict[str, Any] = {"a": [{"b": 1}], "m": MappingProxyType({"k": [1]}), "t": (1, 2), "n": None}
    out = plain_copy(original)
    assert out == {"a": [{"b": 1}], "m": {"k": [1]}, "t": (1, 2), "n": None}
    assert type(out["m"]) is dict
    out["a"][0]["b"] = 2
    out["m"]["k"].append(2)
    assert original["a"][0]["b"] == 1 and original["m"]["k"] == [1]


def test_normalize_drops_server_metadata_without_touching_the_input() -> None:
    live = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": "x",
            "uid": "u",
            "resourceVersion": "1",
            "managedFields": [{"manager": "m"}],
            "annotations": {"argocd.argoproj.io/tracking-id": "a:/ConfigMap:ns/x"},
        },
        "data": {"k": "v"},
        "status": {"s": 1},
    }
    before = copy.deepcopy(live)
    assert normalize(live) == {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "x"},
        "data": {"k": "v"},
    }
    assert live == before


def test_predict_live_does_not_share_structure_with_its_inputs() -> None:
    live = {"spec": {"template": {"labels": {"a": "1"}}, "other": {"x": [1]}}}
    desired = {"spec": {"template": {"labels": {"a": "2"}}}}
    predicted = predict_live(desired, live)
    assert predicted == {"spec": {"template": {"labels": {"a": "2"}}, "other": {"x": [1]}}}
    predicted["spec"]["other"]["x"].append(2)
    predicted["spec"]["template"]["labels"]["b"] = "3"
    assert live == {"spec": {"template": {"labels": {"a": "1"}}, "other": {"x": [1]}}}
    assert desired == {"spec": {"template": {"labels": {"a": "2"}}}}


def _cm(name: str, **annotations: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": "ns", "annotations": annotations},
    }


def test_deferred_prune_confirmation_plans_a_waiting_prune() -> None:
    live = [_cm("old", **{"argocd.argoproj.io/sync-options": "Prune=confirm"}), _cm("plain")]
    deferred = build_plan([], live, PlanOptions(prune=True, defer_prune_confirmation=True))
    by_name = {t.key.name: t for t in deferred.tasks}
    assert by_name["old"].operation is Operation.PRUNE and by_name["old"].needs_confirmation
    assert by_name["plain"].operation is Operation.PRUNE and not by_name["plain"].needs_confirmation
    # Default: prune-skipped, as before. Pruning off: skipped even when deferred. Approved: no wait.
    default = {t.key.name: t for t in build_plan([], live, PlanOptions(prune=True)).tasks}
    assert default["old"].operation is Operation.PRUNE_SKIPPED
    off = {t.key.name: t for t in build_plan([], live, PlanOptions(defer_prune_confirmation=True)).tasks}
    assert off["old"].operation is Operation.PRUNE_SKIPPED
    approved = build_plan(
        [], live, PlanOptions(prune=True, prune_confirmed=True, defer_prune_confirmation=True)
    )
    assert not any(t.needs_confirmation for t in approved.tasks)


def test_normalize_share_equals_the_copy_and_copies_only_what_it_changes() -> None:
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "s", "annotations": {"argocd.argoproj.io/tracking-id": "a:/Secret:ns/s"}},
        "stringData": {"k": "v"},
        "data": {"d": None},
        "type": "Opaque",
    }
    deploy = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "d"},
        "spec": {"replicas": 1},
    }
    for obj in (secret, deploy):
        before = copy.deepcopy(obj)
        shared = normalize(obj, share=True)
        assert shared == normalize(obj)
        assert obj == before  # the Secret's data was copied before it was rewritten
    assert normalize(deploy, share=True)["spec"] is deploy["spec"]
    assert normalize(deploy)["spec"] is not deploy["spec"]


def test_applies_no_change_is_conservative() -> None:
    live = {"data": {"a": "1"}, "spec": {"ports": [{"port": 80}], "n": 1}}
    assert applies_no_change({"data": {"a": "1"}}, live)
    assert applies_no_change({"spec": {"ports": [{"port": 80}]}}, live)
    assert not applies_no_change({"data": {"a": "2"}}, live)
    assert not applies_no_change({"spec": {"n": 1.0}}, live)  # a type change is left to the diff
    assert not applies_no_change({"spec": {"ports": [{"port": 80}, {"port": 81}]}}, live)
    assert not applies_no_change({"data": {"b": "1"}}, live)
    assert not applies_no_change({"data": {"a": None}}, live)
    assert applies_no_change({"data": {"b": None}}, live)
    # A field the last apply wrote, dropped from desired and still live, is a change.
    assert not applies_no_change({"data": {"a": "1"}}, live, {"data": {"a": "1"}, "spec": {"n": 1}})
    assert applies_no_change({"data": {"a": "1"}}, live, {"data": {"a": "1"}, "gone": 1})


def _applied_live() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": "x",
            "namespace": "ns",
            "labels": {"mine": "1", "shared": "1", "theirs": "1"},
            "managedFields": [
                {
                    "manager": "argosy-controller",
                    "operation": "Apply",
                    "fieldsType": "FieldsV1",
                    "fieldsV1": {
                        "f:data": {"f:a": {}, "f:b": {}},
                        "f:metadata": {"f:labels": {"f:mine": {}, "f:shared": {}}},
                    },
                },
                {
                    "manager": "kubectl-edit",
                    "operation": "Update",
                    "fieldsType": "FieldsV1",
                    "fieldsV1": {"f:metadata": {"f:labels": {"f:shared": {}, "f:theirs": {}}}},
                },
            ],
        },
        "data": {"a": "1", "b": "2", "c": "3"},
    }


def test_applied_configuration_rebuilds_what_we_applied_alone() -> None:
    live = _applied_live()
    assert applied_configuration(live, "argosy-controller") == {
        "data": {"a": "1", "b": "2"},
        "metadata": {"labels": {"mine": "1"}},
    }
    assert applied_configuration(live, "nobody") is None


def test_applied_configuration_picks_list_items_by_key() -> None:
    live = {
        "spec": {"containers": [{"name": "web", "image": "a", "tty": True}, {"name": "side", "image": "b"}]},
        "metadata": {
            "managedFields": [
                {
                    "manager": "m",
                    "operation": "Apply",
                    "fieldsV1": {
                        "f:spec": {
                            "f:containers": {'k:{"name":"web"}': {".": {}, "f:name": {}, "f:image": {}}}
                        }
                    },
                }
            ]
        },
    }
    assert applied_configuration(live, "m") == {"spec": {"containers": [{"name": "web", "image": "a"}]}}


def test_diff_with_applied_by_sees_fields_dropped_from_desired() -> None:
    live = _applied_live()
    desired = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "x", "namespace": "ns", "labels": {"mine": "1"}},
        "data": {"a": "1"},
    }
    two_way = diff(desired, live)
    assert not two_way.modified and two_way.strategy == "two-way"
    result = diff(desired, live, options=DiffOptions(applied_by="argosy-controller"))
    assert result.strategy == "managed-fields"
    assert [c.path for c in result.changes] == ["data.b"]  # "shared" is co-owned: the apply keeps it
    same = {**desired, "data": {"a": "1", "b": "2"}}
    assert not diff(same, live, options=DiffOptions(applied_by="argosy-controller")).modified
