"""The per-project RBAC shortcut for application lists is exact: it is only taken when no policy
pattern can tell two applications of one project apart."""

from __future__ import annotations

import pytest

from argosy.api.settings import _project_only, app_decisions_per_project
from argosy.core.rbac import Project, ProjectRole, RbacConfig
from tests.unit.api.conftest import Api
from tests.unit.api.fakes import NS, POLICY_61


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("*", True),
        ("**", True),
        ("*/*", True),
        ("artemis/*", True),
        ("artemis*", True),
        ("team-a*", True),
        ("artemis/web", False),
        ("*/web", False),
        ("art?mis/*", False),
        ("{a,b}/*", False),
        ("a/b/*", False),
        ("artemis/web-*", False),
        ("", False),
    ],
)
def test_project_only(pattern: str, expected: bool) -> None:
    assert _project_only(pattern) is expected


def test_spec_61_policy_is_per_project() -> None:
    assert app_decisions_per_project(RbacConfig.from_configmap_data({"policy.csv": POLICY_61}), [])


def test_name_specific_lines_disable_the_shortcut() -> None:
    csv = POLICY_61 + "p, role:readonly, applications, get, artemis/artemis-worker, deny\n"
    assert not app_decisions_per_project(RbacConfig.from_configmap_data({"policy.csv": csv}), [])
    role = ProjectRole("ci", policies=("p, proj:artemis:ci, applications, get, artemis/web, allow",))
    config = RbacConfig.from_configmap_data({"policy.csv": POLICY_61})
    assert not app_decisions_per_project(config, [Project("artemis", (role,))])
    regex = RbacConfig.from_configmap_data({"policy.csv": POLICY_61, "policy.matchMode": "regex"})
    assert not app_decisions_per_project(regex, [])


def test_list_honours_an_app_specific_deny(api: Api) -> None:
    assert api.client.get("/readyz").status_code == 200
    settings = api.client.app.state.argosy.settings._cached  # type: ignore[attr-defined]
    assert settings is not None and settings.per_project_app_rbac  # the seed's §6.1 policy: shortcut on
    names = [a["metadata"]["name"] for a in api.get("/api/v1/applications", "readonly").json()["items"]]
    assert names == ["artemis-web", "artemis-worker", "sophia-api"]
    rbac = api.kube.obj("v1", "ConfigMap", "argocd-rbac-cm", NS)
    rbac["data"]["policy.csv"] += "p, role:readonly, applications, get, artemis/artemis-worker, deny\n"
    api.client.app.state.argosy.settings.invalidate()  # type: ignore[attr-defined]
    names = [a["metadata"]["name"] for a in api.get("/api/v1/applications", "readonly").json()["items"]]
    assert names == ["artemis-web", "sophia-api"]
    assert not api.client.app.state.argosy.settings._cached.per_project_app_rbac  # type: ignore[attr-defined]
