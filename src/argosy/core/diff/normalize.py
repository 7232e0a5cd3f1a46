"""Normalization before comparing: what Argo CD strips or canonicalizes on both sides.

* ``status`` is dropped (``StatusComparison.ALL``, Argo CD's default), only for CRD objects
  (``CRD``) or never (``NONE``): argocd-cm ``resource.compareoptions.ignoreResourceStatusField``.
* Server-managed metadata is dropped: ``uid``, ``resourceVersion``, ``generation``,
  ``creationTimestamp``, ``managedFields``, ``selfLink``, ``deletionTimestamp``,
  ``deletionGracePeriodSeconds``; and the ``kubectl.kubernetes.io/last-applied-configuration``
  annotation, Argo CD's ``tracking-id`` and ``installation-id`` annotations and, with label tracking,
  the tracking label. Empty ``labels``/``annotations`` maps are removed.
* Secrets: ``stringData`` is merged into ``data`` (base64 of the UTF-8 text; ``stringData`` wins,
  as in the API server) and ``null`` data values become ``""``.

``ownerReferences`` are left alone: desired manifests do not set them, so the merge keeps live's.
Value-level equivalences (quantities, ports, empty vs missing) are applied by the comparison, so
the normalized objects keep the user's spelling.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from enum import StrEnum
from typing import Any

import yaml

from argosy.core.diff.paths import plain_copy
from argosy.model.annotations import ANNOTATION_KUBECTL_LAST_APPLIED, ANNOTATION_TRACKING_ID
from argosy.model.resources import group_of_api_version

__all__ = [
    "ANNOTATION_INSTALLATION_ID",
    "SERVER_MANAGED_METADATA",
    "StatusComparison",
    "normalize",
    "parse_compare_options",
    "secret_string_data_to_data",
]

ANNOTATION_INSTALLATION_ID = "argocd.argoproj.io/installation-id"
SERVER_MANAGED_METADATA = (
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "managedFields",
    "selfLink",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
)
_SERVER_MANAGED = frozenset(SERVER_MANAGED_METADATA)


class StatusComparison(StrEnum):
    """Which objects' ``status`` is ignored (``ignoreResourceStatusField``)."""

    ALL = "all"
    CRD = "crd"
    NONE = "none"


def parse_compare_options(cm_data: Mapping[str, str]) -> StatusComparison:
    """Read ``resource.compareoptions`` (YAML) from argocd-cm data; default ``all``."""
    text = cm_data.get("resource.compareoptions")
    if not text:
        return StatusComparison.ALL
    loaded = yaml.safe_load(text)
    value = loaded.get("ignoreResourceStatusField") if isinstance(loaded, dict) else None
    if value is None or value == "":
        return StatusComparison.ALL
    try:
        return StatusComparison(str(value).lower())
    except ValueError:
        raise ValueError(
            f"resource.compareoptions: ignoreResourceStatusField {value!r} is not one of all, crd, none"
        ) from None


def is_secret_obj(obj: Mapping[str, Any]) -> bool:
    return obj.get("kind") == "Secret" and group_of_api_version(str(obj.get("apiVersion") or "v1")) == ""


def secret_string_data_to_data(obj: dict[str, Any]) -> dict[str, Any]:
    """Merge a Secret's ``stringData`` into base64 ``data`` in place and return the object."""
    string_data = obj.pop("stringData", None)
    data = obj.get("data")
    if not isinstance(data, dict):
        data = {}
    if isinstance(string_data, Mapping):
        for key, value in string_data.items():
            text = "" if value is None else str(value)
            data[str(key)] = base64.b64encode(text.encode("utf-8")).decode("ascii")
    for key, value in list(data.items()):
        if value is None:
            data[key] = ""
    if data or "data" in obj:
        obj["data"] = data
    return obj


def normalize(
    obj: Mapping[str, Any],
    *,
    status: StatusComparison = StatusComparison.ALL,
    tracking_label: str | None = None,
    share: bool = False,
) -> dict[str, Any]:
    """A normalized deep copy of ``obj`` (the input is not modified).

    ``share=True``: only ``metadata`` (and a Secret's ``data``) is copied; the other fields are
    the input's own values. For callers that only read the result."""
    copy_value = _share if share else plain_copy
    kind = obj.get("kind")
    drop_status = status is StatusComparison.ALL or (
        status is StatusComparison.CRD
        and kind == "CustomResourceDefinition"
        and group_of_api_version(str(obj.get("apiVersion") or "")) == "apiextensions.k8s.io"
    )
    # Copy everything except what is dropped anyway (managedFields is often the largest part).
    out: dict[str, Any] = {}
    for k, v in obj.items():
        if k == "metadata":
            if type(v) is dict or isinstance(v, Mapping):
                out[k] = _metadata(v, tracking_label)
            else:
                out[k] = plain_copy(v)
        elif not (drop_status and k == "status"):
            out[k] = copy_value(v)
    if is_secret_obj(out):
        if share:
            for name in ("data", "stringData"):
                if name in out:
                    out[name] = plain_copy(out[name])
        secret_string_data_to_data(out)
    return out


def _share(value: Any) -> Any:
    return value


_DROPPED_ANNOTATIONS = frozenset(
    {ANNOTATION_KUBECTL_LAST_APPLIED, ANNOTATION_TRACKING_ID, ANNOTATION_INSTALLATION_ID}
)


_EMPTY_DROPPED = frozenset({"annotations", "labels"})


def _metadata(source: Mapping[str, Any], tracking_label: str | None) -> dict[str, Any]:
    """``metadata`` without the server-managed fields and the dropped annotations and label; empty
    ``annotations``/``labels`` are left out. Always a copy."""
    out: dict[str, Any] = {}
    for k, v in source.items():
        if k in _SERVER_MANAGED:
            continue
        if k == "annotations" and (type(v) is dict or isinstance(v, Mapping)):
            value: Any = {a: plain_copy(x) for a, x in v.items() if a not in _DROPPED_ANNOTATIONS}
        elif k == "labels" and (type(v) is dict or isinstance(v, Mapping)):
            value = {a: plain_copy(x) for a, x in v.items() if a != tracking_label or not tracking_label}
        else:
            value = plain_copy(v)
        if not value and k in _EMPTY_DROPPED:
            continue
        out[k] = value
    return out
