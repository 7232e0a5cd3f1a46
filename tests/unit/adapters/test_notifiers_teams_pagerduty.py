"""Teams (MessageCard, Adaptive Card) and PagerDuty (Events API v2) payloads: golden files of what a
template renders to for a sample application, the field rules, and the linter's checks."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from argosy.adapters.notifiers import SERVICE_TYPES
from argosy.adapters.notifiers.pagerduty import build_event
from argosy.adapters.notifiers.teams import build_adaptive_card_message, build_message_card
from argosy.core.notify import parse_config, render_templates
from argosy.core.notify.config import annotation_subscriptions
from argosy.core.notify.lint import SUPPORTED_SERVICE_TYPES, lint_notifications_data
from argosy.ports.notify import PermanentDeliveryError

ROOT = Path(__file__).resolve().parents[2]
APPS: dict[str, Any] = yaml.safe_load((ROOT / "unit/core/fixtures/notify/apps.yaml").read_text())
GOLDEN = Path(__file__).parent / "golden" / "notifiers"
UPDATE = os.environ.get("ARGOSY_UPDATE_GOLDEN") == "1"
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)

FACTS = """[
  {"name": "Sync Status", "value": {{.app.status.sync.status | toJson}}},
  {"name": "Revision", "value": {{.app.status.sync.revision | toJson}}},
  {"name": "Error", "value": {{.app.status.operationState.message | toJson}}}
]"""
ACTIONS = """[{"@type": "OpenUri", "name": "Open application", "targets": [{"os": "default",
  "uri": {{printf "%s/applications/%s" .context.argocdUrl .app.metadata.name | toJson}}}]}]"""
CARD_FIELDS = {
    "themeColor": "attention",
    "title": "Sync failed: {{.app.metadata.name}}",
    "summary": "{{.app.metadata.name}} sync failed",
    "facts": FACTS,
    "potentialAction": ACTIONS,
}
DATA = {
    "context": "argocdUrl: https://argosy.example.com\n",
    "service.teams": "recipientUrls:\n  deploys: $teams-deploys-url\n",
    "service.teams-workflows": "recipientUrls:\n  ops: $workflows-ops-url\n",
    "service.pagerdutyv2": "serviceKeys:\n  prod-oncall: $pagerduty-key\n",
    "template.app-sync-failed": yaml.safe_dump(
        {
            "message": "Sync of {{.app.metadata.name}} failed: {{.app.status.operationState.message}}",
            "teams": {**CARD_FIELDS, "themeColor": "#E81123"},
            "teams-workflows": {
                **CARD_FIELDS,
                "sections": '[{"facts": [{"name": "Namespace", '
                '"value": {{.app.spec.destination.namespace | toJson}}}]}]',
            },
            "pagerdutyv2": {
                "summary": "{{.app.metadata.name}} sync failed: {{.app.status.operationState.message}}",
                "severity": "error",
                "source": "{{.app.metadata.name}}",
                "component": "{{.app.spec.destination.namespace}}",
                "group": '{{.app.spec.project | default "default"}}',
                "class": "sync",
                "url": "{{.context.argocdUrl}}/applications/{{.app.metadata.name}}",
                "dedupKey": "{{.app.metadata.name}}-{{.app.status.operationState.syncResult.revision}}",
            },
        },
        sort_keys=False,
    ),
    "template.raw-card": yaml.safe_dump(
        {
            "teams": {"template": '{"@type": "MessageCard", "text": {{.app.metadata.name | toJson}}}'},
            "teams-workflows": {
                "adaptiveCard": '{"type": "AdaptiveCard", "version": "1.5", "$schema": '
                '"http://adaptivecards.io/schemas/adaptive-card.json", "msteams": {"width": "Full"}, '
                '"body": [{"type": "TextBlock", "text": {{.app.metadata.name | toJson}}, '
                '"style": "heading"}]}'
            },
        }
    ),
    "trigger.on-sync-failed": "- when: app.status.operationState?.phase in ['Error', 'Failed']\n"
    "  oncePer: app.status.operationState?.syncResult?.revision\n"
    "  send: [app-sync-failed]\n",
    "subscriptions": "- recipients: [teams:deploys, teams-workflows:ops, pagerdutyv2:prod-oncall]\n"
    "  triggers: [on-sync-failed]\n",
}


def _rendered(template: str, app: str = "sync-failed") -> dict[str, Any]:
    result = render_templates(parse_config(DATA), [template], APPS[app], now=NOW)
    assert result.errors == ()
    return result.body


def _golden(name: str, payload: Any) -> None:
    text = json.dumps(payload, indent=2, ensure_ascii=False) + "\n"
    path = GOLDEN / f"{name}.json"
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    assert text == path.read_text()


def test_teams_message_card_golden() -> None:
    card = json.loads(build_message_card(_rendered("app-sync-failed")))
    _golden("teams-message-card", card)
    # the error message has quotes: intact, because the facts use toJson
    assert card["sections"][-1]["facts"][2]["value"].startswith("one or more objects failed to apply")


def test_teams_workflows_adaptive_card_golden() -> None:
    message = json.loads(build_adaptive_card_message(_rendered("app-sync-failed")))
    _golden("teams-workflows-adaptive-card", message)
    card = message["attachments"][0]["content"]
    assert [e["type"] for e in card["body"]] == ["TextBlock", "TextBlock", "FactSet", "FactSet"]
    assert card["actions"] == [
        {
            "type": "Action.OpenUrl",
            "title": "Open application",
            "url": "https://argosy.example.com/applications/payments",
        }
    ]


def test_pagerduty_event_golden() -> None:
    event = build_event("R0UTINGKEY", _rendered("app-sync-failed"))
    _golden("pagerdutyv2-event", event)


def test_raw_teams_template_and_custom_adaptive_card_are_sent_as_written() -> None:
    rendered = _rendered("raw-card")
    assert build_message_card(rendered) == b'{"@type": "MessageCard", "text": "payments"}'
    message = json.loads(build_adaptive_card_message(rendered))
    card = message["attachments"][0]["content"]
    # unknown fields survive (Argo CD's engine drops them by decoding into its own struct)
    assert card["msteams"] == {"width": "Full"} and card["body"][0]["style"] == "heading"
    assert card["version"] == "1.5"


def test_message_alone_makes_a_card_and_text_wins_over_message() -> None:
    card = json.loads(build_message_card({"message": "hello"}))
    assert card == {"@type": "MessageCard", "@context": "https://schema.org/extensions", "title": "",
                    "summary": "", "text": "hello"}  # fmt: skip
    card = json.loads(build_message_card({"message": "hello", "teams": {"text": "bye"}}))
    assert card["text"] == "bye"
    message = json.loads(build_adaptive_card_message({"message": "hello"}))
    assert message["attachments"][0]["content"]["body"] == [
        {"type": "TextBlock", "text": "hello", "wrap": True}
    ]


@pytest.mark.parametrize(
    ("rendered", "error"),
    [
        ({"teams": {"facts": "[{broken"}}, "teams.facts is not valid JSON"),
        ({"teams": {"sections": '{"a": 1}'}}, "teams.sections must be a JSON list"),
        ({"teams": {"template": "{not json"}}, "teams.template is not valid JSON"),
    ],
)
def test_bad_teams_fields_fail_for_good(rendered: dict[str, Any], error: str) -> None:
    with pytest.raises(PermanentDeliveryError, match=error):
        build_message_card(rendered)


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        (None, "no pagerdutyv2 block"),
        ({"summary": "x", "severity": "error"}, r"pagerdutyv2.source must not be empty"),
        ({"summary": "", "source": "", "severity": "error"}, r"summary and .source"),
        ({"summary": "x", "source": "y", "severity": "high"}, "severity is 'high'"),
    ],
)
def test_bad_pagerduty_fields_fail_for_good(fields: dict[str, Any] | None, error: str) -> None:
    rendered = {"pagerdutyv2": fields} if fields is not None else {"message": "m"}
    with pytest.raises(PermanentDeliveryError, match=error):
        build_event("key", rendered)


def test_pagerduty_summary_is_cut_at_1024_and_optional_fields_left_out() -> None:
    event = build_event("key", {"pagerdutyv2": {"summary": "s" * 2000, "source": "a", "severity": "INFO"}})
    assert event == {
        "routing_key": "key",
        "event_action": "trigger",
        "payload": {"summary": "s" * 1024, "severity": "info", "source": "a"},
        "client": "Argosy",
    }


def test_linter_and_senders_know_the_same_service_types() -> None:
    assert set(SERVICE_TYPES) == set(SUPPORTED_SERVICE_TYPES)


def test_linter_checks_teams_and_pagerduty() -> None:
    data = {
        **DATA,
        "service.opsgenie": "apiKeys: {}\n",
        "service.pagerduty": "token: $pd-token\n",
        "template.pd-bad": "pagerdutyv2:\n  summary: '{{.app.metadata.name}}'\n  severity: high\n",
    }
    subs, _ = annotation_subscriptions(
        {
            "notifications.argoproj.io/subscribe.on-sync-failed.teams": "deploys;nobody",
            "notifications.argoproj.io/subscribe.on-sync-failed.pagerdutyv2": "prod-oncall",
            "notifications.argoproj.io/subscribe.on-sync-failed.opsgenie": "x",
            "notifications.argoproj.io/subscribe.on-sync-failed.pagerduty": "x",
        }
    )
    findings = lint_notifications_data(data, annotation_subscriptions=subs)
    by_code: dict[str, list[str]] = {}
    for f in findings:
        by_code.setdefault(f.code, []).append(f"{f.key}: {f.message}")
    assert sorted(k for k, _ in (m.split(": ", 1) for m in by_code["NTF012"])) == [
        "service.opsgenie",
        "service.pagerduty",
    ]
    assert any("use service.pagerdutyv2" in m for m in by_code["NTF012"])
    assert [m.split(":", 1)[0] for m in by_code["NTF013"]] == ["service.teams"]
    assert by_code["NTF014"] == [
        "app annotation: recipient teams:nobody is not a key of service.teams recipientUrls (deploys): "
        "every message to it fails"
    ]
    assert by_code["NTF015"] == [
        "template.pd-bad: pagerdutyv2 has no source: PagerDuty requires both, every event is rejected",
        "template.pd-bad: pagerdutyv2.severity is 'high'; PagerDuty accepts critical, error, warning, info",
    ]
    # the well-formed template and the configured recipients raise nothing of these
    assert not any("app-sync-failed" in m for m in by_code.get("NTF015", []) + by_code.get("NTF004", []))
