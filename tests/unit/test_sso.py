"""SSO, pure parts and the API routes over the fake Kubernetes API: ``oidc.config`` / ``dex.config``
parsing, SSO session tokens, PKCE and the flow cookie, ID-token verification, GitHub group mapping,
the settings shape the UI reads, LDAP login through a stub directory, ``/auth/login`` redirects."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient

from argosy.api import ApiDeps, create_app
from argosy.api.auth import safe_return_url
from argosy.core.accounts import SecretStr, parse_accounts
from argosy.core.oidc import IdTokenError, new_flow, open_flow, pkce_challenge, seal_flow, verify_id_token
from argosy.core.sso import (
    GithubConnector,
    GithubOrg,
    SsoConfigError,
    dex_connectors,
    github_groups,
    parse_dex_github_connectors,
    parse_oidc_config,
)
from argosy.core.tokens import TokenError, issue_sso_session_token, verify_token
from argosy.ports.sso import HttpAnswer, SsoBackends, SsoLoginError, SsoUser
from tests.unit.api.fakes import KEY, NOW, NS, FakeKube, seed

SPEC_OIDC = """\
name: Okta
issuer: https://sophia-intel-ai.okta.com
clientId: $oidc.okta.clientId
clientSecret: $oidc.okta.clientSecret
requestedScopes: ["openid", "profile", "email", "groups"]
requestedIDTokenClaims: {"groups": {"essential": true}}
"""
SPEC_DEX = """\
connectors:
- type: github
  id: github
  name: GitHub
  config:
    clientID: $dex.github.clientId
    clientSecret: $dex.github.clientSecret
    orgs:
    - name: sophia-intel-ai
      teams:
      - platform-admins
      - artemis-developers
- type: ldap
  id: ldap
  name: LDAP
  config:
    host: ldap.sophia-intel-ai.com:636
    bindDN: cn=admin,dc=sophia-intel-ai,dc=com
    bindPW: $dex.ldap.bindPW
    userSearch: {baseDN: "ou=users,dc=sophia-intel-ai,dc=com", username: uid}
