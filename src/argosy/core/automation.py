"""Argo CD's automated-sync decision, self-heal backoff, operation retries and Argosy's rollback hold.

Layer 1 (``argosy.core``): pure; ``now`` is passed in.

:func:`decide_auto_sync` answers "should the controller start an automated sync now?" from the
Application (spec, status, ``.operation``), its effective sync policy
(:mod:`argosy.core.profiles`), the comparison result and the sync-window verdict, following
argocd-semantics.md §1.8:

* skipped while an operation is in progress, while the app is being deleted, when automation is
  off, and unless the sync status is ``OutOfSync``;
* skipped when the only drift is resources that need pruning and ``prune`` is off;
* once per (revision(s), sources): if the last operation already targeted them and *failed*, it
  is not retried (a ``SyncError`` "Failed last sync attempt ..." condition is returned; retries
  of a failed operation are the operation's own retry policy, :func:`retry_decision`); if it
  succeeded, only ``selfHeal`` re-syncs, with the self-heal backoff (2 s, x3, capped at 300 s,
  reset after 330 s without a self-heal);
* the ``allowEmpty`` guard: with ``prune`` and without ``allowEmpty`` a sync that would delete
  every resource is refused ("auto-sync will wipe out all resources");
* a sync window that blocks automated syncs skips it;
* Argosy's rollback hold: while ``status.argosy.rollbackHold`` names the current target
  revision, auto-sync pauses; a different target revision releases the hold.

Automated operations carry the effective ``retry`` or, when none is configured, ``limit: 5``
(Argo CD's default for automated syncs).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from argosy.core.profiles import EffectivePolicy
from argosy.model.application import (
    CONDITION_SYNC_ERROR,
    Application,
    ApplicationCondition,
    Backoff,
    InitiatedBy,
    Operation,
    OperationState,
    RetryStrategy,
    SyncOperation,
    SyncOperationResource,
    SyncPolicy,
    parse_time,
    plain,
)

__all__ = [
    "AUTOMATED_DEFAULT_RETRY_LIMIT",
    "SELF_HEAL_BACKOFF",
    "AutoSyncDecision",
    "ComparedResult",
    "RetryDecision",
    "SelfHealBackoff",
    "already_attempted",
    "automated_retry",
    "decide_auto_sync",
    "retry_decision",
    "self_heal_remaining",
]

AUTOMATED_DEFAULT_RETRY_LIMIT = 5
_FAILED_PHASES = ("Failed", "Error")


@dataclass(frozen=True, slots=True)
class SelfHealBackoff:
    """Argo CD's ``--self-heal-backoff-*`` flags: ``initial * factor ** attempts`` capped at ``cap``;
    the attempt count resets after ``cooldown`` without a self-heal."""

    initial: timedelta = timedelta(seconds=2)
    factor: int = 3
    cap: timedelta = timedelta(seconds=300)
    cooldown: timedelta = timedelta(seconds=330)

    def delay(self, attempts: int) -> timedelta:
        seconds = self.initial.total_seconds() * float(self.factor) ** max(attempts, 0)
        return min(timedelta(seconds=min(seconds, 1e9)), self.cap)


SELF_HEAL_BACKOFF = SelfHealBackoff()


@dataclass(frozen=True, slots=True)
class ComparedResult:
    """What the comparison found.

    ``revisions`` are the resolved target revision(s) (one per source); ``sources`` the raw
    ``spec.source(s)`` that were compared (defaults to the app's own). ``prune_only`` is true when
    every out-of-sync resource only needs pruning; ``prune_deletes_all`` when every managed
    resource would be pruned (the target is empty). ``out_of_sync`` lists the non-Synced
    resources, the targets of a self-heal (partial) sync.
    """

    sync_status: str
    revisions: tuple[str, ...]
    sources: tuple[Mapping[str, Any], ...] | None = None
    prune_only: bool = False
    prune_deletes_all: bool = False
    out_of_sync: tuple[SyncOperationResource, ...] = ()


@dataclass(frozen=True, slots=True)
class AutoSyncDecision:
    """The answer. ``operation`` is what to write to ``.operation`` when ``run`` is true;
    ``condition`` a ``SyncError`` to set; ``requeue_after`` when to look again (backoff);
    ``release_rollback_hold`` tells the controller to clear ``status.argosy.rollbackHold``."""

    run: bool
    reason: str
    operation: Operation | None = None
    condition: ApplicationCondition | None = None
    requeue_after: timedelta | None = None
    self_heal: bool = False
    release_rollback_hold: bool = False


def _policy_of(app: Application, policy: EffectivePolicy | SyncPolicy | None) -> SyncPolicy:
    if isinstance(policy, EffectivePolicy):
        return policy.policy
    if isinstance(policy, SyncPolicy):
        return policy
    return app.spec.sync_policy if app.spec.sync_policy is not None else SyncPolicy()


def _canonical_sources(sources: Sequence[Mapping[str, Any]] | None) -> list[Any]:
    return [plain(s) for s in sources or ()]


def already_attempted(app: Application, compared: ComparedResult) -> tuple[bool, OperationState | None]:
    """Whether the last operation already synced these revision(s) and sources, and its state."""
    state = app.status.operation_state
    if state is None or state.operation.sync is None or state.sync_result is None:
        return False, state
    result = state.sync_result
    wanted_sources = compared.sources if compared.sources is not None else app.spec.raw_sources()
    if app.spec.has_multiple_sources:
        same_rev = tuple(result.revisions) == tuple(compared.revisions)
        same_src = _canonical_sources(result.sources) == _canonical_sources(wanted_sources)
    else:
        target = compared.revisions[0] if compared.revisions else ""
        same_rev = result.revision == target
        result_src = (result.source,) if result.source is not None else ()
        same_src = _canonical_sources(result_src) == _canonical_sources(wanted_sources)
    return same_rev and same_src, state


def automated_retry(policy: SyncPolicy) -> RetryStrategy:
    """The retry an automated operation carries: the policy's, else ``limit: 5``."""
    if policy.retry is not None:
        return policy.retry
    return RetryStrategy(limit=AUTOMATED_DEFAULT_RETRY_LIMIT)


def self_heal_remaining(
    state: OperationState | None,
    attempts: int,
    now: datetime,
    backoff: SelfHealBackoff = SELF_HEAL_BACKOFF,
) -> tuple[timedelta, int]:
    """(time still to wait before the next self-heal, the attempt count to use).

    The wait runs from the last operation's ``finishedAt`` (``startedAt`` when unfinished); the
    count resets to 0 once ``cooldown`` has passed since then.
    """
    if state is None:
        return timedelta(0), 0
    since = parse_time(state.finished_at) or parse_time(state.started_at)
    if since is None:
        return timedelta(0), attempts
    elapsed = _utc(now) - since
    if elapsed >= backoff.cooldown:
        return timedelta(0), 0
    remaining = backoff.delay(attempts) - elapsed
    return (remaining if remaining > timedelta(0) else timedelta(0)), attempts


def _utc(now: datetime) -> datetime:
    return now.astimezone(UTC) if now.tzinfo is not None else now.replace(tzinfo=UTC)


def _skip(reason: str, **kwargs: Any) -> AutoSyncDecision:
    return AutoSyncDecision(run=False, reason=reason, **kwargs)


def _short(revisions: Sequence[str]) -> str:
    return ", ".join(revisions) if revisions else "(no revision)"


def decide_auto_sync(
    app: Application,
    compared: ComparedResult,
    now: datetime,
    *,
    policy: EffectivePolicy | SyncPolicy | None = None,
    window_allows: bool = True,
    window_reason: str = "",
    self_heal_backoff: SelfHealBackoff = SELF_HEAL_BACKOFF,
) -> AutoSyncDecision:
    """Should an automated sync start now? See the module docstring for the rules, in order.

    ``policy`` is the effective sync policy (defaults to the app's own ``spec.syncPolicy``);
    ``window_allows`` is the project's sync-window verdict for an automated (non-manual) sync.
    """
    sync_policy = _policy_of(app, policy)
    automated = sync_policy.automated
    if app.operation is not None:
        return _skip("another operation is already in progress")
    state = app.status.operation_state
    if state is not None and state.phase in ("Running", "Terminating"):
        return _skip(f"the last operation is still {state.phase}")
    if app.metadata.being_deleted:
        return _skip("the application is being deleted")
    if automated is None or not automated.is_enabled:
        return _skip("automated sync is not enabled")
    if compared.sync_status != "OutOfSync":
        return _skip(f"sync status is {compared.sync_status or 'Unknown'}, not OutOfSync")
    prune = bool(automated.prune)
    if compared.prune_only and not prune:
        return _skip("need to prune extra resources only but automated prune is disabled")

    release = False
    argosy = app.status.argosy
    hold = argosy.rollback_hold if argosy is not None else None
    if hold is not None:
        held = tuple(hold.revisions) if hold.revisions else ((hold.revision,) if hold.revision else ())
        if held and held == tuple(compared.revisions):
            return _skip(
                f"auto-sync paused by the rollback hold on revision {_short(held)}"
                + (f" ({hold.reason})" if hold.reason else "")
                + "; a new Git revision releases it"
            )
        release = True

    attempted, last = already_attempted(app, compared)
    self_heal = False
    attempts = 0
    if attempted and last is not None:
        if not last.successful:
            message = f"Failed last sync attempt to {_short(compared.revisions)}: {last.message}".rstrip(": ")
            return _skip(
                "the last automated sync to this revision failed and is not retried",
                condition=ApplicationCondition(type=CONDITION_SYNC_ERROR, message=message),
                release_rollback_hold=release,
            )
        if not automated.self_heal:
            return _skip(
                f"most recent sync already to {_short(compared.revisions)}; selfHeal is off",
                release_rollback_hold=release,
            )
        previous = last.operation.sync
        prior_attempts = previous.self_heal_attempts_count if previous is not None else 0
        remaining, attempts = self_heal_remaining(last, prior_attempts, now, self_heal_backoff)
        if remaining > timedelta(0):
            return _skip(
                f"self-heal backoff: {remaining.total_seconds():.0f}s remaining",
                requeue_after=remaining,
                release_rollback_hold=release,
            )
        self_heal = True

    if prune and not automated.allow_empty and compared.prune_deletes_all:
        return _skip(
            "auto-sync will wipe out all resources",
            condition=ApplicationCondition(
                type=CONDITION_SYNC_ERROR,
                message="auto-sync will wipe out all resources (set automated.allowEmpty to allow it)",
            ),
            release_rollback_hold=release,
        )
    if not window_allows:
        return _skip(
            "sync window blocks automated sync" + (f": {window_reason}" if window_reason else ""),
            release_rollback_hold=release,
        )

    operation = _automated_operation(
        app, compared, policy=sync_policy, prune=prune, self_heal=self_heal, attempts=attempts
    )
    reason = (
        f"self-heal: live state drifted from {_short(compared.revisions)}"
        if self_heal
        else f"auto-sync to {_short(compared.revisions)}"
    )
    return AutoSyncDecision(
        run=True,
        reason=reason,
        operation=operation,
        self_heal=self_heal,
        release_rollback_hold=release,
    )


def _automated_operation(
    app: Application,
    compared: ComparedResult,
    *,
    policy: SyncPolicy,
    prune: bool,
    self_heal: bool,
    attempts: int,
) -> Operation:
    multi = app.spec.has_multiple_sources
    sync = SyncOperation(
        revision="" if multi else (compared.revisions[0] if compared.revisions else ""),
        revisions=tuple(compared.revisions) if multi else (),
        prune=prune,
        sync_options=policy.sync_options,
        # A self-heal sync is a partial sync of the drifted resources, so hooks do not run.
        resources=compared.out_of_sync if self_heal else (),
        self_heal_attempts_count=attempts + 1 if self_heal else 0,
    )
    return Operation(
        sync=sync,
        initiated_by=InitiatedBy(automated=True),
        retry=automated_retry(policy),
    )


@dataclass(frozen=True, slots=True)
class RetryDecision:
    """Whether to retry a failed operation, and when (``at``); ``reason`` explains either way."""

    retry: bool
    reason: str
    at: datetime | None = None


def retry_decision(state: OperationState, now: datetime) -> RetryDecision:
    """Retry a ``Failed``/``Error`` operation per its ``retry``: ``limit`` (``-1`` unlimited; 0 or
    unset means no retries, except automated operations which default to 5), after
    ``duration * factor ** retryCount`` capped at ``maxDuration`` from ``finishedAt``."""
    if state.phase not in _FAILED_PHASES:
        return RetryDecision(False, f"operation phase is {state.phase or 'unset'}")
    strategy = state.operation.retry
    limit = strategy.limit if strategy is not None else None
    if limit is None:
        limit = AUTOMATED_DEFAULT_RETRY_LIMIT if state.operation.initiated_by.automated else 0
    if limit == 0:
        return RetryDecision(False, "no retry policy")
    if 0 < limit <= state.retry_count:
        return RetryDecision(False, f"retry limit {limit} reached ({state.retry_count} retries)")
    backoff = strategy.effective_backoff if strategy is not None else Backoff()
    delay = backoff.delay(state.retry_count)
    since = parse_time(state.finished_at) or parse_time(state.started_at) or _utc(now)
    at = since + delay
    return RetryDecision(True, f"retry {state.retry_count + 1} after {delay.total_seconds():.0f}s", at=at)
