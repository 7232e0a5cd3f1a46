"""Automated-sync decision, self-heal backoff, retries and the rollback hold (argosy.core.automation)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from argosy.core.automation import (
    ComparedResult,
    SelfHealBackoff,
    decide_auto_sync,
    retry_decision,
)
from argosy.core.profiles import effective_sync_policy, parse_sync_policies
from argosy.model.application import Application, OperationState, SyncOperationResource

NOW = datetime(2026, 3, 2, 12, 0, 0, tzinfo=UTC)
REPO = {"repoURL": "https://github.com/sophia-intel-ai/gitops.git", "path": "p", "targetRevision": "main"}
NEW, OLD = "b" * 40, "a" * 40


def app(
    automated: dict[str, Any] | None = None,
    *,
    last: dict[str, Any] | None = None,
    operation: dict[str, Any] | None = None,
    argosy: dict[str, Any] | None = None,
    deleting: bool = False,
) -> Application:
    spec: dict[str, Any] = {
        "project": "artemis",
        "source": REPO,
        "destination": {"server": "https://k", "namespace": "a"},
    }
    if automated is not None:
        spec["syncPolicy"] = {"automated": automated}
    meta: dict[str, Any] = {"name": "artemis-orchestrator"}
    if deleting:
        meta["deletionTimestamp"] = "2026-03-02T11:00:00Z"
    body: dict[str, Any] = {"metadata": meta, "spec": spec, "status": {}}
    if last is not None:
        body["status"]["operationState"] = last
    if argosy is not None:
        body["status"]["argosy"] = argosy
    if operation is not None:
        body["operation"] = operation
    return Application.from_dict(body)


def last_op(
    revision: str = NEW,
    phase: str = "Succeeded",
    finished: str = "2026-03-02T11:00:00Z",
    attempts: int = 0,
    source: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "operation": {
            "sync": {"revision": revision, "selfHealAttemptsCount": attempts},
            "initiatedBy": {"automated": True},
        },
        "phase": phase,
        "message": "one or more objects failed to apply" if phase != "Succeeded" else "successfully synced",
        "startedAt": "2026-03-02T10:59:00Z",
        "finishedAt": finished,
        "syncResult": {"revision": revision, "source": source or REPO},
    }


def out_of_sync(**kwargs: Any) -> ComparedResult:
    return ComparedResult(sync_status="OutOfSync", revisions=(NEW,), **kwargs)


@pytest.mark.parametrize(
    ("application", "compared", "reason"),
    [
        (app(None), out_of_sync(), "automated sync is not enabled"),
        (app({"enabled": False, "prune": True}), out_of_sync(), "automated sync is not enabled"),
        (app({}), ComparedResult("Synced", (NEW,)), "sync status is Synced, not OutOfSync"),
        (app({}), ComparedResult("Unknown", (NEW,)), "sync status is Unknown, not OutOfSync"),
        (app({}, operation={"sync": {}}), out_of_sync(), "another operation is already in progress"),
        (app({}, last=last_op(phase="Running")), out_of_sync(), "the last operation is still Running"),
        (app({}, deleting=True), out_of_sync(), "the application is being deleted"),
        (
            app({"prune": False}),
            out_of_sync(prune_only=True),
            "need to prune extra resources only but automated prune is disabled",
        ),
        (app({}, last=last_op()), out_of_sync(), f"most recent sync already to {NEW}; selfHeal is off"),
    ],
)
def test_skips(application: Application, compared: ComparedResult, reason: str) -> None:
    decision = decide_auto_sync(application, compared, NOW)
    assert decision.run is False
    assert decision.reason == reason
    assert decision.operation is None


def test_new_revision_syncs_once_with_default_retry() -> None:
    decision = decide_auto_sync(app({"prune": True}, last=last_op(revision=OLD)), out_of_sync(), NOW)
    assert decision.run is True and decision.reason == f"auto-sync to {NEW}"
    op = decision.operation
    assert op is not None and op.sync is not None
    assert (op.sync.revision, op.sync.prune, op.sync.resources) == (NEW, True, ())
    assert op.initiated_by.automated is True
    assert op.retry is not None and op.retry.limit == 5  # automated syncs get 5 retries by default
    assert op.to_dict()["initiatedBy"] == {"automated": True}


def test_changed_source_counts_as_a_new_attempt() -> None:
    other = {**REPO, "path": "other"}
    decision = decide_auto_sync(app({}, last=last_op(source=other)), out_of_sync(), NOW)
    assert decision.run is True


def test_failed_revision_is_not_retried_and_sets_sync_error() -> None:
    decision = decide_auto_sync(app({"selfHeal": True}, last=last_op(phase="Failed")), out_of_sync(), NOW)
    assert decision.run is False
    assert decision.condition is not None and decision.condition.type == "SyncError"
    assert (
        decision.condition.message
        == f"Failed last sync attempt to {NEW}: one or more objects failed to apply"
    )


def test_failed_revision_is_retried_after_a_new_commit() -> None:
    decision = decide_auto_sync(app({}, last=last_op(revision=OLD, phase="Failed")), out_of_sync(), NOW)
    assert decision.run is True


@pytest.mark.parametrize(
    ("automated", "compared", "run"),
    [
        ({"prune": True}, out_of_sync(prune_deletes_all=True), False),
        ({"prune": True, "allowEmpty": True}, out_of_sync(prune_deletes_all=True), True),
        ({"prune": False}, out_of_sync(prune_deletes_all=True), True),  # nothing is pruned anyway
    ],
)
def test_allow_empty_guard(automated: dict[str, Any], compared: ComparedResult, run: bool) -> None:
    decision = decide_auto_sync(app(automated), compared, NOW)
    assert decision.run is run
    if not run:
        assert decision.reason == "auto-sync will wipe out all resources"
        assert decision.condition is not None and decision.condition.type == "SyncError"


def test_sync_window_blocks() -> None:
    decision = decide_auto_sync(
        app({}), out_of_sync(), NOW, window_allows=False, window_reason="deny:0 22 * * *:8h"
    )
    assert decision.run is False
    assert decision.reason == "sync window blocks automated sync: deny:0 22 * * *:8h"


DRIFTED = (SyncOperationResource(group="apps", kind="Deployment", name="web", namespace="a"),)


@pytest.mark.parametrize(
    ("finished", "attempts", "run", "requeue"),
    [
        ("2026-03-02T11:59:59Z", 0, False, timedelta(seconds=1)),  # 2s backoff, 1s elapsed
        ("2026-03-02T11:59:58Z", 0, True, None),
        ("2026-03-02T11:59:50Z", 2, False, timedelta(seconds=8)),  # 2 * 3^2 = 18s, 10s elapsed
        ("2026-03-02T11:55:00Z", 5, True, None),  # capped at 300s; 300s elapsed
        ("2026-03-02T11:54:00Z", 9, True, None),  # 360s > 330s cooldown: count reset
    ],
)
def test_self_heal_backoff(finished: str, attempts: int, run: bool, requeue: timedelta | None) -> None:
    application = app({"selfHeal": True}, last=last_op(finished=finished, attempts=attempts))
    decision = decide_auto_sync(application, out_of_sync(out_of_sync=DRIFTED), NOW)
    assert decision.run is run, decision.reason
    if run:
        assert decision.self_heal is True
        assert decision.reason == f"self-heal: live state drifted from {NEW}"
        op = decision.operation
        assert op is not None and op.sync is not None
        assert op.sync.resources == DRIFTED  # a partial sync: hooks do not run
        assert op.sync.self_heal_attempts_count >= 1
    else:
        assert decision.requeue_after == requeue
        assert decision.reason.startswith("self-heal backoff")


def test_self_heal_attempts_reset_after_cooldown() -> None:
    application = app({"selfHeal": True}, last=last_op(finished="2026-03-02T11:50:00Z", attempts=4))
    decision = decide_auto_sync(application, out_of_sync(out_of_sync=DRIFTED), NOW)
    assert decision.operation is not None and decision.operation.sync is not None
    assert decision.operation.sync.self_heal_attempts_count == 1


def test_custom_self_heal_backoff() -> None:
    application = app({"selfHeal": True}, last=last_op(finished="2026-03-02T11:59:50Z"))
    slow = SelfHealBackoff(initial=timedelta(seconds=30))
    decision = decide_auto_sync(application, out_of_sync(), NOW, self_heal_backoff=slow)
    assert decision.run is False and decision.requeue_after == timedelta(seconds=20)


HOLD = {"rollbackHold": {"revision": NEW, "heldAt": "2026-03-02T11:30:00Z", "reason": "error_rate above 5%"}}


def test_rollback_hold_pauses_on_the_held_revision() -> None:
    decision = decide_auto_sync(
        app({"selfHeal": True}, last=last_op(revision=OLD), argosy=HOLD), out_of_sync(), NOW
    )
    assert decision.run is False
    assert decision.reason == (
        f"auto-sync paused by the rollback hold on revision {NEW} (error_rate above 5%); "
        "a new Git revision releases it"
    )
    assert decision.release_rollback_hold is False


def test_new_revision_releases_the_rollback_hold() -> None:
    newer = ComparedResult("OutOfSync", ("c" * 40,))
    decision = decide_auto_sync(app({}, last=last_op(revision=OLD), argosy=HOLD), newer, NOW)
    assert decision.run is True and decision.release_rollback_hold is True


def test_effective_policy_from_profile_drives_the_decision() -> None:
    profiles = parse_sync_policies(
        {"data": {"staging.yaml": "syncPolicy: {automated: {prune: true}, retry: {limit: 2}}"}}
    )
    application = Application.from_dict(
        {
            "metadata": {"name": "a", "labels": {"environment": "staging"}},
            "spec": {"source": REPO, "destination": {"server": "https://k"}},
        }
    )
    assert decide_auto_sync(application, out_of_sync(), NOW).run is False  # the app alone is manual
    policy = effective_sync_policy(application, profiles)
    decision = decide_auto_sync(application, out_of_sync(), NOW, policy=policy)
    assert decision.run is True
    assert decision.operation is not None and decision.operation.retry is not None
    assert decision.operation.retry.limit == 2
    assert decision.operation.sync is not None and decision.operation.sync.prune is True


def test_multi_source_uses_revisions() -> None:
    sources = [REPO, {**REPO, "path": "q"}]
    application = Application.from_dict(
        {
            "metadata": {"name": "a"},
            "spec": {
                "sources": sources,
                "destination": {"server": "https://k"},
                "syncPolicy": {"automated": {}},
            },
            "status": {
                "operationState": {
                    "operation": {"sync": {"revisions": [NEW, OLD]}},
                    "phase": "Succeeded",
                    "syncResult": {"revisions": [NEW, OLD], "sources": sources},
                }
            },
        }
    )
    same = ComparedResult("OutOfSync", (NEW, OLD))
    assert decide_auto_sync(application, same, NOW).run is False
    changed = ComparedResult("OutOfSync", (NEW, NEW))
    decision = decide_auto_sync(application, changed, NOW)
    assert decision.run is True and decision.operation is not None and decision.operation.sync is not None
    assert decision.operation.sync.revisions == (NEW, NEW) and decision.operation.sync.revision == ""


def state(
    phase: str, retry_count: int, retry: dict[str, Any] | None, automated: bool = True
) -> OperationState:
    operation: dict[str, Any] = {"sync": {}, "initiatedBy": {"automated": automated}}
    if retry is not None:
        operation["retry"] = retry
    return OperationState.from_dict(
        {
            "operation": operation,
            "phase": phase,
            "retryCount": retry_count,
            "finishedAt": "2026-03-02T12:00:00Z",
        }
    )


@pytest.mark.parametrize(
    ("st", "retry", "wait"),
    [
        (
            state(
                "Failed", 0, {"limit": 3, "backoff": {"duration": "10s", "factor": 2, "maxDuration": "5m"}}
            ),
            True,
            10,
        ),
        (
            state(
                "Failed", 2, {"limit": 3, "backoff": {"duration": "10s", "factor": 2, "maxDuration": "5m"}}
            ),
            True,
            40,
        ),
        (state("Failed", 3, {"limit": 3}), False, None),
        (
            state("Error", 6, {"limit": 10, "backoff": {"duration": "2s", "factor": 2, "maxDuration": "1m"}}),
            True,
            60,
        ),
        (state("Failed", 100, {"limit": -1}), True, 180),  # unlimited, default backoff capped at 3m
        (state("Failed", 4, None), True, 80),  # automated default: 5 retries, 5s x2
        (state("Failed", 5, None), False, None),
        (state("Failed", 0, None, automated=False), False, None),  # manual sync without retry
        (state("Succeeded", 0, {"limit": 3}), False, None),
    ],
)
def test_retry_schedule(st: OperationState, retry: bool, wait: int | None) -> None:
    decision = retry_decision(st, NOW)
    assert decision.retry is retry, decision.reason
    if wait is not None:
        assert decision.at == NOW + timedelta(seconds=wait)
