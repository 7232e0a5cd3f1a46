"""``argosy admin sync-plan`` via typer's CliRunner, on the spec §5.2 hook example."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from argosy.cli.main import app

SPEC_HOOKS = """\
# Pre-sync Database Migration Hook (spec 5.2)
apiVersion: batch/v1
kind: Job
metadata:
  name: database-migration
  namespace: artemis-system
  annotations:
    argocd.argoproj.io/hook: PreSync
    argocd.argoproj.io/hook-weight: "10"
    argocd.argoproj.io/hook-delete-policy: HookSucceeded
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: migrate
        image: ghcr.io/sophia-intel-ai/db-migrator:v1.0.0
        command: ["migrate", "--up"]
---
# Post-sync Smoke Test Hook
apiVersion: batch/v1
kind: Job
metadata:
  name: smoke-tests
  namespace: artemis-system
  annotations:
    argocd.argoproj.io/hook: PostSync
    argocd.argoproj.io/hook-weight: "20"
    argocd.argoproj.io/hook-delete-policy: HookSucceeded
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: test
        image: ghcr.io/sophia-intel-ai/smoke-tests:v1.0.0
"""

APP = json.dumps(
    {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "artemis-orchestrator", "namespace": "artemis-system"},
    }
)

NAMESPACE = """\
apiVersion: v1
kind: Namespace
metadata:
  name: artemis-system
"""


def _write(tmp_path: Path) -> Path:
    (tmp_path / "hooks.yaml").write_text(SPEC_HOOKS)
    nested = tmp_path / "app" / "base"
    nested.mkdir(parents=True)
    (nested / "deploy.json").write_text(APP)
    (nested / "ns.yml").write_text(NAMESPACE)
    (nested / "README.md").write_text("not a manifest")
    return tmp_path


def test_sync_plan_orders_spec_hooks(tmp_path: Path) -> None:
    root = _write(tmp_path)
    result = CliRunner().invoke(app, ["admin", "sync-plan", str(root), "-o", "json"])
    assert result.exit_code == 0, result.output
    tasks = json.loads(result.stdout)
    assert [(t["phase"], t["wave"], t["kind"], t["name"]) for t in tasks] == [
        ("PreSync", 10, "Namespace", "artemis-system"),
        ("PreSync", 10, "Job", "database-migration"),
        ("Sync", 0, "Deployment", "artemis-orchestrator"),
        ("PostSync", 20, "Job", "smoke-tests"),
    ]
    assert tasks[1]["hookType"] == "PreSync" and tasks[1]["deletePolicies"] == ["HookSucceeded"]

    table = CliRunner().invoke(app, ["admin", "sync-plan", str(root / "hooks.yaml")])
    assert table.exit_code == 0, table.output
    lines = table.stdout.splitlines()
    assert lines[0].split() == [
        "PHASE",
        "WAVE",
        "OPERATION",
        "KIND",
        "NAMESPACE/NAME",
        "HOOK",
        "DELETE",
        "POLICY",
    ]
    assert lines[1].split() == [
        "PreSync",
        "10",
        "create-hook",
        "Job",
        "artemis-system/database-migration",
        "PreSync",
        "HookSucceeded",
    ]
    assert lines[2].split()[:2] == ["PostSync", "20"]


def test_sync_plan_reports_bad_input(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n"
        "  annotations:\n    argocd.argoproj.io/sync-wave: soon\n"
    )
    result = CliRunner().invoke(app, ["admin", "sync-plan", str(bad)])
    assert result.exit_code == 1
    assert "sync-wave" in result.output
    missing = CliRunner().invoke(app, ["admin", "sync-plan", str(tmp_path / "nope.yaml")])
    assert missing.exit_code != 0
