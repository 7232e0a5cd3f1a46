"""The sync executor: runs a :class:`~argosy.core.plan.SyncMachine` against a cluster.

The core decides (``build_plan`` orders the tasks, ``SyncMachine`` says which (phase, wave) runs
next and when it is done); this module acts through the :class:`~argosy.ports.kube.Kube` port:

1. **Dry run** of every main-phase task before the first write: a server-side apply with
   ``dryRun=All`` for resources, a create dry-run for hooks. Any failure fails the operation with
   per-resource messages and nothing is written. Tasks whose kind is not served are skipped when
   ``SkipDryRunOnMissingResource=true`` or when a CRD in the same sync defines the kind; tasks in
   a namespace that a Namespace task of the same sync creates are skipped too.
2. **Waves**, one (phase, wave) at a time, with ``wave_delay`` seconds between waves (2 s, like
   ``ARGOCD_SYNC_WAVE_DELAY``). Within a wave: prunes first, then hook creations and applies,
   grouped by consecutive kind and run ``concurrency`` at a time inside a group.
3. **Waiting**: hooks until their health is Healthy (succeeded) or Degraded (failed), applied
   resources of a multi-step sync until Healthy, prunes until the object is gone.
4. **Finish**: delete policies (HookSucceeded / HookFailed, also for ``generateName`` hooks),
   SyncFail hooks after a failure.

Writes: server-side apply with field manager ``argosy-controller`` (``SyncSettings.field_manager``)
and ``force`` (conflicts are taken over, as Argo CD's ``--force-conflicts``); ``Replace=true``
uses PUT (create when missing); ``Force`` re-creates (delete, wait until gone, create) an object
whose apply fails on an immutable field, and always with ``Replace=true``. Force is read from the
resource annotation, the sync flag (``SyncSettings.force``) and, unlike Argo CD, from app-level
``syncOptions`` (``SyncSettings.app_sync_options`` with ``honour_app_force``; a warning is logged).

Results are data (:class:`SyncResult`): per-resource status and message, the ordered list of
:class:`SyncEvent` and the operation phase. :meth:`SyncExecutor.save_state` /
:meth:`SyncExecutor.load_state` serialise the progress as JSON so a restarted controller resumes
without re-running finished hooks. See docs/engine.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Literal

from argosy.core.diff import (
    IgnoreRule,
    matching_rules,
    plain_copy,
    respect_ignore_differences,
    three_way_merge_patch,
)
from argosy.core.health import HealthOverrides, assess
from argosy.core.plan import (
    Action,
    ActionKind,
    MachineState,
    Observation,
    OperationPhase,
    Outcome,
    Step,
    SyncMachine,
    SyncPlan,
    SyncTask,
    TaskStatus,
)
from argosy.core.plan.tasks import Operation
from argosy.model.annotations import (
    ANNOTATION_DELETION_APPROVED,
    ANNOTATION_KUBECTL_LAST_APPLIED,
    ANNOTATION_TRACKING_ID,
    HookDeletePolicy,
    PropagationPolicy,
    SyncOptions,
    SyncPhase,
)
from argosy.model.health import HealthStatus
from argosy.model.resources import ResourceKey
from argosy.ports.kube import Kube, KubePropagation, is_already_exists, is_invalid, is_not_found

__all__ = [
    "ARGOCD_FIELD_MANAGER",
    "FIELD_MANAGER",
    "OPERATION_TERMINATED",
    "SHARED_RESOURCE_FOUND",
    "STATE_VERSION",
    "TERMINATION_ERRORS",
    "PriorDryRun",
    "ResourceResult",
    "SyncEvent",
    "SyncExecutor",
    "SyncResult",
    "SyncSettings",
    "SyncTimeout",
    "deletion_approved",
    "dry_run_fingerprint",
    "prepare_manifest",
    "tracked_by",
    "tracking_id",
]

log = logging.getLogger(__name__)

FIELD_MANAGER = "argosy-controller"
ARGOCD_FIELD_MANAGER = "argocd-controller"
"""Argo CD's server-side apply field manager; pass it in ``take_over_managers`` to migrate."""
STATE_VERSION = 1
OPERATION_TERMINATED = "Operation terminated"
"""Argo CD's message for an operation stopped with ``status.operationState.phase: Terminating``."""
TERMINATION_ERRORS = "Operation termination had errors"
DRY_RUN_FAILED = "one or more objects failed to apply (dry run)"
SHARED_RESOURCE_FOUND = "Shared resource found"
APPLICATION_API_VERSION = "argoproj.io/v1alpha1"

_PROPAGATION: dict[PropagationPolicy, KubePropagation] = {
    PropagationPolicy.FOREGROUND: "Foreground",
    PropagationPolicy.BACKGROUND: "Background",
    PropagationPolicy.ORPHAN: "Orphan",
}


class SyncTimeout(TimeoutError):
    """The operation did not finish within ``SyncSettings.timeout``."""


def tracking_id(app_name: str, key: ResourceKey) -> str:
    """Argo CD's annotation tracking value: ``<app>:<group>/<kind>:<namespace>/<name>``."""
    return f"{app_name}:{key.group}/{key.kind}:{key.namespace}/{key.name}"


def prepare_manifest(manifest: Mapping[str, Any], key: ResourceKey, app_name: str = "") -> dict[str, Any]:
    """A copy of ``manifest`` as it is written: the key's namespace filled in, and the tracking-id
    annotation set when ``app_name`` is given (not for ``generateName`` objects, whose name is
    not known yet)."""
    obj: dict[str, Any] = plain_copy(manifest)
    metadata = obj.setdefault("metadata", {})
    if key.namespace and not metadata.get("namespace"):
        metadata["namespace"] = key.namespace
    if app_name and key.name:
        annotations = dict(metadata.get("annotations") or {})
        annotations[ANNOTATION_TRACKING_ID] = tracking_id(app_name, key)
        metadata["annotations"] = annotations
    return obj