"""
SECRETS = {
    "oidc.okta.clientId": "argosy-client",
    "oidc.okta.clientSecret": "oidc-client-secret-value",
    "dex.github.clientId": "gh-client",
    "dex.github.clientSecret": "gh-client-secret-value",
    "dex.ldap.bindPW": "ldap-bind-secret-value",
}

# -- parsing ----------------------------------------------------------------------------------------


def test_spec_oidc_config_resolves_refs_and_hides_the_secret() -> None:
    cfg = parse_oidc_config(SPEC_OIDC, SECRETS)
    assert cfg is not None
    assert cfg.client_id == "argosy-client" and cfg.client_secret.reveal() == "oidc-client-secret-value"
    assert cfg.requested_scopes == ("openid", "profile", "email", "groups")
    assert cfg.requested_id_token_claims == {"groups": {"essential": True}}
    assert "oidc-client-secret-value" not in repr(cfg) and "oidc-client-secret-value" not in json.dumps(
        cfg.public()
    )
    assert cfg.public() == {
        "name": "Okta",
        "issuer": "https://sophia-intel-ai.okta.com",
        "clientID": "argosy-client",
        "scopes": ["openid", "profile", "email", "groups"],
        "idTokenClaims": {"groups": {"essential": True}},
    }
    assert parse_oidc_config("", SECRETS) is None
    with pytest.raises(SsoConfigError, match="issuer"):
        parse_oidc_config("clientID: x\n", SECRETS)


def test_dex_connectors_list_and_github_connector() -> None:
    assert [(c.id, c.name, c.type) for c in dex_connectors(SPEC_DEX)] == [
        ("github", "GitHub", "github"),
        ("ldap", "LDAP", "ldap"),
    ]
    (gh,) = parse_dex_github_connectors(SPEC_DEX, SECRETS)
    assert gh.client_id == "gh-client" and gh.client_secret.reveal() == "gh-client-secret-value"
    assert gh.orgs == (GithubOrg("sophia-intel-ai", ("platform-admins", "artemis-developers")),)
    assert gh.authorize_url == "https://github.com/login/oauth/authorize"
    assert gh.api_url == "https://api.github.com"
    enterprise = SPEC_DEX.replace("    orgs:", "    hostName: ghe.example.com\n    orgs:")
    (ghe,) = parse_dex_github_connectors(enterprise, SECRETS)
    assert ghe.token_url == "https://ghe.example.com/login/oauth/access_token"
    assert ghe.api_url == "https://ghe.example.com/api/v3"


def _gh(**kw: Any) -> GithubConnector:
    return GithubConnector(id="github", name="GitHub", client_id="c", client_secret=SecretStr("s"), **kw)


def test_github_groups_follow_dex() -> None:
    orgs = ["sophia-intel-ai", "other"]
    teams = [
        ("sophia-intel-ai", "Artemis Developers", "artemis-developers"),
        ("sophia-intel-ai", "devops", "devops"),
        ("other", "x", "x"),
    ]
    conf = (GithubOrg("sophia-intel-ai", ("artemis-developers", "platform-admins")),)
    # names by slug: the configured team list filters, groups are org:team
    assert github_groups(_gh(orgs=conf, team_name_field="slug"), orgs, teams) == (
        "sophia-intel-ai:artemis-developers",
    )
    # by name (default): "Artemis Developers" is not in the configured list -> not authorised
    assert github_groups(_gh(orgs=conf), orgs, teams) is None
    # an org without teams authorises every member and lists all their teams there
    assert github_groups(_gh(orgs=(GithubOrg("sophia-intel-ai"),)), orgs, teams) == (
        "sophia-intel-ai:Artemis Developers",
        "sophia-intel-ai:devops",
    )
    # not in the org at all -> not authorised
    assert github_groups(_gh(orgs=(GithubOrg("elsewhere"),)), orgs, teams) is None
    # no orgs: loadAllGroups gives orgs and org:team; otherwise no groups
    assert github_groups(_gh(load_all_groups=True, team_name_field="slug"), orgs, teams) == (
        "sophia-intel-ai",
        "other",
        "sophia-intel-ai:artemis-developers",
        "sophia-intel-ai:devops",
        "other:x",
    )
    assert github_groups(_gh(), orgs, teams) == ()


# -- tokens -------------------------------------------------------------------------------------------


def test_sso_session_token_verifies_without_a_local_account_and_can_be_revoked() -> None:
    accounts = parse_accounts({}, {})
    issued = issue_sso_session_token(KEY, "alice", NOW, connector="ldap", groups=["artemis-developers"])
    p = verify_token(issued.token, KEY, NOW, accounts=accounts)
    assert (p.subject, p.kind, p.groups) == ("alice", "sso", ("artemis-developers",))
    with pytest.raises(TokenError) as exc:
        verify_token(issued.token, KEY, NOW, accounts=accounts, revoked_sessions={p.token_id})
    assert exc.value.reason == "revoked"
    with pytest.raises(TokenError) as exc:
        verify_token(issued.token, KEY, NOW + timedelta(hours=25), accounts=accounts)
    assert exc.value.reason == "expired"
    # an SSO identity can never act as a local account of the same name (admin is always one)
    admin = issue_sso_session_token(KEY, "admin", NOW, connector="ldap")
    with pytest.raises(TokenError) as exc:
        verify_token(admin.token, KEY, NOW, accounts=accounts)
    assert exc.value.reason == "unknown_account"


# -- PKCE, flow cookie, return URL ---------------------------------------------------------------------


def test_pkce_s256_matches_rfc7636_appendix_b() -> None:
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert pkce_challenge(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def test_flow_cookie_is_encrypted_bound_to_state_and_expires() -> None:
    flow = new_flow("", "/applications", NOW)
    assert 43 <= len(flow.verifier) <= 128
    sealed = seal_flow(flow, KEY)
    assert flow.verifier not in sealed and flow.nonce not in sealed
    assert open_flow(sealed, flow.state, KEY, NOW) == flow
    for bad in (
        lambda: open_flow(sealed, "other-state", KEY, NOW),
        lambda: open_flow(sealed, flow.state, b"x" * 48, NOW),
        lambda: open_flow(sealed[:-2] + "AA", flow.state, KEY, NOW),
        lambda: open_flow(sealed, flow.state, KEY, NOW + timedelta(minutes=6)),
        lambda: open_flow("", flow.state, KEY, NOW),
    ):
        with pytest.raises(IdTokenError):
            bad()


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("/applications?x=1", "/applications?x=1"),
        ("https://argosy.example.com/applications", "https://argosy.example.com/applications"),
        ("https://evil.example.com/", "/"),
        ("//evil.example.com/", "/"),
        ("/\\evil.example.com/", "/"),
        ("javascript:alert(1)", "/"),
        ("http://argosy.example.com/", "/"),
        ("applications", "/"),
        ("http://[", "/"),
        ("/ok\x7f", "/"),
        ("", "/"),
    ],
)
def test_return_url_stays_on_the_servers_origin(url: str, expected: str) -> None:
    assert safe_return_url(url, "https://argosy.example.com") == expected


# -- ID tokens ---------------------------------------------------------------------------------------

ISSUER = "https://idp.example.com"


@pytest.fixture(scope="module")
def signing() -> tuple[Any, dict[str, Any]]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    jwk |= {"kid": "k1", "use": "sig", "alg": "RS256"}
    return key, {"keys": [jwk]}


def _id_token(key: Any, **over: Any) -> str:
    claims = {
        "iss": ISSUER,
        "sub": "user-1",
        "aud": "argosy-client",
        "iat": int(NOW.timestamp()),
        "exp": int(NOW.timestamp()) + 300,
        "nonce": "n-1",
        "groups": ["sophia-intel-ai:artemis-developers"],
    }
    claims.update(over)
    payload = {k: v for k, v in claims.items() if v is not None}
    return jwt.encode(payload, key, "RS256", headers={"kid": "k1"})


def _verify(token: str, jwks: dict[str, Any], nonce: str = "n-1") -> dict[str, Any]:
    return verify_id_token(token, jwks, issuer=ISSUER, audiences=["argosy-client"], nonce=nonce, now=NOW)


def test_id_token_checks(signing: tuple[Any, dict[str, Any]]) -> None:
    key, jwks = signing
    claims = _verify(_id_token(key), jwks)
    assert claims["sub"] == "user-1" and claims["groups"] == ["sophia-intel-ai:artemis-developers"]
    cases = {
        "issuer": _id_token(key, iss="https://other.example.com"),
        "audience": _id_token(key, aud="someone-else"),
        "expired": _id_token(key, exp=int(NOW.timestamp()) - 120),
        "not_yet_valid": _id_token(key, iat=int(NOW.timestamp()) + 600),
        "malformed": _id_token(key, sub=None),
    }
    for reason, token in cases.items():
        with pytest.raises(IdTokenError) as exc:
            _verify(token, jwks)
        assert exc.value.reason == reason, reason
    with pytest.raises(IdTokenError) as exc:
        _verify(_id_token(key), jwks, nonce="another-nonce")
    assert exc.value.reason == "nonce"
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(IdTokenError) as exc:
        _verify(_id_token(other), jwks)
    assert exc.value.reason == "signature"
    # a token MACed with a shared secret (or unsigned) is never accepted
    hs = jwt.encode({"iss": ISSUER, "sub": "x", "aud": "argosy-client"}, "k" * 32, "HS256")
    unsigned = jwt.encode({"iss": ISSUER, "sub": "x", "aud": "argosy-client"}, None, "none")
    for token in (hs, unsigned):
        with pytest.raises(IdTokenError) as exc:
            _verify(token, jwks)
        assert exc.value.reason == "signature"


# -- the API over the fake Kubernetes API -------------------------------------------------------------


class StubDirectory:
    """Stands in for the LDAP adapter (tested against slapd in tests/integration)."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    async def __call__(self, connector: Any, username: str, password: str) -> SsoUser:
        self.calls.append(username)
        if username == "erin" and password == "erin-ldap-pw":
            return SsoUser("erin", "erin", "erin@x", "Erin", ("sophia-intel-ai:artemis-developers",))
        if username == "carl":  # the directory's uid collides with a local account
            return SsoUser("alice", "carl", "", "", ())
        raise SsoLoginError("invalid_credentials" if username == "erin" else "unknown_user", "invalid")


