"""Golden-file tests for notification templates (gotpl + Argo CD helpers)."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from argosy.core.notify import (
    ARGOSY_NOTIFICATIONS_DATA,
    RepoData,
    parse_config,
    render_templates,
    with_argosy_defaults,
)

FIXTURES = Path(__file__).parent / "fixtures" / "notify"
EXPECTED = FIXTURES / "expected"
APPS: dict[str, Any] = yaml.safe_load((FIXTURES / "apps.yaml").read_text())
SPEC_CM = yaml.safe_load((FIXTURES / "spec-7.3-configmap.yaml").read_text())
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
CONTEXT = "context: |\n  argocdUrl: https://argosy.example.com\n"
UPDATE = os.environ.get("ARGOSY_UPDATE_GOLDEN") == "1"


def _config(data: dict[str, str]) -> Any:
    return parse_config(with_argosy_defaults({**data, "context": "argocdUrl: https://argosy.example.com\n"}))


def _dump(body: dict[str, Any]) -> str:
    out: list[str] = []

    def walk(value: Any, path: str) -> None:
        if isinstance(value, dict):
            for k in sorted(value):
                walk(value[k], f"{path}.{k}" if path else k)
        else:
            out.append(f"----- {path}\n{value}")

    walk(body, "")
    return "\n".join(out).rstrip("\n") + "\n"


CASES = [
    # (golden name, config data, template, app, service type)
    ("spec-app-deployed.slack", SPEC_CM["data"], "app-deployed", "deployed", "slack"),
    ("spec-app-deployed.email-fresh", SPEC_CM["data"], "app-deployed", "fresh", "email"),
    ("spec-app-sync-failed.slack", SPEC_CM["data"], "app-sync-failed", "sync-failed", "slack"),
    ("argosy-drift-detected.slack", {}, "app-drift-detected", "drifted", "slack"),
    ("argosy-self-healed.email", {}, "app-self-healed", "drifted", "email"),
    ("argosy-rollback.slack", {}, "app-rollback", "drifted", "slack"),
]


@pytest.mark.parametrize(("golden", "data", "template", "app", "service"), CASES, ids=[c[0] for c in CASES])
def test_golden(golden: str, data: dict[str, str], template: str, app: str, service: str) -> None:
    result = render_templates(_config(data), [template], APPS[app], now=NOW, service_type=service)
    assert result.errors == ()
    text = _dump(result.body)
    path = EXPECTED / f"{golden}.txt"
    if UPDATE:
        path.write_text(text)
    assert text == path.read_text()


def test_spec_sync_failed_attachment_is_broken_json_and_argosy_ones_are_valid() -> None:
    """§7.3's attachment interpolates the operation message raw: a quote breaks the JSON."""
    spec = render_templates(_config(SPEC_CM["data"]), ["app-sync-failed"], APPS["sync-failed"], now=NOW)
    with pytest.raises(json.JSONDecodeError):
        json.loads(spec.body["slack"]["attachments"])
    for name in ("app-drift-detected", "app-self-healed", "app-rollback"):
        ours = render_templates(_config({}), [name], APPS["drifted"], now=NOW, service_type="slack")
        attachments = json.loads(ours.body["slack"]["attachments"])
        assert attachments[0]["title"] == "checkout"


def test_missing_label_renders_no_value_like_go() -> None:
    result = render_templates(_config(SPEC_CM["data"]), ["app-deployed"], APPS["fresh"], now=NOW)
    assert "Environment: <no value>" in (result.message or "")


def test_helpers_time_strings_repo_sync() -> None:
    data = {
        "template.t": yaml.safe_dump(
            {
                "message": (
                    "{{call .repo.RepoURLToHTTPS .app.spec.source.repoURL}}|"
                    "{{call .repo.FullNameByRepoURL .app.spec.source.repoURL}}|"
                    "{{(call .repo.GetCommitMetadata .app.status.sync.revision).Author}}|"
                    "{{call .strings.ToUpper .app.metadata.name}}|"
                    '{{call .strings.ReplaceAll .app.metadata.name "check" "pay"}}|'
                    '{{(call .time.Parse .app.status.operationState.finishedAt).Format "2006-01-02 15:04"}}|'
                    '{{(call .time.Now).Unix}}|{{ now | date "2006" }}|'
                    '{{call .sync.GetInfoItem .app "reason"}}|{{.recipient}}'
                )
            }
        )
    }
    app = dict(APPS["deployed"], operation={"info": [{"name": "reason", "value": "hotfix"}]})
    repo = RepoData(commits={"4f2c1e9a7b": {"Author": "Ada <ada@example.com>", "Message": "m"}})
    result = render_templates(parse_config(data), ["t"], app, now=NOW, repo=repo, recipient="#ops")
    assert result.errors == ()
    assert result.message == (
        "https://github.com/acme/shop-deploy.git|acme/shop-deploy|Ada <ada@example.com>|CHECKOUT|payout|"
        f"2026-03-01 10:01|{int(NOW.timestamp())}|2026|hotfix|#ops"
    )


def test_render_errors_are_reported_not_raised() -> None:
    data = {
        "template.bad": "message: '{{ .app.metadata.name'\n",
        "template.fails": "message: '{{call .repo.GetCommitMetadata \"x\"}}'\n",
    }
    result = render_templates(parse_config(data), ["bad", "fails", "missing"], APPS["deployed"], now=NOW)
    assert len(result.errors) == 3
    assert "not defined" in result.errors[2]


def test_templates_merge_in_order_and_keep_non_strings() -> None:
    data = {
        "template.a": "message: first\nslack:\n  notifyBroadcast: true\n  groupingKey: '{{.app.metadata.name}}'\n",  # noqa: E501
        "template.b": "message: second {{.serviceType}}\n",
    }
    result = render_templates(parse_config(data), ["a", "b"], APPS["deployed"], now=NOW, service_type="slack")
    assert result.body == {
        "message": "second slack",
        "slack": {"notifyBroadcast": True, "groupingKey": "checkout"},
    }


def test_argosy_data_parses() -> None:
    config = parse_config(dict(ARGOSY_NOTIFICATIONS_DATA))
    assert config.errors == ()
    assert set(config.triggers) == {"on-drift-detected", "on-self-healed", "on-rollback"}
