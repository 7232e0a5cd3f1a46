"""401/403 behaviour, the spec §6.1 policy, sessions, CSRF, rate limiting, tokens."""

from __future__ import annotations

import json

from tests.unit.api.conftest import Api
from tests.unit.api.fakes import ADMIN_PASSWORD, NS

APPS = "/api/v1/applications"


def test_no_credentials_is_401(api: Api) -> None:
    r = api.client.get(APPS)
    assert r.status_code == 401
    assert r.json()["code"] == 16


def test_bad_token_is_401_and_does_not_echo_it(api: Api) -> None:
    r = api.client.get(APPS, headers={"Authorization": "Bearer not.a.token"})
    assert r.status_code == 401
    assert "not.a.token" not in r.text


def test_every_api_route_requires_credentials(api: Api) -> None:
    public = {"/api/v1/session", "/api/v1/session/userinfo", "/api/v1/settings", "/api/webhook"}
    for path, item in api.client.app.openapi()["paths"].items():  # type: ignore[attr-defined]
        if not path.startswith("/api/") or path in public:
            continue
        concrete = path.replace("{name}", "artemis-web").replace("{repo}", "x").replace("{url}", "x")
        for part in ("{revision}", "{resource}", "{action}", "{subresource}", "{token_id}"):
            concrete = concrete.replace(part, "x")
        for method in item:
            r = api.client.request(method.upper(), concrete, json={})
            assert r.status_code == 401, (method, path, r.status_code)


def test_ci_bot_can_sync_and_restart_but_not_delete(api: Api) -> None:
    assert api.get(f"{APPS}/artemis-web", "bot").status_code == 200
    r = api.post(f"{APPS}/artemis-web/sync", "bot", json={"revision": "main", "prune": True})
    assert r.status_code == 200, r.text
    op = api.kube.obj("argoproj.io/v1alpha1", "Application", "artemis-web")["operation"]
    assert op["sync"]["prune"] is True
    assert op["initiatedBy"] == {"username": "ci-cd-bot"}
    r = api.post(
        f"{APPS}/artemis-web/resource/actions",
        "bot",
        params={
            "group": "apps",
            "kind": "Deployment",
            "resourceName": "web",
            "namespace": "artemis",
            "version": "v1",
        },
        json="restart",
    )
    assert r.status_code == 200, r.text
    dep = api.kube.obj("apps/v1", "Deployment", "web", "artemis")
    assert "kubectl.kubernetes.io/restartedAt" in dep["spec"]["template"]["metadata"]["annotations"]
    r = api.client.delete(f"{APPS}/sophia-api", headers=api.h("bot"))
    assert r.status_code == 403
    assert r.json()["message"] == "permission denied"
    assert ("delete", "Application", "sophia-api") not in api.kube.calls


def test_artemis_developer_syncs_artemis_but_not_sophia(api: Api) -> None:
    assert api.post(f"{APPS}/artemis-web/sync", "artemis", json={}).status_code == 200
    r = api.post(f"{APPS}/sophia-api/sync", "artemis", json={})
    assert r.status_code == 403
    assert "sophia" not in r.text  # nothing leaked
    assert "operation" not in api.kube.obj("argoproj.io/v1alpha1", "Application", "sophia-api")
    # the list only shows what the caller may get
    names = [a["metadata"]["name"] for a in api.get(APPS, "artemis").json()["items"]]
    assert names == ["artemis-web", "artemis-worker"]
    # and a missing app answers 403, not 404, to someone who could not see it
    assert api.get(f"{APPS}/no-such-app", "artemis").status_code == 403
    assert api.get(f"{APPS}/no-such-app", "admin").status_code == 404


def test_readonly_and_unprivileged(api: Api) -> None:
    assert len(api.get(APPS, "readonly").json()["items"]) == 3
    assert api.post(f"{APPS}/artemis-web/sync", "readonly", json={}).status_code == 403
    assert api.get(APPS, "nobody").json()["items"] == []
    assert api.get(f"{APPS}/artemis-web", "nobody").status_code == 403


def test_sync_refused_while_operation_running(api: Api) -> None:
    assert api.post(f"{APPS}/artemis-web/sync", json={}).status_code == 200
    r = api.post(f"{APPS}/artemis-web/sync", json={})
    assert r.status_code == 400
    assert "another operation is already in progress" in r.json()["message"]


