"""The notifications linter on the spec §7.3 ConfigMap (fixture copied from our spec) and edge cases."""

from __future__ import annotations

from pathlib import Path

import yaml

from argosy.core.notify import (
    ARGOSY_NOTIFICATIONS_DATA,
    Severity,
    annotation_subscriptions,
    lint_notifications_data,
)
from argosy.core.notify.lint import nil_unsafe_paths

SPEC = yaml.safe_load((Path(__file__).parent / "fixtures" / "notify" / "spec-7.3-configmap.yaml").read_text())


def _codes(findings: list) -> list[tuple[str, str]]:  # type: ignore[type-arg]
    return [(f.code, f.key) for f in findings]


def test_spec_7_3_pitfalls() -> None:
    findings = lint_notifications_data(SPEC["data"])
    assert sorted(_codes(findings)) == sorted(
        [
            ("NTF002", "service.webhook.deployment-tracker"),
            ("NTF005", "service.slack"),
            ("NTF003", "trigger.on-deployed"),
            ("NTF006", "trigger.on-deployed"),
            ("NTF006", "trigger.on-sync-failed"),
            ("NTF004", "template.app-sync-failed"),
            ("NTF010", "template.app-deployed"),
            ("NTF010", "template.app-deployed"),
        ]
    )
    by_code = {f.code: f for f in findings}
    assert "deployment-tracker" in by_code["NTF002"].message
    assert "signingSecret" in by_code["NTF005"].message
    assert by_code["NTF004"].severity is Severity.ERROR
    assert "operationState.message | toJson" in by_code["NTF004"].message
    assert "app.status.operationState.phase" in by_code["NTF006"].message


def test_annotation_subscription_marks_service_used_and_secrets_checked() -> None:
    subs, _ = annotation_subscriptions(
        {"notifications.argoproj.io/subscribe.on-deployed.deployment-tracker": ""}
    )
    findings = lint_notifications_data(
        SPEC["data"], annotation_subscriptions=subs, secrets={"slack-token": "x"}
    )
    codes = _codes(findings)
    assert ("NTF002", "service.webhook.deployment-tracker") not in codes
    missing = [f for f in findings if f.code == "NTF011"]
    assert {f.key for f in missing} == {
        "service.slack",
        "service.email",
        "service.webhook.deployment-tracker",
    }
    assert all("x" not in f.message.split("$")[0] for f in missing)


def test_missing_references_and_parse_errors() -> None:
    data = {
        "service.slack": "token: t\n",
        "trigger.t": "- when: app.x ==\n  send: [nope]\n",
        "template.bad": "message: '{{ .app.metadata.name '\n",
        "template.json": 'webhook:\n  hook:\n    body: \'{"m": {{ .app.status.operationState.message | toJson }}, "n": "{{.app.metadata.name}}"}\'\n',  # noqa: E501
        "subscriptions": "- recipients: [slack:a, ghost:b]\n  triggers: [t, undefined]\n",
        "defaultTriggers": "[also-undefined]",
        "context": "[not, a, map]",
    }
    codes = _codes(lint_notifications_data(data))
    assert ("NTF001", "trigger.t") in codes
    assert ("NTF001", "template.bad") in codes
    assert ("NTF001", "context") in codes
    assert ("NTF007", "trigger.t") in codes
    assert ("NTF008", "subscriptions") in codes
    assert ("NTF008", "defaultTriggers") in codes
    assert ("NTF009", "subscriptions") in codes
    assert not any(code == "NTF004" for code, _ in codes)  # toJson'd message, safe name


def test_nil_unsafe_detection() -> None:
    assert nil_unsafe_paths("app.status.operationState.phase == 'x'") == ["app.status.operationState.phase"]
    assert (
        nil_unsafe_paths("app.status.operationState != nil and app.status.operationState.phase == 'x'") == []
    )
    assert nil_unsafe_paths("app.status.operationState?.phase == 'x'") == []
    assert nil_unsafe_paths("app.status.health.status == 'Healthy'") == []


def test_argosy_defaults_are_clean() -> None:
    data = dict(ARGOSY_NOTIFICATIONS_DATA)
    data["service.slack"] = "token: t\n"
    data["subscriptions"] = (
        "- recipients: [slack:ops]\n  triggers: [on-drift-detected, on-self-healed, on-rollback]\n"
    )
    assert lint_notifications_data(data) == []