def tracked_by(obj: Mapping[str, Any] | None) -> str:
    """The application named by an object's tracking-id annotation ("" when untracked)."""
    annotations = ((obj or {}).get("metadata") or {}).get("annotations") or {}
    raw = str(annotations.get(ANNOTATION_TRACKING_ID) or "")
    app, sep, _rest = raw.partition(":")
    return app if sep else ""


def dry_run_fingerprint(obj: Mapping[str, Any], field_manager: str, validate: bool | None = None) -> str:
    """Identifies the exact server-side apply dry run of ``obj`` (for :class:`PriorDryRun`)."""
    text = json.dumps([obj, field_manager, validate], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _parse_time(text: str) -> datetime | None:
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def deletion_approved(app: Mapping[str, Any] | None, operation_started: datetime) -> bool:
    """Whether ``argocd.argoproj.io/deletion-approved`` on the Application is an RFC 3339 time
    after the operation started (approvals given before this operation do not count)."""
    annotations = ((app or {}).get("metadata") or {}).get("annotations") or {}
    approved = _parse_time(str(annotations.get(ANNOTATION_DELETION_APPROVED) or ""))
    started = operation_started if operation_started.tzinfo else operation_started.replace(tzinfo=UTC)
    return approved is not None and approved >= started


@dataclass(frozen=True, slots=True)
class PriorDryRun:
    """A server-side apply dry run that this operation already made, e.g. by ``compare_app``.

    The executor skips its own dry run of a task whose prepared object has the same
    ``fingerprint`` (:func:`dry_run_fingerprint`): the server already accepted exactly that
    object. With ``ApplyOutOfSyncOnly=true`` a task whose prior dry run found it ``in_sync`` is
    not written at all."""

    fingerprint: str
    in_sync: bool = False


@dataclass(frozen=True, slots=True)
class SyncSettings:
    """How to execute one sync. The defaults follow Argo CD except where noted."""

    app_name: str = ""
    """Sets ``argocd.argoproj.io/tracking-id`` on every applied object when not empty."""
    field_manager: str = FIELD_MANAGER
    take_over_managers: tuple[str, ...] = ()
    """After each apply, remove these managers' managedFields entries (e.g. ``argocd-controller``),
    so fields they co-own and Git no longer sets are really removed. See docs/engine.md."""
    force: bool = False
    """The sync operation's force flag (``argocd app sync --force``)."""
    app_sync_options: SyncOptions = field(default_factory=SyncOptions)
    """App-level ``syncOptions``; only ``Force`` is read here (the plan already merged the rest)."""
    honour_app_force: bool = True
    """Read ``Force=true`` from app-level syncOptions (spec §5.1 development profile). Argo CD
    ignores it there; set False for Argo CD's behaviour."""
    wave_delay: float = 2.0
    """Seconds to wait before each wave after the first (``ARGOCD_SYNC_WAVE_DELAY``)."""
    poll_interval: float = 0.5
    """Seconds between health polls while waiting."""
    concurrency: int = 32
    """Parallel writes within a group of consecutive same-kind tasks."""
    timeout: float | None = None
    """Fail with :class:`SyncTimeout` after this many seconds (None: no timeout, as Argo CD)."""
    dry_run: bool = True
    """Dry-run every task before the first write."""
    create_namespace: str = ""
    """``CreateNamespace=true``: create this namespace (the destination) first if missing."""
    health_overrides: HealthOverrides | None = None
    ignore_rules: tuple[IgnoreRule, ...] = ()
    """App and system ignoreDifferences; used for ``RespectIgnoreDifferences=true``."""
    resources: frozenset[ResourceKey] | None = None
    """Selective sync: only these resources are synced or pruned, and no hook runs (the
    executor filters the plan, whatever ``PlanOptions.resources`` the plan was built with)."""
    app_namespace: str = ""
    """Namespace of the Application ``app_name``; read for ``deletion-approved`` (Prune=confirm)."""
    operation_started_at: datetime | None = None
    """When the operation started (default: when the executor was created). A deletion approval
    must be later than this."""
    wait_for_prune_confirmation: bool = True
    """While a ``Prune=confirm`` prune waits for approval: keep polling (True; bounded by
    ``timeout``), or return a Running result at once so the caller resumes later (False)."""
    dry_run_concurrency: int | None = None
    """Parallel dry runs (default: ``concurrency``). They are independent of each other."""
    dry_run_mode: Literal["server", "client"] = "server"
    """``server``: a server-side dry run of every task (also catches admission and validation
    errors). ``client``: Argo CD's client-side dry run, which only checks that the manifest's
    type is served (and namespaced objects have a namespace): no request per object."""


@dataclass(frozen=True, slots=True)
class SyncEvent:
    """One thing the executor did, in order: ``apply``, ``replace``, ``create``, ``recreate``,
    ``hook-created``, ``hook-exists``, ``hook-deleted``, ``pruned``, ``took-over``,
    ``namespace-created``, ``wave-start``, ``dry-run-failed``."""

    kind: str
    key: str
    phase: str = ""
    wave: int = 0
    detail: str = ""

    def as_tuple(self) -> tuple[str, str, str, int]:
        return (self.kind, self.key, self.phase, self.wave)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "key": self.key,
            "phase": self.phase,
            "wave": self.wave,
            "detail": self.detail,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SyncEvent:
        return cls(
            kind=str(data["kind"]),
            key=str(data["key"]),
            phase=str(data.get("phase", "")),
            wave=int(data.get("wave", 0)),
            detail=str(data.get("detail", "")),
        )


@dataclass(frozen=True, slots=True)
class ResourceResult:
    """The outcome of one task. ``code`` is Argo CD's result code: Synced, SyncFailed, Pruned,
    PruneSkipped, or Skipped for tasks that never ran; ``hook_phase`` is set for hooks."""

    key: ResourceKey
    task_id: str
    phase: SyncPhase
    wave: int
    operation: Operation
    status: TaskStatus
    code: str
    message: str
    hook_phase: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key.format(),
            "taskId": self.task_id,
            "syncPhase": str(self.phase),
            "wave": self.wave,
            "operation": str(self.operation),
            "status": str(self.status),
            "code": self.code,
            "message": self.message,
            "hookPhase": self.hook_phase,
        }


