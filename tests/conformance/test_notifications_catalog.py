"""Argo CD notifications catalog conformance: ../shared/conformance/notifications.

Every catalog trigger and template loads (from the per-file YAML and from install.yaml, which must
agree); every trigger's ``when``/``oncePer`` evaluates without error on sample applications built
here (deployed, degraded, sync failed/running/succeeded, unknown, created, deleted) and fires on
exactly the samples its description names; every template renders for the matching sample on
slack, email and teams with the app name, status and revision and without ``<no value>``, and its
JSON fields parse. notes.yaml gives no expected texts, so these are the assertions.
The data is read at test time and never copied into this repository.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from argosy.core.notify import evaluate_trigger, parse_config, parse_template, parse_trigger, render_templates

REPO_ROOT = Path(__file__).resolve().parents[2]
DATA = REPO_ROOT.parent / "shared" / "conformance" / "notifications"

pytestmark = pytest.mark.conformance

if not (DATA / "install.yaml").is_file():
    pytest.skip(f"notifications catalog data not found at {DATA}", allow_module_level=True)

INSTALL: dict[str, str] = yaml.safe_load((DATA / "install.yaml").read_text())["data"]
TRIGGER_FILES = sorted((DATA / "triggers").glob("*.yaml"))
TEMPLATE_FILES = sorted((DATA / "templates").glob("*.yaml"))
NOTES = yaml.safe_load((DATA / "notes.yaml").read_text())
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
REVISION = "8c1f0d2e4b6a"


def _app(phase: str | None, health: str, sync: str, **extra: Any) -> dict[str, Any]:
    app: dict[str, Any] = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": "guestbook", "namespace": "argocd", "creationTimestamp": "2026-03-01T09:00:00Z"},
        "spec": {
            "project": "default",
            "source": {
                "repoURL": "https://github.com/acme/guestbook.git",
                "path": "guestbook",
                "targetRevision": "HEAD",
            },
            "destination": {"server": "https://kubernetes.default.svc", "namespace": "guestbook"},
        },
        "status": {
            "sync": {"status": sync, "revision": REVISION},
            "health": {"status": health, "lastTransitionTime": "2026-03-01T10:00:30Z"},
            "conditions": [{"type": "SyncError", "message": "Failed sync attempt"}],
        },
    }
    if phase is not None:
        app["status"]["operationState"] = {
            "phase": phase,
            "message": f"sync {phase.lower()}",
            "startedAt": "2026-03-01T10:00:00Z",
            "finishedAt": "2026-03-01T10:00:20Z",
            "syncResult": {"revision": REVISION},
        }
    for key, value in extra.items():
        app["metadata"][key] = value
    return app


SAMPLES: dict[str, dict[str, Any]] = {
    "created": _app(None, "Missing", "OutOfSync"),
    "deployed": _app("Succeeded", "Healthy", "Synced"),
    "succeeded-progressing": _app("Succeeded", "Progressing", "Synced"),
    "degraded": _app("Succeeded", "Degraded", "Synced"),
    "sync-failed": _app("Failed", "Healthy", "OutOfSync"),
    "sync-error": _app("Error", "Healthy", "OutOfSync"),
    "running": _app("Running", "Progressing", "OutOfSync"),
    "unknown": _app(None, "Unknown", "Unknown"),
    "deleted": _app("Succeeded", "Healthy", "Synced", deletionTimestamp="2026-03-01T11:00:00Z"),
}
# Which samples each catalog trigger fires on (on-created always: once per app name).
FIRES: dict[str, set[str]] = {
    "on-created": set(SAMPLES),
    "on-deleted": {"deleted"},
    "on-deployed": {"deployed", "deleted"},
    "on-health-degraded": {"degraded"},
    "on-sync-failed": {"sync-failed", "sync-error"},
    "on-sync-running": {"running"},
    "on-sync-status-unknown": {"unknown"},
    "on-sync-succeeded": {"deployed", "succeeded-progressing", "degraded", "deleted"},
}
# Template -> sample it is rendered for, and the status word it must show.
TEMPLATE_SAMPLE: dict[str, tuple[str, str | None]] = {
    "app-created": ("created", None),
    "app-deleted": ("deleted", None),
    "app-deployed": ("deployed", "Synced"),
    "app-health-degraded": ("degraded", "Degraded"),
    "app-sync-failed": ("sync-failed", "OutOfSync"),
    "app-sync-running": ("running", "OutOfSync"),
    "app-sync-status-unknown": ("unknown", "Unknown"),
    "app-sync-succeeded": ("deployed", "Synced"),
}
SLACK_GENERATED_DEFAULTS = {"deliveryPolicy": "Post", "groupingKey": "", "notifyBroadcast": False}
CONFIG = parse_config({**INSTALL, "context": "argocdUrl: https://argocd.example.com\n"})


def test_notes_describe_the_catalog() -> None:
    assert NOTES["trigger_language"]["engine"].startswith("expr-lang")
    assert len(TRIGGER_FILES) == len(FIRES) and len(TEMPLATE_FILES) == len(TEMPLATE_SAMPLE)


def test_install_yaml_loads_without_errors() -> None:
    assert CONFIG.errors == ()
    assert set(CONFIG.triggers) == set(FIRES)
    assert set(CONFIG.templates) == set(TEMPLATE_SAMPLE)


@pytest.mark.parametrize("path", TRIGGER_FILES, ids=lambda p: p.stem)
def test_trigger_file_loads_and_matches_install(path: Path) -> None:
    trigger = parse_trigger(path.stem, path.read_text())
    assert trigger.conditions and all(c.error is None for c in trigger.conditions)
    assert trigger == CONFIG.triggers[path.stem]
    for cond in trigger.conditions:
        assert set(cond.send) <= set(CONFIG.templates)


@pytest.mark.parametrize("path", TEMPLATE_FILES, ids=lambda p: p.stem)
def test_template_file_loads_and_matches_install(path: Path) -> None:
    """install.yaml is generated from the files; the generator adds Slack's default settings."""
    from_file = parse_template(path.stem, path.read_text()).body
    installed = copy.deepcopy(dict(CONFIG.templates[path.stem].body))
    slack = installed.get("slack", {})
    for key, default in SLACK_GENERATED_DEFAULTS.items():
        if key not in from_file.get("slack", {}) and key in slack:
            assert slack.pop(key) == default
    assert from_file == installed


