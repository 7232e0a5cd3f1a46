"""examples/: every YAML file parses, and the sophia-platform configuration is what Argo CD expects.

No cluster and no Git server: the files are read from the working tree. Rendering every
Application through the RepoService is tests/integration/test_example_platform.py.
"""

from __future__ import annotations

import fnmatch
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

import argosy.cli.main  # noqa: F401  (registers the command modules)
from argosy.adapters.kube.livecache import DEFAULT_EXCLUSIONS, ResourceSettings
from argosy.cli.groups import app as cli
from argosy.core.diff.ignore import parse_system_ignore_differences
from argosy.core.health.assess import assess
from argosy.core.health.overrides import HealthOverrides
from argosy.core.manifests import load_yaml_documents, parse_manifests
from argosy.core.notify import lint_notifications_data, parse_config, render_templates
from argosy.core.rbac import Enforcer, RbacConfig, lint_policy, lint_rbac_config
from argosy.model.annotations import parse_sync_options, parse_sync_options_annotation
from argosy.model.health import HealthStatus
from argosy.model.source import sources_of_spec

REPO_ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = REPO_ROOT / "examples"
PLATFORM = EXAMPLES / "sophia-platform"
CONFIG = PLATFORM / "argocd" / "config"
SPEC = REPO_ROOT.parent / "shared" / "spec" / "gitops-spec-part2.md"
PLACEHOLDER_REPO = "http://git.argosy.local/sophia-platform.git"
ENVIRONMENTS = ("development", "staging", "production")
# YAML files that are not Kubernetes objects (Kustomize, Helm chart metadata and values).
PLAIN_YAML = re.compile(r"^(kustomization\.ya?ml|Chart\.yaml|values\.yaml|[a-z]+-values\.yaml)$")


def _yaml_files() -> list[Path]:
    return sorted(p for p in EXAMPLES.rglob("*") if p.is_file() and p.suffix in (".yaml", ".yml"))


def _is_helm_template(path: Path) -> bool:
    return path.parent.name == "templates" and (path.parent.parent / "Chart.yaml").is_file()


def _objects(path: Path) -> list[dict[str, Any]]:
    return parse_manifests(path.read_text(encoding="utf-8"), file=str(path.relative_to(REPO_ROOT)))


def _one(path: Path) -> dict[str, Any]:
    (obj,) = _objects(path)
    return obj


def _data(name: str) -> dict[str, str]:
    obj = _one(CONFIG / f"{name}.yaml")
    assert obj["kind"] == "ConfigMap"
    assert obj["metadata"]["name"] == name
    assert obj["metadata"]["namespace"] == "argocd"
    data: dict[str, str] = obj["data"]
    assert all(isinstance(v, str) for v in data.values()), f"{name}: every data value must be a string"
    return data


# --- every YAML file ------------------------------------------------------------------------------


def test_examples_directory_has_the_platform() -> None:
    assert (PLATFORM / "README.md").is_file()
    assert len(_yaml_files()) > 30


@pytest.mark.parametrize("path", _yaml_files(), ids=lambda p: str(p.relative_to(EXAMPLES)))
def test_every_yaml_file_parses(path: Path) -> None:
    relative = str(path.relative_to(REPO_ROOT))
    text = path.read_text(encoding="utf-8")
    if _is_helm_template(path):
        # Go templates are not YAML until Helm renders them (the integration test does that).
        assert "{{" in text
    elif PLAIN_YAML.match(path.name):
        docs = [d for d in load_yaml_documents(text, file=relative) if d is not None]
        assert len(docs) == 1
        assert isinstance(docs[0], dict)
        if path.name.startswith("kustomization"):
            assert docs[0]["kind"] == "Kustomization"
            assert docs[0]["resources"]
    else:
        objects = parse_manifests(text, file=relative)
        assert objects, f"{relative} holds no Kubernetes object"
        for obj in objects:
            annotations = obj["metadata"].get("annotations") or {}
            if "argocd.argoproj.io/sync-options" in annotations:
                parse_sync_options_annotation(annotations["argocd.argoproj.io/sync-options"])


