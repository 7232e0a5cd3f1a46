"""Application, project, repository and webhook routes over the fake Kubernetes API."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient

from argosy.api import ApiDeps, create_app
from tests.unit.api.conftest import Api
from tests.unit.api.fakes import NOW, NS, FakeKube, FakeWatchEvent, app_obj, seed

APPS = "/api/v1/applications"
AV = "argoproj.io/v1alpha1"
SECRET_VALUES = ("s3cr3t-live-value", "repo-pat-value", "BEGIN KEY", "cmVwby1wYXQtdmFsdWU=")


def _no_secrets(text: str) -> None:
    for value in SECRET_VALUES:
        assert value not in text


def test_list_selector_projects_pagination_fields(api: Api) -> None:
    r = api.get(APPS, params={"selector": "team=artemis,env in (prod)"})
    assert [a["metadata"]["name"] for a in r.json()["items"]] == ["artemis-web"]
    r = api.get(APPS, params={"selector": "env!=prod"})
    assert [a["metadata"]["name"] for a in r.json()["items"]] == ["artemis-worker"]
    r = api.get(APPS, params={"projects": ["sophia"]})
    assert [a["metadata"]["name"] for a in r.json()["items"]] == ["sophia-api"]
    first = api.get(APPS, params={"limit": 2}).json()
    assert len(first["items"]) == 2
    token = first["metadata"]["continue"]
    second = api.get(APPS, params={"limit": 2, "continue": token}).json()
    assert [a["metadata"]["name"] for a in second["items"]] == ["sophia-api"]
    assert "continue" not in second["metadata"]
    r = api.get(APPS, params={"fields": "items.metadata.name,items.status.sync.status"})
    assert r.json() == {
        "items": [
            {"metadata": {"name": n}, "status": {"sync": {"status": "OutOfSync"}}}
            for n in ("artemis-web", "artemis-worker", "sophia-api")
        ]
    }
    assert api.get(APPS, params={"continue": "%%%"}).status_code == 400
    assert api.get(APPS, params={"selector": "=x"}).status_code == 400


def test_get_refresh_sets_annotation(api: Api) -> None:
    r = api.get(f"{APPS}/artemis-web", params={"refresh": "hard"})
    assert r.status_code == 200
    assert r.json()["metadata"]["annotations"]["argocd.argoproj.io/refresh"] == "hard"


def test_create_update_delete_with_audit_and_events(api: Api) -> None:
    body = app_obj("new-app", "artemis")
    body.pop("status")
    r = api.post(APPS, json=body)
    assert r.status_code == 200, r.text
    assert api.post(APPS, json=body).status_code == 400  # exists, no upsert
    body["spec"]["source"]["targetRevision"] = "v2"
    r = api.client.put(f"{APPS}/new-app", headers=api.h("admin"), json=body)
    assert r.status_code == 200, r.text
    assert api.kube.obj(AV, "Application", "new-app")["spec"]["source"]["targetRevision"] == "v2"
    r = api.client.delete(f"{APPS}/new-app", headers=api.h("admin"), params={"cascade": "true"})
    assert r.status_code == 200
    assert ("delete", "Application", "new-app") in api.kube.calls
    actions = [(e.action, e.outcome, e.actor) for e in api.audit]
    assert ("application.create", "success", "admin") in actions
    assert ("application.update", "success", "admin") in actions
    assert ("application.delete", "success", "admin") in actions
    events = [o for (av, k, _, _), o in api.kube.objects.items() if k == "Event"]
    assert any(e["message"].startswith("admin ") and e["reason"] == "ResourceCreated" for e in events)
    entry = next(e for e in api.audit if e.action == "application.create")
    assert entry.project == "artemis" and entry.application == "artemis/new-app" and entry.request_id


def test_create_refuses_unknown_project_and_bad_body(api: Api) -> None:
    body = app_obj("x", "nope")
    assert api.post(APPS, json=body).status_code == 400
    assert api.post(APPS, json={"metadata": {}}).status_code == 400
    assert api.post(APPS, json={"metadata": {"name": "x"}, "spec": {"project": 5}}).status_code == 400


def test_denied_write_is_audited(api: Api) -> None:
    assert api.client.delete(f"{APPS}/sophia-api", headers=api.h("bot")).status_code == 403
    denied = [e for e in api.audit if e.outcome == "denied"]
    assert denied and denied[0].actor == "ci-cd-bot" and denied[0].action == "application.delete"


def test_sync_options_written_to_operation(api: Api) -> None:
    r = api.post(
        f"{APPS}/artemis-web/sync",
        json={
            "revision": "abc",
            "dryRun": True,
            "strategy": {"hook": {"force": True}},
            "resources": [{"group": "apps", "kind": "Deployment", "name": "web", "namespace": "artemis"}],
            "syncOptions": {"items": ["Prune=false", "ServerSideApply=true"]},
        },
    )
    assert r.status_code == 200, r.text
    sync = api.kube.obj(AV, "Application", "artemis-web")["operation"]["sync"]
    assert sync == {
        "revision": "abc",
        "prune": False,
        "dryRun": True,
        "syncStrategy": {"hook": {"force": True}},
        "resources": [{"group": "apps", "kind": "Deployment", "name": "web", "namespace": "artemis"}],
        "syncOptions": ["Prune=false", "ServerSideApply=true"],
    }
    sync_audit = next(e for e in api.audit if e.action == "application.sync")
    assert sync_audit.summary["operation"]["sync"]["revision"] == "abc"


def test_rollback_and_terminate(api: Api) -> None:
    r = api.post(f"{APPS}/artemis-web/rollback", json={"id": 1})
    assert r.status_code == 200, r.text
    op = api.kube.obj(AV, "Application", "artemis-web")["operation"]
    assert op["sync"]["revision"] == "aaa111"
    # Marked as a rollback, so the controller sets the rollback hold.
    assert {"name": "rollback", "value": "1"} in op["info"]
    r = api.client.delete(f"{APPS}/artemis-web/operation", headers=api.h("admin"))
    assert r.status_code == 200
    state = api.kube.obj(AV, "Application", "artemis-web")["status"]["operationState"]
    assert state["phase"] == "Terminating"
    r = api.client.delete(f"{APPS}/sophia-api/operation", headers=api.h("admin"))
    assert r.status_code == 400


def test_secret_data_never_in_answers(api: Api) -> None:
    texts = [
        api.get(f"{APPS}/artemis-web/managed-resources").text,
        api.get(f"{APPS}/artemis-web/resource-tree").text,
        api.get(f"{APPS}/artemis-web").text,
        api.get(APPS).text,
        api.get("/api/v1/repositories").text,
        api.get("/api/v1/repocreds").text,
        api.get("/api/v1/clusters").text,
        api.get("/api/v1/account").text,
        api.get("/api/v1/settings").text,
    ]
    for text in texts:
        _no_secrets(text)
    live = json.loads(
        next(
            i
            for i in api.get(f"{APPS}/artemis-web/managed-resources").json()["items"]
            if i["kind"] == "Secret"
        )["liveState"]
    )
    assert set(live["data"]) == {"password"} and set(live["data"]["password"]) == {"+"}
    repos = api.get("/api/v1/repositories").json()["items"]
    assert repos[0]["repo"] == "https://github.com/sophia-intel-ai/deploy.git"
    assert "password" not in repos[0] and "sshPrivateKey" not in repos[0]


def test_repository_add_list_remove_never_returns_password(api: Api) -> None:
    body = {
        "repo": "https://git.example.com/a.git",
        "username": "u",
        "password": "pw-value-123",
        "project": "artemis",
    }
    r = api.post("/api/v1/repositories", json=body)
    assert r.status_code == 200 and "pw-value-123" not in r.text
    assert any(e.action == "repository.create" for e in api.audit)
    assert all("pw-value-123" not in json.dumps(e.summary) for e in api.audit)
    assert api.post("/api/v1/repositories", "bot", json=body).status_code == 403
    r = api.client.delete(
        "/api/v1/repositories/https%3A%2F%2Fgit.example.com%2Fa.git", headers=api.h("admin")
    )
    assert r.status_code == 200, r.text
    r = api.post("/api/v1/repocreds", json={"url": "https://git.example.com/", "password": "tpl-pw-1"})
    assert r.status_code == 200 and "tpl-pw-1" not in r.text
    assert [c["url"] for c in api.get("/api/v1/repocreds").json()["items"]] == ["https://git.example.com/"]


def test_projects_crud(api: Api) -> None:
    names = [p["metadata"]["name"] for p in api.get("/api/v1/projects").json()["items"]]
    assert names == ["artemis", "default", "infrastructure", "sophia"]
    r = api.post(
        "/api/v1/projects", json={"project": {"metadata": {"name": "new"}, "spec": {"sourceRepos": ["*"]}}}
    )
    assert r.status_code == 200, r.text
    assert api.get("/api/v1/projects/new").json()["spec"]["sourceRepos"] == ["*"]
    assert (
        api.post("/api/v1/projects", "readonly", json={"project": {"metadata": {"name": "z"}}}).status_code
        == 403
    )
    assert api.client.delete("/api/v1/projects/artemis", headers=api.h("admin")).status_code == 400  # in use
    assert api.client.delete("/api/v1/projects/new", headers=api.h("admin")).status_code == 200


def test_events_and_stream_once(api: Api) -> None:
    api.post(f"{APPS}/artemis-web/sync", json={})
    events = api.get(f"{APPS}/artemis-web/events").json()["items"]
    assert events and events[0]["reason"] == "OperationStarted"
    with api.client.stream(
        "GET", "/api/v1/stream/applications", params={"once": "true"}, headers=api.h("artemis")
    ) as r:
        body = "".join(r.iter_text())
    datas = [json.loads(line[5:]) for line in body.splitlines() if line.startswith("data:")]
    assert {d["result"]["application"]["metadata"]["name"] for d in datas} == {
        "artemis-web",
        "artemis-worker",
    }
    assert {d["result"]["type"] for d in datas} == {"ADDED"}


def _webhook_client(secret: str | None) -> tuple[TestClient, FakeKube]:
    kube = FakeKube()
    seed(kube, extra_secret={"webhook.github.secret": secret} if secret else None)
    return TestClient(create_app(ApiDeps(kube=kube, namespace=NS, clock=lambda: NOW))), kube


PUSH = {
    "ref": "refs/heads/main",
    "repository": {"html_url": "https://github.com/Sophia-Intel-AI/deploy", "default_branch": "main"},
}


@pytest.mark.parametrize("valid", [True, False])
def test_github_webhook_signature(valid: bool) -> None:
    client, kube = _webhook_client("hook-secret")
    with client:
        body = json.dumps(PUSH).encode()
        sig = hmac.new(b"hook-secret" if valid else b"wrong", body, hashlib.sha256).hexdigest()
        r = client.post(
            "/api/webhook",
            content=body,
            headers={
                "X-GitHub-Event": "push",
                "X-Hub-Signature-256": f"sha256={sig}",
                "Content-Type": "application/json",
            },
        )
    annotations: dict[str, Any] = (
        kube.obj(AV, "Application", "artemis-web")["metadata"].get("annotations") or {}
    )
    if valid:
        assert r.status_code == 200, r.text
        assert r.json()["refreshed"] == ["artemis-web", "artemis-worker", "sophia-api"]
        assert annotations["argocd.argoproj.io/refresh"] == "normal"
    else:
        assert r.status_code == 401
        assert "argocd.argoproj.io/refresh" not in annotations


def test_webhook_branch_must_match_and_gitlab_token() -> None:
    client, kube = _webhook_client(None)
    kube.objects[(AV, "ConfigMap", NS, "x")] = {}
    with client:
        other = dict(PUSH, ref="refs/heads/feature")
        r = client.post("/api/webhook", json=other, headers={"X-GitHub-Event": "push"})
        assert r.json()["refreshed"] == []
        r = client.post("/api/webhook", json={}, headers={"X-Unknown": "x"})
        assert r.status_code == 400
    kube2 = FakeKube()
    seed(kube2, extra_secret={"webhook.gitlab.secret": "gl-token"})
    with TestClient(create_app(ApiDeps(kube=kube2, namespace=NS, clock=lambda: NOW))) as c2:
        payload = {
            "ref": "refs/heads/main",
            "project": {"web_url": "https://github.com/sophia-intel-ai/deploy"},
        }
        assert (
            c2.post(
                "/api/webhook", json=payload, headers={"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": "no"}
            ).status_code
            == 401
        )
        r = c2.post(
            "/api/webhook",
            json=payload,
            headers={"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": "gl-token"},
        )
        assert r.status_code == 200 and len(r.json()["refreshed"]) == 3


def test_initial_admin_password_generated() -> None:
    kube = FakeKube()
    with TestClient(create_app(ApiDeps(kube=kube, namespace=NS, clock=lambda: NOW))) as client:
        initial = kube.obj("v1", "Secret", "argocd-initial-admin-secret")
        password = base64.b64decode(initial["data"]["password"]).decode()
        r = client.post("/api/v1/session", json={"username": "admin", "password": password})
        assert r.status_code == 200, r.text
        assert password not in r.text


def test_health_and_openapi(api: Api) -> None:
    assert api.client.get("/healthz").json() == {"status": "ok"}
    assert api.client.get("/readyz").status_code == 200
    doc = api.client.get("/openapi.json").json()
    assert "/api/v1/applications/{name}/sync" in doc["paths"]


def test_list_served_from_watch_cache() -> None:
    kube = FakeKube()
    tokens = seed(kube)
    headers = {"Authorization": f"Bearer {tokens['admin']}"}
    with TestClient(create_app(ApiDeps(kube=kube, namespace=NS, clock=lambda: NOW))) as client:
        kube.events = asyncio.Queue()
        ctx = client.app.state.argosy  # type: ignore[attr-defined]
        deadline = time.monotonic() + 5
        while not (ctx.cache and ctx.cache.synced) and time.monotonic() < deadline:
            time.sleep(0.01)
        lists_before = sum(1 for c in kube.calls if c[:2] == ("list", "Application"))
        names = [a["metadata"]["name"] for a in client.get(APPS, headers=headers).json()["items"]]
        assert names == ["artemis-web", "artemis-worker", "sophia-api"]
        # an app created behind the API's back arrives through the watch
        extra = kube.add(app_obj("zz-late", "sophia"))
        extra["metadata"]["resourceVersion"] = "999999"
        loop = ctx.cache._task.get_loop()
        loop.call_soon_threadsafe(kube.events.put_nowait, FakeWatchEvent("ADDED", extra))
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            names = [a["metadata"]["name"] for a in client.get(APPS, headers=headers).json()["items"]]
            if "zz-late" in names:
                break
            time.sleep(0.02)
        assert "zz-late" in names
        assert sum(1 for c in kube.calls if c[:2] == ("list", "Application")) == lists_before
        # gzip for clients that accept it
        r = client.get(APPS, headers={**headers, "Accept-Encoding": "gzip"})
        assert r.headers.get("content-encoding") == "gzip"


def test_stream_delivers_watch_events(api: Api) -> None:
    api.kube.events = asyncio.Queue()
    changed = api.kube.obj(AV, "Application", "artemis-web")
    hidden = api.kube.obj(AV, "Application", "sophia-api")

    async def feed() -> None:
        assert api.kube.events is not None
        await api.kube.events.put(FakeWatchEvent("MODIFIED", hidden))  # not visible to artemis
        await api.kube.events.put(FakeWatchEvent("MODIFIED", changed))

    with api.client.stream("GET", "/api/v1/stream/applications", headers=api.h("artemis")) as r:
        api.client.portal.call(feed)  # type: ignore[union-attr]
        seen: list[tuple[str, str]] = []
        for line in r.iter_lines():
            if line.startswith("data:"):
                result = json.loads(line[5:])["result"]
                seen.append((result["type"], result["application"]["metadata"]["name"]))
                if result["type"] == "MODIFIED":
                    break
    assert seen == [("ADDED", "artemis-web"), ("ADDED", "artemis-worker"), ("MODIFIED", "artemis-web")]


def test_project_rules_and_sync_windows(api: Api) -> None:
    proj = api.kube.obj(AV, "AppProject", "artemis")
    proj["spec"]["sourceRepos"] = ["https://github.com/sophia-intel-ai/*"]
    proj["spec"]["destinations"] = [{"server": "https://kubernetes.default.svc", "namespace": "artemis"}]
    body = app_obj("bad-repo", "artemis", repo="https://evil.example.com/x.git")
    r = api.post(APPS, json=body)
    assert r.status_code == 400 and "is not permitted in project" in r.json()["message"]
    body = app_obj("ok-app", "artemis")
    body["spec"]["destination"]["namespace"] = "artemis"
    assert api.post(APPS, json=body).status_code == 200
    proj["spec"]["syncWindows"] = [
        {"kind": "deny", "schedule": "* * * * *", "duration": "1h", "applications": ["*"]}
    ]
    r = api.post(f"{APPS}/artemis-web/sync", json={})
    assert r.status_code == 403 and r.json()["message"] == "cannot sync: blocked by sync window"
    proj["spec"]["syncWindows"][0]["manualSync"] = True
    assert api.post(f"{APPS}/artemis-web/sync", json={}).status_code == 200


class _Manifests:
    async def manifests(self, app: Any, revision: str | None) -> list[dict[str, Any]]:
        ns = app["spec"]["destination"]["namespace"]
        return [
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": "web", "namespace": ns},
                "spec": {"replicas": 2, "template": {"metadata": {}, "spec": {}}},
            },
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "creds", "namespace": ns},
                "stringData": {"password": "desired-secret-value"},
            },
        ]


def test_manifests_and_target_state_masked() -> None:
    kube = FakeKube()
    tokens = seed(kube)
    deps = ApiDeps(kube=kube, namespace=NS, clock=lambda: NOW, manifests=_Manifests(), watch_cache=False)
    with TestClient(create_app(deps)) as client:
        headers = {"Authorization": f"Bearer {tokens['admin']}"}
        r = client.get(f"{APPS}/artemis-web/manifests", headers=headers)
        assert r.status_code == 200 and "desired-secret-value" not in r.text
        assert len(r.json()["manifests"]) == 2
        items = client.get(f"{APPS}/artemis-web/managed-resources", headers=headers).json()["items"]
        target = json.loads(next(i for i in items if i["kind"] == "Deployment")["targetState"])
        assert target["spec"]["replicas"] == 2
        text = json.dumps(items)
        assert "desired-secret-value" not in text and "s3cr3t-live-value" not in text


def test_rollback_is_allowed_while_auto_sync_is_on(api: Api) -> None:
    # Argosy differs from Argo CD here on purpose: the controller holds auto-sync after a rollback.
    app = api.kube.obj(AV, "Application", "artemis-web")
    app["spec"]["syncPolicy"] = {"automated": {"prune": True, "selfHeal": True}}
    r = api.post(f"{APPS}/artemis-web/rollback", json={"id": 1})
    assert r.status_code == 200, r.text
    op = api.kube.obj(AV, "Application", "artemis-web")["operation"]
    assert op["sync"]["revision"] == "aaa111"
    assert {"name": "rollback", "value": "1"} in op["info"]
    assert api.kube.obj(AV, "Application", "artemis-web")["spec"]["syncPolicy"]["automated"]
