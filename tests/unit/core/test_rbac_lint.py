"""Unit tests for the RBAC policy linter and the spec §6.1 policy."""

from __future__ import annotations

import pytest

from argosy.core.rbac import Enforcer, Finding, RbacConfig, Severity, lint_policy, lint_rbac_config

# The argocd-rbac-cm of spec §6.1 (gitops-spec-part2.md), verbatim.
SPEC_6_1_POLICY = """\
# Platform Admins - Full access
p, role:platform-admin, applications, *, */*, allow
p, role:platform-admin, clusters, *, *, allow
p, role:platform-admin, repositories, *, *, allow
p, role:platform-admin, certificates, *, *, allow
p, role:platform-admin, projects, *, *, allow
p, role:platform-admin, accounts, *, *, allow
p, role:platform-admin, gpgkeys, *, *, allow
p, role:platform-admin, exec, create, */*, allow
g, sophia-intel-ai:platform-admins, role:platform-admin

# Artemis Team - Manage Artemis apps
p, role:artemis-team, applications, get, artemis/*, allow
p, role:artemis-team, applications, sync, artemis/*, allow
p, role:artemis-team, applications, action/*, artemis/*, allow
p, role:artemis-team, logs, get, artemis/*, allow
p, role:artemis-team, exec, create, artemis/*, deny  # No exec in prod
g, sophia-intel-ai:artemis-developers, role:artemis-team

# Sophia Team - Manage Sophia apps
p, role:sophia-team, applications, get, sophia/*, allow
p, role:sophia-team, applications, sync, sophia/*, allow
p, role:sophia-team, applications, action/*, sophia/*, allow
p, role:sophia-team, logs, get, sophia/*, allow
g, sophia-intel-ai:sophia-developers, role:sophia-team

# DevOps Team - Infrastructure management
p, role:devops, applications, *, infrastructure/*, allow
p, role:devops, clusters, get, *, allow
p, role:devops, repositories, *, *, allow
p, role:devops, projects, get, *, allow
g, sophia-intel-ai:devops, role:devops

# Read-only users
p, role:readonly, applications, get, */*, allow
p, role:readonly, projects, get, *, allow
p, role:readonly, clusters, get, *, allow
p, role:readonly, repositories, get, *, allow
g, sophia-intel-ai:developers, role:readonly

# CI/CD Service Account
p, role:ci-cd, applications, sync, */*, allow
p, role:ci-cd, applications, get, */*, allow
p, role:ci-cd, applications, action/apps/Deployment/restart, */*, allow
g, ci-cd-bot, role:ci-cd
"""
SPEC_6_1_DATA = {
    "policy.default": "role:readonly",
    "policy.csv": SPEC_6_1_POLICY,
    "scopes": "[groups, email]",
}


@pytest.fixture(scope="module")
def spec_enforcer() -> Enforcer:
    return Enforcer.from_config(RbacConfig.from_configmap_data(SPEC_6_1_DATA))


def test_spec_ci_cd_bot(spec_enforcer: Enforcer) -> None:
    bot = {"sub": "ci-cd-bot"}
    assert spec_enforcer.enforce_claims(bot, "applications", "sync", "artemis/web")
    assert spec_enforcer.enforce_claims(bot, "applications", "action/apps/Deployment/restart", "sophia/api")
    assert not spec_enforcer.enforce_claims(bot, "applications", "action/apps/Deployment/scale", "sophia/api")
    assert not spec_enforcer.enforce_claims(bot, "applications", "delete", "artemis/web")


def test_spec_artemis_developer(spec_enforcer: Enforcer) -> None:
    groups = ["sophia-intel-ai:artemis-developers"]
    assert spec_enforcer.can("ann", groups, "applications", "sync", "artemis/web")
    assert not spec_enforcer.can("ann", groups, "applications", "sync", "sophia/web")
    assert spec_enforcer.can(
        "ann", groups, "applications", "get", "sophia/web"
    )  # policy.default role:readonly
    # The commented deny does nothing; exec is simply not granted (and not denied) to the team...
    assert not spec_enforcer.can("ann", groups, "exec", "create", "artemis/web")
    # ...so a platform admin who is also an artemis developer keeps exec in artemis.
    both = [*groups, "sophia-intel-ai:platform-admins"]
    assert spec_enforcer.can("ann", both, "exec", "create", "artemis/web")


def test_spec_linter_flags_inline_comment() -> None:
    findings = lint_policy(SPEC_6_1_POLICY)
    errors = [f for f in findings if f.severity is Severity.ERROR]
    assert [(f.line, f.code) for f in errors] == [(17, "RBAC004")]
    assert "'deny  # No exec in prod'" in errors[0].message
    assert "neither 'allow' nor 'deny'" in errors[0].message
    assert lint_rbac_config(SPEC_6_1_DATA) == findings


def _codes(text: str, **kwargs: object) -> list[tuple[int, str]]:
    return [(f.line, f.code) for f in lint_policy(text, **kwargs)]  # type: ignore[arg-type]


def test_clean_policy_has_no_findings() -> None:
    assert _codes("p, role:dev, applications, sync, dev/*, allow\ng, org:dev, role:dev\n") == []


