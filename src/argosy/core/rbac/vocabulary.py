"""RBAC vocabulary: the casbin model, the built-in roles, resources, actions and CLI aliases.

Layer 1 (``argosy.core``), pure data; standard library only.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = [
    "ACCOUNTS",
    "APPLICATIONS",
    "APPLICATIONSETS",
    "BUILTIN_POLICY_CSV",
    "CERTIFICATES",
    "CLI_PROJECT_SCOPED_RESOURCES",
    "CLUSTERS",
    "EXEC",
    "EXTENSIONS",
    "GPGKEYS",
    "LOGS",
    "MODEL_CONF",
    "PROJECTS",
    "PROJECT_SCOPED_RESOURCES",
    "REPOSITORIES",
    "RESOURCE_ACTIONS",
    "WRITE_REPOSITORIES",
    "resolve_resource_name",
]

# Resources (Argo CD ``util/rbac`` names).
APPLICATIONS = "applications"
APPLICATIONSETS = "applicationsets"
CLUSTERS = "clusters"
REPOSITORIES = "repositories"
WRITE_REPOSITORIES = "write-repositories"
CERTIFICATES = "certificates"
ACCOUNTS = "accounts"
GPGKEYS = "gpgkeys"
LOGS = "logs"
EXEC = "exec"
PROJECTS = "projects"
EXTENSIONS = "extensions"

#: The request/policy model. Requests are ``(sub, res, act, obj)``; a policy line adds an
#: effect. One matching ``deny`` beats any number of matching ``allow`` lines. The subject is
#: compared through role inheritance only (never as a pattern); the other three fields go
#: through ``globOrRegexMatch`` (glob or regex, per ``policy.matchMode``).
MODEL_CONF = "\n".join(
    [
        "[request_definition]",
        "r = sub, res, act, obj",
        "",
        "[policy_definition]",
        "p = sub, res, act, obj, eft",
        "",
        "[role_definition]",
        "g = _, _",
        "",
        "[policy_effect]",
        "e = some(where (p.eft == allow)) && !some(where (p.eft == deny))",
        "",
        "[matchers]",
        "m = g(r.sub, p.sub) && globOrRegexMatch(r.res, p.res) && globOrRegexMatch(r.act, p.act)"
        " && globOrRegexMatch(r.obj, p.obj)",
        "",
    ]
)

_ANY_IN_PROJECT = "*/*"
_ANY = "*"

# The built-in roles, as (resource, actions, object pattern). role:admin inherits role:readonly
# and the local ``admin`` user holds role:admin.
_READONLY: tuple[tuple[str, tuple[str, ...], str], ...] = (
    (APPLICATIONS, ("get",), _ANY_IN_PROJECT),
    (APPLICATIONSETS, ("get",), _ANY_IN_PROJECT),
    (CERTIFICATES, ("get",), _ANY),
    (CLUSTERS, ("get",), _ANY),
    (REPOSITORIES, ("get",), _ANY),
    (WRITE_REPOSITORIES, ("get",), _ANY),
    (PROJECTS, ("get",), _ANY),
    (ACCOUNTS, ("get",), _ANY),
    (GPGKEYS, ("get",), _ANY),
    (LOGS, ("get",), _ANY_IN_PROJECT),
)
_ADMIN: tuple[tuple[str, tuple[str, ...], str], ...] = (
    (
        APPLICATIONS,
        ("create", "update", "update/*", "delete", "delete/*", "sync", "rollback", "override", "action/*"),
        _ANY_IN_PROJECT,
    ),
    (APPLICATIONSETS, ("get", "create", "update", "delete"), _ANY_IN_PROJECT),
    (CERTIFICATES, ("create", "update", "delete"), _ANY),
    (CLUSTERS, ("create", "update", "delete"), _ANY),
    (REPOSITORIES, ("create", "update", "delete"), _ANY),
    (WRITE_REPOSITORIES, ("create", "update", "delete"), _ANY),
    (PROJECTS, ("create", "update", "delete"), _ANY),
    (ACCOUNTS, ("update",), _ANY),
    (GPGKEYS, ("create", "delete"), _ANY),
    (EXEC, ("create",), _ANY_IN_PROJECT),
)


def _render_builtin() -> str:
    lines = ["# Built-in roles: role:readonly and role:admin (role:admin inherits role:readonly)."]
    for role, table in (("role:readonly", _READONLY), ("role:admin", _ADMIN)):
        lines.extend(
            f"p, {role}, {resource}, {action}, {obj}, allow"
            for resource, actions, obj in table
            for action in actions
        )
    lines += ["g, role:admin, role:readonly", "g, admin, role:admin", ""]
    return "\n".join(lines)


#: Argo CD's built-in policy (role:readonly, role:admin, and ``admin`` -> role:admin).
BUILTIN_POLICY_CSV = _render_builtin()

#: Every resource Argo CD enforces, with the actions it asks about. ``action``, ``update`` and
#: ``delete`` on applications also come in the fine-grained forms ``action/<group>/<kind>/<name>``,
#: ``update/<group>/<kind>/<ns>/<name>`` and ``delete/<group>/<kind>/<ns>/<name>``.
RESOURCE_ACTIONS: Mapping[str, frozenset[str]] = {
    APPLICATIONS: frozenset({"get", "create", "update", "delete", "sync", "rollback", "override", "action"}),
    APPLICATIONSETS: frozenset({"get", "create", "update", "delete"}),
    CLUSTERS: frozenset({"get", "create", "update", "delete"}),
    REPOSITORIES: frozenset({"get", "create", "update", "delete"}),
    WRITE_REPOSITORIES: frozenset({"get", "create", "update", "delete"}),
    PROJECTS: frozenset({"get", "create", "update", "delete"}),
    ACCOUNTS: frozenset({"get", "update"}),
    CERTIFICATES: frozenset({"get", "create", "update", "delete"}),
    GPGKEYS: frozenset({"get", "create", "delete"}),
    LOGS: frozenset({"get"}),
    EXEC: frozenset({"create"}),
    EXTENSIONS: frozenset({"invoke"}),
}

#: Resources whose objects are always ``<project>/<name>`` (or ``<project>/<ns>/<name>``).
PROJECT_SCOPED_RESOURCES: frozenset[str] = frozenset({APPLICATIONS, APPLICATIONSETS, LOGS, EXEC})

#: Resources for which ``admin settings rbac can`` turns a missing or ``*`` object into ``*/*``.
CLI_PROJECT_SCOPED_RESOURCES: frozenset[str] = PROJECT_SCOPED_RESOURCES | {CLUSTERS, REPOSITORIES}

_ALIASES: Mapping[str, str] = {
    "account": ACCOUNTS,
    "app": APPLICATIONS,
    "apps": APPLICATIONS,
    "application": APPLICATIONS,
    "appset": APPLICATIONSETS,
    "appsets": APPLICATIONSETS,
    "applicationset": APPLICATIONSETS,
    "cert": CERTIFICATES,
    "certs": CERTIFICATES,
    "certificate": CERTIFICATES,
    "cluster": CLUSTERS,
    "extension": EXTENSIONS,
    "gpgkey": GPGKEYS,
    "key": GPGKEYS,
    "log": LOGS,
    "proj": PROJECTS,
    "projs": PROJECTS,
    "project": PROJECTS,
    "repo": REPOSITORIES,
    "repos": REPOSITORIES,
    "repository": REPOSITORIES,
}


def resolve_resource_name(name: str) -> str:
    """Map a CLI short-hand (``app``, ``proj``, ``cert``...) to the RBAC resource name."""
    return _ALIASES.get(name, name)
