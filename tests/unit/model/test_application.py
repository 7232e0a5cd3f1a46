"""Application and AppProject models (argosy.model.application): parsing, errors, lossless round trip."""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

import pytest
import yaml

from argosy.model.application import (
    Application,
    AppProject,
    Backoff,
    ModelError,
    parse_go_duration,
    parse_time,
)
from argosy.model.source import SourceError

APP_YAML = """
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: artemis-orchestrator
  namespace: argocd
  uid: 0b5c1f2e-1111-2222-3333-444455556666
  resourceVersion: "4242"
  labels:
    environment: production
    app.kubernetes.io/part-of: artemis-suite
  annotations:
    argocd.argoproj.io/refresh: hard
    notifications.argoproj.io/subscribe.on-deployed.slack: artemis-team
  finalizers:
  - resources-finalizer.argocd.argoproj.io
spec:
  project: artemis
  source:
    repoURL: https://github.com/sophia-intel-ai/gitops.git
    path: services/artemis/orchestrator/overlays/production
    targetRevision: main
    kustomize:
      images: [ghcr.io/sophia-intel-ai/artemis-orchestrator:v1.2.3]
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
    retry:
      limit: 3
      backoff: {duration: 10s, factor: 2, maxDuration: 5m}
    managedNamespaceMetadata:
      labels: {team: artemis}
  ignoreDifferences:
  - group: apps
    kind: Deployment
    jsonPointers: [/spec/replicas]
  revisionHistoryLimit: 5
  info:
  - name: owner
    value: artemis-team
  someFutureField: {x: 1}
operation:
  sync:
    revision: 4f1c2a9
    prune: true
    syncStrategy: {hook: {force: false}}
    resources:
    - {group: apps, kind: Deployment, name: artemis-orchestrator, namespace: artemis-system}
    syncOptions: [Validate=false]
  initiatedBy: {username: alice}
  retry: {limit: 2}
status:
  sync:
    status: OutOfSync
    revision: 4f1c2a9
    comparedTo:
      source: {repoURL: https://github.com/sophia-intel-ai/gitops.git, path: p, targetRevision: main}
      destination: {server: https://kubernetes.default.svc, namespace: artemis-system}
  health: {status: Progressing, message: waiting for rollout}
  resources:
  - {group: apps, version: v1, kind: Deployment, namespace: artemis-system, name: artemis-orchestrator,
     status: OutOfSync, health: {status: Progressing}}
  - {version: v1, kind: ConfigMap, namespace: artemis-system, name: old, status: OutOfSync,
     requiresPruning: true}
  conditions:
  - {type: SyncError, message: boom, lastTransitionTime: "2026-03-01T10:00:00Z"}
  operationState:
    operation:
      sync: {revision: 4f1c2a9}
      initiatedBy: {automated: true}
      retry: {limit: 5}
    phase: Failed
    message: one or more objects failed to apply
    retryCount: 2
    startedAt: "2026-03-01T10:00:00Z"
    finishedAt: "2026-03-01T10:00:30Z"
    syncResult:
      revision: 4f1c2a9
      source: {repoURL: https://github.com/sophia-intel-ai/gitops.git}
      resources:
      - {group: batch, version: v1, kind: Job, namespace: artemis-system, name: migrate, status: Synced,
         hookType: PreSync, hookPhase: Succeeded, syncPhase: PreSync, message: job completed}
  history:
  - id: 7
    revision: 9d0e1b2
    deployedAt: "2026-02-28T09:00:00Z"
    deployStartedAt: "2026-02-28T08:59:40Z"
    source: {repoURL: https://github.com/sophia-intel-ai/gitops.git}
    initiatedBy: {username: bob}
  reconciledAt: "2026-03-01T10:01:00Z"
  sourceType: Kustomize
  summary: {images: [ghcr.io/sophia-intel-ai/artemis-orchestrator:v1.2.3]}
  argosy:
    profile: production
    policyOrigin: {automated.prune: profile:production}
    effectiveSyncPolicy: {automated: {prune: false, selfHeal: true}}
    rollbackHold: {revision: 4f1c2a9, heldAt: "2026-03-01T10:05:00Z", reason: error_rate > 5%, historyId: 7}
    drift:
      detected: true
      fields:
      - {path: spec.replicas, manager: kubectl-edit, time: "2026-03-01T09:59:00Z"}
"""


def app_dict() -> dict[str, Any]:
    return yaml.safe_load(APP_YAML)  # type: ignore[no-any-return]


