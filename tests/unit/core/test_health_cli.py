"""CLI test: ``argosy admin settings resource-overrides health`` through typer's CliRunner."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from argosy.cli.main import app

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  generation: 1
spec:
  replicas: 2
status:
  observedGeneration: 1
  replicas: 2
  updatedReplicas: 1
  availableReplicas: 1
"""

ARGOCD_CM = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: argocd-cm
data:
  resource.customizations.health.apps_Deployment: |
    hs = {}
    hs.status = "Suspended"
    hs.message = "held by " .. obj.metadata.name
    return hs
"""

CMD = ["admin", "settings", "resource-overrides", "health"]


def test_health_command_builtin_and_override(tmp_path: Path) -> None:
    resource = tmp_path / "deploy.yaml"
    resource.write_text(DEPLOYMENT, encoding="utf-8")
    cm = tmp_path / "argocd-cm.yaml"
    cm.write_text(ARGOCD_CM, encoding="utf-8")
    runner = CliRunner()

    builtin = runner.invoke(app, [*CMD, str(resource)])
    assert builtin.exit_code == 0, builtin.output
    lines = builtin.output.splitlines()
    assert lines[0] == "STATUS: Progressing"
    assert lines[1].startswith("MESSAGE: Waiting for rollout to finish")

    custom = runner.invoke(app, [*CMD, str(resource), "--argocd-cm-path", str(cm)])
    assert custom.exit_code == 0, custom.output
    assert custom.output.splitlines() == ["STATUS: Suspended", "MESSAGE: held by web"]


def test_health_command_errors(tmp_path: Path) -> None:
    runner = CliRunner()
    missing = runner.invoke(app, [*CMD, str(tmp_path / "nope.yaml")])
    assert missing.exit_code == 1
    widget = tmp_path / "widget.yaml"
    widget.write_text("apiVersion: example.com/v1\nkind: Widget\n", encoding="utf-8")
    none = runner.invoke(app, [*CMD, str(widget)])
    assert none.exit_code == 0
    assert "not configured" in none.output
