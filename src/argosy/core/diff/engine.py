"""``diff`` and ``diff_all``: one :class:`ResourceDiff` per (desired, live) pair.

Mode (:class:`DiffMode`):

* ``SERVER_SIDE``: the caller ran a server-side apply dry-run and passes its result as
  ``predicted_live``; it is normalized and compared with live as is.
* ``THREE_WAY``: the predicted live object is computed here from desired, live and the last-applied
  configuration (``last_applied`` argument, else live's ``kubectl.kubernetes.io/last-applied-
  configuration`` annotation; without either it is Argo CD's two-way diff).
* ``AUTO`` (the default): ``SERVER_SIDE`` when a predicted object is given, else ``THREE_WAY``.

Steps: normalize (:mod:`.normalize`) -> predict -> drop ignored fields from both sides
(:mod:`.ignore`) -> compare (:mod:`.compare`) -> attribute each change to a field manager
(:mod:`.managedfields`) -> mask Secrets (:mod:`.masking`). A missing live object is a creation and a
missing desired object a deletion: both are ``modified`` with one change at the root path ``""``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from argosy.core.diff.compare import RawChange, compare
from argosy.core.diff.ignore import IgnoreRule, apply_ignore_rules, matching_rules
from argosy.core.diff.managedfields import (
    FieldManager,
    ManagedFieldsEntry,
    ManagedFieldsError,
    applied_configuration,
    attribute_all,
    managed_fields,
)
from argosy.core.diff.masking import SecretMasker, is_secret
from argosy.core.diff.normalize import StatusComparison, normalize
from argosy.core.diff.paths import FieldPath, format_path
from argosy.core.diff.threeway import applies_no_change, predict_live
from argosy.model.annotations import ANNOTATION_KUBECTL_LAST_APPLIED
from argosy.model.resources import ResourceKey

__all__ = ["DiffMode", "DiffOptions", "DiffPair", "FieldChange", "ResourceDiff", "diff", "diff_all"]


class DiffMode(StrEnum):
    AUTO = "auto"
    THREE_WAY = "three-way"
    SERVER_SIDE = "server-side"


@dataclass(frozen=True, slots=True)
class DiffOptions:
    """How to diff. ``ignore_rules`` holds app- and system-level rules together."""

    mode: DiffMode = DiffMode.AUTO
    ignore_rules: tuple[IgnoreRule, ...] = ()
    status: StatusComparison = StatusComparison.ALL
    tracking_label: str | None = None
    default_namespace: str = ""
    attribute: bool = True
    key: ResourceKey | None = None
    """The resource's key when the caller knows it (saves parsing it again)."""
    applied_by: str | None = None
    """Three-way diff of an object without a last-applied annotation: use what this field
    manager last server-side applied (from managedFields) as the base, so fields dropped from
    the desired state show as changes. ``None``: Argo CD's two-way diff."""


@dataclass(frozen=True, slots=True)
class FieldChange:
    """One differing field. ``before`` is live, ``after`` predicted live; ``None`` means absent."""

    path: str
    before: Any
    after: Any
    segments: FieldPath = ()
    manager: FieldManager | None = None


@dataclass(frozen=True)
class ResourceDiff:
    key: ResourceKey
    modified: bool
    changes: list[FieldChange]
    normalized_live: dict[str, Any] | None
    predicted_live: dict[str, Any] | None
    strategy: str = "three-way"
    """What was done: ``three-way``, ``two-way``, ``server-side``, ``create`` or ``delete``."""

    def as_dict(self) -> dict[str, Any]:
        """A JSON-serializable form (masked like the rest of the result)."""
        return {
            "key": self.key.format(),
            "modified": self.modified,
            "strategy": self.strategy,
            "changes": [
                {
                    "path": c.path,
                    "before": c.before,
                    "after": c.after,
                    "manager": asdict(c.manager) if c.manager else None,
                }
                for c in self.changes
            ],
            "normalizedLive": self.normalized_live,
            "predictedLive": self.predicted_live,
        }


