"""The plan's data: one frozen ``SyncTask`` per thing the sync will do, and the ``SyncPlan`` holding them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from argosy.model.annotations import HookDeletePolicy, HookType, SyncOptions, SyncPhase
from argosy.model.resources import GroupKind, ResourceKey

__all__ = ["Operation", "SyncPlan", "SyncTask"]


class Operation(StrEnum):
    """What a task does to the cluster."""

    APPLY = "apply"
    """Create or update a desired resource."""
    CREATE_HOOK = "create-hook"
    """Create a hook object (deleting an old one first under BeforeHookCreation) and wait for it."""
    PRUNE = "prune"
    """Delete a live resource that is no longer desired."""
    PRUNE_SKIPPED = "prune-skipped"
    """A resource that would be pruned, but pruning is off or needs confirmation; nothing is done."""

    @property
    def is_prune(self) -> bool:
        return self in (Operation.PRUNE, Operation.PRUNE_SKIPPED)


@dataclass(frozen=True, slots=True)
class SyncTask:
    """One step of a sync: what to do to which resource, in which phase and wave, and why."""

    key: ResourceKey
    phase: SyncPhase
    wave: int
    operation: Operation
    reason: str = ""
    hook_type: HookType | None = None
    """For hooks, the hook type this task runs as (one task per phase a hook lists)."""
    delete_policies: tuple[HookDeletePolicy, ...] = ()
    generate_name: str = ""
    """For hooks named by ``metadata.generateName``: the prefix (``key.name`` is then empty)."""
    defines: GroupKind | None = None
    """For a CustomResourceDefinition: the group/kind it defines (CRs of it wait for it)."""
    options: SyncOptions = field(default_factory=SyncOptions)
    """Effective sync options for this resource (app level merged with its annotation)."""
    exists: bool = False
    """Whether a live object with this key exists."""
    needs_confirmation: bool = False
    """A ``Prune=confirm`` prune that waits (pending) until the app approves the deletion
    (``PlanOptions.defer_prune_confirmation``)."""
    manifest: Mapping[str, Any] | None = field(default=None, compare=False, hash=False, repr=False)
    """The desired manifest (the live one for prunes); not part of equality."""

    @property
    def is_hook(self) -> bool:
        return self.hook_type is not None

    @property
    def is_prune(self) -> bool:
        return self.operation.is_prune

    @property
    def display_name(self) -> str:
        return self.key.name or f"{self.generate_name}*"

    @property
    def task_id(self) -> str:
        """A stable id, unique within a plan: ``phase:operation:group/kind/namespace/name``."""
        key = self.key
        return f"{self.phase}:{self.operation}:{key.group}/{key.kind}/{key.namespace}/{self.display_name}"

    @property
    def ref(self) -> str:
        """Argo CD's short form used in messages: ``group/kind/name`` (``/Service/web`` for core)."""
        return f"{self.key.group}/{self.key.kind}/{self.display_name}"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view (without the manifest)."""
        return {
            "phase": str(self.phase),
            "wave": self.wave,
            "operation": str(self.operation),
            "group": self.key.group,
            "kind": self.key.kind,
            "namespace": self.key.namespace,
            "name": self.key.name,
            "generateName": self.generate_name,
            "hookType": str(self.hook_type) if self.hook_type else None,
            "deletePolicies": [str(p) for p in self.delete_policies],
            "reason": self.reason,
        }


@dataclass(frozen=True, slots=True)
class SyncPlan:
    """The ordered tasks of one sync, plus notes the planner wants a human to see."""

    tasks: tuple[SyncTask, ...]
    warnings: tuple[str, ...] = ()

    @property
    def sync_fail_tasks(self) -> tuple[SyncTask, ...]:
        return tuple(t for t in self.tasks if t.phase is SyncPhase.SYNC_FAIL)

    @property
    def main_tasks(self) -> tuple[SyncTask, ...]:
        """All tasks except the SyncFail hooks, which run only when the sync fails."""
        return tuple(t for t in self.tasks if t.phase is not SyncPhase.SYNC_FAIL)

    def groups(self) -> list[tuple[SyncPhase, int]]:
        """The (phase, wave) steps of the non-SyncFail tasks, in execution order."""
        seen: list[tuple[SyncPhase, int]] = []
        for task in self.main_tasks:
            if (task.phase, task.wave) not in seen:
                seen.append((task.phase, task.wave))
        return seen
