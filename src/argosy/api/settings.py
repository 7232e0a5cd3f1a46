"""Server settings read from argocd-cm, argocd-rbac-cm, argocd-secret and the AppProjects.

:class:`KubeSettingsLoader` reads them through the :class:`~argosy.ports.apiserver.ApiKube` port and
keeps the result for ``ttl`` seconds (writes through the API call :meth:`invalidate`). An invalid
RBAC policy keeps the previous enforcer, as Argo CD does; with no previous one the built-in policy
alone is used (admin is admin, nobody else can do anything).
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from argosy.api.errors import from_kube
from argosy.core.accounts import Accounts, format_rfc3339, parse_accounts, secret_data
from argosy.core.passwords import (
    INITIAL_ADMIN_SECRET,
    generate_initial_password,
    hash_password,
    initial_admin_secret,
)
from argosy.core.rbac import (
    BUILTIN_POLICY_CSV,
    Enforcer,
    MatchMode,
    PolicyError,
    Project,
    ProjectRole,
    RbacConfig,
    parse_policy,
)
from argosy.core.rbac.enforcer import glob_match
from argosy.core.tokens import SERVER_KEY, TokenConfigError, generate_server_key, server_key
from argosy.ports.apiserver import ApiKube, Clock
from argosy.ports.kube import is_already_exists, is_not_found

__all__ = ["KubeSettingsLoader", "ServerSettings", "SettingsLoader", "ensure_initial_admin"]

log = logging.getLogger(__name__)

ARGOCD_CM = "argocd-cm"
ARGOCD_RBAC_CM = "argocd-rbac-cm"
ARGOCD_SECRET = "argocd-secret"  # noqa: S105 - a Secret name
PROJECT_API = "argoproj.io/v1alpha1"


@dataclass(frozen=True)
class ServerSettings:
    cm: Mapping[str, str]
    secret: Mapping[str, str] = field(repr=False)
    accounts: Accounts
    enforcer: Enforcer
    key: bytes | None = field(repr=False)
    projects: Sequence[Mapping[str, Any]] = ()
    # True when no applications policy pattern can tell two apps of one project apart, so a list
    # may decide ``applications get`` once per project (see :func:`app_decisions_per_project`).
    per_project_app_rbac: bool = False

    @property
    def rollback_enforced(self) -> bool:
        return self.cm.get("server.rbac.rollback.enforce.enable", "").strip().lower() == "true"

    @property
    def password_pattern(self) -> str:
        return self.cm.get("passwordPattern") or "^.{8,32}$"


class SettingsLoader(Protocol):
    async def load(self) -> ServerSettings: ...

    def invalidate(self) -> None: ...


_GLOB_CHARS = frozenset("*?[]{}\\")


def _project_only(pattern: str) -> bool:
    """Whether glob ``pattern`` matches ``<project>/<app>`` independently of ``<app>``.

    ``*``-only patterns and ``*/*`` match every object; ``L/*`` (L literal, no ``/``) matches exactly
    the project L; ``L*`` (L literal, no ``/``) matches projects by prefix (the ``/`` after the project
    can never be part of L). Anything else may depend on the app name.
    """
    if pattern and set(pattern) == {"*"}:
        return True
    if pattern == "*/*":
        return True
    if pattern.endswith("/*"):
        head = pattern[:-2]
        return bool(head) and "/" not in head and not (set(head) & _GLOB_CHARS)
    if pattern.endswith("*"):
        head = pattern[:-1]
        return "/" not in head and not (set(head) & _GLOB_CHARS)
    return False


def app_decisions_per_project(config: RbacConfig, projects: Sequence[Project]) -> bool:
    """True when every ``p`` line that can apply to ``applications`` has a project-only object
    pattern (glob mode only), so ``applications <action> <p>/<a>`` does not depend on ``<a>``."""
    if config.match_mode is not MatchMode.GLOB:
        return False
    texts = [BUILTIN_POLICY_CSV, config.policy_csv, *(p.policies_csv() for p in projects)]
    try:
        lines = [line for text in texts for line in parse_policy(text)]
    except PolicyError:
        return False
    for line in lines:
        if line.ptype != "p" or len(line.fields) < 4:
            continue
        if glob_match("applications", line.fields[1]) and not _project_only(line.fields[3]):
            return False
    return True


def _data(obj: Mapping[str, Any] | None) -> dict[str, str]:
    raw = (obj or {}).get("data") or {}
    return {str(k): str(v) for k, v in raw.items()} if isinstance(raw, Mapping) else {}


def _rbac_projects(projects: Sequence[Mapping[str, Any]]) -> list[Project]:
    out: list[Project] = []
    for proj in projects:
        name = str((proj.get("metadata") or {}).get("name") or "")
        roles = []
        for role in (proj.get("spec") or {}).get("roles") or []:
            if not isinstance(role, Mapping) or not role.get("name"):
                continue
            roles.append(
                ProjectRole(
                    name=str(role["name"]),
                    policies=tuple(str(p) for p in role.get("policies") or []),
                    groups=tuple(str(g) for g in role.get("groups") or []),
                )
            )
        if name:
            out.append(Project(name=name, roles=tuple(roles)))
    return out