@dataclass(frozen=True)
class DiffPair:
    """Input for :func:`diff_all`."""

    desired: Mapping[str, Any] | None
    live: Mapping[str, Any] | None
    predicted_live: Mapping[str, Any] | None = None
    last_applied: Mapping[str, Any] | None = field(default=None)


def _last_applied_from(live: Mapping[str, Any]) -> dict[str, Any] | None:
    metadata = live.get("metadata")
    annotations = metadata.get("annotations") if isinstance(metadata, Mapping) else None
    text = annotations.get(ANNOTATION_KUBECTL_LAST_APPLIED) if isinstance(annotations, Mapping) else None
    if not isinstance(text, str) or not text:
        return None
    try:
        loaded = json.loads(text)
    except json.JSONDecodeError:
        return None
    return loaded if isinstance(loaded, dict) else None


def _key(
    desired: Mapping[str, Any] | None, live: Mapping[str, Any] | None, options: DiffOptions
) -> ResourceKey:
    if live is not None:
        live_key = ResourceKey.from_manifest(live, default_namespace=options.default_namespace)
        if desired is None:
            return live_key
        return ResourceKey.from_manifest(desired, default_namespace=live_key.namespace)
    assert desired is not None
    return ResourceKey.from_manifest(desired, default_namespace=options.default_namespace)


def _mask_change(change: FieldChange, masker: SecretMasker) -> FieldChange:
    seg = change.segments
    if not seg:
        return FieldChange(
            change.path,
            masker.mask_object(change.before),
            masker.mask_object(change.after),
            seg,
            change.manager,
        )
    if seg[0] in ("data", "stringData"):
        if len(seg) == 1:
            before, after = masker.mask_values(change.before), masker.mask_values(change.after)
        else:
            key = str(seg[1])
            before = None if change.before is None else masker.mask(key, change.before)
            after = None if change.after is None else masker.mask(key, change.after)
        return FieldChange(change.path, before, after, seg, change.manager)
    return change


def diff(
    desired: Mapping[str, Any] | None,
    live: Mapping[str, Any] | None,
    *,
    predicted_live: Mapping[str, Any] | None = None,
    last_applied: Mapping[str, Any] | None = None,
    options: DiffOptions | None = None,
) -> ResourceDiff:
    """Diff one resource (see the module docstring). Secrets come back masked."""
    opts = options or DiffOptions()
    if desired is None and live is None:
        raise ValueError("diff needs a desired or a live object")
    key = opts.key or _key(desired, live, opts)
    secret = is_secret(desired) or is_secret(live)
    masker = SecretMasker()

    def norm(obj: Mapping[str, Any], share: bool = False) -> dict[str, Any]:
        return normalize(obj, status=opts.status, tracking_label=opts.tracking_label, share=share)

    def finish(result: ResourceDiff) -> ResourceDiff:
        if not secret:
            return result
        return ResourceDiff(
            key=result.key,
            modified=result.modified,
            changes=[_mask_change(c, masker) for c in result.changes],
            normalized_live=masker.mask_object(result.normalized_live),
            predicted_live=masker.mask_object(result.predicted_live),
            strategy=result.strategy,
        )

    if live is None:
        assert desired is not None
        target = norm(desired)
        return finish(ResourceDiff(key, True, [FieldChange("", None, target)], None, target, "create"))
    if desired is None:
        normalized_live = norm(live, share=True)
        return finish(
            ResourceDiff(key, True, [FieldChange("", normalized_live, None)], normalized_live, None, "delete")
        )

    if opts.mode is DiffMode.SERVER_SIDE or (opts.mode is DiffMode.AUTO and predicted_live is not None):
        if predicted_live is None:
            raise ValueError(f"{key}: server-side diff needs the predicted live object from a dry-run")
        normalized_live = norm(live, share=True)
        predicted = norm(predicted_live)
        strategy = "server-side"
    else:
        base = last_applied if last_applied is not None else _last_applied_from(live)
        strategy = "three-way" if base is not None else "two-way"
        if base is None and opts.applied_by:
            base = applied_configuration(live, opts.applied_by)
            strategy = "managed-fields" if base is not None else strategy
        # The common no-op, checked on the objects as they are: when it holds for them it holds
        # for their normalized forms too (normalizing drops the same fields from each side, and a
        # Secret's stringData is never live), so no normalization is needed now.
        unchanged = not secret and applies_no_change(desired, live, base)
        if unchanged and not matching_rules(key, opts.ignore_rules):
            return _UnchangedDiff(key, live, opts, strategy)
        # Shares live's values below metadata: every step after this one copies what it changes.
        normalized_live = norm(live, share=True)
        # Read only (predict_live copies what it keeps), so it may share the input's values.
        normalized_desired = norm(desired, share=True)
        normalized_base = norm(base, share=True) if base is not None else None
        if applies_no_change(normalized_desired, normalized_live, normalized_base):
            # The prediction is live itself, so there is nothing to compare.
            return finish(_unchanged(key, normalized_live, live, opts, strategy))
        predicted = predict_live(normalized_desired, normalized_live, normalized_base)

    rules = matching_rules(key, opts.ignore_rules)
    if rules:
        predicted = apply_ignore_rules(predicted, rules, live)
        normalized_live = apply_ignore_rules(normalized_live, rules, live)

    raw: list[RawChange] = compare(normalized_live, predicted)
    entries: list[ManagedFieldsEntry] = []
    if opts.attribute and raw:
        try:
            entries = managed_fields(live)
        except ManagedFieldsError:
            entries = []
    owners = attribute_all(live, [c.path for c in raw], entries) if entries else [None] * len(raw)
    changes = [
        FieldChange(format_path(c.path), c.before, c.after, c.path, owner)
        for c, owner in zip(raw, owners, strict=True)
    ]
    return finish(ResourceDiff(key, bool(changes), changes, normalized_live, predicted, strategy))


