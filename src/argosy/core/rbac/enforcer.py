"""Argo CD-compatible RBAC enforcement on top of casbin.

Layer 1 (``argosy.core``), pure: policies come in as strings, the casbin model is the
:data:`~argosy.core.rbac.vocabulary.MODEL_CONF` constant, nothing touches files or the clock.
May import the standard library, ``casbin``, ``wcmatch`` and sibling ``argosy.core.rbac`` modules.

Decision procedure (Argo CD ``util/rbac.enforce`` and ``server/rbacpolicy.EnforceClaims``):

1. With enforcement disabled everything is allowed.
2. If a default role is set and it is allowed, the answer is *allow*; no deny can take that away.
3. A string subject (user, group or role) is then enforced as-is; ``None`` is enforced as ``""``.
4. For JWT claims: the project of the request (``<project>/...`` objects of applications,
   repositories, clusters, logs and exec; the object of ``projects``) contributes its roles as a
   runtime policy. A ``proj:<project>:<role>`` subject is checked against that project only.
   Otherwise the user identifier (``federated_claims.user_id``, else ``sub``) is checked, then each
   group from the configured scopes *that is the first field of some g line*, one at a time; any
   single allow wins (so a deny bound to one group does not cancel another group's allow).
5. Within one casbin evaluation a matching ``deny`` beats every ``allow``; a line whose effect is
   neither ``allow`` nor ``deny`` counts for nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import casbin
from casbin.model import Model
from wcmatch import fnmatch

from argosy.core.rbac.policy import MatchMode, PolicyError, PolicyLine, RbacConfig, parse_policy
from argosy.core.rbac.vocabulary import (
    APPLICATIONS,
    BUILTIN_POLICY_CSV,
    CLUSTERS,
    EXEC,
    LOGS,
    MODEL_CONF,
    PROJECTS,
    REPOSITORIES,
)

__all__ = ["Enforcer", "Project", "ProjectRole", "glob_match", "regex_match"]

_GLOB_FLAGS = fnmatch.BRACE | fnmatch.CASE | fnmatch.DOTMATCH | fnmatch.FORCEUNIX
_CACHE_LIMIT = 65536
_PROJECT_FROM_OBJECT = frozenset({APPLICATIONS, REPOSITORIES, CLUSTERS, LOGS, EXEC})


@lru_cache(maxsize=10000)
def _compiled_glob(pattern: str) -> Any:
    try:
        return fnmatch.compile(pattern, flags=_GLOB_FLAGS)
    except Exception:  # an uncompilable glob never matches (Argo CD logs and returns false)
        return None


def glob_match(value: str, pattern: str) -> bool:
    """gobwas/glob without separators: ``*`` crosses ``/``, ``{a,b}``, ``?`` and ``[...]`` work."""
    if pattern == "*":
        return True
    matcher = _compiled_glob(pattern)
    return bool(matcher is not None and matcher.match(value))


@lru_cache(maxsize=10000)
def _compiled_regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def regex_match(value: str, pattern: str) -> bool:
    """casbin ``regexMatch``: unanchored search; an invalid pattern raises (the enforce call fails)."""
    return _compiled_regex(pattern).search(value) is not None


@dataclass(frozen=True, slots=True)
class ProjectRole:
    """An ``AppProject.spec.roles[]`` entry: its policy lines and the SSO groups bound to it."""

    name: str
    policies: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Project:
    """The RBAC-relevant part of an AppProject."""

    name: str
    roles: tuple[ProjectRole, ...] = ()

    def policies_csv(self) -> str:
        """Argo CD's ``ProjectPoliciesString``: per role, implicit project ``get``, policies, groups."""
        lines: list[str] = []
        for role in self.roles:
            subject = f"proj:{self.name}:{role.name}"
            lines.append(f"p, {subject}, projects, get, {self.name}, allow")
            lines.extend(role.policies)
            lines.extend(f"g, {group}, {subject}" for group in role.groups)
        return "\n".join(lines)