# --- projects and applications --------------------------------------------------------------------


def _projects() -> dict[str, dict[str, Any]]:
    found = {}
    for path in sorted((PLATFORM / "argocd" / "projects").glob("*.yaml")):
        obj = _one(path)
        assert obj["kind"] == "AppProject"
        found[obj["metadata"]["name"]] = obj
    return found


def _applications() -> dict[str, dict[str, Any]]:
    found = {}
    for path in sorted((PLATFORM / "argocd" / "applications").glob("*.yaml")):
        obj = _one(path)
        assert obj["kind"] == "Application"
        assert path.stem == obj["metadata"]["name"]
        found[obj["metadata"]["name"]] = obj
    return found


def test_projects_use_the_placeholder_repo_and_limit_destinations() -> None:
    projects = _projects()
    assert set(projects) == {"artemis", "sophia", "infrastructure"}
    for name, project in projects.items():
        spec = project["spec"]
        assert spec["sourceRepos"] == [PLACEHOLDER_REPO]
        assert "*" not in {d["namespace"] for d in spec["destinations"]}
        if name != "infrastructure":
            assert all(d["namespace"].startswith(f"{name}-") for d in spec["destinations"])
            # Only the Namespace that CreateNamespace=true makes, and only the team's own.
            assert spec["clusterResourceWhitelist"] == [
                {"group": "", "kind": "Namespace", "name": f"{name}-*"}
            ]
    assert {"group": "", "kind": "Namespace"} in projects["infrastructure"]["spec"][
        "clusterResourceWhitelist"
    ]


def test_applications_are_labelled_for_profiles_and_subscriptions() -> None:
    apps = _applications()
    expected = {f"{a}-{e}" for a in ("artemis-orchestrator", "sophia-api") for e in ENVIRONMENTS}
    assert expected | {"infrastructure-namespaces", "infrastructure-monitoring"} == set(apps)
    projects = _projects()
    for name, application in apps.items():
        meta, spec = application["metadata"], application["spec"]
        assert meta["namespace"] == "argocd"
        assert meta["finalizers"] == ["resources-finalizer.argocd.argoproj.io"]
        assert meta["labels"]["environment"] in ENVIRONMENTS
        part_of = meta["labels"]["app.kubernetes.io/part-of"]
        if name.startswith("artemis-"):
            assert (part_of, spec["project"]) == ("artemis-suite", "artemis")
        elif name.startswith("sophia-"):
            assert (part_of, spec["project"]) == ("sophia-suite", "sophia")
        else:
            assert (part_of, spec["project"]) == ("platform-infrastructure", "infrastructure")
        if not name.startswith("infrastructure-"):
            assert name.endswith(meta["labels"]["environment"])
        for source in sources_of_spec(spec):
            assert source.repo_url == PLACEHOLDER_REPO
            assert source.repo_url in projects[spec["project"]]["spec"]["sourceRepos"]
        destination = spec["destination"]
        assert any(
            d["server"] == destination["server"]
            and fnmatch.fnmatchcase(destination["namespace"], d["namespace"])
            for d in projects[spec["project"]]["spec"]["destinations"]
        ), name


def test_only_one_application_overrides_its_profile() -> None:
    with_policy = {
        n: a["spec"]["syncPolicy"] for n, a in _applications().items() if "syncPolicy" in a["spec"]
    }
    assert with_policy == {"artemis-orchestrator-development": {"automated": {"selfHeal": False}}}


# --- argocd/config --------------------------------------------------------------------------------


def test_sync_policies_are_exactly_the_spec_profiles() -> None:
    data = _data("sync-policies")
    assert set(data) == {f"{e}.yaml" for e in ENVIRONMENTS}
    profiles = {key: yaml.safe_load(value) for key, value in data.items()}
    for profile in profiles.values():
        assert set(profile) == {"syncPolicy"}
        parse_sync_options(profile["syncPolicy"]["syncOptions"])
    assert profiles["production.yaml"]["syncPolicy"]["automated"] == {
        "prune": False,
        "selfHeal": True,
        "allowEmpty": False,
    }
    assert "CreateNamespace=false" in profiles["production.yaml"]["syncPolicy"]["syncOptions"]
    assert profiles["development.yaml"]["syncPolicy"]["automated"]["allowEmpty"] is True
    if not SPEC.is_file():
        pytest.skip(f"{SPEC} is not available to compare with")
    section = SPEC.read_text(encoding="utf-8").split("### 5.1 Automated Sync Policies", 1)[1]
    block = section.split("```yaml", 1)[1].split("```", 1)[0]
    spec_profiles = {k: yaml.safe_load(v) for k, v in yaml.safe_load(block)["data"].items()}
    assert profiles == spec_profiles


