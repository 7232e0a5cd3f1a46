"""Sync-order conformance: ../shared/conformance/sync-order/cases.yaml (transcribed gitops-engine tests).

The data is read at test time and never copied into this repository.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from argosy.core.plan import (
    KIND_ORDER,
    Observation,
    Operation,
    OperationPhase,
    Outcome,
    PlanOptions,
    SyncMachine,
    SyncPlan,
    SyncTask,
    build_plan,
    crd_defines,
    kind_rank,
    order_tasks,
    sort_tasks,
)
from argosy.model.annotations import SyncPhase, parse_sync_options, sync_phases, sync_wave
from argosy.model.resources import ResourceKey

pytestmark = pytest.mark.conformance

REPO_ROOT = Path(__file__).resolve().parents[2]
CASES_FILE = REPO_ROOT.parent / "shared" / "conformance" / "sync-order" / "cases.yaml"


def _load() -> dict[str, Any]:
    if not CASES_FILE.is_file():
        return {}
    data: dict[str, Any] = yaml.safe_load(CASES_FILE.read_text(encoding="utf-8"))
    return data


DATA = _load()
CASES: list[dict[str, Any]] = DATA.get("cases", [])


# --- helpers -------------------------------------------------------------------------------------


def _task(entry: Mapping[str, Any]) -> SyncTask:
    """A task as the Go sort tests build them: phase given directly, wave from annotations."""
    annotations = entry.get("annotations") or {}
    phase = SyncPhase(entry["phase"]) if entry.get("phase") else SyncPhase.SYNC
    manifest = {
        "apiVersion": entry.get("apiVersion", "v1"),
        "kind": entry.get("kind", ""),
        "metadata": {"name": entry.get("name", ""), "namespace": entry.get("namespace", "")},
        "spec": entry.get("spec") or {},
    }
    key = ResourceKey.from_manifest(manifest)
    return SyncTask(
        key=key,
        phase=phase,
        wave=sync_wave(annotations),
        operation=Operation.APPLY,
        defines=crd_defines(manifest),
        manifest=manifest,
    )


def _resource_manifest(entry: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": entry["kind"],
        "metadata": {"name": entry["name"], "annotations": dict(entry.get("annotations") or {})},
    }


def _plan(case: Mapping[str, Any]) -> SyncPlan:
    resources = case.get("resources", [])
    desired = [_resource_manifest(r) for r in resources if r.get("target")]
    desired += [_resource_manifest(h) for h in case.get("hooks", [])]
    live = [_resource_manifest(r) for r in resources if r.get("live")]
    app_options = parse_sync_options(["PruneLast=true"] if case.get("prune_last") else [])
    return build_plan(desired, live, PlanOptions(sync_options=app_options, prune=True))


def _waves_by_name(plan: SyncPlan) -> dict[str, int]:
    return {t.key.name: t.wave for t in plan.tasks}


Health = Callable[[SyncTask, int], str]


def _run(
    plan: SyncPlan,
    *,
    health: Health = lambda _task, _tick: "Healthy",
    still_deleting: Callable[[SyncTask, int], bool] = lambda _task, _tick: False,
    max_ticks: int = 20,
) -> list[dict[str, Any]]:
    """Drive the machine like the controller does: step -> execute -> record, once per tick."""
    machine = SyncMachine(plan)
    applied: list[str] = []
    pruned: list[SyncTask] = []
    created: list[SyncTask] = []
    ticks: list[dict[str, Any]] = []
    for tick in range(max_ticks):
        observed = Observation(
            health={t.task_id: health(t, tick) for t in created},
            deleted=frozenset(t.task_id for t in pruned if not still_deleting(t, tick)),
        )
        step = machine.step(observed)
        record = step
        if step.actions:
            for action in step.actions:
                if action.task.operation is Operation.PRUNE:
                    pruned.append(action.task)
                else:
                    applied.append(action.task.key.name)
                    created.append(action.task)
            record = machine.record({a.task_id: Outcome(ok=True) for a in step.actions})
        ticks.append(
            {
                "applied": list(applied),
                "pruned": [t.key.name for t in pruned],
                "phase": record.phase,
                "message": record.message,
                "wave": step.wave,
                "final": step.final,
                "acted": bool(step.actions),
            }
        )
        if record.phase.completed:
            return ticks
    raise AssertionError(f"the sync did not finish in {max_ticks} ticks: {ticks[-1]}")


# --- the suite -----------------------------------------------------------------------------------


_MISSING = pytest.param(
    {}, id="missing-data", marks=pytest.mark.skip(reason=f"conformance data not found at {CASES_FILE}")
)


@pytest.mark.parametrize("case", [pytest.param(c, id=c["id"]) for c in CASES] or [_MISSING])
def test_sync_order_case(case: dict[str, Any]) -> None:
    kind = case["type"]
    if kind == "kind_order_value":
        assert {k: kind_rank(k) for k in case["expected"]} == case["expected"]
        assert list(KIND_ORDER) == DATA["kind_order"]
        assert {k: kind_rank(k) for k in KIND_ORDER} == DATA["kind_order_values"]
        assert {phase.value: phase.rank for phase in SyncPhase} == DATA["phase_order"]
    elif kind in ("sort_only", "sort_with_deps"):
        tasks = [_task(entry) for entry in case["input_tasks"]]
        refs = {id(t): entry["ref"] for t, entry in zip(tasks, case["input_tasks"], strict=True)}
        if kind == "sort_only":
            ordered = sort_tasks(tasks)
            assert [refs[id(t)] for t in ordered] == case["expected_order"]
        else:
            ordered = order_tasks(tasks)
            by_key = {t.key: entry["ref"] for t, entry in zip(tasks, case["input_tasks"], strict=True)}
            assert [by_key[t.key] for t in ordered] == case["expected_order"]
            for ref, expected in (case.get("expected_effective") or {}).items():
                (task,) = [t for t in ordered if by_key[t.key] == ref]
                assert (task.wave, str(task.phase)) == (expected["wave"], expected["phase"])
    elif kind == "wave_value":
        for entry in case["inputs"]:
            assert sync_wave(entry["annotations"]) == entry["expected_wave"], entry
    elif kind == "sync_phases":
        for entry in case["inputs"]:
            phases = [str(p) for p in sync_phases(entry["annotations"])]
            if "expected_phases_unordered" in entry:
                assert sorted(phases) == sorted(entry["expected_phases_unordered"]), entry["test"]
            else:
                assert phases == (entry["expected_phases"] or []), entry["test"]
    elif kind == "effective_waves":
        assert _waves_by_name(_plan(case)) == case["expected_waves"]
    elif kind == "last_wave":
        assert max(t.wave for t in _plan(case).tasks) == case["expected_last_wave"]
    elif kind == "execution_order" and "expected_prune_order" in case:
        # pod-2 stays in deletion (deletionTimestamp set) for one extra tick, as in the Go test.
        ticks = _run(_plan(case), still_deleting=lambda t, tick: t.key.name == "pod-2" and tick == 2)
        assert ticks[-1]["pruned"] == case["expected_prune_order"]
        assert any(not t["acted"] and t["message"] == "waiting for deletion of /Pod/pod-2" for t in ticks)
        assert ticks[-1]["phase"] is OperationPhase.SUCCEEDED
    elif kind == "execution_order":
        ticks = _run(_plan(case), health=lambda _t, tick: "Healthy" if tick >= 1 else "Progressing")
        got = [
            {"applied": t["applied"], "operation_phase": str(t["phase"]), "message": t["message"]}
            for t in ticks
        ]
        assert got == case["expected_steps"]
    elif kind == "wave_callback_sequence":
        ticks = _run(_plan(case))
        callbacks = [
            {"phase": str(t["wave"][0]), "wave": t["wave"][1], "final": t["final"]}
            for t in ticks
            if t["acted"]
        ]
        assert callbacks == case["expected_callbacks"]
        assert ticks[-1]["phase"] is OperationPhase.SUCCEEDED
    else:
        pytest.fail(f"unknown case type {kind!r}: extend the conformance runner")
