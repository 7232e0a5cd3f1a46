"""OIDC login end to end against a real OpenID provider (panva/oidc-provider, tests/support/oidc) on
loopback: ``GET /auth/login`` redirects with PKCE, state and nonce; the provider's login and consent
forms are posted as a browser would; ``/auth/callback`` exchanges the code (client_secret_basic, with
the ``$oidc.clientSecret`` reference resolved from argocd-secret), verifies the ID token against the
provider's JWKS, sets the session cookie and returns to ``return_url``. The groups claim drives the
spec §6.1 policy.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import pytest

from tests.support.cluster import ControlPlane
from tests.support.oidc import OidcProvider, start_oidc_provider
from tests.support.sso_server import SPEC_POLICY, SsoApiServer, seed_sso_namespace, start_sso_server
from tests.unit.cli.serve import free_port

pytestmark = pytest.mark.integration

USERS: dict[str, dict[str, object]] = {
    "olivia": {
        "email": "olivia@sophia-intel-ai.com",
        "name": "Olivia",
        "groups": ["sophia-intel-ai:artemis-developers"],
    },
}


@dataclass
class Env:
    server: SsoApiServer
    provider: OidcProvider
    plane: ControlPlane
    cli_port: int
    tmp: Path


@pytest.fixture(scope="module")
def env(control_plane: ControlPlane, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    tmp = tmp_path_factory.mktemp("sso-oidc")
    port = free_port()
    own = f"http://127.0.0.1:{port}"
    cli_port = free_port()
    provider = start_oidc_provider(
        f"{own}/auth/callback",
        USERS,
        tmp / "provider.log",
        cli_client=("argosy-cli", f"http://127.0.0.1:{cli_port}/auth/callback"),
    )
    oidc_config = (
        "name: Test IdP\n"
        f"issuer: {provider.issuer}\n"
        f"clientID: {provider.client_id}\n"
        "cliClientID: argosy-cli\n"
        "clientSecret: $oidc.clientSecret\n"
        'requestedScopes: ["openid", "profile", "email", "groups"]\n'
        'requestedIDTokenClaims: {"groups": {"essential": true}}\n'
    )
    ns = seed_sso_namespace(
        control_plane,
        cm={"url": own, "oidc.config": oidc_config},
        secret={"oidc.clientSecret": provider.client_secret},
        rbac={"policy.default": "", "policy.csv": SPEC_POLICY},
    )
    try:
        server = start_sso_server(control_plane, ns, tmp, port=port)
        try:
            yield Env(server, provider, control_plane, cli_port, tmp)
        finally:
            server.stop()
    finally:
        provider.stop()
        control_plane.kubectl("delete", "namespace", ns, "--wait=false", check=False)


def _post_form(client: httpx.Client, page: httpx.Response, fields: dict[str, str]) -> httpx.Response:
    match = re.search(r'<form[^>]*action="([^"]+)"', page.text)
    assert match, page.text[:500]
    return client.post(urljoin(str(page.url), match.group(1)), data=fields, follow_redirects=True)


def browser_login(client: httpx.Client, server: SsoApiServer, return_url: str, login: str) -> httpx.Response:
    """What a browser does: follow the redirects, fill in the login form, accept the consent form."""
    page = client.get(f"{server.url}/auth/login", params={"return_url": return_url}, follow_redirects=True)
    assert 'name="login"' in page.text, page.text[:500]
    page = _post_form(client, page, {"prompt": "login", "login": login, "password": "any-password"})
    if 'name="prompt" value="consent"' in page.text:
        page = _post_form(client, page, {"prompt": "consent"})
    return page


def test_oidc_login_with_pkce_sets_the_session_and_groups_drive_rbac(env: Env) -> None:
    s = env.server
    hops: list[str] = []
    with httpx.Client(timeout=30, event_hooks={"request": [lambda r: hops.append(str(r.url))]}) as client:
        page = browser_login(client, s, f"{s.url}/api/v1/session/userinfo", "olivia")
        # the provider sent the browser to our callback, which redirected to return_url
        authorize = next(u for u in hops if u.startswith(f"{env.provider.issuer}/auth?"))
        q = {k: v[0] for k, v in parse_qs(urlsplit(authorize).query).items()}
        assert q["code_challenge_method"] == "S256" and q["state"] and q["nonce"]
        assert q["redirect_uri"] == f"{s.url}/auth/callback"
        assert any(u.startswith(f"{s.url}/auth/callback?code=") for u in hops)
        assert str(page.url) == f"{s.url}/api/v1/session/userinfo"
        info = page.json()
        assert info["loggedIn"] is True and info["username"] == "olivia"
        assert info["groups"] == ["sophia-intel-ai:artemis-developers"]
        callback = next(r for r in page.history if str(r.url).startswith(f"{s.url}/auth/callback"))
        cookie = callback.headers["set-cookie"].lower()
        assert "argocd.token=" in cookie and "httponly" in cookie and "samesite=lax" in cookie
        token = client.cookies.get("argocd.token", domain="127.0.0.1", path="/")
        assert token

        auth = {"Authorization": f"Bearer {token}"}
        ok = httpx.post(f"{s.url}/api/v1/applications/artemis-web/sync", json={}, headers=auth)
        assert ok.status_code == 200, ok.text
        op = env.plane.get_json("-n", s.namespace, "application", "artemis-web")["operation"]
        assert op["initiatedBy"] == {"username": "olivia"}
        denied = httpx.post(f"{s.url}/api/v1/applications/sophia-web/sync", json={}, headers=auth)
        assert denied.status_code == 403

        # the code is single-use and the flow cookie is gone: replaying the callback fails
        replay = client.get(str(callback.url), follow_redirects=False)
        assert replay.status_code == 400

    text = s.audit.read_text()
    assert env.provider.client_secret not in text
    assert any(
        e["action"] == "session.login" and e["actor"] == "olivia" and e["summary"]["connector"] == "oidc"
        for e in map(json.loads, text.splitlines())
    )


def test_return_url_to_another_origin_lands_on_the_server_root(env: Env) -> None:
    s = env.server
    with httpx.Client(timeout=30) as client:
        page = browser_login(client, s, "https://evil.example.com/steal", "olivia")
        assert str(page.url) == f"{s.url}/"
        assert client.cookies.get("argocd.token", domain="127.0.0.1", path="/")


def test_forged_state_and_unknown_flow_are_refused(env: Env) -> None:
    s = env.server
    with httpx.Client(timeout=30) as client:
        start = client.get(f"{s.url}/auth/login", follow_redirects=False)
        assert start.status_code == 303
        r = client.get(f"{s.url}/auth/callback", params={"code": "x", "state": "forged"})
        assert r.status_code == 400
    assert httpx.get(f"{s.url}/auth/callback", params={"code": "x", "state": "y"}).status_code == 400


def _follow_until(client: httpx.Client, response: httpx.Response, stop: str) -> httpx.Response | str:
    """Follow redirects by hand; return the first Location under ``stop`` instead of requesting it."""
    while response.is_redirect:
        target = urljoin(str(response.url), response.headers["location"])
        if target.startswith(stop):
            return target
        response = client.get(target, follow_redirects=False)
    return response


def test_bearer_id_token_from_the_provider_is_accepted_like_argocd_login_sso(env: Env) -> None:
    """The test plays a CLI client of the provider: its own PKCE flow, its own code exchange, then the
    ID token as the bearer on the API."""
    s, p = env.server, env.provider
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    params = {
        "response_type": "code",
        "client_id": p.client_id,
        "redirect_uri": f"{s.url}/auth/callback",
        "scope": "openid profile email groups",
        "state": "cli-state",
        "nonce": "cli-nonce",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    with httpx.Client(timeout=30) as client:
        page = client.get(f"{p.issuer}/auth", params=params, follow_redirects=True)
        match = re.search(r'<form[^>]*action="([^"]+)"', page.text)
        assert match
        r = client.post(
            urljoin(str(page.url), match.group(1)),
            data={"prompt": "login", "login": "olivia", "password": "x"},
            follow_redirects=False,
        )
        outcome = _follow_until(client, r, s.url)
        if isinstance(outcome, httpx.Response):  # the consent form
            match = re.search(r'<form[^>]*action="([^"]+)"', outcome.text)
            assert match, outcome.text[:300]
            r = client.post(urljoin(str(outcome.url), match.group(1)), data={"prompt": "consent"})
            outcome = _follow_until(client, r, s.url)
        assert isinstance(outcome, str)
        code = parse_qs(urlsplit(outcome).query)["code"][0]
        answer = client.post(
            f"{p.issuer}/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": f"{s.url}/auth/callback",
                "code_verifier": verifier,
            },
            auth=(p.client_id, p.client_secret),
        )
        assert answer.status_code == 200, answer.text
        id_token = answer.json()["id_token"]

    auth = {"Authorization": f"Bearer {id_token}"}
    info = httpx.get(f"{s.url}/api/v1/session/userinfo", headers=auth).json()
    assert info["loggedIn"] is True and info["username"] == "olivia"
    assert info["groups"] == ["sophia-intel-ai:artemis-developers"]
    assert httpx.get(f"{s.url}/api/v1/applications/artemis-web", headers=auth).status_code == 200
    assert (
        httpx.post(f"{s.url}/api/v1/applications/sophia-web/sync", json={}, headers=auth).status_code == 403
    )
    head, body, sig = id_token.split(".")
    forged_body = (
        base64.urlsafe_b64encode(
            json.dumps(
                {
                    **json.loads(base64.urlsafe_b64decode(body + "==")),
                    "groups": ["sophia-intel-ai:platform-admins"],
                }
            ).encode()
        )
        .rstrip(b"=")
        .decode()
    )
    forged = f"{head}.{forged_body}.{sig}"
    r = httpx.get(f"{s.url}/api/v1/applications/sophia-web", headers={"Authorization": f"Bearer {forged}"})
    assert r.status_code == 401 and forged not in r.text


BROWSER = """#!{python}
# Stands in for the user's browser: `argosy login --sso` runs it with the authorization URL.
import re, sys
from urllib.parse import urljoin
import httpx

