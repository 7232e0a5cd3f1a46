"""GitHub login end to end: the built-in ``type: github`` connector of ``dex.config`` (spec §6.2) against
a loopback stand-in of GitHub's OAuth and REST endpoints (tests/support/github.py). Teams of the
configured org become ``org:team`` groups (Dex's names), which the spec §6.1 policy matches; users
outside the configured orgs and teams are refused.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from tests.support.cluster import ControlPlane
from tests.support.github import FakeGithub, GithubUser, start_github
from tests.support.sso_server import SPEC_POLICY, SsoApiServer, seed_sso_namespace, start_sso_server
from tests.unit.cli.serve import free_port

pytestmark = pytest.mark.integration

ORG = "sophia-intel-ai"


@dataclass
class Env:
    server: SsoApiServer
    github: FakeGithub
    plane: ControlPlane


@pytest.fixture(scope="module")
def env(control_plane: ControlPlane, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    port = free_port()
    own = f"http://127.0.0.1:{port}"
    users = {
        "octo-artemis": GithubUser(
            "octo-artemis",
            1001,
            "Octo Artemis",
            "octo@sophia-intel-ai.com",
            orgs=[ORG, "elsewhere"],
            teams=[
                (ORG, "artemis-developers", "artemis-developers"),
                (ORG, "guests", "guests"),
                ("elsewhere", "x", "x"),
            ],
        ),
        "octo-outsider": GithubUser(
            "octo-outsider", 1002, orgs=["elsewhere"], teams=[("elsewhere", "x", "x")]
        ),
        "octo-guest": GithubUser("octo-guest", 1003, orgs=[ORG], teams=[(ORG, "guests", "guests")]),
    }
    gh = start_github(FakeGithub("gh-client", "gh-secret-value-123", f"{own}/auth/callback", users))
    dex = f"""\
connectors:
- type: github
  id: github
  name: GitHub
  config:
    clientID: $dex.github.clientId
    clientSecret: $dex.github.clientSecret
    baseURL: {gh.url}
    apiURL: {gh.url}/api/v3
    orgs:
    - name: {ORG}
      teams:
      - platform-admins
      - artemis-developers
      - sophia-developers
      - devops
"""
    ns = seed_sso_namespace(
        control_plane,
        cm={"url": own, "dex.config": dex},
        secret={"dex.github.clientId": "gh-client", "dex.github.clientSecret": "gh-secret-value-123"},
        rbac={"policy.default": "", "policy.csv": SPEC_POLICY},
    )
    server = start_sso_server(control_plane, ns, tmp_path_factory.mktemp("sso-github"), port=port)
    try:
        yield Env(server, gh, control_plane)
    finally:
        server.stop()
        gh.stop()
        control_plane.kubectl("delete", "namespace", ns, "--wait=false", check=False)


def _login(env: Env, client: httpx.Client, user: str, return_url: str) -> httpx.Response:
    env.github.current_user = user
    return client.get(
        f"{env.server.url}/auth/login",
        params={"connector": "github", "return_url": return_url},
        follow_redirects=True,
    )


def test_github_teams_become_groups_and_drive_rbac(env: Env) -> None:
    s = env.server
    with httpx.Client(timeout=30) as client:
        page = _login(env, client, "octo-artemis", "/api/v1/session/userinfo")
        assert page.status_code == 200, page.text
        assert str(page.url) == f"{s.url}/api/v1/session/userinfo"
        info = page.json()
        # the numeric GitHub id is the subject (Dex's user id); only the configured org's listed teams
        assert info["username"] == "1001"
        assert info["groups"] == [f"{ORG}:artemis-developers"]
        token = client.cookies.get("argocd.token", domain="127.0.0.1", path="/")
    auth = {"Authorization": f"Bearer {token}"}
    assert (
        httpx.post(f"{s.url}/api/v1/applications/artemis-web/sync", json={}, headers=auth).status_code == 200
    )
    assert (
        httpx.post(f"{s.url}/api/v1/applications/sophia-web/sync", json={}, headers=auth).status_code == 403
    )
    # the client secret came from argocd-secret; pagination walked every page of teams
    assert env.github.token_requests[-1]["client_secret"] == "gh-secret-value-123"
    text = s.audit.read_text()
    assert "gh-secret-value-123" not in text
    assert not any(t in text for t in env.github.tokens)
    logins = [json.loads(line) for line in text.splitlines() if '"session.login"' in line]
    assert any(e["actor"] == "1001" and e["summary"]["connector"] == "github" for e in logins)


def test_users_outside_the_configured_orgs_or_teams_are_refused(env: Env) -> None:
    for user in ("octo-outsider", "octo-guest"):
        with httpx.Client(timeout=30) as client:
            page = _login(env, client, user, "/")
            assert page.status_code == 403, (user, page.text)
            assert client.cookies.get("argocd.token", domain="127.0.0.1", path="/") is None
