"""SyncMachine: waves, hooks, failures and SyncFail, clean-up and resumability."""

from __future__ import annotations

from typing import Any

from argosy.core.plan import (
    ActionKind,
    Observation,
    OperationPhase,
    Outcome,
    PlanOptions,
    SyncMachine,
    SyncPlan,
    TaskStatus,
    build_plan,
)


def obj(kind: str, name: str, **annotations: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": kind,
        "metadata": {
            "name": name,
            "annotations": {f"argocd.argoproj.io/{k.replace('_', '-')}": v for k, v in annotations.items()},
        },
    }


def ok(step: Any) -> dict[str, Outcome]:
    return {a.task_id: Outcome(ok=True) for a in step.actions}


def test_single_wave_without_hooks_succeeds_when_applied() -> None:
    machine = SyncMachine(build_plan([obj("ConfigMap", "a"), obj("Pod", "b")]))
    step = machine.step()
    assert [a.kind for a in step.actions] == [ActionKind.APPLY, ActionKind.APPLY]
    assert step.final
    done = machine.record(ok(step))
    assert done.phase is OperationPhase.SUCCEEDED
    assert done.message == "successfully synced (all tasks run)"
    assert machine.step().actions == ()


def test_hooks_wait_for_completion_and_hook_succeeded_cleanup() -> None:
    plan = build_plan(
        [obj("Job", "pre", hook="PreSync", hook_delete_policy="HookSucceeded"), obj("Pod", "app")]
    )
    machine = SyncMachine(plan)
    first = machine.step()
    assert [(a.kind, a.task.key.name) for a in first.actions] == [(ActionKind.CREATE_HOOK, "pre")]
    assert not first.actions[0].delete_existing
    waiting = machine.record(ok(first))
    assert waiting.message == "waiting for completion of hook /Job/pre"
    hook_id = first.actions[0].task_id
    assert machine.step(Observation(health={hook_id: "Progressing"})).actions == ()
    second = machine.step(Observation(health={hook_id: "Healthy"}))
    assert [a.task.key.name for a in second.actions] == ["app"]
    done = machine.record(ok(second))
    assert done.phase is OperationPhase.SUCCEEDED
    assert [(a.kind, a.task.key.name) for a in done.actions] == [(ActionKind.DELETE_HOOK, "pre")]


def test_before_hook_creation_deletes_existing_named_hook() -> None:
    machine = SyncMachine(build_plan([obj("Job", "pre", hook="PreSync")]))
    (action,) = machine.step().actions
    assert action.delete_existing


def test_failure_runs_sync_fail_hooks_then_fails() -> None:
    plan = build_plan(
        [
            obj("Job", "pre", hook="PreSync", hook_delete_policy="HookFailed"),
            obj("Pod", "app"),
            obj("Job", "alert", hook="SyncFail"),
        ]
    )
    machine = SyncMachine(plan)
    first = machine.step()
    machine.record(ok(first))
    failing = machine.step(Observation(health={first.actions[0].task_id: "Degraded"}))
    assert [(a.kind, a.task.key.name) for a in failing.actions] == [
        (ActionKind.DELETE_HOOK, "pre"),
        (ActionKind.CREATE_HOOK, "alert"),
    ]
    assert failing.phase is OperationPhase.RUNNING
    app = next(t for t in plan.tasks if t.key.name == "app")
    assert machine.status_of(app) is TaskStatus.SKIPPED
    machine.record({a.task_id: Outcome(ok=True) for a in failing.actions})
    alert_id = failing.actions[1].task_id
    final = machine.step(Observation(health={alert_id: "Healthy"}))
    assert final.phase is OperationPhase.FAILED
    assert "one or more synchronization tasks completed unsuccessfully" in final.message
    assert "/Job/pre" in final.message
    assert all(a.task.key.name != "pre" for a in final.actions)


def test_apply_error_without_sync_fail_hooks_fails_at_once() -> None:
    machine = SyncMachine(build_plan([obj("Pod", "a")]))
    step = machine.step()
    result = machine.record({step.actions[0].task_id: Outcome(ok=False, message="forbidden")})
    assert result.phase is OperationPhase.FAILED
    assert "/Pod/a: forbidden" in result.message


def test_prune_skipped_waves_are_passed_over_and_state_resumes() -> None:
    plan = build_plan(
        [obj("Pod", "a", sync_wave="1"), obj("Pod", "b", sync_wave="2")],
        [obj("Pod", "old", sync_wave="0")],
        PlanOptions(prune=False),
    )
    machine = SyncMachine(plan)
    first = machine.step()
    assert [a.task.key.name for a in first.actions] == ["a"]
    machine.record(ok(first))
    resumed = SyncMachine(plan, machine.state)
    second = resumed.step(Observation(health={first.actions[0].task_id: "Healthy"}))
    assert [a.task.key.name for a in second.actions] == ["b"]
    assert resumed.record(ok(second)).phase is OperationPhase.SUCCEEDED


def test_empty_plan_succeeds() -> None:
    step = SyncMachine(SyncPlan(tasks=())).step()
    assert step.phase is OperationPhase.SUCCEEDED and step.actions == ()