class StubHttp:
    async def get(self, url: str, *, headers: Any = None) -> HttpAnswer:
        assert url == f"{ISSUER}/.well-known/openid-configuration"
        doc = {
            "issuer": ISSUER,
            "authorization_endpoint": f"{ISSUER}/authorize",
            "token_endpoint": f"{ISSUER}/token",
            "jwks_uri": f"{ISSUER}/jwks",
        }
        return HttpAnswer(200, doc, {})

    async def post_form(self, url: str, form: Any, *, headers: Any = None) -> HttpAnswer:
        raise AssertionError("not used")


@pytest.fixture
def sso_api() -> Iterator[tuple[TestClient, FakeKube, StubDirectory]]:
    kube = FakeKube()
    seed(kube, extra_secret=SECRETS)
    cm = kube.obj("v1", "ConfigMap", "argocd-cm")
    oidc = SPEC_OIDC.replace("https://sophia-intel-ai.okta.com", ISSUER)
    cm["data"] |= {"url": "https://argosy.example.com", "oidc.config": oidc, "dex.config": SPEC_DEX}
    directory = StubDirectory()
    deps = ApiDeps(
        kube=kube,
        namespace=NS,
        clock=lambda: NOW,
        watch_cache=False,
        sso=SsoBackends(ldap_login=directory, http=StubHttp()),
    )
    with TestClient(create_app(deps), base_url="https://testserver") as client:
        yield client, kube, directory