@dataclass(frozen=True, slots=True)
class SyncResult:
    phase: OperationPhase
    message: str
    resources: tuple[ResourceResult, ...]
    events: tuple[SyncEvent, ...]
    warnings: tuple[str, ...] = ()

    @property
    def completed(self) -> bool:
        return self.phase.completed

    def resource(self, kind: str, name: str) -> ResourceResult:
        """The first result for ``kind``/``name`` (for ``generateName`` hooks: the name created)."""
        for res in self.resources:
            if res.key.kind == kind and res.key.name == name:
                return res
        raise KeyError(f"{kind}/{name}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "phase": str(self.phase),
            "message": self.message,
            "resources": [r.to_dict() for r in self.resources],
            "events": [e.to_dict() for e in self.events],
            "warnings": list(self.warnings),
        }


def _machine_state_to_dict(state: MachineState) -> dict[str, Any]:
    return {
        "statuses": [[task_id, str(status), message] for task_id, status, message in state.statuses],
        "phase": str(state.phase),
        "message": state.message,
        "failing": state.failing,
        "failure": state.failure,
    }


def _machine_state_from_dict(data: Mapping[str, Any], plan: SyncPlan) -> MachineState:
    saved = {str(row[0]): (TaskStatus(row[1]), str(row[2])) for row in data["statuses"]}
    rows: list[tuple[str, TaskStatus, str]] = []
    for task in plan.tasks:
        status, message = saved.get(task.task_id, (TaskStatus.PENDING, ""))
        if status is TaskStatus.IN_FLIGHT:
            # The action may or may not have happened: applies and deletes are safe to repeat, and
            # a named hook that already exists is picked up (see _create_hook).
            status, message = TaskStatus.PENDING, ""
        rows.append((task.task_id, status, message))
    return MachineState(
        statuses=tuple(rows),
        phase=OperationPhase(data.get("phase", OperationPhase.RUNNING)),
        message=str(data.get("message", "")),
        failing=bool(data.get("failing", False)),
        failure=str(data.get("failure", "")),
    )


def _merge_fields(a: Mapping[str, Any], b: Mapping[str, Any]) -> dict[str, Any]:
    """The union of two managedFields ``fieldsV1`` tries."""
    out = dict(a)
    for key, value in b.items():
        if key in out and isinstance(out[key], Mapping) and isinstance(value, Mapping):
            out[key] = _merge_fields(out[key], value)
        else:
            out.setdefault(key, value)
    return out


def _api_version(task: SyncTask) -> str:
    return str((task.manifest or {}).get("apiVersion") or "")