def test_field_count_and_type_and_csv_errors() -> None:
    text = "\n".join(
        [
            "p, role:a, applications, get, */*",
            "g, org:x",
            "x, a, b",
            'p, role:a, applications, get, a"b, allow',
            "p, role:a, applications, get, a/b,c, allow",
        ]
    )
    findings = lint_policy(text)
    assert [(f.line, f.code, f.severity) for f in findings] == [
        (1, "RBAC002", Severity.ERROR),
        (2, "RBAC002", Severity.ERROR),
        (3, "RBAC003", Severity.ERROR),
        (4, "RBAC001", Severity.ERROR),
        (5, "RBAC002", Severity.ERROR),
    ]
    assert "unquoted comma" in findings[-1].message


def test_bad_effect() -> None:
    assert _codes("p, u, applications, get, */*, Allow") == [(1, "RBAC010")]


def test_inline_comment_in_g_line() -> None:
    text = "p, role:r, logs, get, */*, allow\ng, u, role:r  # readers"
    assert (2, "RBAC004") in _codes(text)


def test_unknown_resource_and_action() -> None:
    text = "\n".join(
        [
            "p, u, application, get, */*, allow",
            "p, u, applications, restart, */*, allow",
            "p, u, clusters, sync, *, allow",
            "p, u, exec, *, */*, allow",
            "p, u, logs, create*, */*, allow",
            "p, u, repo/*, get, *, allow",
        ]
    )
    assert _codes(text) == [(1, "RBAC020"), (2, "RBAC021"), (3, "RBAC021"), (5, "RBAC021"), (6, "RBAC020")]


def test_fine_grained_action_shapes() -> None:
    text = "\n".join(
        [
            "p, u, applications, action, */*, allow",
            "p, u, applications, action/Deployment/restart, */*, allow",
            "p, u, applications, action//Pod/restart, */*, allow",
            "p, u, applications, update/apps/Deployment/ns/web, */*, allow",
            "p, u, applications, delete/*/Pod/*, */*, allow",
            "p, u, applications, delete/*/Pod/*/*, */*, allow",
        ]
    )
    assert _codes(text) == [(1, "RBAC022"), (2, "RBAC022"), (5, "RBAC032")]


def test_broad_or_impossible_objects() -> None:
    text = "\n".join(
        [
            "p, u, applications, get, *, allow",
            "p, u, applications, get, artemis*, allow",
            "p, u, applications, get, web, allow",
            "p, u, projects, get, */*, allow",
            "p, u, clusters, get, */*, allow",
            "p, u, applications, get, team-*/web, allow",
        ]
    )
    findings = lint_policy(text)
    got = [(f.line, f.code, f.severity) for f in findings]
    assert got == [
        (1, "RBAC030", Severity.INFO),
        (2, "RBAC030", Severity.WARNING),
        (3, "RBAC031", Severity.WARNING),
        (4, "RBAC031", Severity.WARNING),
        (5, "RBAC030", Severity.INFO),
        (6, "RBAC030", Severity.INFO),
    ]


def test_subject_patterns_are_literal() -> None:
    assert _codes("p, *, logs, get, */*, allow\ng, org:*, role:readonly") == [(1, "RBAC040"), (2, "RBAC040")]


def test_g_role_without_policies() -> None:
    text = "\n".join(
        [
            "g, org:a, role:ghost",
            "g, org:b, role:readonly",
            "g, org:c, role:middle",
            "g, role:middle, role:admin",
            "g, org:d, proj:shop:deployer",
        ]
    )
    assert _codes(text) == [(1, "RBAC041"), (5, "RBAC041")]
    assert _codes("g, org:b, role:readonly", include_builtin=False) == [(1, "RBAC041")]


def test_group_grant_without_g_binding() -> None:
    assert _codes("p, my-org:team, logs, get, some-proj/some-app, allow") == [(1, "RBAC042")]
    bound = "p, my-org:team, logs, get, some-proj/some-app, allow\np, role:foo, logs, get, */*, allow\n"
    assert _codes(bound + "g, my-org:team, role:foo") == []
    assert _codes("p, proj:my-proj:my-role, logs, get, some-proj/some-app, allow") == []
    assert _codes("p, alice, logs, get, some-proj/some-app, allow") == []


def test_duplicates_and_shadowed_allows() -> None:
    text = "\n".join(
        [
            "p, u, logs, get, */*, allow",
            "p,u,logs,get,*/*,allow",
            "p, u, logs, get, */*, deny",
        ]
    )
    assert _codes(text) == [(2, "RBAC050"), (3, "RBAC051")]


def test_regex_mode_checks() -> None:
    text = (
        "p, u, clusters, get, *, allow\np, u, clusters, get, , allow\np, u, clusters, get, https://.*, allow"
    )
    assert _codes(text, match_mode="regex") == [(1, "RBAC060"), (2, "RBAC023")]


def test_config_level_checks() -> None:
    data = {
        "policy.csv": "p, role:r, logs, get, */*, allow\ng, org:r, role:r",
        "policy.extra.csv": "p, org:x, logs, get, prod/*, deny\ng, org:x, role:r",
        "policy.default": "role:nobody",
        "policy.matchMode": "Glob",
    }
    findings = lint_rbac_config(data)
    assert [(f.source, f.line, f.code) for f in findings] == [
        ("policy.matchMode", 0, "RBAC071"),
        ("policy.default", 0, "RBAC070"),
    ]
    data["policy.default"] = "role:readonly"
    shadowed = [f for f in lint_rbac_config(data) if f.code == "RBAC072"]
    assert [(f.source, f.line) for f in shadowed] == [("policy.extra.csv", 1)]


def test_finding_str() -> None:
    finding = Finding(3, Severity.ERROR, "RBAC010", "bad", "policy.csv")
    assert str(finding) == "policy.csv:3: error: RBAC010 bad"
