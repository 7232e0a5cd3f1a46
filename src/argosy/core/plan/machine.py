"""A sans-I/O sync state machine: it decides, the shell acts and reports back.

One tick of a sync is ``step(observed)`` -> execute the returned actions -> ``record(outcomes)``.
``step`` folds in what the shell observed (health of running tasks, pruned objects that are gone)
and returns the actions of the next (phase, wave); ``record`` folds in the results of executing
them. Both return a :class:`Step` with the operation phase and a message. State is an immutable,
serialisable :class:`MachineState`, so a sync can resume after a restart.

Rules (Argo CD's, see docs/sync.md): one (phase, wave) per tick, prunes first; hooks must complete
(Healthy = succeeded, Degraded = failed); in a multi-step sync an applied resource must become
Healthy and a pruned one must be gone before the next wave, except in the last wave, where a
successful apply or delete completes the task. Any failure runs the SyncFail hooks (deleting
HookFailed hooks) and then fails the operation; success deletes HookSucceeded hooks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum

from argosy.core.plan.tasks import Operation, SyncPlan, SyncTask
from argosy.model.annotations import HookDeletePolicy, SyncPhase

__all__ = [
    "Action",
    "ActionKind",
    "MachineState",
    "Observation",
    "OperationPhase",
    "Outcome",
    "Step",
    "SyncMachine",
    "TaskStatus",
]

HEALTHY = "Healthy"
DEGRADED = "Degraded"


class TaskStatus(StrEnum):
    PENDING = "Pending"
    IN_FLIGHT = "InFlight"
    """An action was handed to the shell; its outcome is not recorded yet."""
    RUNNING = "Running"
    """Done by the shell; waiting for health, hook completion or deletion."""
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    SKIPPED = "Skipped"


class OperationPhase(StrEnum):
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"

    @property
    def completed(self) -> bool:
        return self is not OperationPhase.RUNNING


class ActionKind(StrEnum):
    APPLY = "apply"
    PRUNE = "prune"
    CREATE_HOOK = "create-hook"
    DELETE_HOOK = "delete-hook"


@dataclass(frozen=True, slots=True)
class Action:
    """Something the shell must do. ``delete_existing``: delete the old hook object first."""

    kind: ActionKind
    task: SyncTask
    delete_existing: bool = False

    @property
    def task_id(self) -> str:
        return self.task.task_id


@dataclass(frozen=True, slots=True)
class Observation:
    """What the shell saw since the last tick, keyed by task id."""

    health: Mapping[str, str] = field(default_factory=dict)
    """Health status (``Healthy``, ``Progressing``, ``Degraded``...) of applied resources and hooks."""
    deleted: frozenset[str] = frozenset()
    """Pruned objects that no longer exist."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """The result of executing one action."""

    ok: bool
    message: str = ""


@dataclass(frozen=True, slots=True)
class Step:
    """The machine's answer for one call."""

    actions: tuple[Action, ...]
    phase: OperationPhase
    message: str
    wave: tuple[SyncPhase, int] | None = None
    """The (phase, wave) the actions belong to, when they run a wave."""
    final: bool = False
    """Whether ``wave`` is the last wave of the sync."""


@dataclass(frozen=True, slots=True)
class MachineState:
    """Serialisable progress: per-task status and message, and the operation's phase."""

    statuses: tuple[tuple[str, TaskStatus, str], ...]
    phase: OperationPhase = OperationPhase.RUNNING
    message: str = ""
    failing: bool = False
    """SyncFail hooks were started after a failure."""
    failure: str = ""

    @classmethod
    def start(cls, plan: SyncPlan) -> MachineState:
        return cls(statuses=tuple((t.task_id, TaskStatus.PENDING, "") for t in plan.tasks))

    def status_map(self) -> dict[str, tuple[TaskStatus, str]]:
        return {task_id: (status, message) for task_id, status, message in self.statuses}