def _unchanged(
    key: ResourceKey,
    normalized_live: dict[str, Any],
    live: Mapping[str, Any],
    opts: DiffOptions,
    strategy: str,
) -> ResourceDiff:
    """The result when the prediction is live itself."""
    rules = matching_rules(key, opts.ignore_rules)
    if rules:
        normalized_live = apply_ignore_rules(normalized_live, rules, live)
    return ResourceDiff(key, False, [], normalized_live, normalized_live, strategy)


class _UnchangedDiff(ResourceDiff):
    """A no-op diff (not a Secret, no ignore rule) that normalizes live only when it is read.

    Most resources of a periodic compare are unchanged and their normalized live object is never
    looked at, so it is built on first access (then kept). ``live`` must not be mutated meanwhile
    (live-cache objects are replaced, never changed in place)."""

    def __init__(self, key: ResourceKey, live: Mapping[str, Any], opts: DiffOptions, strategy: str) -> None:
        object.__setattr__(self, "key", key)
        object.__setattr__(self, "modified", False)
        object.__setattr__(self, "changes", [])
        object.__setattr__(self, "strategy", strategy)
        object.__setattr__(self, "_live", live)
        object.__setattr__(self, "_status", opts.status)
        object.__setattr__(self, "_tracking_label", opts.tracking_label)
        object.__setattr__(self, "_normalized", None)

    @property
    def normalized_live(self) -> dict[str, Any]:
        cached: dict[str, Any] | None = self.__dict__["_normalized"]
        if cached is None:
            cached = normalize(
                self.__dict__["_live"],
                status=self.__dict__["_status"],
                tracking_label=self.__dict__["_tracking_label"],
                share=True,
            )
            object.__setattr__(self, "_normalized", cached)
        return cached

    @property
    def predicted_live(self) -> dict[str, Any]:
        return self.normalized_live


def diff_all(pairs: Iterable[DiffPair], options: DiffOptions | None = None) -> list[ResourceDiff]:
    """Diff every pair, in order."""
    return [
        diff(p.desired, p.live, predicted_live=p.predicted_live, last_applied=p.last_applied, options=options)
        for p in pairs
    ]
