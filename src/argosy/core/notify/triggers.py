"""Trigger evaluation, subscriptions and de-duplication.

Layer 1 (``argosy.core``), pure; standard library and sibling modules. The de-duplication state
is a plain ``dict[str, int]`` (key -> unix seconds of the send), the same shape as Argo CD's
``notified.notifications.argoproj.io`` annotation; the shell persists it.

Rules (notifications-engine's, with one Argosy change: a key is marked *after* a successful send,
by the shell calling :func:`mark_sent`):

* a condition's key is ``[<oncePer value>:]<trigger>:[<index>].<hash of when>:<service>:<recipient>``;
* a true condition is sent to a destination unless its key is already in the state;
* a condition that is false removes its keys without ``oncePer``, so the next time it turns true
  it fires again; keys with an ``oncePer`` value are kept (once per value, e.g. per revision);
* an evaluation error (or a non-boolean ``when``) is recorded and changes nothing;
* the state keeps at most :data:`MAX_STATE_ENTRIES` keys, the oldest are evicted.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from argosy.core.notify.config import (
    Condition,
    Destination,
    NotificationsConfig,
    Subscription,
    Trigger,
    annotation_subscriptions,
    parse_label_selector,
)
from argosy.core.notify.expr import ExprError, go_format_value
from argosy.core.notify.helpers import RepoData, expr_env

__all__ = [
    "MAX_STATE_ENTRIES",
    "NOTIFIED_ANNOTATION",
    "ConditionResult",
    "Evaluation",
    "Notification",
    "condition_key",
    "evaluate_app",
    "evaluate_trigger",
    "mark_sent",
    "state_from_annotation",
    "state_to_annotation",
    "subscribed_destinations",
    "unmark",
]

MAX_STATE_ENTRIES = 100
NOTIFIED_ANNOTATION = "notified.notifications.argoproj.io"


@dataclass(frozen=True, slots=True)
class ConditionResult:
    """The outcome of one condition of one trigger for one app."""

    trigger: str
    index: int
    key: str
    triggered: bool
    templates: tuple[str, ...]
    once_per: str | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Notification:
    """One message to send: render ``templates`` for ``service``/``recipient``, then mark ``dedupe_key``."""

    trigger: str
    condition_index: int
    templates: tuple[str, ...]
    service: str
    service_type: str
    recipient: str
    dedupe_key: str


@dataclass(frozen=True, slots=True)
class Evaluation:
    """What :func:`evaluate_app` decided: sends, per-condition results, the updated state, errors."""

    notifications: tuple[Notification, ...]
    results: tuple[ConditionResult, ...]
    state: dict[str, int] = field(default_factory=dict)
    errors: tuple[str, ...] = ()


def condition_key(index: int, when: str) -> str:
    digest = hashlib.sha256(when.encode("utf-8")).hexdigest()[:16]
    return f"[{index}].{digest}"


def _dedupe_key(once_per: str | None, trigger: str, ckey: str, dest: Destination) -> str:
    base = f"{trigger}:{ckey}:{dest.service}:{dest.recipient}"
    return f"{once_per}:{base}" if once_per is not None else base


def _evaluate_condition(
    trigger: str, index: int, cond: Condition, env: Mapping[str, object]
) -> ConditionResult:
    ckey = condition_key(index, cond.when)
    if cond.error is not None or cond.when_expr is None:
        return ConditionResult(trigger, index, ckey, False, cond.send, error=cond.error or "not compiled")
    try:
        value = cond.when_expr.evaluate(env)
    except ExprError as exc:
        return ConditionResult(trigger, index, ckey, False, cond.send, error=f"when: {exc}")
    if not isinstance(value, bool):
        return ConditionResult(
            trigger,
            index,
            ckey,
            False,
            cond.send,
            error=f"when: result is {go_format_value(value)!r}, not a bool",
        )
    once_per: str | None = None
    if value and cond.once_per_expr is not None:
        try:
            once_per = go_format_value(cond.once_per_expr.evaluate(env))
        except ExprError as exc:
            return ConditionResult(trigger, index, ckey, False, cond.send, error=f"oncePer: {exc}")
    return ConditionResult(trigger, index, ckey, value, cond.send, once_per=once_per)


def evaluate_trigger(
    trigger: Trigger, app: Mapping[str, Any], *, now: datetime, repo: RepoData | None = None
) -> list[ConditionResult]:
    """Evaluate every condition of ``trigger`` for ``app``; never raises on expression errors."""
    env = expr_env(app, now=now, repo=repo)
    return [_evaluate_condition(trigger.name, i, c, env) for i, c in enumerate(trigger.conditions)]


def _labels(obj: Mapping[str, Any] | None) -> Mapping[str, Any]:
    meta = (obj or {}).get("metadata") or {}
    return meta.get("labels") or {} if isinstance(meta, Mapping) else {}


def _annotations(obj: Mapping[str, Any] | None) -> Mapping[str, str]:
    meta = (obj or {}).get("metadata") or {}
    return meta.get("annotations") or {} if isinstance(meta, Mapping) else {}


def subscribed_destinations(
    config: NotificationsConfig,
    app: Mapping[str, Any],
    project: Mapping[str, Any] | None = None,
) -> tuple[dict[str, list[Destination]], list[str]]:
    """Trigger name -> destinations, from ConfigMap ``subscriptions`` whose selector matches the
    app's labels, the AppProject's annotations and the app's annotations; plus error messages."""
    errors: list[str] = []
    subs: list[Subscription] = []
    for sub in config.subscriptions:
        try:
            if parse_label_selector(sub.selector).matches(_labels(app)):
                subs.append(sub)
        except ValueError as exc:
            errors.append(str(exc))
    for source, obj in (("project", project), ("app", app)):
        found, bad = annotation_subscriptions(_annotations(obj), source=source)
        subs.extend(found)
        errors.extend(f"{source} annotation {e.key}: {e.message}" for e in bad)
    out: dict[str, list[Destination]] = {}
    for sub in subs:
        for dest in sub.destinations:
            for trigger in sub.triggers or config.defaults_for(dest.service):
                bucket = out.setdefault(trigger, [])
                if dest not in bucket:
                    bucket.append(dest)
    return out, errors