def test_full_application_round_trips_losslessly() -> None:
    data = app_dict()
    assert Application.from_dict(copy.deepcopy(data)).to_dict() == data


def test_known_fields_are_typed() -> None:
    app = Application.from_dict(app_dict())
    assert app.name == "artemis-orchestrator"
    assert app.metadata.labels["environment"] == "production"
    assert app.refresh_requested == "hard"
    assert app.cascade_delete is True
    assert app.spec.project_name == "artemis"
    assert app.spec.destination.namespace == "artemis-system"
    policy = app.spec.sync_policy
    assert policy is not None and policy.automated is not None
    assert (policy.automated.prune, policy.automated.self_heal, policy.automated.enabled) == (
        False,
        True,
        None,
    )
    assert policy.automation_enabled
    assert policy.retry is not None and policy.retry.limit == 3
    assert app.spec.history_limit == 5
    assert app.operation is not None and app.operation.sync is not None
    assert app.operation.sync.resources[0].kind == "Deployment"
    assert app.operation.sync.sync_strategy is not None and app.operation.sync.sync_strategy.kind == "hook"
    state = app.status.operation_state
    assert state is not None and state.phase == "Failed" and state.retry_count == 2
    assert state.sync_result is not None and state.sync_result.resources[0].hook_type == "PreSync"
    assert app.status.resources[1].requires_pruning is True
    assert app.status.history[0].id == 7
    assert app.status.argosy is not None and app.status.argosy.rollback_hold is not None
    assert app.status.argosy.rollback_hold.history_id == 7
    assert app.status.argosy.drift is not None and app.status.argosy.drift.fields[0].manager == "kubectl-edit"
    assert app.spec.application_sources()[0].kustomize is not None


def test_unknown_fields_are_kept() -> None:
    app = Application.from_dict(app_dict())
    assert app.spec.extra["someFutureField"]["x"] == 1
    assert app.metadata.extra == {} or "uid" not in app.metadata.extra
    assert app.metadata.uid.startswith("0b5c")


def test_defaults() -> None:
    app = Application.from_dict(
        {
            "metadata": {"name": "a"},
            "spec": {"destination": {"server": "https://k"}, "source": {"repoURL": "r"}},
        }
    )
    assert app.spec.history_limit == 10
    assert app.spec.project_name == "default"
    assert app.spec.sync_policy is None
    assert app.operation is None
    assert app.refresh_requested == ""


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("spec", "destination"), "in-cluster", "spec.destination: expected an object, got str"),
        (
            ("spec", "syncPolicy", "automated", "prune"),
            "yes",
            "spec.syncPolicy.automated.prune: expected true or false",
        ),
        (
            ("spec", "syncPolicy", "syncOptions"),
            "PruneLast=true",
            "spec.syncPolicy.syncOptions: expected a list",
        ),
        (
            ("spec", "syncPolicy", "syncOptions"),
            ["A=b", 3],
            "spec.syncPolicy.syncOptions[1]: expected a string, got int",
        ),
        (
            ("spec", "syncPolicy", "retry", "limit"),
            "3",
            "spec.syncPolicy.retry.limit: expected an integer, got str",
        ),
        (("spec", "revisionHistoryLimit"), True, "spec.revisionHistoryLimit: expected an integer, got bool"),
        (("metadata", "labels"), {"a": 1}, "metadata.labels.a: expected a string, got int"),
        (
            ("operation", "sync", "resources"),
            [{"kind": 1}],
            "operation.sync.resources[0].kind: expected a string",
        ),
        (("status", "history"), [{"id": "x"}], "status.history[0].id: expected an integer"),
        (
            ("status", "argosy", "drift", "detected"),
            "no",
            "status.argosy.drift.detected: expected true or false",
        ),
        (("kind",), "AppProject", "kind: expected Application"),
    ],
)
def test_wrong_types_name_the_field_path(path: tuple[str, ...], value: Any, message: str) -> None:
    data = app_dict()
    node = data
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = value
    with pytest.raises(ModelError) as err:
        Application.from_dict(data)
    assert str(err.value).startswith(message)


def test_missing_destination_is_required() -> None:
    with pytest.raises(ModelError, match=r"^spec\.destination: required"):
        Application.from_dict({"metadata": {"name": "a"}, "spec": {"project": "p"}})


def test_unsupported_source_feature_only_fails_when_sources_are_parsed() -> None:
    data = app_dict()
    data["spec"]["source"]["plugin"] = {"name": "cmp"}
    app = Application.from_dict(data)  # the app still parses (it can carry a condition)
    with pytest.raises(SourceError, match="plugins are not supported"):
        app.spec.application_sources()