class SyncExecutor:
    """Executes one sync plan. ``await run()`` drives it to completion (or ``max_waves`` waves)."""

    def __init__(
        self,
        kube: Kube,
        plan: SyncPlan,
        settings: SyncSettings | None = None,
        *,
        state: str | Mapping[str, Any] | None = None,
        prior_dry_runs: Mapping[ResourceKey, PriorDryRun] | None = None,
    ) -> None:
        self.kube = kube
        self.settings = settings or SyncSettings()
        if self.settings.resources is not None:
            selected = self.settings.resources
            plan = SyncPlan(
                tasks=tuple(t for t in plan.tasks if not t.is_hook and t.key in selected),
                warnings=plan.warnings,
            )
        self.plan = plan
        self.machine = SyncMachine(plan)
        self._prior: Mapping[ResourceKey, PriorDryRun] = prior_dry_runs or {}
        self._live: dict[str, dict[str, Any] | None] = {}
        self._prune_confirmed = False
        self._started_at = self.settings.operation_started_at or datetime.now(UTC)
        self._tasks = {t.task_id: t for t in plan.tasks}
        self._events: list[SyncEvent] = []
        self._hook_names: dict[str, str] = {}
        self._messages: dict[str, str] = {}
        self._dry_run_done = False
        self._waves_started = 0
        self._warnings: list[str] = list(plan.warnings)
        self._semaphore = asyncio.Semaphore(max(1, self.settings.concurrency))
        self._stop = asyncio.Event()
        if state is not None:
            self.load_state(state)
        if self.settings.honour_app_force and self.settings.app_sync_options.force:
            note = (
                "Force=true in the app-level syncOptions is honoured (spec development profile); "
                "Argo CD reads Force only from resource annotations and the sync operation"
            )
            log.warning("%s: %s", self.settings.app_name or "sync", note)
            self._warnings.append(note)

    # --- state -----------------------------------------------------------------------------------

    def save_state(self) -> str:
        """The executor's progress as JSON (no manifests, so no Secret values)."""
        return json.dumps(
            {
                "version": STATE_VERSION,
                "machine": _machine_state_to_dict(self.machine.state),
                "dryRunDone": self._dry_run_done,
                "hookNames": self._hook_names,
                "messages": self._messages,
                "wavesStarted": self._waves_started,
                "events": [e.to_dict() for e in self._events],
                "pruneConfirmed": self._prune_confirmed,
                "startedAt": self._started_at.isoformat(),
            },
            sort_keys=True,
        )

    def load_state(self, state: str | Mapping[str, Any]) -> None:
        """Resume from :meth:`save_state`. The plan must be rebuilt from the same manifests: tasks
        are matched by ``task_id``; tasks the saved state does not know start as Pending."""
        data = json.loads(state) if isinstance(state, str) else state
        if data.get("version") != STATE_VERSION:
            raise ValueError(f"unsupported sync state version {data.get('version')!r}")
        self.machine = SyncMachine(self.plan, _machine_state_from_dict(data["machine"], self.plan))
        self._dry_run_done = bool(data.get("dryRunDone", False))
        self._hook_names = {str(k): str(v) for k, v in (data.get("hookNames") or {}).items()}
        self._messages = {str(k): str(v) for k, v in (data.get("messages") or {}).items()}
        self._waves_started = int(data.get("wavesStarted", 0))
        self._events = [SyncEvent.from_dict(e) for e in data.get("events") or []]
        self._prune_confirmed = bool(data.get("pruneConfirmed", False))
        started = _parse_time(str(data.get("startedAt") or ""))
        if started is not None and self.settings.operation_started_at is None:
            self._started_at = started

    # --- results ---------------------------------------------------------------------------------

    @property
    def events(self) -> tuple[SyncEvent, ...]:
        return tuple(self._events)

    def result(self) -> SyncResult:
        state = self.machine.state
        statuses = state.status_map()
        results: list[ResourceResult] = []
        for task in self.plan.tasks:
            status, message = statuses[task.task_id]
            message = self._messages.get(task.task_id) or message
            key = task.key
            if task.is_hook and not key.name and task.task_id in self._hook_names:
                key = replace(key, name=self._hook_names[task.task_id])
            results.append(
                ResourceResult(
                    key=key,
                    task_id=task.task_id,
                    phase=task.phase,
                    wave=task.wave,
                    operation=task.operation,
                    status=status,
                    code=self._code(task, status),
                    message=message,
                    hook_phase=str(status) if task.is_hook else "",
                )
            )
        return SyncResult(
            phase=state.phase,
            message=state.message,
            resources=tuple(results),
            events=tuple(self._events),
            warnings=tuple(self._warnings),
        )

    @staticmethod
    def _code(task: SyncTask, status: TaskStatus) -> str:
        if task.operation is Operation.PRUNE_SKIPPED:
            return "PruneSkipped"
        if status is TaskStatus.FAILED:
            return "SyncFailed"
        if status in (TaskStatus.PENDING, TaskStatus.SKIPPED):
            return "Skipped"
        return "Pruned" if task.is_prune else "Synced"

    # --- driving ---------------------------------------------------------------------------------

    async def run(self, *, max_waves: int | None = None) -> SyncResult:
        """Run until the operation completes, or stop before starting wave number ``max_waves + 1``
        (counted over the executor's life, across resumes) and return a Running result."""
        started = time.monotonic()
        settings = self.settings
        if self._stop.is_set():
            return self.result()
        if not self._dry_run_done:
            await self._read_live()
            shared = self._shared_resources()
            if shared:
                self._fail_before_start(
                    f"{SHARED_RESOURCE_FOUND}: " + ", ".join(shared), "not run: a resource is shared"
                )
                self._dry_run_done = True
                return self.result()
            if settings.create_namespace:
                await self._ensure_namespace(settings.create_namespace)
            if settings.dry_run and not await self._dry_run():
                self._dry_run_done = True
                return self.result()
            self._dry_run_done = True
        elif not self._live:
            await self._read_live()
        observation: Observation | None = None
        while True:
            if self._stop.is_set():
                return self.result()
            if settings.timeout is not None and time.monotonic() - started > settings.timeout:
                raise SyncTimeout(
                    f"sync did not finish within {settings.timeout}s: {self.machine.state.message}"
                )
            before = self.machine.state
            step = self.machine.step(observation)
            if self._starts_wave(step) and max_waves is not None and self._waves_started >= max_waves:
                self.machine.state = before  # undo: the wave is left for the next run
                return self.result()
            unconfirmed = [
                a.task for a in step.actions if a.kind is ActionKind.PRUNE and a.task.needs_confirmation
            ]
            if unconfirmed and not self._prune_confirmed:
                self._prune_confirmed = await self._deletion_approved()
            if unconfirmed and not self._prune_confirmed:
                # Pending: the wave does not start until the app approves the deletion.
                more = f" and {len(unconfirmed) - 1} more resources" if len(unconfirmed) > 1 else ""
                message = f"Waiting for pruning confirmation of {unconfirmed[0].ref}{more}"
                self.machine.state = replace(before, message=message)
                if not settings.wait_for_prune_confirmation:
                    return self.result()
                await self._pause(max(settings.poll_interval, 0.05))
                continue
            await self._play(step, max_waves)
            if self.machine.state.phase.completed:
                return self.result()
            if max_waves is not None and self._waves_started > max_waves:  # pragma: no cover - guard
                return self.result()
            if await self._pause(settings.poll_interval):
                return self.result()
            observation = await self._observe()

    @staticmethod
    def _starts_wave(step: Step) -> bool:
        return step.wave is not None and any(
            a.kind in (ActionKind.APPLY, ActionKind.PRUNE, ActionKind.CREATE_HOOK) for a in step.actions
        )

    async def _pause(self, seconds: float) -> bool:
        """Sleep ``seconds``, or less when termination is requested; True when it was."""
        if not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=max(0.0, seconds))
        return self._stop.is_set()

    # --- termination -----------------------------------------------------------------------------

    def request_termination(self) -> None:
        """Stop :meth:`run` at the next point between steps (before a wave, a group of writes or
        a health poll); it returns a Running result. Then call :meth:`terminate`."""
        self._stop.set()

    @property
    def termination_requested(self) -> bool:
        return self._stop.is_set()

    async def terminate(self) -> tuple[bool, SyncResult]:
        """End the operation as Argo CD's ``syncContext.Terminate``: every hook still running is
        deleted (result "Deleted"), tasks not started are skipped, and the operation fails with
        "Operation terminated". Returns False with the result when a hook could not be deleted
        (Argo CD's phase Error, "Operation termination had errors")."""
        self._stop.set()
        statuses = self.machine.state.status_map()
        ok = True
        new: list[tuple[str, TaskStatus, str]] = []
        for task in self.plan.tasks:
            status, message = statuses[task.task_id]
            if status in (TaskStatus.PENDING, TaskStatus.IN_FLIGHT):
                new.append((task.task_id, TaskStatus.SKIPPED, "not run: the operation was terminated"))
                self._messages.pop(task.task_id, None)
                continue
            if status is TaskStatus.RUNNING and task.is_hook and not task.is_prune and self._name(task):
                name = self._name(task)
                try:
                    await self.kube.delete(
                        _api_version(task),
                        task.key.kind,
                        name,
                        task.key.namespace or None,
                        propagation_policy="Background",
                    )
                except Exception as exc:
                    if not is_not_found(exc):
                        ok = False
                        new.append((task.task_id, TaskStatus.FAILED, f"Failed to delete: {exc}"))
                        self._messages[task.task_id] = f"Failed to delete: {exc}"
                        continue
                self._events.append(self._event("hook-deleted", task, detail="Terminated", name=name))
                self._messages[task.task_id] = "Deleted"
                new.append((task.task_id, TaskStatus.SUCCEEDED, "Deleted"))
                continue
            new.append((task.task_id, status, message))
        message = OPERATION_TERMINATED if ok else TERMINATION_ERRORS
        self.machine.state = replace(
            self.machine.state,
            statuses=tuple(new),
            phase=OperationPhase.FAILED,
            message=message,
            failure=message,
        )
        return ok, self.result()

    async def _play(self, step: Step, max_waves: int | None) -> None:
        """Execute a step's actions and every follow-up step ``record`` returns."""
        while step.actions:
            if self._starts_wave(step) and self._waves_started > 0 and self.settings.wave_delay > 0:
                await self._pause(self.settings.wave_delay)
            if self._stop.is_set():
                return  # terminated: this step is not run (its tasks stay in flight; see terminate)
            if self._starts_wave(step):
                self._waves_started += 1
                if step.wave is not None:
                    phase, wave = step.wave
                    self._events.append(SyncEvent("wave-start", "", str(phase), wave))
            completed = step.phase.completed
            outcomes = await self._execute(step.actions)
            if completed:
                break
            step = self.machine.record(outcomes)
        if self.machine.state.phase.completed:
            await self._finish_generated_hooks()

    # --- observing -------------------------------------------------------------------------------

    async def _observe(self) -> Observation:
        statuses = self.machine.state.status_map()
        running = [t for t in self.plan.tasks if statuses[t.task_id][0] is TaskStatus.RUNNING]
        health: dict[str, str] = {}
        deleted: set[str] = set()

        async def look(task: SyncTask) -> None:
            name = self._name(task)
            try:
                async with self._semaphore:
                    live = await self.kube.get(
                        _api_version(task), task.key.kind, name, task.key.namespace or None
                    )
            except Exception as exc:
                if not is_not_found(exc):
                    self._messages[task.task_id] = f"cannot read {task.ref}: {exc}"
                    return
                if task.is_prune:
                    deleted.add(task.task_id)
                elif task.is_hook:
                    health[task.task_id] = str(HealthStatus.DEGRADED)
                    self._messages[task.task_id] = "the hook object was deleted before it completed"
                else:
                    health[task.task_id] = str(HealthStatus.MISSING)
                return
            if task.is_prune:
                return
            result = assess(live, overrides=self.settings.health_overrides)
            if result is None:
                health[task.task_id] = str(HealthStatus.HEALTHY)
                return
            health[task.task_id] = str(result.status)
            if result.message and result.status is not HealthStatus.HEALTHY:
                self._messages[task.task_id] = result.message
            elif result.status is HealthStatus.HEALTHY:
                self._messages.pop(task.task_id, None)

        await asyncio.gather(*(look(t) for t in running))
        return Observation(health=health, deleted=frozenset(deleted))

    # --- executing -------------------------------------------------------------------------------

    async def _execute(self, actions: Sequence[Action]) -> dict[str, Outcome]:
        outcomes: dict[str, Outcome] = {}
        prunes = [a for a in actions if a.kind is ActionKind.PRUNE]
        deletes = [a for a in actions if a.kind is ActionKind.DELETE_HOOK]
        others = [a for a in actions if a.kind in (ActionKind.APPLY, ActionKind.CREATE_HOOK)]
        for group in (
            ([prunes] if prunes else []) + ([deletes] if deletes else []) + self._kind_groups(others)
        ):
            await self._run_group(group, outcomes)
        return outcomes

    @staticmethod
    def _kind_groups(actions: Sequence[Action]) -> list[list[Action]]:
        groups: list[list[Action]] = []
        for action in actions:
            gk = action.task.key.group_kind
            if groups and groups[-1][0].task.key.group_kind == gk:
                groups[-1].append(action)
            else:
                groups.append([action])
        return groups

    async def _run_group(self, group: Sequence[Action], outcomes: dict[str, Outcome]) -> None:
        handlers: dict[ActionKind, Callable[[Action], Awaitable[tuple[Outcome, list[SyncEvent]]]]] = {
            ActionKind.APPLY: self._apply,
            ActionKind.PRUNE: self._prune,
            ActionKind.CREATE_HOOK: self._create_hook,
            ActionKind.DELETE_HOOK: self._delete_hook,
        }

        async def one(action: Action) -> tuple[Outcome, list[SyncEvent]]:
            async with self._semaphore:
                try:
                    return await handlers[action.kind](action)
                except Exception as exc:
                    return Outcome(ok=False, message=str(exc)), []

        results = await asyncio.gather(*(one(a) for a in group))
        for action, (outcome, events) in zip(group, results, strict=True):
            if action.kind is not ActionKind.DELETE_HOOK:
                outcomes[action.task_id] = outcome
                if not outcome.ok:
                    self._messages[action.task_id] = outcome.message
            self._events.extend(events)

    # --- helpers ---------------------------------------------------------------------------------

    def _name(self, task: SyncTask) -> str:
        return task.key.name or self._hook_names.get(task.task_id, "")

    def _event(self, kind: str, task: SyncTask, detail: str = "", name: str | None = None) -> SyncEvent:
        key = replace(task.key, name=name) if name is not None else task.key
        return SyncEvent(kind, key.format(), str(task.phase), task.wave, detail)

    def _prepare(self, task: SyncTask) -> dict[str, Any]:
        obj = prepare_manifest(task.manifest or {}, task.key, self.settings.app_name)
        live = self._live.get(task.task_id)
        if live is not None and self._respects_ignore(task):
            # RespectIgnoreDifferences=true: ignored fields keep their live values. Only when the
            # live object exists (Argo CD: the option does nothing for creations).
            obj = respect_ignore_differences(obj, live, self.settings.ignore_rules)
        return obj

    def _respects_ignore(self, task: SyncTask) -> bool:
        return bool(
            task.options.respect_ignore_differences
            and not task.is_hook
            and matching_rules(task.key, self.settings.ignore_rules)
        )

    def _needs_live(self, task: SyncTask) -> bool:
        if task.operation is not Operation.APPLY or task.task_id in self._live:
            return False
        return bool(task.options.fail_on_shared_resource) or self._respects_ignore(task)

    async def _read_live(self) -> None:
        """Read the live objects that sync options need before the dry run: for
        ``FailOnSharedResource`` and ``RespectIgnoreDifferences`` (once per operation)."""
        tasks = [t for t in self.plan.main_tasks if self._needs_live(t)]

        async def one(task: SyncTask) -> None:
            try:
                async with self._semaphore:
                    live = await self.kube.get(
                        _api_version(task), task.key.kind, task.key.name, task.key.namespace or None
                    )
            except Exception as exc:
                if not is_not_found(exc):
                    raise
                live = None
            self._live[task.task_id] = live

        await asyncio.gather(*(one(t) for t in tasks))

    def _shared_resources(self) -> list[str]:
        """``FailOnSharedResource=true``: resources whose live object another app tracks."""
        out: list[str] = []
        for task in self.plan.main_tasks:
            if task.operation is not Operation.APPLY or not task.options.fail_on_shared_resource:
                continue
            owner = tracked_by(self._live.get(task.task_id))
            if owner and owner != self.settings.app_name:
                out.append(f"{task.key.kind}/{task.key.name} (tracked by application {owner})")
        return out

    def _fail_before_start(self, message: str, skipped: str) -> None:
        self.machine.state = MachineState(
            statuses=tuple((t.task_id, TaskStatus.SKIPPED, skipped) for t in self.plan.tasks),
            phase=OperationPhase.FAILED,
            message=message,
            failure=message,
        )

    async def _deletion_approved(self) -> bool:
        settings = self.settings
        if not (settings.app_name and settings.app_namespace):
            return False
        try:
            app = await self.kube.get(
                APPLICATION_API_VERSION, "Application", settings.app_name, settings.app_namespace
            )
        except Exception as exc:
            log.warning("%s: cannot read the Application for deletion approval: %s", settings.app_name, exc)
            return False
        return deletion_approved(app, self._started_at)

    def _forced(self, task: SyncTask) -> bool:
        settings = self.settings
        return bool(
            task.options.force
            or settings.force
            or (settings.honour_app_force and settings.app_sync_options.force)
        )

    async def _wait_gone(self, api_version: str, kind: str, name: str, namespace: str | None) -> None:
        deadline = time.monotonic() + 120.0
        while time.monotonic() < deadline:
            try:
                await self.kube.get(api_version, kind, name, namespace)
            except Exception as exc:
                if is_not_found(exc):
                    return
                raise
            await asyncio.sleep(0.1)
        raise SyncTimeout(f"{kind}/{name} was not deleted within 120s")

    async def _delete_and_wait(
        self, api_version: str, kind: str, name: str, namespace: str | None, propagation: KubePropagation
    ) -> bool:
        """Delete an object and wait until it is gone; False when it did not exist."""
        try:
            await self.kube.delete(api_version, kind, name, namespace, propagation_policy=propagation)
        except Exception as exc:
            if is_not_found(exc):
                return False
            raise
        await self._wait_gone(api_version, kind, name, namespace)
        return True

    async def _recreate(self, obj: dict[str, Any], task: SyncTask) -> dict[str, Any]:
        metadata = obj.get("metadata") or {}
        metadata.pop("resourceVersion", None)
        await self._delete_and_wait(
            _api_version(task), task.key.kind, task.key.name, task.key.namespace or None, "Foreground"
        )
        return await self.kube.create(obj, field_manager=self.settings.field_manager)

    # --- actions ---------------------------------------------------------------------------------

    async def _apply(self, action: Action) -> tuple[Outcome, list[SyncEvent]]:
        task = action.task
        obj = self._prepare(task)
        options = task.options
        forced = self._forced(task)
        manager = self.settings.field_manager
        namespace = task.key.namespace or None
        events: list[SyncEvent] = []
        if options.replace:
            if forced:
                await self._recreate(obj, task)
                return Outcome(ok=True, message="re-created (Replace=true, Force=true)"), [
                    self._event("recreate", task)
                ]
            try:
                live = await self.kube.get(_api_version(task), task.key.kind, task.key.name, namespace)
            except Exception as exc:
                if not is_not_found(exc):
                    raise
                await self.kube.create(obj, field_manager=manager)
                return Outcome(ok=True, message="created (Replace=true)"), [self._event("create", task)]
            obj["metadata"]["resourceVersion"] = (live.get("metadata") or {}).get("resourceVersion")
            await self.kube.replace(obj, field_manager=manager)
            return Outcome(ok=True, message="replaced"), [self._event("replace", task)]
        validate = False if options.validate is False else None
        prior = self._prior.get(task.key)
        if (
            options.apply_out_of_sync_only
            and prior is not None
            and prior.in_sync
            and prior.fingerprint == dry_run_fingerprint(obj, manager, validate)
        ):
            return Outcome(ok=True, message="already in sync (ApplyOutOfSyncOnly)"), [
                self._event("skipped-in-sync", task)
            ]
        if options.server_side_apply is False:
            return await self._client_side_apply(task, obj, forced)
        if self.settings.take_over_managers:
            taken = await self._take_over(task)
            if taken:
                events.append(self._event("took-over", task, detail=",".join(taken)))
        try:
            await self.kube.apply(obj, field_manager=manager, force=True, validate=validate)
            events.append(self._event("apply", task))
            message = "applied (server-side)"
        except Exception as exc:
            if not (forced and is_invalid(exc)):
                raise
            await self._recreate(obj, task)
            events.append(self._event("recreate", task, detail=str(exc)))
            message = "re-created (Force=true) after: " + str(exc)
        return Outcome(ok=True, message=message), events

    async def _client_side_apply(
        self, task: SyncTask, obj: dict[str, Any], forced: bool, *, dry_run: bool = False
    ) -> tuple[Outcome, list[SyncEvent]]:
        """``ServerSideApply=false``: ``kubectl apply`` semantics. The desired object is recorded in
        the ``last-applied-configuration`` annotation; an update is a three-way JSON merge patch
        (last-applied, desired, live) that deletes only fields we applied before. ``dry_run``
        sends the same create or patch with ``dryRun=All`` (a server-side apply dry run would
        reject what a merge patch accepts, e.g. unknown fields with ``Validate=false``)."""
        manager = self.settings.field_manager
        namespace = task.key.namespace or None
        annotations = dict(obj["metadata"].get("annotations") or {})
        annotations.pop(ANNOTATION_KUBECTL_LAST_APPLIED, None)
        obj["metadata"]["annotations"] = annotations
        record = json.dumps(obj, sort_keys=True, separators=(",", ":"))
        obj["metadata"]["annotations"] = {**annotations, ANNOTATION_KUBECTL_LAST_APPLIED: record}
        try:
            live = await self.kube.get(_api_version(task), task.key.kind, task.key.name, namespace)
        except Exception as exc:
            if not is_not_found(exc):
                raise
            await self.kube.create(obj, field_manager=manager, dry_run=dry_run)
            return Outcome(ok=True, message="created (client-side apply)"), [
                self._event("create", task, detail="client-side")
            ]
        last_text = ((live.get("metadata") or {}).get("annotations") or {}).get(
            ANNOTATION_KUBECTL_LAST_APPLIED
        )
        last: dict[str, Any] | None = None
        if isinstance(last_text, str) and last_text:
            try:
                loaded = json.loads(last_text)
            except ValueError:
                loaded = None
            last = loaded if isinstance(loaded, dict) else None
        patch = three_way_merge_patch(last, obj, live)
        if not patch:
            return Outcome(ok=True, message="unchanged (client-side apply)"), [
                self._event("apply", task, detail="client-side, unchanged")
            ]
        try:
            await self.kube.patch(
                _api_version(task),
                task.key.kind,
                task.key.name,
                patch,
                namespace,
                patch_type="merge",
                field_manager=manager,
                dry_run=dry_run,
            )
        except Exception as exc:
            if not (forced and is_invalid(exc)):
                raise
            await self._recreate(obj, task)
            return Outcome(ok=True, message="re-created (Force=true) after: " + str(exc)), [
                self._event("recreate", task, detail=str(exc))
            ]
        return Outcome(ok=True, message="applied (client-side)"), [
            self._event("apply", task, detail="client-side")
        ]

    async def _take_over(self, task: SyncTask) -> list[str]:
        """Before applying, hand the field ownership of ``take_over_managers`` to our manager.

        Their managedFields entries (any operation) are merged into our Apply entry and removed,
        so the apply that follows removes the fields they set that Git no longer has (sharing
        ownership with them instead would keep such fields forever). Returns the managers taken over.
        """
        try:
            live = await self.kube.get(
                _api_version(task), task.key.kind, task.key.name, task.key.namespace or None
            )
        except Exception as exc:
            if is_not_found(exc):
                return []
            raise
        metadata = live.get("metadata") or {}
        entries: list[dict[str, Any]] = [dict(e) for e in metadata.get("managedFields") or []]
        drop = set(self.settings.take_over_managers) - {self.settings.field_manager}
        theirs = [e for e in entries if e.get("manager") in drop and not e.get("subresource")]
        if not theirs:
            return []
        manager = self.settings.field_manager
        ours = next(
            (e for e in entries if e.get("manager") == manager and e.get("operation") == "Apply"),
            None,
        )
        kept = [e for e in entries if e not in theirs and e is not ours]
        merged: dict[str, Any] = dict((ours or {}).get("fieldsV1") or {})
        for entry in theirs:
            merged = _merge_fields(merged, entry.get("fieldsV1") or {})
        base = ours or theirs[0]
        kept.append(
            {
                **base,
                "manager": manager,
                "operation": "Apply",
                "fieldsType": "FieldsV1",
                "fieldsV1": merged,
            }
        )
        patch = [
            {"op": "test", "path": "/metadata/resourceVersion", "value": metadata.get("resourceVersion")},
            {"op": "replace", "path": "/metadata/managedFields", "value": kept},
        ]
        await self.kube.patch(
            _api_version(task),
            task.key.kind,
            task.key.name,
            patch,
            task.key.namespace or None,
            patch_type="json",
        )
        return sorted({str(e.get("manager")) for e in theirs})

    async def _create_hook(self, action: Action) -> tuple[Outcome, list[SyncEvent]]:
        task = action.task
        obj = self._prepare(task)
        namespace = task.key.namespace or None
        events: list[SyncEvent] = []
        if action.delete_existing and await self._delete_and_wait(
            _api_version(task), task.key.kind, task.key.name, namespace, "Background"
        ):
            events.append(self._event("hook-deleted", task, detail="BeforeHookCreation"))
        try:
            created = await self.kube.create(obj, field_manager=self.settings.field_manager)
        except Exception as exc:
            if not (task.key.name and is_already_exists(exc)):
                raise
            events.append(self._event("hook-exists", task))
            return Outcome(ok=True, message="hook exists (named hooks are created once)"), events
        name = str((created.get("metadata") or {}).get("name") or task.key.name)
        if not task.key.name:
            self._hook_names[task.task_id] = name
        events.append(self._event("hook-created", task, name=name))
        return Outcome(ok=True, message="hook created"), events

    async def _delete_hook(self, action: Action) -> tuple[Outcome, list[SyncEvent]]:
        task = action.task
        name = self._name(task)
        if not name:
            return Outcome(ok=True), []
        try:
            await self.kube.delete(
                _api_version(task),
                task.key.kind,
                name,
                task.key.namespace or None,
                propagation_policy="Background",
            )
        except Exception as exc:
            if is_not_found(exc):
                return Outcome(ok=True), []
            raise
        status = self.machine.state.status_map()[task.task_id][0]
        policy = (
            HookDeletePolicy.HOOK_SUCCEEDED
            if status is TaskStatus.SUCCEEDED
            else HookDeletePolicy.HOOK_FAILED
        )
        return Outcome(ok=True), [self._event("hook-deleted", task, detail=str(policy), name=name)]

    async def _prune(self, action: Action) -> tuple[Outcome, list[SyncEvent]]:
        task = action.task
        policy = _PROPAGATION[task.options.propagation_policy]
        try:
            await self.kube.delete(
                _api_version(task),
                task.key.kind,
                task.key.name,
                task.key.namespace or None,
                propagation_policy=policy,
            )
        except Exception as exc:
            if not is_not_found(exc):
                raise
            return Outcome(ok=True, message="already gone"), [
                self._event("pruned", task, detail="already gone")
            ]
        return Outcome(ok=True, message="pruned"), [self._event("pruned", task, detail=policy)]

    async def _finish_generated_hooks(self) -> None:
        """Apply delete policies to ``generateName`` hooks (the machine only knows named ones)."""
        statuses = self.machine.state.status_map()
        wanted = {
            TaskStatus.SUCCEEDED: HookDeletePolicy.HOOK_SUCCEEDED,
            TaskStatus.FAILED: HookDeletePolicy.HOOK_FAILED,
        }
        actions = [
            Action(ActionKind.DELETE_HOOK, task)
            for task_id, task in self._tasks.items()
            if task.is_hook
            and not task.key.name
            and task_id in self._hook_names
            and (policy := wanted.get(statuses[task_id][0])) is not None
            and policy in task.delete_policies
        ]
        if actions:
            await self._run_group(actions, {})

    async def _ensure_namespace(self, name: str) -> None:
        try:
            await self.kube.get("v1", "Namespace", name)
            return
        except Exception as exc:
            if not is_not_found(exc):
                raise
        manifest = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
        try:
            await self.kube.create(manifest, field_manager=self.settings.field_manager)
        except Exception as exc:
            if not is_already_exists(exc):
                raise
        self._events.append(SyncEvent("namespace-created", f"/Namespace//{name}"))

    # --- dry run ---------------------------------------------------------------------------------

    async def _dry_run(self) -> bool:
        """Dry-run every main-phase task; on failure mark the operation failed and return False."""
        tasks = [t for t in self.plan.main_tasks if t.operation in (Operation.APPLY, Operation.CREATE_HOOK)]
        created_namespaces = {
            t.key.name
            for t in self.plan.tasks
            if t.key.group_kind.kind == "Namespace" and not t.key.group and t.operation is Operation.APPLY
        }
        defined = {t.defines for t in self.plan.tasks if t.defines is not None}
        failures: dict[str, str] = {}
        limit = self.settings.dry_run_concurrency or self.settings.concurrency
        semaphore = asyncio.Semaphore(max(1, limit))

        async def one(task: SyncTask) -> None:
            async with semaphore:
                message = await self._dry_run_task(task, created_namespaces, defined)
            if message:
                failures[task.task_id] = message

        await asyncio.gather(*(one(t) for t in tasks))
        if not failures:
            return True
        rows: list[tuple[str, TaskStatus, str]] = []
        for task in self.plan.tasks:
            if task.task_id in failures:
                rows.append((task.task_id, TaskStatus.FAILED, failures[task.task_id]))
                self._messages[task.task_id] = failures[task.task_id]
                self._events.append(self._event("dry-run-failed", task, detail=failures[task.task_id]))
            else:
                rows.append((task.task_id, TaskStatus.SKIPPED, "not run: the dry run failed"))
        self.machine.state = MachineState(
            statuses=tuple(rows), phase=OperationPhase.FAILED, message=DRY_RUN_FAILED, failure=DRY_RUN_FAILED
        )
        return False

    async def _dry_run_task(
        self, task: SyncTask, created_namespaces: Iterable[str], defined: set[Any]
    ) -> str:
        """An error message, or "" when the dry run passed or was skipped."""
        obj = self._prepare(task)
        validate = False if task.options.validate is False else None
        prior = self._prior.get(task.key)
        if (
            prior is not None
            and not task.is_hook
            and prior.fingerprint == dry_run_fingerprint(obj, self.settings.field_manager, validate)
        ):
            return ""  # this operation's compare already dry-ran exactly this object
        try:
            served = await self.kube.resource(_api_version(task), task.key.kind)
        except Exception as exc:
            if not is_not_found(exc):
                return str(exc)
            if task.key.group_kind in defined or task.options.skip_dry_run_on_missing_resource:
                return ""
            return str(exc)
        if self.settings.dry_run_mode == "client":
            if served.namespaced and not (obj.get("metadata") or {}).get("namespace"):
                return f"{task.key.kind}/{task.key.name}: a namespaced object needs a namespace"
            return ""
        try:
            if task.is_hook:
                await self.kube.create(obj, dry_run=True, field_manager=self.settings.field_manager)
            elif task.options.server_side_apply is False:
                await self._client_side_apply(task, obj, False, dry_run=True)
            else:
                await self.kube.apply(
                    obj,
                    field_manager=self.settings.field_manager,
                    force=True,
                    dry_run=True,
                    validate=validate,
                )
        except Exception as exc:
            if is_not_found(exc) and task.key.namespace in created_namespaces:
                return ""  # its namespace is created by this sync
            if task.is_hook and is_already_exists(exc):
                return ""
            if self._forced(task) and is_invalid(exc) and "immutable" in str(exc).lower():
                return ""  # Force re-creates it
            return str(exc)
        return ""
