"""Trigger semantics: expr-lang evaluation, oncePer, re-fire after false, subscriptions, state."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from argosy.core.notify import (
    ExprError,
    annotation_subscriptions,
    compile_expr,
    evaluate_app,
    evaluate_trigger,
    expr_env,
    mark_sent,
    parse_config,
    parse_label_selector,
    parse_trigger,
    resolve_settings,
    state_from_annotation,
    state_to_annotation,
    unmark,
    with_argosy_defaults,
)

FIXTURES = Path(__file__).parent / "fixtures" / "notify"
APPS: dict[str, Any] = yaml.safe_load((FIXTURES / "apps.yaml").read_text())
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def ev(source: str, app: dict[str, Any] | None = None) -> object:
    return compile_expr(source).evaluate(expr_env(app or APPS["deployed"], now=NOW))


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("app.status.operationState.phase in ['Succeeded']", True),
        ("app.status.operationState.phase in ['Error', 'Failed']", False),
        ("app.status.operationState.phase not in ['Error']", True),
        ("app.status.health.status == 'Healthy' && app.status.sync.status != 'OutOfSync'", True),
        ("!(app.status.health.status == 'Healthy') || false", False),
        ("not true or true", True),
        ("app.status.nothing == nil", True),
        ("app.status.nothing?.deeper.still", None),
        ("app.status.operationState?.syncResult?.revision", "4f2c1e9a7b"),
        ("app.metadata.labels['environment']", "production"),
        ("app.metadata.labels.environment ?? 'none'", "production"),
        ("app.metadata.labels.missing ?? 'none'", "none"),
        ("len(app.metadata.name) > 3 ? 'long' : 'short'", "long"),
        ("1 + 2 * 3", 7),
        ("7 / 2", 3.5),
        ("'ab' + \"cd\"", "abcd"),
        ("app.metadata.name startsWith 'check' and app.metadata.name matches '^c.*t$'", True),
        ("time.Now().Sub(time.Parse(app.status.operationState.finishedAt)).Hours() > 24", True),
        ("time.Now().Sub(time.Parse(app.status.operationState.finishedAt)).Minutes()", 24 * 60 + 119.0),
        ("time.Parse(app.status.operationState.startedAt).Add(2 * time.Minute).After(time.Now())", False),
        ("time.Parse('2026-03-02T11:00:00Z') < time.Now()", True),
        ("strings.ToUpper(app.metadata.name)", "CHECKOUT"),
        ("repo.FullNameByRepoURL(app.spec.source.repoURL)", "acme/shop-deploy"),
        ("[1, 2][1]", 2),
        ("{a: 1}.a", 1),
        ("", False),
    ],
)
def test_expressions(source: str, expected: object) -> None:
    assert ev(source) == expected


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("app.status.missing.phase", "cannot fetch phase from <nil>"),
        ("app.status.health.status and true", "need bool"),
        ("nil in 3", "operator in"),
        ("time.Parse(app.status.missing)", "parsing time"),
        ("app.__class__.__init__", "cannot fetch __init__ from <nil>"),
        ("strings.__class__", "has no field"),
        ("unknownFn()", "unknown function"),
        ("10 ** 10 ** 10", "invalid operation"),
    ],
)
def test_expression_errors(source: str, message: str) -> None:
    with pytest.raises(ExprError, match=message):
        ev(source)


@pytest.mark.parametrize("source", ["a ==", "(a", "a[1", "'unterminated", "a ? b", "a.1"])
def test_syntax_errors(source: str) -> None:
    with pytest.raises(ExprError):
        compile_expr(source)


def test_evaluate_trigger_records_errors_never_raises() -> None:
    trigger = parse_trigger(
        "t", "- when: app.status.operationState.phase == 'Running'\n  send: [x]\n- when: 3\n  send: [x]\n"
    )
    first, second = evaluate_trigger(trigger, APPS["fresh"], now=NOW)
    assert not first.triggered and "cannot fetch phase from <nil>" in (first.error or "")
    assert not second.triggered and "not a bool" in (second.error or "")


def _config(**extra: str) -> Any:
    data = {
        "service.slack": "token: $slack-token\n",
        "service.webhook.tracker": "url: https://tracker.example.com\nheaders:\n- name: Authorization\n  value: Bearer $tok\n",  # noqa: E501
        "template.t": "message: hi\n",
        "trigger.on-healthy": "- when: app.status.health.status == 'Healthy'\n  send: [t]\n",
        "trigger.on-healthy-once": (
            "- when: app.status.health.status == 'Healthy'\n  send: [t]\n"
            "  oncePer: app.status.operationState?.syncResult?.revision\n"
        ),
        "subscriptions": "- recipients: [slack:ops, tracker]\n  triggers: [on-healthy, on-healthy-once]\n",
    }
    data.update(extra)
    return parse_config(data)


def _with_health(app: dict[str, Any], status: str, revision: str = "4f2c1e9a7b") -> dict[str, Any]:
    app = copy.deepcopy(app)
    app["status"]["health"]["status"] = status
    app["status"]["operationState"]["syncResult"]["revision"] = revision
    return app


def _send_all(evaluation: Any, state: dict[str, int]) -> dict[str, int]:
    for n in evaluation.notifications:
        state = mark_sent(state, n.dedupe_key, now=NOW)
    return state


def test_default_dedupe_refires_after_false_and_oncePer_does_not() -> None:
    config = _config()
    app = APPS["deployed"]
    first = evaluate_app(config, app, now=NOW, state={})
    assert {(n.trigger, n.service, n.recipient) for n in first.notifications} == {
        ("on-healthy", "slack", "ops"),
        ("on-healthy", "tracker", ""),
        ("on-healthy-once", "slack", "ops"),
        ("on-healthy-once", "tracker", ""),
    }
    once_keys = [n.dedupe_key for n in first.notifications if n.trigger == "on-healthy-once"]
    assert all(k.startswith("4f2c1e9a7b:on-healthy-once:[0].") for k in once_keys)
    state = _send_all(first, first.state)

    # still true: nothing new
    assert evaluate_app(config, app, now=NOW, state=state).notifications == ()
    # health flaps: the plain key is dropped, the oncePer key stays
    flapped = evaluate_app(config, _with_health(app, "Progressing"), now=NOW, state=state)
    assert flapped.notifications == ()
    assert all(k.startswith("4f2c1e9a7b:") for k in flapped.state)
    # healthy again, same revision: only the trigger without oncePer re-fires
    again = evaluate_app(config, app, now=NOW, state=flapped.state)
    assert {n.trigger for n in again.notifications} == {"on-healthy"}
    # new revision: oncePer fires again
    state = _send_all(again, again.state)
    newrev = evaluate_app(config, _with_health(app, "Healthy", "abc123"), now=NOW, state=state)
    assert {n.trigger for n in newrev.notifications} == {"on-healthy-once"}


def test_unsent_notification_fires_again_and_unmark() -> None:
    config = _config()
    first = evaluate_app(config, APPS["deployed"], now=NOW)
    again = evaluate_app(config, APPS["deployed"], now=NOW, state=first.state)
    assert len(again.notifications) == len(first.notifications)
    key = first.notifications[0].dedupe_key
    state = mark_sent({}, key, now=NOW)
    assert unmark(state, key) == {}


def test_nil_safe_trigger_on_fresh_app_records_error_for_unsafe_one() -> None:
    config = _config(
        **{
            "trigger.unsafe": "- when: app.status.operationState.phase in ['Succeeded']\n  send: [t]\n",
            "trigger.safe": "- when: app.status.operationState?.phase in ['Succeeded']\n  send: [t]\n",
            "subscriptions": "- recipients: [slack:ops]\n  triggers: [unsafe, safe]\n",
        }
    )
    result = evaluate_app(config, APPS["fresh"], now=NOW)
    assert result.notifications == ()
    assert [r.error is None for r in result.results] == [True, False]  # sorted: safe, unsafe
    assert any("cannot fetch phase from <nil>" in e for e in result.errors)


def test_subscriptions_selector_annotations_defaults() -> None:
    config = parse_config(
        {
            "service.slack": "token: x\n",
            "service.email": "host: smtp\n",
            "template.t": "message: hi\n",
            "trigger.a": "- when: 'true'\n  send: [t]\n",
            "trigger.b": "- when: 'true'\n  send: [t]\n",
            "defaultTriggers": "- a\n",
            "defaultTriggers.email": "- b\n",
            "subscriptions": (
                "- recipients: [slack:prod]\n  selector: environment=production\n  triggers: [a]\n"
                "- recipients: [slack:stage]\n  selector: environment in (staging, qa)\n  triggers: [a]\n"
            ),
        }
    )
    app = copy.deepcopy(APPS["deployed"])
    app["metadata"]["annotations"] = {
        "notifications.argoproj.io/subscribe.b.slack": "team-a; team-b",
        "notifications.argoproj.io/subscribe.email": "dev@example.com",
        "notifications.argoproj.io/subscribe.a.nope": "x",
    }
    project = {"metadata": {"annotations": {"notifications.argoproj.io/subscribe.a.slack": "proj"}}}
    result = evaluate_app(config, app, now=NOW, project=project)
    sends = sorted((n.trigger, n.service, n.recipient) for n in result.notifications)
    assert sends == [
        ("a", "slack", "prod"),
        ("a", "slack", "proj"),
        ("b", "email", "dev@example.com"),
        ("b", "slack", "team-a"),
        ("b", "slack", "team-b"),
    ]
    assert any("'nope'" in e for e in result.errors)


def test_yaml_subscriptions_annotation() -> None:
    subs, errors = annotation_subscriptions(
        {
            "notifications.argoproj.io/subscriptions": (
                "- trigger: [on-sync-succeeded]\n  destinations:\n  - service: slack\n    recipients: [a, b]\n"  # noqa: E501
            ),
            "notifications.argoproj.io/subscribe.x.y.z": "bad",
        }
    )
    assert [(s.triggers, [(d.service, d.recipient) for d in s.destinations]) for s in subs] == [
        (("on-sync-succeeded",), [("slack", "a"), ("slack", "b")])
    ]
    assert len(errors) == 1


@pytest.mark.parametrize(
    ("selector", "labels", "matches"),
    [
        ("", {}, True),
        ("a=b", {"a": "b"}, True),
        ("a==b,c!=d", {"a": "b", "c": "e"}, True),
        ("a in (x, y)", {"a": "z"}, False),
        ("a notin (x)", {}, True),
        ("a,!b", {"a": "1"}, True),
        ("app.kubernetes.io/part-of=artemis-suite", {"app.kubernetes.io/part-of": "artemis-suite"}, True),
    ],
)
def test_label_selector(selector: str, labels: dict[str, str], matches: bool) -> None:
    assert parse_label_selector(selector).matches(labels) is matches


def test_state_cap_and_annotation_roundtrip() -> None:
    state: dict[str, int] = {}
    for i in range(105):
        state = mark_sent(state, f"k{i:03d}", now=NOW + timedelta(seconds=i), max_entries=100)
    assert len(state) == 100 and "k000" not in state and "k104" in state
    assert state_from_annotation(state_to_annotation(state)) == state
    assert state_from_annotation("not json") == {}


def test_secrets_resolved_and_never_in_repr() -> None:
    config = _config()
    resolved = resolve_settings(config.services["tracker"], {"tok": "s3cr3t"})
    assert resolved.values["headers"][0]["value"] == "Bearer s3cr3t"
    assert "s3cr3t" not in repr(resolved)
    assert resolve_settings(config.services["slack"], {}).unresolved == ("slack-token",)


def test_argosy_triggers() -> None:
    config = parse_config(
        with_argosy_defaults(
            {
                "service.slack": "token: x\n",
                "defaultTriggers": "[on-drift-detected, on-self-healed, on-rollback]",
            }
        )
    )
    app = copy.deepcopy(APPS["drifted"])
    app["metadata"]["annotations"] = {"notifications.argoproj.io/subscribe.slack": "ops"}
    first = evaluate_app(config, app, now=NOW)
    assert sorted(n.trigger for n in first.notifications) == [
        "on-drift-detected",
        "on-rollback",
        "on-self-healed",
    ]
    assert evaluate_app(config, APPS["deployed"] | {"metadata": app["metadata"]}, now=NOW).notifications == ()
    state = _send_all(first, first.state)
    app["status"]["argosy"]["drift"]["detectedAt"] = "2026-03-03T00:00:00Z"
    assert [n.trigger for n in evaluate_app(config, app, now=NOW, state=state).notifications] == [
        "on-drift-detected"
    ]
