"""``build_plan``: desired manifests + live objects -> the ordered, explained list of sync tasks.

Pure and deterministic: the same inputs give the same plan, whatever their order. The rules
(see docs/sync.md for the reasoning):

* Desired non-hook resources become ``apply`` tasks in the Sync phase at their wave.
* Hooks become one ``create-hook`` task per phase they list, with their delete policies
  (``BeforeHookCreation`` when none is given). ``Skip`` resources are neither applied nor pruned.
  Hooks are left out of selective syncs (``resources``) and ``skip_hooks`` (the apply strategy).
* Live objects that are not desired (and are not hooks) become ``prune`` tasks, or
  ``prune-skipped`` when pruning is off, ``Prune=false``, or ``Prune=confirm`` without approval.
  Prune waves are mirrored (the highest wave is pruned first); ``PruneLast`` moves a prune to one
  wave after the last Sync-phase wave, which is still before PostSync.
* Finally tasks are sorted (phase, wave, kind rank, name) and Namespaces/CRDs bubble ahead of the
  first task that needs them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from argosy.core.plan.ordering import order_tasks
from argosy.core.plan.tasks import Operation, SyncPlan, SyncTask
from argosy.model import annotations as ann
from argosy.model.annotations import HookType, SyncOptions, SyncPhase, Toggle
from argosy.model.resources import GroupKind, ResourceKey

__all__ = ["CLUSTER_SCOPED_KINDS", "PlanError", "PlanOptions", "build_plan", "crd_defines"]

Manifest = Mapping[str, Any]

CLUSTER_SCOPED_KINDS: frozenset[GroupKind] = frozenset(
    GroupKind.parse(text)
    for text in (
        "Namespace",
        "Node",
        "PersistentVolume",
        "storage.k8s.io/StorageClass",
        "storage.k8s.io/CSIDriver",
        "storage.k8s.io/CSINode",
        "storage.k8s.io/VolumeAttachment",
        "apiextensions.k8s.io/CustomResourceDefinition",
        "rbac.authorization.k8s.io/ClusterRole",
        "rbac.authorization.k8s.io/ClusterRoleBinding",
        "apiregistration.k8s.io/APIService",
        "networking.k8s.io/IngressClass",
        "scheduling.k8s.io/PriorityClass",
        "node.k8s.io/RuntimeClass",
        "policy/PodSecurityPolicy",
        "admissionregistration.k8s.io/ValidatingWebhookConfiguration",
        "admissionregistration.k8s.io/MutatingWebhookConfiguration",
        "certificates.k8s.io/CertificateSigningRequest",
    )
)
"""Kinds that never get ``PlanOptions.default_namespace`` (others without a namespace do)."""


class PlanError(ValueError):
    """The manifests cannot be planned (bad annotation, missing name, duplicate resource...)."""


@dataclass(frozen=True, slots=True)
class PlanOptions:
    """How to plan one sync. The defaults match an Argo CD manual sync without ``--prune``."""

    sync_options: SyncOptions = field(default_factory=SyncOptions)
    """App-level options (``spec.syncPolicy.syncOptions``); resource annotations override them."""
    prune: bool = False
    """Delete live resources that are no longer desired (otherwise they are listed as prune-skipped)."""
    prune_confirmed: bool = False
    """Pruning of ``Prune=confirm`` resources was approved."""
    defer_prune_confirmation: bool = False
    """Plan unapproved ``Prune=confirm`` prunes as prune tasks with ``needs_confirmation``: the
    executor keeps them pending until the app's ``deletion-approved`` annotation approves them
    (Argo CD's behaviour). Off: they are planned as prune-skipped."""
    resources: frozenset[ResourceKey] | None = None
    """Selective sync: only these resources; hooks are skipped."""
    skip_hooks: bool = False
    """The ``apply`` sync strategy: apply resources, run no hooks."""
    in_sync: frozenset[ResourceKey] = frozenset()
    """Resources already in sync; left out when ``ApplyOutOfSyncOnly=true``."""
    default_namespace: str = ""
    """Namespace for namespaced manifests that omit ``metadata.namespace``."""
    strict: bool = True
    """Reject unparsable waves (Argo CD silently uses the next fallback instead)."""


def _annotations(manifest: Manifest) -> dict[str, str]:
    metadata = manifest.get("metadata") or {}
    raw = metadata.get("annotations") or {}
    return {str(k): str(v) for k, v in raw.items()}


def _key(manifest: Manifest, default_namespace: str) -> ResourceKey:
    key = ResourceKey.from_manifest(manifest)
    if not key.namespace and default_namespace and key.group_kind not in CLUSTER_SCOPED_KINDS:
        key = replace(key, namespace=default_namespace)
    return key


def _describe(manifest: Manifest) -> str:
    metadata = manifest.get("metadata") or {}
    name = metadata.get("name") or f"{metadata.get('generateName') or ''}*"
    return f"{manifest.get('kind') or '?'}/{name}"


def crd_defines(manifest: Manifest, key: ResourceKey | None = None) -> GroupKind | None:
    """The group/kind a CustomResourceDefinition manifest defines; ``None`` for other objects."""
    key = key or ResourceKey.from_manifest(manifest)
    if key.kind != "CustomResourceDefinition" or key.group != "apiextensions.k8s.io":
        return None
    spec = manifest.get("spec") or {}
    names = spec.get("names") or {}
    group, kind = spec.get("group"), names.get("kind")
    return GroupKind(str(group), str(kind)) if group and kind else None


def _resource_options(manifest: Manifest, annotations: Mapping[str, str]) -> SyncOptions:
    value = annotations.get(ann.ANNOTATION_SYNC_OPTIONS)
    if value is None:
        return SyncOptions()
    try:
        return ann.parse_sync_options_annotation(value)
    except ann.AnnotationError as exc:
        raise PlanError(f"{_describe(manifest)}: {exc}") from None


def _effective_options(app: SyncOptions, resource: SyncOptions) -> SyncOptions:
    # Argo CD reads Force only from the resource annotation (or the sync operation), never app level.
    return replace(app, force=None).merged(resource)


def _wave(manifest: Manifest, annotations: Mapping[str, str], *, hook: bool, strict: bool) -> int:
    try:
        return ann.sync_wave(annotations, hook=hook, strict=strict)
    except ann.AnnotationError as exc:
        raise PlanError(f"{_describe(manifest)}: {exc}") from None


def _wave_reason(annotations: Mapping[str, str], *, hook: bool) -> str:
    for name in (
        ann.ANNOTATION_SYNC_WAVE,
        *([ann.ANNOTATION_HOOK_WEIGHT] if hook else []),
        ann.HELM_HOOK_WEIGHT,
    ):
        if name in annotations:
            return f"wave from {name}"
    return "default wave 0"


def _desired_tasks(
    desired: Iterable[Manifest],
    live_keys: frozenset[ResourceKey],
    options: PlanOptions,
    warnings: list[str],
) -> tuple[list[SyncTask], set[ResourceKey]]:
    tasks: list[SyncTask] = []
    claimed: set[ResourceKey] = set()
    seen_resources: set[ResourceKey] = set()
    no_hooks = options.skip_hooks or options.resources is not None
    for manifest in desired:
        metadata = manifest.get("metadata") or {}
        if not manifest.get("kind") or not (metadata.get("name") or metadata.get("generateName")):
            raise PlanError(
                f"manifest {_describe(manifest)}: kind and metadata.name (or generateName) are required"
            )
        annotations = _annotations(manifest)
        key = _key(manifest, options.default_namespace)
        claimed.add(key)
        info = ann.hook_info(annotations)
        if info.skip:
            continue
        resource_options = _resource_options(manifest, annotations)
        effective = _effective_options(options.sync_options, resource_options)
        if info.is_hook:
            if no_hooks:
                continue
            for unknown in info.unknown:
                warnings.append(f"{_describe(manifest)}: unknown hook type {unknown!r} ignored")
            phases = info.phases
            if not phases:
                warnings.append(f"{_describe(manifest)}: hook has no sync phase and will not run")
                continue
            policies = _policies(manifest, annotations)
            wave = _wave(manifest, annotations, hook=True, strict=options.strict)
            generate_name = "" if key.name else str(metadata.get("generateName") or "")
            for phase in phases:
                reason = f"{phase} hook; {_wave_reason(annotations, hook=True)}"
                if key.name and key in live_keys:
                    reason += "; exists (BeforeHookCreation deletes it first)"
                tasks.append(
                    SyncTask(
                        key=key,
                        phase=phase,
                        wave=wave,
                        operation=Operation.CREATE_HOOK,
                        reason=reason,
                        hook_type=HookType(phase.value),
                        delete_policies=policies,
                        generate_name=generate_name,
                        options=effective,
                        exists=key in live_keys,
                        manifest=manifest,
                    )
                )
            continue
        if not key.name:
            raise PlanError(f"manifest {_describe(manifest)}: only hooks may use generateName")
        if key in seen_resources:
            raise PlanError(f"duplicate resource {key}: it appears more than once in the desired manifests")
        seen_resources.add(key)
        if options.resources is not None and key not in options.resources:
            continue
        if effective.apply_out_of_sync_only and key in options.in_sync:
            continue
        exists = key in live_keys
        tasks.append(
            SyncTask(
                key=key,
                phase=SyncPhase.SYNC,
                wave=_wave(manifest, annotations, hook=False, strict=options.strict),
                operation=Operation.APPLY,
                reason=f"{'update' if exists else 'create'}; {_wave_reason(annotations, hook=False)}",
                defines=crd_defines(manifest, key),
                options=effective,
                exists=exists,
                manifest=manifest,
            )
        )
    return tasks, claimed


def _policies(manifest: Manifest, annotations: Mapping[str, str]) -> tuple[ann.HookDeletePolicy, ...]:
    try:
        return ann.hook_delete_policies(annotations)
    except ann.AnnotationError as exc:
        raise PlanError(f"{_describe(manifest)}: {exc}") from None


def _prune_tasks(
    live: Iterable[Manifest],
    claimed: set[ResourceKey],
    options: PlanOptions,
    warnings: list[str],
) -> list[SyncTask]:
    tasks: list[SyncTask] = []
    for manifest in live:
        key = _key(manifest, "")
        annotations = _annotations(manifest)
        if key in claimed or ann.hook_info(annotations).is_hook:
            continue
        if options.resources is not None and key not in options.resources:
            continue
        try:
            resource_options = ann.parse_sync_options_annotation(
                annotations.get(ann.ANNOTATION_SYNC_OPTIONS, "")
            )
        except ann.AnnotationError as exc:
            warnings.append(f"live {_describe(manifest)}: {exc}; its sync options are ignored")
            resource_options = SyncOptions()
        effective = _effective_options(options.sync_options, resource_options)
        operation, reason = Operation.PRUNE, "prune: not in the desired state"
        confirm = False
        if effective.prune is Toggle.FALSE:
            operation, reason = Operation.PRUNE_SKIPPED, "prune skipped: Prune=false"
        elif effective.prune is Toggle.CONFIRM and not options.prune_confirmed:
            if options.prune and options.defer_prune_confirmation:
                confirm, reason = True, "prune: Prune=confirm, waits until the deletion is approved"
            else:
                operation, reason = Operation.PRUNE_SKIPPED, "prune skipped: Prune=confirm needs approval"
        elif not options.prune:
            operation, reason = Operation.PRUNE_SKIPPED, "prune skipped: pruning is not enabled for this sync"
        tasks.append(
            SyncTask(
                key=key,
                phase=SyncPhase.SYNC,
                wave=ann.sync_wave(annotations, strict=False),
                operation=operation,
                reason=reason,
                options=effective,
                exists=True,
                needs_confirmation=confirm,
                manifest=manifest,
            )
        )
    return tasks


def _reorder_prune_waves(tasks: list[SyncTask]) -> list[SyncTask]:
    """Mirror the distinct prune waves (lowest <-> highest...), then apply PruneLast."""
    waves = sorted({t.wave for t in tasks if t.is_prune})
    mirror = dict(zip(waves, reversed(waves), strict=True))
    out = [
        replace(t, wave=mirror[t.wave], reason=f"{t.reason}; wave {t.wave} mirrored to {mirror[t.wave]}")
        if t.is_prune and mirror[t.wave] != t.wave
        else t
        for t in tasks
    ]
    last_wave = max([0, *(t.wave for t in out if t.phase is SyncPhase.SYNC)]) + 1
    return [
        replace(t, wave=last_wave, reason=f"{t.reason}; PruneLast: wave {last_wave}")
        if t.is_prune and t.options.prune_last_enabled
        else t
        for t in out
    ]


def build_plan(
    desired: Iterable[Manifest],
    live: Iterable[Manifest] = (),
    options: PlanOptions | None = None,
) -> SyncPlan:
    """Plan a sync of ``desired`` manifests against the ``live`` objects the app manages."""
    options = options or PlanOptions()
    desired_list = list(desired)
    live_list = list(live)
    live_keys = frozenset(_key(m, "") for m in live_list)
    warnings: list[str] = []
    tasks, claimed = _desired_tasks(desired_list, live_keys, options, warnings)
    tasks += _prune_tasks(live_list, claimed, options, warnings)
    tasks = _reorder_prune_waves(tasks)
    return SyncPlan(tasks=tuple(order_tasks(tasks)), warnings=tuple(warnings))