def test_settings_show_sso_buttons_without_secrets(
    sso_api: tuple[TestClient, FakeKube, StubDirectory],
) -> None:
    client, _, _ = sso_api
    r = client.get("/api/v1/settings")
    assert r.status_code == 200
    body = r.json()
    assert body["oidcConfig"] == {
        "name": "Okta",
        "issuer": ISSUER,
        "clientID": "argosy-client",
        "scopes": ["openid", "profile", "email", "groups"],
        "idTokenClaims": {"groups": {"essential": True}},
    }
    assert body["dexConfig"] == {
        "connectors": [
            {"id": "github", "name": "GitHub", "type": "github"},
            {"id": "ldap", "name": "LDAP", "type": "ldap"},
        ]
    }
    for value in SECRETS.values():
        if "secret" in value:
            assert value not in r.text


def test_ldap_login_gives_a_session_with_the_directory_groups(
    sso_api: tuple[TestClient, FakeKube, StubDirectory],
) -> None:
    client, _, directory = sso_api
    r = client.post("/api/v1/session", json={"username": "erin", "password": "erin-ldap-pw"})
    assert r.status_code == 200, r.text
    assert r.cookies.get("argocd.token") == r.json()["token"]
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "secure" in cookie and "samesite=lax" in cookie
    auth = {"Authorization": f"Bearer {r.json()['token']}"}
    info = client.get("/api/v1/session/userinfo", headers=auth).json()
    assert info["username"] == "erin" and info["groups"] == ["sophia-intel-ai:artemis-developers"]
    assert client.post("/api/v1/applications/artemis-web/sync", json={}, headers=auth).status_code == 200
    assert client.post("/api/v1/applications/sophia-api/sync", json={}, headers=auth).status_code == 403
    # an SSO session is not the local account of the same name: no own-account shortcut
    assert client.get("/api/v1/account/erin", headers=auth).status_code in (403, 404)

    assert client.post("/api/v1/session", json={"username": "erin", "password": "wrong"}).status_code == 401
    assert client.post("/api/v1/session", json={"username": "nobody", "password": "x"}).status_code == 401
    # local accounts never reach the directory; a directory id naming a local account is refused
    directory.calls.clear()
    assert client.post("/api/v1/session", json={"username": "alice", "password": "nope"}).status_code == 401
    assert directory.calls == []
    assert client.post("/api/v1/session", json={"username": "carl", "password": "pw"}).status_code == 401


def test_auth_login_redirects_to_the_provider_with_pkce_state_and_nonce(
    sso_api: tuple[TestClient, FakeKube, StubDirectory],
) -> None:
    client, _, _ = sso_api
    r = client.get(
        "/auth/login",
        params={"return_url": "https://argosy.example.com/applications"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    target = urlsplit(r.headers["location"])
    assert f"{target.scheme}://{target.netloc}{target.path}" == f"{ISSUER}/authorize"
    q = {k: v[0] for k, v in parse_qs(target.query).items()}
    assert q["response_type"] == "code" and q["client_id"] == "argosy-client"
    assert q["redirect_uri"] == "https://argosy.example.com/auth/callback"
    assert q["scope"] == "openid profile email groups"
    assert q["code_challenge_method"] == "S256" and len(q["code_challenge"]) == 43
    assert q["state"] and q["nonce"] and q["state"] != q["nonce"]
    assert json.loads(q["claims"]) == {"id_token": {"groups": {"essential": True}}}
    cookie = r.headers["set-cookie"].lower()
    assert "argocd.oauthstate=" in cookie and "httponly" in cookie and "path=/auth" in cookie
    assert "oidc-client-secret-value" not in r.headers["location"]

    gh = client.get("/auth/login", params={"connector": "github"}, follow_redirects=False)
    assert gh.status_code == 303 and gh.headers["location"].startswith(
        "https://github.com/login/oauth/authorize?"
    )
    assert (
        "client_id=gh-client" in gh.headers["location"]
        and "gh-client-secret-value" not in gh.headers["location"]
    )
    assert client.get("/auth/login", params={"connector": "ldap"}, follow_redirects=False).status_code == 400
    assert client.get("/auth/login", params={"connector": "nope"}, follow_redirects=False).status_code == 400
    # a callback without the flow cookie (or with another state) is refused
    client.cookies.clear()
    assert client.get("/auth/callback", params={"code": "c", "state": q["state"]}).status_code == 400


def test_rbac_scopes_with_email_match_an_sso_users_email(
    sso_api: tuple[TestClient, FakeKube, StubDirectory],
) -> None:
    """spec §6.1 sets ``scopes: '[groups, email]'``: a ``g`` line on the email grants its role."""
    client, kube, _ = sso_api
    rbac = kube.obj("v1", "ConfigMap", "argocd-rbac-cm")
    rbac["data"]["policy.csv"] += "g, erin@x, role:sophia-team\n"
    token = client.post("/api/v1/session", json={"username": "erin", "password": "erin-ldap-pw"}).json()[
        "token"
    ]
    auth = {"Authorization": f"Bearer {token}"}
    assert client.post("/api/v1/applications/sophia-api/sync", json={}, headers=auth).status_code == 200
