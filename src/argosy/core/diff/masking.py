"""Secret masking: no Secret value leaves the engine.

Like Argo CD's ``HideSecretData``, every value under ``data`` and ``stringData`` of a ``v1/Secret``
is replaced by a run of ``+``. Masks are assigned per key by a :class:`SecretMasker` shared by
everything in one diff (desired, live, predicted live, last-applied, changes): the first distinct
value of a key gets 8 ``+``, the next 9, and so on. So within one diff the same value always has the
same mask and a changed value has a different one, while the mask says nothing about the value.
The ``kubectl.kubernetes.io/last-applied-configuration`` annotation is parsed and masked the
same way (replaced by a mask entirely when it is not valid JSON).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import Any

from argosy.model.annotations import ANNOTATION_KUBECTL_LAST_APPLIED
from argosy.model.resources import group_of_api_version

__all__ = ["MASK_CHAR", "MASK_MIN", "SecretMasker", "is_secret", "mask_secret"]

MASK_CHAR = "+"
MASK_MIN = 8
_SECRET_FIELDS = ("data", "stringData")


def is_secret(obj: Mapping[str, Any] | None) -> bool:
    """Whether ``obj`` is a core-group Secret."""
    return (
        isinstance(obj, Mapping)
        and obj.get("kind") == "Secret"
        and group_of_api_version(str(obj.get("apiVersion") or "v1")) == ""
    )


class SecretMasker:
    """Stable masks for one diff: ``mask(key, value)`` is the same for the same key and value."""

    def __init__(self) -> None:
        self._masks: dict[str, dict[str, str]] = {}

    def mask(self, key: str, value: Any) -> str:
        masks = self._masks.setdefault(key, {})
        text = json.dumps(value, sort_keys=True) if not isinstance(value, str) else value
        if text not in masks:
            masks[text] = MASK_CHAR * (MASK_MIN + len(masks))
        return masks[text]

    def mask_values(self, values: Any) -> Any:
        """Mask a ``data``/``stringData`` map (or anything else, masked whole under key ``""``)."""
        if isinstance(values, Mapping):
            return {str(k): self.mask(str(k), v) for k, v in values.items()}
        if values is None:
            return None
        return self.mask("", values)

    def mask_object(self, obj: Mapping[str, Any] | None) -> dict[str, Any] | None:
        """A deep copy of a Secret with all values masked (non-Secrets are copied unchanged)."""
        if obj is None:
            return None
        out: dict[str, Any] = copy.deepcopy(dict(obj))
        if not is_secret(out):
            return out
        self._mask_fields(out)
        return out

    def _mask_fields(self, out: dict[str, Any]) -> None:
        for field in _SECRET_FIELDS:
            if field in out:
                out[field] = self.mask_values(out[field])
        metadata = out.get("metadata")
        annotations = metadata.get("annotations") if isinstance(metadata, dict) else None
        if isinstance(annotations, dict) and ANNOTATION_KUBECTL_LAST_APPLIED in annotations:
            annotations[ANNOTATION_KUBECTL_LAST_APPLIED] = self._mask_last_applied(
                annotations[ANNOTATION_KUBECTL_LAST_APPLIED]
            )

    def _mask_last_applied(self, text: Any) -> str:
        try:
            loaded = json.loads(text) if isinstance(text, str) else None
        except json.JSONDecodeError:
            loaded = None
        if not isinstance(loaded, dict):
            return self.mask(ANNOTATION_KUBECTL_LAST_APPLIED, text)
        self._mask_fields(loaded)
        return json.dumps(loaded, sort_keys=True, separators=(",", ":"))


def mask_secret(obj: Mapping[str, Any] | None, masker: SecretMasker | None = None) -> dict[str, Any] | None:
    """A copy of ``obj`` safe to show: Secret ``data``/``stringData`` values masked."""
    return (masker or SecretMasker()).mask_object(obj)