@pytest.mark.parametrize(
    "explicit",
    [
        {"prune": False},
        {"syncOptions": []},
        {"automated": None},
        {"automated": {}},
        {"retry": {"limit": 0, "backoff": {}}},
    ],
)
def test_explicit_defaults_survive_a_round_trip(explicit: dict[str, Any]) -> None:
    data = {"metadata": {"name": "a"}, "spec": {"destination": {}, "syncPolicy": explicit}}
    assert Application.from_dict(copy.deepcopy(data)).to_dict() == data


PROJECT_YAML = """
apiVersion: argoproj.io/v1alpha1
kind: AppProject
metadata: {name: artemis, namespace: argocd}
spec:
  description: Artemis services
  sourceRepos: ['https://github.com/sophia-intel-ai/*', '!https://github.com/sophia-intel-ai/secrets']
  sourceNamespaces: [artemis-apps]
  destinations:
  - {server: https://kubernetes.default.svc, namespace: 'artemis-*'}
  - {name: staging, namespace: '*'}
  clusterResourceWhitelist: [{group: '', kind: Namespace}]
  clusterResourceBlacklist: []
  namespaceResourceBlacklist: [{group: '', kind: ResourceQuota}]
  namespaceResourceWhitelist: [{group: '*', kind: '*'}]
  orphanedResources: {warn: true, ignore: [{kind: ConfigMap, name: kube-root-ca.crt}]}
  roles:
  - name: ci
    policies: ['p, proj:artemis:ci, applications, sync, artemis/*, allow']
    groups: [sophia-intel-ai:artemis-developers]
    jwtTokens: [{iat: 1700000000, id: abc}]
  syncWindows:
  - {kind: deny, schedule: '0 22 * * *', duration: 8h, applications: ['*'], manualSync: true,
     timeZone: Europe/Berlin}
  signatureKeys: [{keyID: 4AEE18F83AFDEB23}]
status: {jwtTokensByRole: {ci: {items: [{iat: 1700000000}]}}}
"""


def test_project_round_trip_and_fields() -> None:
    data = yaml.safe_load(PROJECT_YAML)
    project = AppProject.from_dict(copy.deepcopy(data))
    assert project.to_dict() == data
    assert project.spec.destinations[1].name == "staging"
    assert project.spec.sync_windows[0].time_zone == "Europe/Berlin"
    assert project.spec.roles[0].groups == ("sophia-intel-ai:artemis-developers",)
    assert project.spec.orphaned_resources is not None and project.spec.orphaned_resources.warn is True


def test_project_wrong_type() -> None:
    data = yaml.safe_load(PROJECT_YAML)
    data["spec"]["syncWindows"][0]["manualSync"] = "true"
    with pytest.raises(ModelError, match=r"^spec\.syncWindows\[0\]\.manualSync: expected true or false"):
        AppProject.from_dict(data)


def test_default_project_allows_everything() -> None:
    spec = AppProject.default().spec
    assert spec.source_repos == ("*",)
    assert spec.destinations[0].server == "*" and spec.destinations[0].namespace == "*"
    assert spec.cluster_resource_whitelist[0].kind == "*"


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("5s", 5), ("3m", 180), ("1h30m", 5400), ("1.5s", 1.5), ("250ms", 0.25), ("10", 10), ("0", 0)],
)
def test_parse_go_duration(text: str, seconds: float) -> None:
    assert parse_go_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["5x", "m5", "1h 2m", "s"])
def test_parse_go_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_go_duration(text)


@pytest.mark.parametrize(
    ("backoff", "count", "seconds"),
    [
        (Backoff(), 0, 5),
        (Backoff(), 3, 40),
        (Backoff(), 10, 180),  # capped at the default 3m
        (Backoff(duration="10s", factor=2, max_duration="5m"), 4, 160),
        (Backoff(duration="10s", factor=2, max_duration="5m"), 5, 300),
        (Backoff(duration="2s", factor=3), 2, 18),
    ],
)
def test_backoff_delay(backoff: Backoff, count: int, seconds: float) -> None:
    assert backoff.delay(count) == timedelta(seconds=seconds)


def test_parse_time() -> None:
    t = parse_time("2026-03-01T10:00:00Z")
    assert t is not None and t.tzinfo is not None and t.hour == 10
    assert parse_time("") is None