def test_login_cookie_and_userinfo(api: Api) -> None:
    r = api.client.post("/api/v1/session", json={"username": "admin", "password": ADMIN_PASSWORD})
    assert r.status_code == 200, r.text
    token = r.json()["token"]
    cookie = r.headers["set-cookie"]
    assert cookie.startswith("argocd.token=")
    for attr in ("HttpOnly", "Secure", "SameSite=lax"):
        assert attr.lower() in cookie.lower()
    info = api.client.get("/api/v1/session/userinfo", headers={"Authorization": f"Bearer {token}"}).json()
    assert info == {"loggedIn": True, "username": "admin", "iss": "argosy", "groups": []}
    # logout revokes the session
    assert (
        api.client.delete("/api/v1/session", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    )
    assert api.client.get(APPS, headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_login_wrong_password_401_then_rate_limited(api: Api) -> None:
    for _ in range(5):
        r = api.client.post("/api/v1/session", json={"username": "admin", "password": "wrong"})
        assert r.status_code in (401, 429)
    r = api.client.post("/api/v1/session", json={"username": "admin", "password": ADMIN_PASSWORD})
    assert r.status_code == 429
    assert int(r.headers["retry-after"]) > 0
    assert any(e.action == "session.login" and e.outcome == "denied" for e in api.audit)


def test_csrf_required_for_cookie_writes(api: Api) -> None:
    api.client.cookies.set("argocd.token", api.tokens["admin"])
    try:
        assert api.client.get(f"{APPS}/artemis-web").status_code == 200  # reads need no header
        r = api.client.post(f"{APPS}/artemis-web/sync", json={})
        assert r.status_code == 403
        r = api.client.post(f"{APPS}/artemis-web/sync", json={}, headers={"X-Argosy-CSRF": "1"})
        assert r.status_code == 200
    finally:
        api.client.cookies.clear()


def test_security_headers_and_request_id(api: Api) -> None:
    r = api.get(APPS)
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["x-frame-options"] == "sameorigin"
    assert r.headers["cache-control"] == "no-store"
    assert r.headers["x-request-id"]


def test_generate_token_for_api_key_account_and_use_it(api: Api) -> None:
    r = api.post("/api/v1/account/dave/token", json={"name": "dave", "id": "ci"})
    assert r.status_code == 200, r.text
    token = r.json()["token"]
    info = api.client.get("/api/v1/session/userinfo", headers={"Authorization": f"Bearer {token}"}).json()
    assert info["username"] == "dave"
    accounts = {a["name"]: a for a in api.get("/api/v1/account").json()["items"]}
    assert [t["id"] for t in accounts["dave"]["tokens"]] == ["ci"]
    # revoke
    assert api.client.delete("/api/v1/account/dave/token/ci", headers=api.h("admin")).status_code == 200
    assert api.client.get(APPS, headers={"Authorization": f"Bearer {token}"}).status_code == 401
    # login-only accounts cannot have tokens; others cannot mint tokens for someone else
    assert api.post("/api/v1/account/alice/token", json={}).status_code == 400
    assert api.post("/api/v1/account/dave/token", "artemis", json={}).status_code == 403


def test_can_i(api: Api) -> None:
    assert api.get("/api/v1/account/can-i/applications/sync/artemis/web", "artemis").json() == {
        "value": "yes"
    }
    assert api.get("/api/v1/account/can-i/applications/sync/sophia/api", "artemis").json() == {"value": "no"}
    assert api.get("/api/v1/account/can-i/applications/delete/artemis/web", "bot").json() == {"value": "no"}


def test_password_update_signs_sessions_out(api: Api) -> None:
    r = api.client.put(
        "/api/v1/account/password",
        headers=api.h("admin"),
        json={"currentPassword": ADMIN_PASSWORD, "newPassword": "a-new-password"},
    )
    assert r.status_code == 200, r.text
    r = api.client.put(
        "/api/v1/account/password",
        headers=api.h("artemis"),
        json={"name": "admin", "currentPassword": "x", "newPassword": "another-password"},
    )
    assert r.status_code == 403
    r = api.client.post("/api/v1/session", json={"username": "admin", "password": "a-new-password"})
    assert r.status_code == 200
    assert any(e.action == "account.update-password" and e.outcome == "success" for e in api.audit)
    secret_json = json.dumps(api.kube.obj("v1", "Secret", "argocd-secret", NS))
    assert "a-new-password" not in secret_json