class _CasbinCore:
    """One casbin enforcer over a fixed set of policy lines, with a decision cache."""

    def __init__(self, lines: Iterable[PolicyLine], match_mode: MatchMode, enabled: bool) -> None:
        model = Model()
        model.load_model_from_text(MODEL_CONF)
        self._enforcer = casbin.Enforcer(model)
        matcher = regex_match if match_mode is MatchMode.REGEX else glob_match
        self._enforcer.add_function("globOrRegexMatch", matcher)
        self._parents: dict[str, set[str]] = {}
        self._policy_subjects: set[str] = set()
        for line in lines:
            model.add_policy(line.ptype, line.ptype, list(line.fields))
            if line.ptype == "g":
                self._parents.setdefault(line.fields[0], set()).add(line.fields[1])
            else:
                self._policy_subjects.add(line.fields[0])
        self._enforcer.build_role_links()
        self._enforcer.enable_enforce(enabled)
        self._enabled = enabled
        self.group_subjects: frozenset[str] = frozenset(self._parents)
        self._reaches_policy: dict[str, bool] = {}
        self._cache: dict[tuple[str, str, str, str], bool] = {}

    def _has_policies(self, subject: str) -> bool:
        """False if no p line can apply to ``subject`` (neither it nor any role it inherits has one)."""
        known = self._reaches_policy.get(subject)
        if known is None:
            seen: set[str] = set()
            todo = [subject]
            known = False
            while todo and not known:
                current = todo.pop()
                if current in seen:
                    continue
                seen.add(current)
                known = current in self._policy_subjects
                todo.extend(self._parents.get(current, ()))
            self._reaches_policy[subject] = known
        return known

    def enforce(self, subject: str, resource: str, action: str, obj: str) -> bool:
        if self._enabled and self._policy_subjects and not self._has_policies(subject):
            return False  # g(r.sub, p.sub) is false for every line: casbin would deny
        key = (subject, resource, action, obj)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        try:
            decision = bool(self._enforcer.enforce(subject, resource, action, obj))
        except Exception:  # e.g. an invalid regex in regex mode: Argo CD treats the error as deny
            decision = False
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        self._cache[key] = decision
        return decision


def _user_identifier(claims: Mapping[str, Any]) -> str:
    federated = claims.get("federated_claims")
    if isinstance(federated, Mapping):
        user_id = federated.get("user_id")
        if isinstance(user_id, str) and user_id:
            return user_id
    sub = claims.get("sub")
    return sub if isinstance(sub, str) else ""


def _scope_values(claims: Mapping[str, Any], scopes: Sequence[str]) -> list[str]:
    groups: list[str] = []
    for scope in scopes:
        value = claims.get(scope)
        if isinstance(value, str):
            groups.append(value)
        elif isinstance(value, list | tuple):
            groups.extend(item for item in value if isinstance(item, str))
    return groups


@dataclass(frozen=True, slots=True)
class _Settings:
    default_role: str
    match_mode: MatchMode
    scopes: tuple[str, ...]
    enabled: bool
    projects: Mapping[str, Project] = field(default_factory=dict)


