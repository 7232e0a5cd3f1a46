"""The no-op shortcut of ``diff``: decided on the objects as they are, same results as the full path."""

from __future__ import annotations

import copy
from typing import Any

from argosy.core.diff import DiffOptions, diff, normalize


def live_cm(data: dict[str, str], *, applied: dict[str, Any] | None = None) -> dict[str, Any]:
    fields = applied or {"f:data": {f"f:{k}": {} for k in data}}
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": "cm",
            "namespace": "ns",
            "uid": "u-1",
            "resourceVersion": "7",
            "annotations": {"argocd.argoproj.io/tracking-id": "app:/ConfigMap:ns/cm"},
            "managedFields": [
                {
                    "manager": "argosy-controller",
                    "operation": "Apply",
                    "apiVersion": "v1",
                    "fieldsType": "FieldsV1",
                    "fieldsV1": fields,
                }
            ],
        },
        "data": data,
    }


def desired_cm(data: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": "cm",
            "namespace": "ns",
            "annotations": {"argocd.argoproj.io/tracking-id": "app:/ConfigMap:ns/cm"},
        },
        "data": data,
    }


OPTIONS = DiffOptions(applied_by="argosy-controller")


def test_an_unchanged_object_reads_like_a_normalized_live_object() -> None:
    live = live_cm({"a": "1"})
    before = copy.deepcopy(live)
    result = diff(desired_cm({"a": "1"}), live, options=OPTIONS)
    assert not result.modified and result.changes == []
    assert result.strategy == "managed-fields"
    assert result.normalized_live == normalize(live)
    assert result.predicted_live == result.normalized_live
    assert result.as_dict()["normalizedLive"] == normalize(live)
    assert live == before  # the live object is not modified


def test_a_field_dropped_from_git_is_still_found() -> None:
    result = diff(desired_cm({"a": "1"}), live_cm({"a": "1", "b": "2"}), options=OPTIONS)
    assert result.modified
    assert [c.path for c in result.changes] == ["data.b"]


def test_a_different_tracking_id_alone_is_not_drift() -> None:
    # The shortcut sees the annotation differ and falls back; normalization drops it: no change.
    desired = desired_cm({"a": "1"})
    desired["metadata"]["annotations"]["argocd.argoproj.io/tracking-id"] = "other:/ConfigMap:ns/cm"
    result = diff(desired, live_cm({"a": "1"}), options=OPTIONS)
    assert not result.modified


def test_a_secret_never_takes_the_shortcut_and_stays_masked() -> None:
    live = live_cm({"password": "c2VjcmV0"})
    live["kind"] = "Secret"
    desired = desired_cm({"password": "c2VjcmV0"})
    desired["kind"] = "Secret"
    result = diff(desired, live, options=OPTIONS)
    assert not result.modified
    assert "c2VjcmV0" not in str(result.as_dict())
