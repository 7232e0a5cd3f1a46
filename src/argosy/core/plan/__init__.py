"""Sync planning (layer 1, pure): which tasks a sync runs, in which order, and a sans-I/O step machine.

``build_plan(desired, live, options)`` turns manifests (plain dicts) into a ``SyncPlan`` of frozen
``SyncTask`` objects ordered phase -> wave -> kind rank -> name, with Namespace/CRD bubbling, hooks
and prunes. ``SyncMachine`` walks a plan one (phase, wave) at a time: it is given what the shell
observed and returns the next actions. No I/O, no clock; the same inputs give the same outputs.

May import: ``argosy.model`` and sibling ``argosy.core`` modules.
"""

from __future__ import annotations

from argosy.core.plan.build import CLUSTER_SCOPED_KINDS, PlanError, PlanOptions, build_plan, crd_defines
from argosy.core.plan.machine import (
    Action,
    ActionKind,
    MachineState,
    Observation,
    OperationPhase,
    Outcome,
    Step,
    SyncMachine,
    TaskStatus,
)
from argosy.core.plan.ordering import KIND_ORDER, kind_rank, order_tasks, sort_key, sort_tasks
from argosy.core.plan.tasks import Operation, SyncPlan, SyncTask

__all__ = [
    "CLUSTER_SCOPED_KINDS",
    "KIND_ORDER",
    "Action",
    "ActionKind",
    "MachineState",
    "Observation",
    "Operation",
    "OperationPhase",
    "Outcome",
    "PlanError",
    "PlanOptions",
    "Step",
    "SyncMachine",
    "SyncPlan",
    "SyncTask",
    "TaskStatus",
    "build_plan",
    "crd_defines",
    "kind_rank",
    "order_tasks",
    "sort_key",
    "sort_tasks",
]