class KubeSettingsLoader:
    def __init__(self, kube: ApiKube, namespace: str, *, ttl: float = 2.0) -> None:
        self._kube = kube
        self._namespace = namespace
        self._ttl = ttl
        self._cached: ServerSettings | None = None
        self._loaded_at = 0.0
        self._lock = asyncio.Lock()
        self._last_enforcer: Enforcer | None = None
        self._enforcer_key: str | None = None
        self._per_project = False

    def invalidate(self) -> None:
        self._cached = None

    async def _get(self, api_version: str, kind: str, name: str) -> dict[str, Any] | None:
        try:
            return await self._kube.get(api_version, kind, name, self._namespace)
        except Exception as exc:
            if is_not_found(exc):
                return None
            raise from_kube(exc, f"{kind} {name}") from exc

    async def load(self) -> ServerSettings:
        cached = self._cached
        if cached is not None and time.monotonic() - self._loaded_at < self._ttl:
            return cached
        async with self._lock:
            if self._cached is not None and time.monotonic() - self._loaded_at < self._ttl:
                return self._cached
            cm = _data(await self._get("v1", "ConfigMap", ARGOCD_CM))
            rbac = _data(await self._get("v1", "ConfigMap", ARGOCD_RBAC_CM))
            secret_obj = await self._get("v1", "Secret", ARGOCD_SECRET)
            secret = secret_data(secret_obj) if secret_obj else {}
            try:
                projects = (await self._kube.list(PROJECT_API, "AppProject", self._namespace)).items
            except Exception as exc:
                if not is_not_found(exc):
                    raise from_kube(exc, "AppProjects") from exc
                projects = []
            rbac_projects = _rbac_projects(projects)
            rbac_key = json.dumps([sorted(rbac.items()), [repr(p) for p in rbac_projects]])
            if self._last_enforcer is not None and rbac_key == self._enforcer_key:
                enforcer = self._last_enforcer  # unchanged: keep its decision caches warm
            else:
                try:
                    config = RbacConfig.from_configmap_data(rbac)
                    enforcer = Enforcer.from_config(config, projects=rbac_projects)
                    self._last_enforcer = enforcer
                    self._enforcer_key = rbac_key
                    self._per_project = app_decisions_per_project(config, rbac_projects)
                except PolicyError:
                    log.warning("argocd-rbac-cm holds an invalid policy; keeping the previous one")
                    enforcer = self._last_enforcer or Enforcer("")
            try:
                key: bytes | None = server_key(secret)
            except TokenConfigError:
                key = None
            settings = ServerSettings(
                cm=cm,
                secret=secret,
                accounts=parse_accounts(cm, secret),
                enforcer=enforcer,
                key=key,
                projects=projects,
                per_project_app_rbac=self._per_project,
            )
            self._cached = settings
            self._loaded_at = time.monotonic()
            return settings


def _b64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


async def ensure_initial_admin(kube: ApiKube, namespace: str, clock: Clock) -> bool:
    """Give argocd-secret a ``server.secretkey`` and, when it has no ``admin.password``, a generated
    admin password, also stored in ``argocd-initial-admin-secret`` (Argo CD's start-up). Returns
    True when a password was generated. Idempotent; races with another replica end in AlreadyExists
    or a Conflict, which are ignored (the other replica won)."""
    try:
        current: dict[str, Any] | None = await kube.get("v1", "Secret", ARGOCD_SECRET, namespace)
    except Exception as exc:
        if not is_not_found(exc):
            raise
        current = None
    data = secret_data(current) if current else {}
    patch: dict[str, str] = {}
    if not data.get(SERVER_KEY) or len(data[SERVER_KEY].encode()) < 32:
        patch[SERVER_KEY] = _b64(base64.urlsafe_b64encode(generate_server_key()).decode("ascii"))
    generated = False
    password = ""
    if not data.get("admin.password"):
        password = generate_initial_password()
        patch["admin.password"] = _b64(hash_password(password))
        patch["admin.passwordMtime"] = _b64(format_rfc3339(clock()))
        generated = True
    if not patch:
        return False
    if generated:
        try:
            await kube.create(initial_admin_secret(password, namespace))
        except Exception as exc:
            if not is_already_exists(exc):
                raise
            await kube.replace(initial_admin_secret(password, namespace))
    if current is None:
        obj = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {
                "name": ARGOCD_SECRET,
                "namespace": namespace,
                "labels": {"app.kubernetes.io/part-of": "argocd"},
            },
            "type": "Opaque",
            "data": patch,
        }
        try:
            await kube.create(obj)
        except Exception as exc:
            if not is_already_exists(exc):
                raise
    else:
        await kube.patch("v1", "Secret", ARGOCD_SECRET, {"data": patch}, namespace)
    return generated


async def ensure_default_project(kube: ApiKube, namespace: str) -> bool:
    """Create the AppProject ``default`` (allowing everything) when missing, as Argo CD's server does."""
    try:
        await kube.get(PROJECT_API, "AppProject", "default", namespace)
        return False
    except Exception as exc:
        if not is_not_found(exc):
            raise
    project = {
        "apiVersion": PROJECT_API,
        "kind": "AppProject",
        "metadata": {"name": "default", "namespace": namespace},
        "spec": {
            "sourceRepos": ["*"],
            "destinations": [{"server": "*", "namespace": "*"}],
            "clusterResourceWhitelist": [{"group": "*", "kind": "*"}],
        },
    }
    try:
        await kube.create(project)
    except Exception as exc:
        if not is_already_exists(exc):
            raise
        return False
    return True


__all__ += ["INITIAL_ADMIN_SECRET", "ensure_default_project"]
