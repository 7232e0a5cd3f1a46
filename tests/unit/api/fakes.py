"""A fake Kubernetes API (the ApiKube port) in memory, for the API unit tests."""

from __future__ import annotations

import asyncio
import base64
import copy
import itertools
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from argosy.core.accounts import tokens_json
from argosy.core.passwords import hash_password
from argosy.core.tokens import issue_api_token, issue_session_token

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
NS = "argocd"
KEY = b"k" * 48
ADMIN_PASSWORD = "admin-password-1"
BOT_TOKEN_ID = "bot-token-1"

POLICY_61 = """\
p, role:platform-admin, applications, *, */*, allow
p, role:platform-admin, clusters, *, *, allow
p, role:platform-admin, repositories, *, *, allow
p, role:platform-admin, projects, *, *, allow
p, role:platform-admin, accounts, *, *, allow
g, sophia-intel-ai:platform-admins, role:platform-admin

p, role:artemis-team, applications, get, artemis/*, allow
p, role:artemis-team, applications, sync, artemis/*, allow
p, role:artemis-team, applications, action/*, artemis/*, allow
p, role:artemis-team, logs, get, artemis/*, allow
p, role:artemis-team, exec, create, artemis/*, deny  # No exec in prod
g, sophia-intel-ai:artemis-developers, role:artemis-team

p, role:sophia-team, applications, get, sophia/*, allow
p, role:sophia-team, applications, sync, sophia/*, allow
p, role:sophia-team, applications, action/*, sophia/*, allow
g, sophia-intel-ai:sophia-developers, role:sophia-team

p, role:readonly, applications, get, */*, allow
p, role:readonly, projects, get, *, allow
g, sophia-intel-ai:developers, role:readonly

p, role:ci-cd, applications, sync, */*, allow
p, role:ci-cd, applications, get, */*, allow
p, role:ci-cd, applications, action/apps/Deployment/restart, */*, allow
g, ci-cd-bot, role:ci-cd
"""


class FakeError(Exception):
    def __init__(self, status: int, reason: str, message: str = "") -> None:
        super().__init__(message or reason)
        self.status = status
        self.reason = reason
        self.message = message or reason


@dataclass
class FakeList:
    items: list[dict[str, Any]]
    resource_version: str
    continue_token: str = ""


@dataclass
class FakeWatchEvent:
    type: str
    object: dict[str, Any] = field(repr=False)


def _merge(target: Any, patch: Any) -> Any:
    if not isinstance(patch, Mapping):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, Mapping) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = _merge(out.get(k), v)
    return out