class Enforcer:
    """Argo CD RBAC over ``argocd-rbac-cm`` data plus optional AppProject roles. Immutable.

    ``builtin_policy`` defaults to Argo CD's built-in roles; pass ``""`` to leave them out. An
    invalid built-in or user policy raises :class:`PolicyError` (Argo CD refuses to load it and
    keeps its previous policy; callers that want that keep their previous ``Enforcer``).
    """

    def __init__(
        self,
        user_policy: str = "",
        *,
        builtin_policy: str = BUILTIN_POLICY_CSV,
        default_role: str = "",
        match_mode: MatchMode | str = MatchMode.GLOB,
        scopes: Sequence[str] = ("groups",),
        projects: Iterable[Project] = (),
        enforcement_enabled: bool = True,
    ) -> None:
        mode = match_mode if isinstance(match_mode, MatchMode) else MatchMode.parse(match_mode)
        self._settings = _Settings(
            default_role=default_role,
            match_mode=mode,
            scopes=tuple(scopes),
            enabled=enforcement_enabled,
            projects={project.name: project for project in projects},
        )
        try:
            self._builtin = parse_policy(builtin_policy)
        except PolicyError as exc:
            raise PolicyError(f"built-in policy: {exc.reason}", line=exc.line, text=exc.text) from exc
        self._user = parse_policy(user_policy)
        self._base = _CasbinCore(self._builtin + self._user, mode, enforcement_enabled)
        self._runtime: dict[tuple[str, str], _CasbinCore] = {}
        self._cache: dict[tuple[str | None, str, str, str], bool] = {}

    @classmethod
    def from_config(
        cls,
        config: RbacConfig,
        *,
        projects: Iterable[Project] = (),
        use_builtin_policy: bool = True,
        default_role: str | None = None,
    ) -> Enforcer:
        """Build from parsed ``argocd-rbac-cm`` settings; ``default_role`` overrides ``policy.default``."""
        return cls(
            config.policy_csv,
            builtin_policy=BUILTIN_POLICY_CSV if use_builtin_policy else "",
            default_role=config.default_role if default_role is None else default_role,
            match_mode=config.match_mode,
            scopes=config.scopes,
            projects=projects,
        )

    @property
    def default_role(self) -> str:
        return self._settings.default_role

    @property
    def match_mode(self) -> MatchMode:
        return self._settings.match_mode

    @property
    def scopes(self) -> tuple[str, ...]:
        return self._settings.scopes

    # -- Argo CD's entry points -------------------------------------------------------------

    def enforce(self, subject: str | None, resource: str, action: str, obj: str) -> bool:
        """``Enforcer.Enforce`` with a string subject (``None`` is enforced as ``""``)."""
        key = (subject, resource, action, obj)
        cached = self._cache.get(key)
        if cached is None:
            cached = self._enforce_with(self._base, subject or "", resource, action, obj)
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            self._cache[key] = cached
        return cached

    def enforce_runtime_policy(
        self, project: str, policy: str, *, subject: str | None, resource: str, action: str, obj: str
    ) -> bool:
        """``EnforceRuntimePolicy``: builtin + user + ``policy``; an invalid ``policy`` is ignored."""
        core = self._core_with_runtime(project, policy)
        return self._enforce_with(core, subject or "", resource, action, obj)

    def enforce_claims(self, claims: Mapping[str, Any], resource: str, action: str, obj: str) -> bool:
        """``Enforcer.Enforce(claims, ...)`` with ``rbacpolicy.EnforceClaims`` as the claims enforcer."""
        if not self._settings.enabled:
            return True
        if self._default_allows(self._base, resource, action, obj):
            return True
        if self._claims_allow(claims, resource, action, obj):
            return True
        return self._base.enforce("", resource, action, obj)

    def can(self, user: str, groups: Sequence[str], resource: str, action: str, obj: str) -> bool:
        """Convenience: a signed-in ``user`` whose ``groups`` claim lists ``groups``."""
        claims: dict[str, Any] = {"sub": user, "groups": list(groups)}
        return self.enforce_claims(claims, resource, action, obj)

    # -- internals --------------------------------------------------------------------------

    def _default_allows(self, core: _CasbinCore, resource: str, action: str, obj: str) -> bool:
        role = self._settings.default_role
        return bool(role) and core.enforce(role, resource, action, obj)

    def _enforce_with(self, core: _CasbinCore, subject: str, resource: str, action: str, obj: str) -> bool:
        if not self._settings.enabled:
            return True
        if self._default_allows(core, resource, action, obj):
            return True
        return core.enforce(subject, resource, action, obj)

    def _core_with_runtime(self, project: str, policy: str) -> _CasbinCore:
        if not policy:
            return self._base
        key = (project, policy)
        core = self._runtime.get(key)
        if core is None:
            try:
                runtime = parse_policy(policy)
            except PolicyError:
                core = self._base  # Argo CD logs "invalid runtime policy" and falls back
            else:
                core = _CasbinCore(
                    self._builtin + self._user + runtime, self._settings.match_mode, self._settings.enabled
                )
            if len(self._runtime) >= 256:
                self._runtime.clear()
            self._runtime[key] = core
        return core

    def _project_of(self, resource: str, obj: str) -> Project | None:
        if resource in _PROJECT_FROM_OBJECT:
            parts = obj.split("/")
            return self._settings.projects.get(parts[0]) if len(parts) >= 2 else None
        if resource == PROJECTS:
            return self._settings.projects.get(obj)
        return None

    def _claims_allow(self, claims: Mapping[str, Any], resource: str, action: str, obj: str) -> bool:
        subject = _user_identifier(claims)
        project = self._project_of(resource, obj)
        core = self._base
        if project is not None:
            policy = project.policies_csv()
            if subject.startswith("proj:"):
                parts = subject.split(":")
                if len(parts) != 3 or parts[1] != project.name:
                    return False
                return self.enforce_runtime_policy(
                    project.name, policy, subject=subject, resource=resource, action=action, obj=obj
                )
            core = self._core_with_runtime(project.name, policy)
        if self._enforce_with(core, subject, resource, action, obj):
            return True
        for group in _scope_values(claims, self._settings.scopes):
            if group in core.group_subjects and self._enforce_with(core, group, resource, action, obj):
                return True
        return False
