"""``argosy admin notifications trigger run|template notify NAME APP`` against a live Application,
with argocd-notifications-cm and its Secret read from the cluster, as ``argocd admin notifications``
does."""

from __future__ import annotations

import pytest
import yaml
from typer.testing import CliRunner

import argosy.cli.main  # noqa: F401  (registers the command modules)
from argosy.cli.groups import app as cli
from argosy.deploy import CRD_NAMES, crd_text
from tests.support.cluster import ControlPlane

pytestmark = pytest.mark.integration

CONFIG = {
    "apiVersion": "v1",
    "kind": "ConfigMap",
    "metadata": {"name": "argocd-notifications-cm"},
    "data": {
        "trigger.on-deployed": yaml.safe_dump(
            [
                {
                    "when": "app.status.operationState?.phase in ['Succeeded']"
                    " and app.status.health.status == 'Healthy'",
                    "oncePer": "app.status.sync.revision",
                    "send": ["app-deployed"],
                }
            ]
        ),
        "template.app-deployed": yaml.safe_dump(
            {
                "message": "{{.app.metadata.name}} is now running revision"
                " {{.app.status.sync.revision}} ({{.secrets.team}})"
            }
        ),
    },
}
SECRET = {
    "apiVersion": "v1",
    "kind": "Secret",
    "metadata": {"name": "argocd-notifications-secret"},
    "stringData": {"team": "artemis-team"},
}


def _application(name: str, phase: str) -> dict[str, object]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": name},
        "spec": {
            "project": "default",
            "source": {"repoURL": "http://git.example.invalid/repo.git", "path": "app"},
            "destination": {"server": "https://kubernetes.default.svc", "namespace": "default"},
        },
        "status": {
            "sync": {"status": "Synced", "revision": "abc123"},
            "health": {"status": "Healthy"},
            "operationState": {"phase": phase},
        },
    }


def test_trigger_and_template_against_a_live_application(control_plane: ControlPlane, namespace: str) -> None:
    for name in CRD_NAMES:
        control_plane.kubectl("apply", "--server-side", "-f", "-", input=crd_text(name))
    control_plane.kubectl(
        "wait", "--for=condition=Established", "crd/applications.argoproj.io", "--timeout=30s"
    )
    for manifest in (CONFIG, SECRET, _application("web", "Succeeded"), _application("broken", "Failed")):
        control_plane.kubectl("-n", namespace, "apply", "-f", "-", input=yaml.safe_dump(manifest))
    runner = CliRunner()
    common = ["--kubeconfig", str(control_plane.kubeconfig), "-N", namespace]

    fired = runner.invoke(cli, ["admin", "notifications", "trigger", "run", "on-deployed", "web", *common])
    assert fired.exit_code == 0, fired.output
    assert fired.output.strip().splitlines()[-1].endswith("true")

    quiet = runner.invoke(cli, ["admin", "notifications", "trigger", "run", "on-deployed", "broken", *common])
    assert quiet.exit_code == 0, quiet.output
    assert quiet.output.strip().splitlines()[-1].endswith("false")

    rendered = runner.invoke(
        cli, ["admin", "notifications", "template", "notify", "app-deployed", "web", *common]
    )
    assert rendered.exit_code == 0, rendered.output
    assert "web is now running revision abc123 (artemis-team)" in rendered.output

    missing = runner.invoke(cli, ["admin", "notifications", "trigger", "run", "on-deployed", "nope", *common])
    assert missing.exit_code == 20
    assert f"cannot read Application {namespace}/nope from the cluster" in missing.output