class SyncMachine:
    """Drives one :class:`SyncPlan`. Holds only its plan and an immutable :class:`MachineState`."""

    def __init__(self, plan: SyncPlan, state: MachineState | None = None) -> None:
        self.plan = plan
        self.state = state or MachineState.start(plan)
        groups = plan.groups()
        self._last_group = groups[-1] if groups else None
        self._multi_step = len(groups) > 1 or any(t.is_hook for t in plan.tasks)

    # --- public ----------------------------------------------------------------------------------

    def step(self, observed: Observation | None = None) -> Step:
        """Fold in observations and return the next actions (empty while waiting or when done)."""
        if self.state.phase.completed:
            return Step((), self.state.phase, self.state.message)
        observed = observed or Observation()
        statuses = self.state.status_map()
        for task in self.plan.tasks:
            status, _ = statuses[task.task_id]
            if status is not TaskStatus.RUNNING:
                continue
            if task.is_prune:
                if task.task_id in observed.deleted:
                    statuses[task.task_id] = (TaskStatus.SUCCEEDED, "pruned")
                continue
            health = observed.health.get(task.task_id)
            if health == HEALTHY:
                note = "hook succeeded" if task.is_hook else "healthy"
                statuses[task.task_id] = (TaskStatus.SUCCEEDED, note)
            elif health == DEGRADED:
                statuses[task.task_id] = (TaskStatus.FAILED, f"{task.ref} is degraded")
        return self._decide(statuses)

    def record(self, outcomes: Mapping[str, Outcome]) -> Step:
        """Fold in the results of the last actions; may return clean-up or SyncFail actions."""
        statuses = self.state.status_map()
        for task in self.plan.tasks:
            status, _ = statuses[task.task_id]
            if status is not TaskStatus.IN_FLIGHT:
                continue
            outcome = outcomes.get(task.task_id, Outcome(ok=False, message="no result was reported"))
            if not outcome.ok:
                statuses[task.task_id] = (TaskStatus.FAILED, outcome.message or f"{task.operation} failed")
            elif task.is_hook:
                statuses[task.task_id] = (TaskStatus.RUNNING, outcome.message)
            elif self._completes_on_success(task):
                statuses[task.task_id] = (TaskStatus.SUCCEEDED, outcome.message or str(task.operation))
            else:
                statuses[task.task_id] = (TaskStatus.RUNNING, outcome.message)
        return self._decide(statuses, may_start_wave=False)

    def status_of(self, task: SyncTask) -> TaskStatus:
        return self.state.status_map()[task.task_id][0]

    # --- decisions -------------------------------------------------------------------------------

    def _completes_on_success(self, task: SyncTask) -> bool:
        return not self._multi_step or (task.phase, task.wave) == self._last_group

    def _save(
        self,
        statuses: Mapping[str, tuple[TaskStatus, str]],
        *,
        message: str,
        phase: OperationPhase | None = None,
        failure: str | None = None,
    ) -> None:
        rows = tuple((t.task_id, *statuses[t.task_id]) for t in self.plan.tasks)
        self.state = replace(
            self.state,
            statuses=rows,
            message=message,
            phase=phase or self.state.phase,
            failing=self.state.failing or failure is not None,
            failure=failure if failure is not None else self.state.failure,
        )

    def _finish(
        self, statuses: dict[str, tuple[TaskStatus, str]], phase: OperationPhase, message: str
    ) -> Step:
        wanted = {
            TaskStatus.SUCCEEDED: HookDeletePolicy.HOOK_SUCCEEDED,
            TaskStatus.FAILED: HookDeletePolicy.HOOK_FAILED,
        }
        actions = tuple(
            Action(ActionKind.DELETE_HOOK, t)
            for t in self.plan.tasks
            if t.is_hook
            and t.key.name
            and (policy := wanted.get(statuses[t.task_id][0])) is not None
            and policy in t.delete_policies
            # failed main-phase hooks were already deleted when the SyncFail hooks started
            and not (
                self.state.failing
                and policy is HookDeletePolicy.HOOK_FAILED
                and t.phase is not SyncPhase.SYNC_FAIL
            )
        )
        self._save(statuses, phase=phase, message=message)
        return Step(actions, phase, message)

    def _running(self, statuses: dict[str, tuple[TaskStatus, str]], message: str) -> Step:
        self._save(statuses, message=message)
        return Step((), OperationPhase.RUNNING, message)

    def _decide(self, statuses: dict[str, tuple[TaskStatus, str]], *, may_start_wave: bool = True) -> Step:
        tasks = self.plan.tasks
        in_flight = [t for t in tasks if statuses[t.task_id][0] is TaskStatus.IN_FLIGHT]
        if in_flight:
            return self._running(statuses, f"waiting for the result of {in_flight[0].ref}")
        running = [t for t in tasks if statuses[t.task_id][0] is TaskStatus.RUNNING]
        if self.state.failing:
            if running:
                return self._running(statuses, f"waiting for completion of SyncFail hook {running[0].ref}")
            return self._finish(statuses, OperationPhase.FAILED, self.state.failure)
        failed = [t for t in tasks if statuses[t.task_id][0] is TaskStatus.FAILED]
        if failed:
            return self._fail(statuses, failed)
        for task in running:
            if task.is_hook:
                return self._running(statuses, f"waiting for completion of hook {task.ref}")
        for task in running:
            if task.is_prune:
                return self._running(statuses, f"waiting for deletion of {task.ref}")
        if running:
            return self._running(statuses, f"waiting for healthy state of {running[0].ref}")
        while True:
            pending = [t for t in self.plan.main_tasks if statuses[t.task_id][0] is TaskStatus.PENDING]
            if not pending:
                for t in self.plan.sync_fail_tasks:
                    statuses[t.task_id] = (TaskStatus.SKIPPED, "the sync did not fail")
                return self._finish(statuses, OperationPhase.SUCCEEDED, "successfully synced (all tasks run)")
            if not may_start_wave:
                return self._running(statuses, "waiting for the next wave")
            group = (pending[0].phase, pending[0].wave)
            wave_tasks = [t for t in pending if (t.phase, t.wave) == group]
            actions = self._wave_actions(wave_tasks, statuses)
            if actions:
                message = f"running {group[0]} wave {group[1]} ({len(actions)} tasks)"
                self._save(statuses, message=message)
                return Step(tuple(actions), OperationPhase.RUNNING, message, group, group == self._last_group)

    def _wave_actions(
        self, wave_tasks: list[SyncTask], statuses: dict[str, tuple[TaskStatus, str]]
    ) -> list[Action]:
        prunes: list[Action] = []
        others: list[Action] = []
        for task in wave_tasks:
            if task.operation is Operation.PRUNE_SKIPPED:
                statuses[task.task_id] = (TaskStatus.SKIPPED, task.reason)
                continue
            statuses[task.task_id] = (TaskStatus.IN_FLIGHT, "")
            if task.operation is Operation.PRUNE:
                prunes.append(Action(ActionKind.PRUNE, task))
            elif task.operation is Operation.CREATE_HOOK:
                policies = task.delete_policies
                replace_old = bool(task.key.name) and HookDeletePolicy.BEFORE_HOOK_CREATION in policies
                others.append(Action(ActionKind.CREATE_HOOK, task, delete_existing=replace_old))
            else:
                others.append(Action(ActionKind.APPLY, task))
        return prunes + others

    def _fail(
        self,
        statuses: dict[str, tuple[TaskStatus, str]],
        failed: list[SyncTask],
    ) -> Step:
        details = "; ".join(f"{t.ref}: {statuses[t.task_id][1]}" for t in failed)
        failure = f"one or more synchronization tasks completed unsuccessfully: {details}"
        sync_fail = self.plan.sync_fail_tasks
        for task in self.plan.main_tasks:
            if statuses[task.task_id][0] is TaskStatus.PENDING:
                statuses[task.task_id] = (TaskStatus.SKIPPED, "not run: the sync failed")
        if not sync_fail:
            return self._finish(statuses, OperationPhase.FAILED, failure)
        cleanup = [
            Action(ActionKind.DELETE_HOOK, t)
            for t in failed
            if t.is_hook and t.key.name and HookDeletePolicy.HOOK_FAILED in t.delete_policies
        ]
        actions = cleanup + self._wave_actions(list(sync_fail), statuses)
        message = f"running SyncFail hooks after: {failure}"
        self._save(statuses, failure=failure, message=message)
        group = (SyncPhase.SYNC_FAIL, sync_fail[0].wave)
        return Step(tuple(actions), OperationPhase.RUNNING, message, group, True)