def evaluate_app(
    config: NotificationsConfig,
    app: Mapping[str, Any],
    *,
    now: datetime,
    state: Mapping[str, int] | None = None,
    project: Mapping[str, Any] | None = None,
    repo: RepoData | None = None,
) -> Evaluation:
    """Decide which notifications to send for ``app`` now.

    Only subscribed triggers are evaluated. The returned state has the keys of false conditions
    removed; the shell sends each notification and calls :func:`mark_sent` on success.
    """
    new_state = dict(state or {})
    destinations, errors = subscribed_destinations(config, app, project)
    env = expr_env(app, now=now, repo=repo)
    notifications: list[Notification] = []
    results: list[ConditionResult] = []
    for trigger_name in sorted(destinations):
        trigger = config.triggers.get(trigger_name)
        if trigger is None:
            errors.append(f"trigger {trigger_name!r} is subscribed to but not defined")
            continue
        dests = []
        for dest in destinations[trigger_name]:
            if dest.service in config.services:
                dests.append(dest)
            else:
                errors.append(f"service {dest.service!r} (trigger {trigger_name!r}) is not defined")
        for index, cond in enumerate(trigger.conditions):
            result = _evaluate_condition(trigger_name, index, cond, env)
            results.append(result)
            if result.error is not None:
                errors.append(f"trigger {trigger_name!r} condition {index}: {result.error}")
                continue
            for dest in dests:
                if not result.triggered:
                    new_state.pop(_dedupe_key(None, trigger_name, result.key, dest), None)
                    continue
                key = _dedupe_key(result.once_per, trigger_name, result.key, dest)
                if key in new_state:
                    continue
                notifications.append(
                    Notification(
                        trigger=trigger_name,
                        condition_index=index,
                        templates=result.templates,
                        service=dest.service,
                        service_type=config.services[dest.service].type,
                        recipient=dest.recipient,
                        dedupe_key=key,
                    )
                )
    return Evaluation(tuple(notifications), tuple(results), new_state, tuple(errors))


def mark_sent(
    state: Mapping[str, int], key: str, *, now: datetime, max_entries: int = MAX_STATE_ENTRIES
) -> dict[str, int]:
    """A new state with ``key`` marked at ``now``; the oldest entries beyond ``max_entries`` go."""
    new_state = dict(state)
    new_state[key] = int(now.timestamp())
    if len(new_state) > max_entries:
        ordered = sorted(new_state.items(), key=lambda kv: (kv[1], kv[0]))
        for old_key, _ in ordered[: len(new_state) - max_entries]:
            if old_key != key:
                del new_state[old_key]
    return new_state


def unmark(state: Mapping[str, int], key: str) -> dict[str, int]:
    """A new state without ``key`` (e.g. after a retryable send failure)."""
    return {k: v for k, v in state.items() if k != key}


def state_from_annotation(text: str | None) -> dict[str, int]:
    """Read the ``notified.notifications.argoproj.io`` JSON map; unreadable text gives ``{}``."""
    if not text:
        return {}
    try:
        loaded = json.loads(text)
    except ValueError:
        return {}
    if not isinstance(loaded, dict):
        return {}
    return {str(k): int(v) for k, v in loaded.items() if isinstance(v, int | float)}


def state_to_annotation(state: Mapping[str, int]) -> str:
    return json.dumps(dict(sorted(state.items())), separators=(",", ":"))