TRIGGER_CASES = [(t, s) for t in sorted(FIRES) for s in SAMPLES]


@pytest.mark.parametrize(("trigger", "sample"), TRIGGER_CASES, ids=[f"{t}-{s}" for t, s in TRIGGER_CASES])
def test_trigger_evaluates(trigger: str, sample: str) -> None:
    results = evaluate_trigger(CONFIG.triggers[trigger], SAMPLES[sample], now=NOW)
    assert [r.error for r in results] == [None] * len(results)
    assert any(r.triggered for r in results) is (sample in FIRES[trigger])
    for r in results:
        if r.triggered and trigger not in ("on-created", "on-deleted"):
            has_operation = "operationState" in SAMPLES[sample]["status"]
            assert r.once_per == (REVISION if has_operation else "<nil>")
        if r.triggered and trigger in ("on-created", "on-deleted"):
            assert r.once_per == "guestbook"


def test_on_deployed_time_guard() -> None:
    """Healthy more than a minute before the sync finished, yet after it started: not this deploy."""
    app = copy.deepcopy(SAMPLES["deployed"])
    app["status"]["health"]["lastTransitionTime"] = "2026-03-01T09:00:00Z"
    results = evaluate_trigger(CONFIG.triggers["on-deployed"], app, now=NOW)
    assert [r.triggered for r in results] == [True]  # before startedAt: still counts (health reset by sync)
    app["status"]["operationState"]["finishedAt"] = "2026-03-01T10:05:00Z"  # a long sync...
    app["status"]["health"]["lastTransitionTime"] = "2026-03-01T10:01:00Z"  # ...healthy mid-way
    assert [r.triggered for r in evaluate_trigger(CONFIG.triggers["on-deployed"], app, now=NOW)] == [False]


RENDER_CASES = [(t, s) for t in sorted(TEMPLATE_SAMPLE) for s in ("slack", "email", "teams")]


@pytest.mark.parametrize(("template", "service"), RENDER_CASES, ids=[f"{t}-{s}" for t, s in RENDER_CASES])
def test_template_renders(template: str, service: str) -> None:
    sample, status = TEMPLATE_SAMPLE[template]
    app = SAMPLES[sample]
    result = render_templates(CONFIG, [template], app, now=NOW, service_type=service, recipient="ops")
    assert result.errors == ()
    body = result.body
    message = body["message"]
    assert "Application guestbook" in message or "application guestbook" in message
    assert ":white_check_mark:" not in message or service == "slack"
    assert "guestbook" in body["email"]["subject"]
    texts = [
        message,
        body["email"]["subject"],
        *_strings(body.get("slack", {})),
        *_strings(body.get("teams", {})),
    ]
    for text in texts:
        assert "<no value>" not in text
    if "slack" in body:
        attachments = json.loads(body["slack"]["attachments"])
        fields = {f["title"]: f["value"] for f in attachments[0]["fields"]}
        assert attachments[0]["title"] == "guestbook"
        assert attachments[0]["title_link"] == "https://argocd.example.com/applications/guestbook"
        assert fields["Repository"] == ":arrow_heading_up: https://github.com/acme/guestbook.git"
        assert fields["SyncError"] == "Failed sync attempt"
        if status is not None:
            assert status in fields.values()
        if template == "app-deployed":
            assert fields["Revision"] == REVISION
    if "teams" in body and "facts" in body["teams"]:
        facts = {f["name"]: f["value"] for f in json.loads(body["teams"]["facts"])}
        assert facts["SyncError"] == "Failed sync attempt"
        if status is not None:
            assert status in facts.values()
        json.loads(body["teams"]["potentialAction"])
    if "finishedAt" in json.dumps(CONFIG.templates[template].body) and "operationState" in app["status"]:
        assert any("2026-03-01T10:00:20Z" in t for t in texts)


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    return []
