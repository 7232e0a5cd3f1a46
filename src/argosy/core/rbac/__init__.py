"""Argo CD-compatible RBAC: policy parsing, enforcement and a policy linter.

Layer 1 (``argosy.core``): pure. May import the standard library, ``argosy.model``, sibling
``argosy.core`` modules, ``casbin`` (the model is loaded from a string constant, never a file)
and ``wcmatch`` (glob matching). No files, sockets, subprocesses, asyncio or wall clock: callers
pass the policy text (``argocd-rbac-cm`` data) and AppProject roles in.

* :class:`Enforcer` answers ``can(subject, resource, action, object)`` the way Argo CD's
  ``util/rbac`` + ``server/rbacpolicy`` do (default role first, then the user, then each group).
* :func:`lint_policy` / :func:`lint_rbac_config` report lines that silently do nothing.
"""

from __future__ import annotations

from argosy.core.rbac.enforcer import Enforcer, Project, ProjectRole
from argosy.core.rbac.lint import Finding, Severity, lint_policy, lint_rbac_config
from argosy.core.rbac.policy import (
    MatchMode,
    PolicyError,
    PolicyLine,
    RbacConfig,
    compose_policy_csv,
    parse_csv_line,
    parse_policy,
)
from argosy.core.rbac.vocabulary import (
    BUILTIN_POLICY_CSV,
    MODEL_CONF,
    PROJECT_SCOPED_RESOURCES,
    RESOURCE_ACTIONS,
    resolve_resource_name,
)

__all__ = [
    "BUILTIN_POLICY_CSV",
    "MODEL_CONF",
    "PROJECT_SCOPED_RESOURCES",
    "RESOURCE_ACTIONS",
    "Enforcer",
    "Finding",
    "MatchMode",
    "PolicyError",
    "PolicyLine",
    "Project",
    "ProjectRole",
    "RbacConfig",
    "Severity",
    "compose_policy_csv",
    "lint_policy",
    "lint_rbac_config",
    "parse_csv_line",
    "parse_policy",
    "resolve_resource_name",
]