def test_argocd_cm_keys_work() -> None:
    obj = _one(CONFIG / "argocd-cm.yaml")
    assert obj["metadata"]["labels"]["app.kubernetes.io/part-of"] == "argocd"
    data = _data("argocd-cm")
    known = (
        "resource.customizations.health.",
        "resource.customizations.ignoreDifferences.",
        "resource.exclusions",
    )
    assert all(key.startswith(known) for key in data), sorted(data)
    # The Lua health override for the platform's CRD loads and decides.
    overrides = HealthOverrides.from_argocd_cm(data)
    assert overrides.errors == ()
    assert overrides.lookup("platform.sophia-intel-ai.com", "ModelServer") is not None
    server: dict[str, Any] = {
        "apiVersion": "platform.sophia-intel-ai.com/v1",
        "kind": "ModelServer",
        "metadata": {"name": "m", "namespace": "sophia-system", "generation": 2},
        "status": {"observedGeneration": 2, "conditions": [{"type": "Ready", "status": "True"}]},
    }
    verdicts = {}
    for label, status in (
        ("ready", server["status"]),
        ("failed", {"observedGeneration": 2, "conditions": [{"type": "Failed", "status": "True"}]}),
        ("stale", {"observedGeneration": 1, "conditions": [{"type": "Ready", "status": "True"}]}),
        ("new", None),
    ):
        result = assess(
            {**server, "status": status} if status else {**server, "status": {}}, overrides=overrides
        )
        assert result is not None
        verdicts[label] = result.status
    assert verdicts == {
        "ready": HealthStatus.HEALTHY,
        "failed": HealthStatus.DEGRADED,
        "stale": HealthStatus.PROGRESSING,
        "new": HealthStatus.PROGRESSING,
    }
    # resource.exclusions replaces the defaults, so it must still contain them.
    settings = ResourceSettings.from_configmap(data)
    assert set(DEFAULT_EXCLUSIONS) <= set(settings.exclusions)
    assert len(settings.exclusions) > len(DEFAULT_EXCLUSIONS)
    kinds = {(rule.group, rule.kind) for rule in parse_system_ignore_differences(data)}
    assert ("admissionregistration.k8s.io", "MutatingWebhookConfiguration") in kinds


def test_rbac_cm_has_the_fixed_spec_policy() -> None:
    obj = _one(CONFIG / "argocd-rbac-cm.yaml")
    assert obj["metadata"]["labels"]["app.kubernetes.io/part-of"] == "argocd"
    data = _data("argocd-rbac-cm")
    assert set(data) == {"policy.default", "policy.csv", "scopes"}
    assert data["policy.default"] == "role:readonly"
    assert yaml.safe_load(data["scopes"]) == ["groups", "email"]
    assert list(lint_rbac_config(data)) == []
    fixed = "p, role:artemis-team, exec, create, artemis/*, deny"
    assert fixed in data["policy.csv"].splitlines()
    # The spec's line, with its inline comment, is the bug the file fixes.
    spec_line = data["policy.csv"].replace(fixed, f"{fixed}  # No exec in prod")
    assert any(f.code == "RBAC004" for f in lint_policy(spec_line))

    config = RbacConfig.from_configmap_data(data)
    enforcer = Enforcer(config.policy_csv, default_role=config.default_role, scopes=config.scopes)

    def can(group: str, resource: str, action: str, obj: str) -> bool:
        return enforcer.enforce_claims({"sub": "someone", "groups": [group]}, resource, action, obj)

    assert can(
        "sophia-intel-ai:artemis-developers",
        "applications",
        "sync",
        "artemis/artemis-orchestrator-production",
    )
    assert not can(
        "sophia-intel-ai:artemis-developers", "applications", "sync", "sophia/sophia-api-production"
    )
    assert not can(
        "sophia-intel-ai:artemis-developers", "exec", "create", "artemis/artemis-orchestrator-production"
    )
    assert can("sophia-intel-ai:platform-admins", "exec", "create", "artemis/artemis-orchestrator-production")
    assert can("sophia-intel-ai:devops", "applications", "delete", "infrastructure/infrastructure-namespaces")
    assert not can(
        "sophia-intel-ai:developers", "applications", "sync", "artemis/artemis-orchestrator-staging"
    )