class FakeKube:
    def __init__(self) -> None:
        self.objects: dict[tuple[str, str, str, str], dict[str, Any]] = {}
        self._rv = itertools.count(100)
        self.calls: list[tuple[str, str, str]] = []
        self.events: asyncio.Queue[FakeWatchEvent] | None = None

    def _key(self, api_version: str, kind: str, name: str, ns: str | None) -> tuple[str, str, str, str]:
        return api_version, kind, ns or "", name

    def add(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        o = copy.deepcopy(dict(obj))
        meta = o.setdefault("metadata", {})
        meta.setdefault("resourceVersion", str(next(self._rv)))
        meta.setdefault("uid", str(uuid.uuid4()))
        self.objects[self._key(o["apiVersion"], o["kind"], meta["name"], meta.get("namespace"))] = o
        return copy.deepcopy(o)

    def obj(self, api_version: str, kind: str, name: str, ns: str | None = NS) -> dict[str, Any]:
        return self.objects[self._key(api_version, kind, name, ns)]

    async def get(
        self, api_version: str, kind: str, name: str, namespace: str | None = None
    ) -> dict[str, Any]:
        self.calls.append(("get", kind, name))
        try:
            return copy.deepcopy(self.objects[self._key(api_version, kind, name, namespace)])
        except KeyError:
            raise FakeError(404, "NotFound", f"{kind} {name} not found") from None

    async def list(
        self,
        api_version: str,
        kind: str,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        limit: int = 500,
    ) -> FakeList:
        self.calls.append(("list", kind, label_selector or ""))
        wanted = dict(p.split("=", 1) for p in label_selector.split(",")) if label_selector else {}
        items = []
        for (av, k, ns, _), o in sorted(self.objects.items()):
            if av != api_version or k != kind or (namespace and ns != namespace):
                continue
            labels = (o.get("metadata") or {}).get("labels") or {}
            if all(labels.get(a) == b for a, b in wanted.items()):
                items.append(copy.deepcopy(o))
        if field_selector and kind == "Event":
            fs = dict(p.split("=", 1) for p in field_selector.split(","))
            items = [
                e for e in items if e.get("involvedObject", {}).get("name") == fs.get("involvedObject.name")
            ]
        return FakeList(items, str(next(self._rv)))

    async def watch(
        self, api_version: str, kind: str, namespace: str | None = None, **_: Any
    ) -> AsyncIterator[FakeWatchEvent]:
        if self.events is None:
            return
        while True:
            yield await self.events.get()

    async def create(
        self, obj: Mapping[str, Any], *, dry_run: bool = False, field_manager: str | None = None
    ) -> dict[str, Any]:
        meta = obj.get("metadata") or {}
        self.calls.append(("create", str(obj.get("kind")), str(meta.get("name"))))
        key = self._key(obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace"))
        if key in self.objects:
            raise FakeError(409, "AlreadyExists")
        return self.add(obj)

    async def replace(
        self, obj: Mapping[str, Any], *, dry_run: bool = False, field_manager: str | None = None
    ) -> dict[str, Any]:
        meta = obj.get("metadata") or {}
        self.calls.append(("replace", str(obj.get("kind")), str(meta.get("name"))))
        key = self._key(obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace"))
        if key not in self.objects:
            raise FakeError(404, "NotFound")
        current = self.objects[key]["metadata"]["resourceVersion"]
        if meta.get("resourceVersion") and meta["resourceVersion"] != current:
            raise FakeError(409, "Conflict")
        new = copy.deepcopy(dict(obj))
        new["metadata"]["resourceVersion"] = str(next(self._rv))
        new["metadata"].setdefault("uid", self.objects[key]["metadata"].get("uid"))
        self.objects[key] = new
        return copy.deepcopy(new)

    async def patch(
        self,
        api_version: str,
        kind: str,
        name: str,
        patch: Any,
        namespace: str | None = None,
        *,
        patch_type: str = "merge",
        dry_run: bool = False,
        field_manager: str | None = None,
    ) -> dict[str, Any]:
        self.calls.append(("patch", kind, name))
        key = self._key(api_version, kind, name, namespace)
        if key not in self.objects:
            raise FakeError(404, "NotFound")
        new = _merge(self.objects[key], patch)
        new["metadata"]["resourceVersion"] = str(next(self._rv))
        self.objects[key] = new
        return copy.deepcopy(new)

    async def delete(
        self, api_version: str, kind: str, name: str, namespace: str | None = None, **_: Any
    ) -> None:
        self.calls.append(("delete", kind, name))
        key = self._key(api_version, kind, name, namespace)
        if key not in self.objects:
            raise FakeError(404, "NotFound")
        del self.objects[key]


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def app_obj(
    name: str,
    project: str,
    *,
    labels: Mapping[str, str] | None = None,
    repo: str = "https://github.com/sophia-intel-ai/deploy.git",
) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": name, "namespace": NS, "labels": dict(labels or {})},
        "spec": {
            "project": project,
            "source": {"repoURL": repo, "path": name, "targetRevision": "main"},
            "destination": {"server": "https://kubernetes.default.svc", "namespace": project},
        },
        "status": {
            "sync": {"status": "OutOfSync"},
            "health": {"status": "Healthy"},
            "resources": [
                {
                    "group": "apps",
                    "version": "v1",
                    "kind": "Deployment",
                    "namespace": project,
                    "name": "web",
                    "status": "Synced",
                    "health": {"status": "Healthy"},
                },
                {
                    "group": "",
                    "version": "v1",
                    "kind": "Secret",
                    "namespace": project,
                    "name": "creds",
                    "status": "OutOfSync",
                },
            ],
            "history": [
                {"id": 1, "revision": "aaa111", "source": {"repoURL": repo, "path": name}},
                {"id": 2, "revision": "bbb222", "source": {"repoURL": repo, "path": name}},
            ],
        },
    }


def seed(kube: FakeKube, *, extra_secret: Mapping[str, str] | None = None) -> dict[str, str]:
    """The §6.1 setup. Returns tokens by caller name."""
    admin_hash = hash_password(ADMIN_PASSWORD, cost=4)
    bot = issue_api_token(KEY, "ci-cd-bot", NOW, token_id=BOT_TOKEN_ID)
    kube.add(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "argocd-cm", "namespace": NS},
            "data": {
                "accounts.ci-cd-bot": "apiKey",
                "accounts.alice": "login",
                "accounts.bob": "login",
                "accounts.carol": "login",
                "accounts.dave": "login, apiKey",
            },
        }
    )
    kube.add(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "argocd-rbac-cm", "namespace": NS},
            "data": {"policy.csv": POLICY_61, "scopes": "[groups, email]"},
        }
    )
    data = {
        "server.secretkey": KEY.decode(),
        "admin.password": admin_hash,
        "admin.passwordMtime": "2026-01-01T00:00:00Z",
        "accounts.ci-cd-bot.tokens": tokens_json([bot.record]),
        "accounts.alice.password": hash_password("alice-password", cost=4),
        **(extra_secret or {}),
    }
    kube.add(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "argocd-secret", "namespace": NS},
            "data": {k: b64(v) for k, v in data.items()},
        }
    )
    for proj in ("default", "artemis", "sophia", "infrastructure"):
        kube.add(
            {
                "apiVersion": "argoproj.io/v1alpha1",
                "kind": "AppProject",
                "metadata": {"name": proj, "namespace": NS},
                "spec": {"sourceRepos": ["*"], "destinations": [{"server": "*", "namespace": "*"}]},
            }
        )
    kube.add(app_obj("artemis-web", "artemis", labels={"team": "artemis", "env": "prod"}))
    kube.add(app_obj("artemis-worker", "artemis", labels={"team": "artemis", "env": "staging"}))
    kube.add(app_obj("sophia-api", "sophia", labels={"team": "sophia", "env": "prod"}))
    kube.add(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "artemis"},
            "spec": {"template": {"metadata": {}, "spec": {}}},
        }
    )
    kube.add(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "creds", "namespace": "artemis"},
            "data": {"password": b64("s3cr3t-live-value")},
        }
    )
    kube.add(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {
                "name": "repo-deploy",
                "namespace": NS,
                "labels": {"argocd.argoproj.io/secret-type": "repository"},
            },
            "data": {
                "url": b64("https://github.com/sophia-intel-ai/deploy.git"),
                "username": b64("git"),
                "password": b64("repo-pat-value"),
                "sshPrivateKey": b64("-----BEGIN KEY-----"),
            },
        }
    )
    return {
        "admin": issue_session_token(KEY, "admin", NOW).token,
        "bot": bot.token,
        "artemis": issue_session_token(
            KEY, "alice", NOW, groups=["sophia-intel-ai:artemis-developers"]
        ).token,
        "readonly": issue_session_token(KEY, "bob", NOW, groups=["sophia-intel-ai:developers"]).token,
        "nobody": issue_session_token(KEY, "carol", NOW).token,
    }
