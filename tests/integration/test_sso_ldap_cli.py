"""LDAP login end to end (issue #6 acceptance): the real ``argosy`` CLI logs in to a running API server
as a user of a real OpenLDAP ``slapd`` (tests/support/ldap.py) configured as a spec §6.2 ``dex.config``
LDAP connector, ``bindPW: $dex.ldap.bindPW`` resolved from argocd-secret. With the spec §6.1 policy,
the member of the LDAP group mapped to ``sophia-intel-ai:artemis-developers`` syncs ``artemis/*`` but
gets 403 on ``sophia/*``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from tests.support.cluster import ControlPlane
from tests.support.ldap import LdapServer, dex_config, ldap_server  # noqa: F401 - the fixture
from tests.support.sso_server import SPEC_POLICY, SsoApiServer, seed_sso_namespace, start_sso_server

pytestmark = pytest.mark.integration

# The directory's group names, mapped onto the spec's GitHub-style group names.
LDAP_POLICY = (
    "g, artemis-developers, sophia-intel-ai:artemis-developers\ng, developers, sophia-intel-ai:developers\n"
)


@pytest.fixture(scope="module")
def server(
    control_plane: ControlPlane,
    ldap_server: LdapServer,  # noqa: F811
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[SsoApiServer]:
    ns = seed_sso_namespace(
        control_plane,
        cm={"dex.config": dex_config(ldap_server)},
        secret={"dex.ldap.bindPW": ldap_server.bind_password},
        rbac={"policy.default": "", "policy.csv": SPEC_POLICY, "policy.ldap.csv": LDAP_POLICY},
    )
    srv = start_sso_server(control_plane, ns, tmp_path_factory.mktemp("sso-ldap"))
    try:
        yield srv
    finally:
        srv.stop()
        control_plane.kubectl("delete", "namespace", ns, "--wait=false", check=False)


def _login(s: SsoApiServer, user: str, password: str, context: str) -> str:
    r = s.cli(
        "login", s.address, "--plaintext", "--username", user, "--password", password, "--name", context
    )
    assert r.returncode == 0, r.stderr
    assert f"'{user}:login' logged in successfully" in r.stdout
    # a second session for direct HTTP calls (the CLI keeps its own in its config file)
    token = httpx.post(f"{s.url}/api/v1/session", json={"username": user, "password": password}).json()[
        "token"
    ]
    return str(token)


def test_ldap_user_logs_in_with_the_cli_and_rbac_follows_the_directory_groups(
    server: SsoApiServer,
    control_plane: ControlPlane,
    ldap_server: LdapServer,  # noqa: F811
) -> None:
    s = server
    alice_pw = ldap_server.users["alice"]
    token = _login(s, "alice", alice_pw, "alice")

    info = httpx.get(f"{s.url}/api/v1/session/userinfo", headers={"Authorization": f"Bearer {token}"}).json()
    assert info["loggedIn"] is True and info["username"] == "alice"
    assert set(info["groups"]) == {"artemis-developers", "developers"}  # Dex's names: the group cn

    # the CLI uses the stored context (alice's session): artemis yes, sophia 403
    r = s.cli("app", "sync", "artemis-web", "--async")
    assert r.returncode == 0, r.stderr
    op = control_plane.get_json("-n", s.namespace, "application", "artemis-web")["operation"]
    assert op["initiatedBy"] == {"username": "alice"}
    r = s.cli("app", "sync", "sophia-web", "--async")
    assert r.returncode == 20 and "PermissionDenied" in r.stderr
    denied = httpx.post(
        f"{s.url}/api/v1/applications/sophia-web/sync", json={}, headers={"Authorization": f"Bearer {token}"}
    )
    assert denied.status_code == 403 and denied.json()["message"] == "permission denied"
    assert "operation" not in control_plane.get_json("-n", s.namespace, "application", "sophia-web")
    # readonly through developers -> sophia-intel-ai:developers
    r = s.cli("app", "get", "sophia-web", "-o", "json")
    assert r.returncode == 0 and json.loads(r.stdout)["metadata"]["name"] == "sophia-web", r.stderr

    # bob is only in developers: read, never sync
    bob = _login(s, "bob", ldap_server.users["bob"], "bob")
    bob_sync = httpx.post(
        f"{s.url}/api/v1/applications/artemis-web/sync", json={}, headers={"Authorization": f"Bearer {bob}"}
    )
    assert bob_sync.status_code == 403

    # logout revokes the LDAP session
    assert (
        httpx.delete(f"{s.url}/api/v1/session", headers={"Authorization": f"Bearer {bob}"}).status_code == 200
    )
    assert (
        httpx.get(f"{s.url}/api/v1/applications", headers={"Authorization": f"Bearer {bob}"}).status_code
        == 401
    )

    # nothing secret in the audit log; the login is recorded with the directory groups
    text = s.audit.read_text()
    assert ldap_server.bind_password not in text and alice_pw not in text
    logins = [json.loads(line) for line in text.splitlines() if '"session.login"' in line]
    assert any(
        e["actor"] == "alice" and e["outcome"] == "success" and e["summary"]["connector"] == "ldap"
        for e in logins
    )


def test_wrong_ldap_password_and_unknown_user_are_refused_alike(
    server: SsoApiServer,
    ldap_server: LdapServer,  # noqa: F811
) -> None:
    s = server
    wrong = httpx.post(
        f"{s.url}/api/v1/session", json={"username": "alice", "password": ldap_server.users["bob"]}
    )
    unknown = httpx.post(f"{s.url}/api/v1/session", json={"username": "mallory", "password": "whatever-pw"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["message"] == unknown.json()["message"] == "Invalid username or password"
    r = s.cli(
        "login", s.address, "--plaintext", "--username", "alice", "--password", "nope-nope", "--name", "x"
    )
    assert r.returncode == 20 and "Invalid username or password" in r.stderr
    # a local account is never looked up in LDAP: admin with a wrong password is refused locally
    admin = httpx.post(f"{s.url}/api/v1/session", json={"username": "admin", "password": "not-the-password"})
    assert admin.status_code == 401
