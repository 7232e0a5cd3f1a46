"""The Application and AppProject CRDs on a real API server: Argo CD-style objects go in unchanged."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from argosy.deploy import CRD_NAMES, crd_text
from argosy.model.application import Application, AppProject
from tests.support.cluster import ControlPlane

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]

PROJECT = """
apiVersion: argoproj.io/v1alpha1
kind: AppProject
metadata:
  name: artemis
  namespace: {ns}
spec:
  description: Artemis orchestration services
  sourceRepos:
  - https://github.com/sophia-intel-ai/*
  - '!https://github.com/sophia-intel-ai/secrets'
  destinations:
  - server: https://kubernetes.default.svc
    namespace: artemis-*
  clusterResourceWhitelist:
  - group: ''
    kind: Namespace
  namespaceResourceBlacklist:
  - group: ''
    kind: ResourceQuota
  orphanedResources:
    warn: true
  roles:
  - name: artemis-team
    policies:
    - p, proj:artemis:artemis-team, applications, sync, artemis/*, allow
    groups:
    - sophia-intel-ai:artemis-developers
  syncWindows:
  - kind: deny
    schedule: '0 22 * * 5'
    duration: 60h
    applications: ['*']
    manualSync: true
    timeZone: Europe/Berlin
"""

APPLICATION = """
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: artemis-orchestrator
  namespace: {ns}
  labels:
    environment: production
    app.kubernetes.io/part-of: artemis-suite
  annotations:
    argocd-image-updater.argoproj.io/image-list: artemis=ghcr.io/sophia-intel-ai/artemis-orchestrator
    argocd-image-updater.argoproj.io/artemis.update-strategy: semver
  finalizers:
  - resources-finalizer.argocd.argoproj.io
spec:
  project: artemis
  source:
    repoURL: https://github.com/sophia-intel-ai/gitops.git
    path: services/artemis/orchestrator/overlays/production
    targetRevision: main
    kustomize:
      images:
      - ghcr.io/sophia-intel-ai/artemis-orchestrator:v1.4.2
  destination:
    server: https://kubernetes.default.svc
    namespace: artemis-system
  syncPolicy:
    automated:
      prune: false
      selfHeal: true
      allowEmpty: false
    syncOptions:
    - PruneLast=true
    - ServerSideApply=true
    - FailOnSharedResource=true
    retry:
      limit: 3
      backoff:
        duration: 10s
        factor: 2
        maxDuration: 5m
  ignoreDifferences:
  - group: apps
    kind: Deployment
    jsonPointers:
    - /spec/replicas
  revisionHistoryLimit: 10
"""


@pytest.fixture(scope="module")
def crds(control_plane: ControlPlane) -> ControlPlane:
    for name in CRD_NAMES:
        control_plane.kubectl("apply", "-f", "-", input=crd_text(name))
    for plural in ("applications", "appprojects"):
        control_plane.kubectl(
            "wait", "--for=condition=Established", f"crd/{plural}.argoproj.io", "--timeout=60s", timeout=90
        )
    return control_plane


def test_repository_copies_match_the_package_data() -> None:
    for name in CRD_NAMES:
        assert (REPO / "deploy" / "crds" / f"{name}-crd.yaml").read_text(encoding="utf-8") == crd_text(name)


def test_crds_declare_argo_cd_names_and_no_status_subresource() -> None:
    app = yaml.safe_load(crd_text("application"))
    assert app["spec"]["names"]["shortNames"] == ["app", "apps"]
    assert "subresources" not in app["spec"]["versions"][0]
    proj = yaml.safe_load(crd_text("appproject"))
    assert proj["spec"]["names"]["shortNames"] == ["appproj", "appprojs"]


def test_argo_cd_objects_apply_unchanged_and_read_back(crds: ControlPlane, namespace: str) -> None:
    project = yaml.safe_load(PROJECT.format(ns=namespace))
    app = yaml.safe_load(APPLICATION.format(ns=namespace))
    crds.kubectl("apply", "-f", "-", input=yaml.safe_dump(project))
    crds.kubectl("apply", "-f", "-", input=yaml.safe_dump(app))

    got_project = crds.get_json("appproj", "artemis", "-n", namespace)
    got_app = crds.get_json("app", "artemis-orchestrator", "-n", namespace)
    assert got_project["spec"] == project["spec"]
    assert got_app["spec"] == app["spec"]
    assert got_app["metadata"]["finalizers"] == app["metadata"]["finalizers"]
    # What the API server returns parses, and round-trips through the model unchanged.
    assert Application.from_dict(got_app).to_dict() == got_app
    assert AppProject.from_dict(got_project).to_dict() == got_project


def test_operation_and_status_are_written_with_the_main_resource(crds: ControlPlane, namespace: str) -> None:
    app = yaml.safe_load(APPLICATION.format(ns=namespace))
    crds.kubectl("apply", "-f", "-", input=yaml.safe_dump(app))
    patch = {
        "operation": {"sync": {"revision": "4f1c2a9", "prune": True}, "initiatedBy": {"username": "alice"}},
        "status": {
            "sync": {"status": "OutOfSync", "revision": "4f1c2a9"},
            "health": {"status": "Healthy"},
            "argosy": {"profile": "production", "policyOrigin": {"automated.prune": "application"}},
        },
    }
    crds.kubectl(
        "-n", namespace, "patch", "app", "artemis-orchestrator", "--type", "merge", "-p", json.dumps(patch)
    )
    got = crds.get_json("app", "artemis-orchestrator", "-n", namespace)
    assert got["operation"]["sync"]["revision"] == "4f1c2a9"
    assert got["status"]["argosy"]["policyOrigin"] == {"automated.prune": "application"}

    table = crds.kubectl("-n", namespace, "get", "apps").stdout
    header = table.splitlines()[0]
    assert "SYNC STATUS" in header and "HEALTH STATUS" in header
    assert "OutOfSync" in table and "Healthy" in table


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        (("spec", "destination"), "in-cluster", "spec.destination"),
        (("spec", "syncPolicy", "automated", "prune"), "yes", "spec.syncPolicy.automated.prune"),
        (("spec", "syncPolicy", "syncOptions"), "PruneLast=true", "spec.syncPolicy.syncOptions"),
    ],
)
def test_schema_rejects_invalid_applications(
    crds: ControlPlane, namespace: str, path: tuple[str, ...], value: object, expected: str
) -> None:
    app = yaml.safe_load(APPLICATION.format(ns=namespace))
    app["metadata"]["name"] = "broken"
    node = app
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    result = crds.kubectl("apply", "-f", "-", input=yaml.safe_dump(app), check=False)
    assert result.returncode != 0
    assert expected in result.stderr
    assert crds.kubectl("-n", namespace, "get", "app", "broken", check=False).returncode != 0