with httpx.Client(timeout=30) as client:
    page = client.get(sys.argv[1], follow_redirects=True)
    for fields in ({{"prompt": "login", "login": "olivia", "password": "x"}}, {{"prompt": "consent"}}):
        match = re.search(r'<form[^>]*action="([^"]+)"', page.text)
        if not match:
            break
        page = client.post(urljoin(str(page.url), match.group(1)), data=fields, follow_redirects=True)
sys.exit(0 if "Login finished" in page.text else 1)
"""


def test_cli_login_sso_stores_the_providers_id_token(env: Env) -> None:
    s = env.server
    browser = env.tmp / "browser"
    browser.write_text(BROWSER.format(python=sys.executable))
    browser.chmod(0o755)
    r = s.cli(
        "login",
        s.address,
        "--plaintext",
        "--sso",
        "--sso-port",
        str(env.cli_port),
        "--name",
        "sso",
        env={"BROWSER": str(browser)},
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "'olivia' logged in successfully" in r.stdout
    assert "code_challenge_method=S256" in r.stdout and "client_id=argosy-cli" in r.stdout
    r = s.cli("app", "get", "artemis-web", "-o", "json")
    assert r.returncode == 0 and json.loads(r.stdout)["metadata"]["name"] == "artemis-web", r.stderr
    r = s.cli("app", "sync", "sophia-web", "--async")
    assert r.returncode == 20 and "PermissionDenied" in r.stderr