def test_rbac_validate_cli_reports_no_errors() -> None:
    result = CliRunner().invoke(
        cli, ["admin", "settings", "rbac", "validate", "--policy-file", str(CONFIG / "argocd-rbac-cm.yaml")]
    )
    assert result.exit_code == 0, result.output
    assert "Policy is valid (0 warning(s))." in result.stdout
    assert "RBAC" not in result.stdout


def _secret_keys(path: Path) -> dict[str, str]:
    secret = _one(path)
    assert secret["kind"] == "Secret"
    assert secret["metadata"]["namespace"] == "argocd"
    values: dict[str, str] = secret["stringData"]
    return values


def test_notifications_cm_has_the_pitfalls_fixed() -> None:
    data = _data("argocd-notifications-cm")
    assert {k.split(".", 1)[0] for k in data} == {"service", "template", "trigger", "subscriptions"}
    config = parse_config(data)
    assert config.errors == ()
    assert set(config.services) == {"slack", "email", "deployment-tracker"}
    secrets = _secret_keys(CONFIG / "argocd-notifications-secret.template.yaml")
    assert all(value.startswith("REPLACE-ME") for value in secrets.values())
    referenced = set(
        re.findall(r"\$([A-Za-z0-9_-]+)", "".join(v for k, v in data.items() if k.startswith("service.")))
    )
    assert referenced == set(secrets)
    # No finding at all: oncePer, ?. and toJson are in place, the webhook is subscribed.
    assert list(lint_notifications_data(data, secrets=secrets)) == []
    for key, value in data.items():
        if key.startswith("trigger."):
            assert all("oncePer" in condition for condition in yaml.safe_load(value)), key

    # A hostile error message still renders to valid JSON everywhere.
    message = 'one or more "objects" failed to apply:\n\tJob/database-migration: {"reason": "x"}'
    application = {
        "metadata": {"name": "artemis-orchestrator-production", "labels": {"environment": "production"}},
        "spec": {"destination": {"namespace": "artemis-system"}},
        "status": {
            "sync": {"revision": "0123abc"},
            "health": {"status": "Degraded"},
            "operationState": {
                "phase": "Failed",
                "message": message,
                "startedAt": "2026-01-01T00:00:00Z",
                "finishedAt": "2026-01-01T00:01:00Z",
                "syncResult": {"revision": "0123abc"},
            },
        },
    }
    now = datetime(2026, 1, 1, 0, 2, tzinfo=UTC)
    for template in ("app-deployed", "app-sync-failed"):
        rendered = render_templates(config, [template], application, now=now, service_type="slack")
        assert rendered.errors == ()
        attachments = json.loads(rendered.body["slack"]["attachments"])
        body = json.loads(rendered.body["webhook"]["deployment-tracker"]["body"])
        assert body["app"] == "artemis-orchestrator-production"
        if template == "app-sync-failed":
            assert attachments[0]["fields"][0]["value"] == message
            assert body["message"] == message


def test_secret_templates_hold_no_real_values() -> None:
    repo = _one(CONFIG / "repository-secret.template.yaml")
    assert repo["metadata"]["labels"]["argocd.argoproj.io/secret-type"] == "repository"
    values = repo["stringData"]
    assert values["url"] == PLACEHOLDER_REPO
    assert values["password"] == "REPLACE-ME-generated-by-bootstrap"
    assert "data" not in repo
