"""``argosy admin notifications template notify | trigger run | lint`` on the example configuration."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

import argosy.cli.main  # noqa: F401  (registers the command modules)
from argosy.cli.groups import app as cli
from tests.support.receivers import HttpReceiver

ROOT = Path(__file__).resolve().parents[3]
CM = ROOT / "examples/sophia-platform/argocd/config/argocd-notifications-cm.yaml"
NOTIFICATIONS = ["admin", "notifications"]
APP = {
    "apiVersion": "argoproj.io/v1alpha1",
    "kind": "Application",
    "metadata": {
        "name": "artemis-web",
        "namespace": "argocd",
        "labels": {"environment": "production", "app.kubernetes.io/part-of": "artemis-suite"},
    },
    "spec": {
        "project": "artemis",
        "destination": {"server": "https://kubernetes.default.svc", "namespace": "web"},
    },
    "status": {
        "sync": {"status": "Synced", "revision": "abc123"},
        "health": {"status": "Healthy"},
        "operationState": {
            "phase": "Succeeded",
            "startedAt": "2026-11-25T10:00:00Z",
            "finishedAt": "2026-11-25T10:01:00Z",
            "syncResult": {"revision": "abc123"},
        },
    },
}


@pytest.fixture
def app_file(tmp_path: Path) -> Path:
    path = tmp_path / "app.yaml"
    path.write_text(yaml.safe_dump(APP))
    return path


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, [*NOTIFICATIONS, *args])
    return result.exit_code, result.stdout, result.stderr


def test_trigger_run_prints_each_condition(app_file: Path) -> None:
    code, out, _ = run("trigger", "run", "on-deployed", str(app_file), "--config-map", str(CM))
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["CONDITION", "RESULT"]
    assert lines[1].startswith("app.status.operationState?.phase in ['Succeeded']") and lines[1].endswith(
        "true"
    )
    code, out, _ = run("trigger", "run", "on-sync-failed", str(app_file), "--config-map", str(CM))
    assert code == 0 and out.splitlines()[1].endswith("false")


def test_trigger_run_unknown_trigger_is_bad_input(app_file: Path) -> None:
    code, _, err = run("trigger", "run", "on-nothing", str(app_file), "--config-map", str(CM))
    assert code == 20 and "on-nothing" in err


def test_template_notify_prints_to_the_console_by_default(app_file: Path) -> None:
    code, out, _ = run("template", "notify", "app-deployed", str(app_file), "--config-map", str(CM))
    assert code == 0
    body = yaml.safe_load(out)
    assert "Application artemis-web has been successfully deployed." in body["message"]
    assert body["email"]["subject"].strip() == "artemis-web deployed successfully"
    assert json.loads(body["slack"]["attachments"])[0]["fields"][0]["value"] == "abc123"


@pytest.fixture
def slack() -> Iterator[HttpReceiver]:
    receiver = HttpReceiver("xoxb-cli-test-token")
    receiver.start()
    try:
        yield receiver
    finally:
        receiver.stop()


def test_template_notify_sends_to_a_recipient(app_file: Path, tmp_path: Path, slack: HttpReceiver) -> None:
    doc = yaml.safe_load(CM.read_text())
    doc["data"]["service.slack"] = yaml.safe_dump({"token": "$slack-token", "apiURL": f"{slack.url}/api/"})
    cm = tmp_path / "cm.yaml"
    cm.write_text(yaml.safe_dump(doc))
    secret = tmp_path / "secret.yaml"
    secret.write_text(
        yaml.safe_dump(
            {"apiVersion": "v1", "kind": "Secret", "stringData": {"slack-token": "xoxb-cli-test-token"}}
        )
    )
    args = ["template", "notify", "app-deployed", str(app_file), "--config-map", str(cm)]
    code, out, err = run(*args, "--secret", str(secret), "--recipient", "slack:ops")
    assert code == 0, err
    assert out.strip() == "sent to slack:ops"
    (message,) = slack.slack_messages()
    assert message["channel"] == "ops" and message["attachments"][0]["title"] == "✅ Deployment Successful"
    # a wrong token: the service refuses, exit 1
    secret.write_text(yaml.safe_dump({"slack-token": "wrong"}))
    code, _, err = run(*args, "--secret", str(secret), "--recipient", "slack:ops")
    assert code == 1 and "invalid_auth" in err


def test_template_notify_unknown_template(app_file: Path) -> None:
    code, _, err = run("template", "notify", "nope", str(app_file), "--config-map", str(CM))
    assert code == 20 and "nope" in err


def test_lint_example_has_no_errors() -> None:
    code, out, _ = run("lint", "--config-map", str(CM))
    assert code == 0, out
    assert "error:" not in out


def test_lint_reports_the_spec_pitfalls(tmp_path: Path) -> None:
    data = {
        "service.slack": "token: $slack-token\nsigningSecret: $slack-signing-secret\n",
        "template.app-sync-failed": (
            "message: failed\nslack:\n  attachments: |\n"
            '    [{"title": "Error", "text": "{{.app.status.operationState.message}}"}]\n'
        ),
        "trigger.on-sync-failed": "- when: app.status.operationState.phase in ['Error', 'Failed']\n"
        "  send: [app-sync-failed]\n",
        "subscriptions": "- recipients: [slack:ops]\n  triggers: [on-sync-failed]\n",
    }
    path = tmp_path / "data.yaml"
    path.write_text(yaml.safe_dump(data))
    code, out, _ = run("lint", "--config-map", str(path))
    assert code == 1
    assert "NTF004" in out and "NTF005" in out and "NTF006" in out
