"""Unit tests for argosy.core.rbac: parsing, matching and Argo CD's enforcement order."""

from __future__ import annotations

import pytest

from argosy.core.rbac import (
    BUILTIN_POLICY_CSV,
    Enforcer,
    MatchMode,
    PolicyError,
    Project,
    ProjectRole,
    RbacConfig,
    compose_policy_csv,
    parse_csv_line,
    parse_policy,
    resolve_resource_name,
)
from argosy.core.rbac.enforcer import glob_match, regex_match

# -- CSV line parsing (Go encoding/csv, TrimLeadingSpace) ------------------------------------


def test_csv_trims_leading_space_and_keeps_trailing_text() -> None:
    assert parse_csv_line("p, a, b, c, d, deny  # note") == ["p", "a", "b", "c", "d", "deny  # note"]


def test_csv_quoted_field_with_comma() -> None:
    assert parse_csv_line('p, a, clusters, get, "https://x/a,b", allow')[4] == "https://x/a,b"
    assert parse_csv_line('p, "a ""q""", b') == ["p", 'a "q"', "b"]


@pytest.mark.parametrize("line", ['p, a"b, c', 'p, "abc"x, c', 'p, "unterminated'])
def test_csv_strict_quotes(line: str) -> None:
    with pytest.raises(ValueError, match='"'):
        parse_csv_line(line)


def test_parse_policy_skips_comments_and_blank_lines() -> None:
    lines = parse_policy("# comment\n\n   # indented comment\np, a, b, c, d, allow\ng, u, r\n")
    assert [(ln.ptype, ln.line) for ln in lines] == [("p", 4), ("g", 5)]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("p, a, b, c, d", "6 fields"),
        ("p, a, b, c, d, allow, extra", "6 fields"),
        ("g, a", "3 fields"),
        ("x, a, b", "unknown policy type"),
        ("P, a, b, c, d, allow", "unknown policy type"),
    ],
)
def test_parse_policy_rejects_whole_policy(text: str, reason: str) -> None:
    with pytest.raises(PolicyError, match=reason) as info:
        parse_policy("p, ok, b, c, d, allow\n" + text)
    assert info.value.line == 2


def test_enforcer_refuses_invalid_user_policy() -> None:
    with pytest.raises(PolicyError):
        Enforcer("p, a, b")


def test_compose_policy_csv_orders_overlays_after_main() -> None:
    data = {
        "policy.z.csv": "Z",
        "policy.csv": "MAIN",
        "policy.a.csv": "A",
        "policy.default": "role:x",
        "other": "O",
    }
    assert compose_policy_csv(data) == "MAIN\nA\nZ"


def test_rbac_config_from_configmap() -> None:
    config = RbacConfig.from_configmap_data(
        {"policy.csv": "p, a, b, c, d, allow", "policy.default": "role:readonly", "scopes": "[groups, email]"}
    )
    assert config.default_role == "role:readonly"
    assert config.scopes == ("groups", "email")
    assert config.match_mode is MatchMode.GLOB
    assert RbacConfig.from_configmap_data({"policy.matchMode": "regex"}).match_mode is MatchMode.REGEX
    assert RbacConfig.from_configmap_data({}).scopes == ("groups",)


# -- matching --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "pattern", "expected"),
    [
        ("foo/bar", "*", True),
        ("foo/https://github.com/a/b.git", "foo/*", True),
        ("action/apps/Deployment/restart", "action/*", True),
        ("https://k8s.local", "*", True),
        ("proj1/app1", "proj1/a*p1", True),
        ("proj1/app2", "proj1/a*p1", False),
        ("staging/web", "{staging,prod}/*", True),
        ("dev/web", "{staging,prod}/*", False),
        (".hidden", "*", True),
        ("Apps", "apps", False),
        ("x+", ".*", False),
        (".+", ".*", True),
    ],
)
def test_glob_match(value: str, pattern: str, expected: bool) -> None:
    assert glob_match(value, pattern) is expected


def test_regex_match_is_unanchored_and_errors_on_bad_pattern() -> None:
    assert regex_match("xx-https://kubernetes.default", "https://kubernetes.*")
    with pytest.raises(Exception):  # noqa: B017
        regex_match("anything", "*")


def test_invalid_regex_denies() -> None:
    enforcer = Enforcer("p, alice, clusters, get, *, allow", builtin_policy="", match_mode="regex")
    assert not enforcer.enforce("alice", "clusters", "get", "https://x")


# -- enforcement -----------------------------------------------------------------------------


def test_builtin_roles() -> None:
    enforcer = Enforcer()
    assert enforcer.enforce("admin", "applications", "delete", "p/a")
    assert enforcer.enforce("role:readonly", "logs", "get", "p/a")
    assert not enforcer.enforce("role:readonly", "applications", "sync", "p/a")
    assert not Enforcer(builtin_policy="").enforce("admin", "applications", "get", "p/a")
    assert parse_policy(BUILTIN_POLICY_CSV)


def test_deny_overrides_allow_in_one_evaluation() -> None:
    enforcer = Enforcer(
        "p, role:dev, applications, *, */*, allow\n"
        "p, role:dev, applications, delete, prod/*, deny\n"
        "g, bob, role:dev"
    )
    assert enforcer.enforce("bob", "applications", "delete", "dev/web")
    assert not enforcer.enforce("bob", "applications", "delete", "prod/web")


def test_effect_with_inline_comment_is_ignored() -> None:
    enforcer = Enforcer(
        "p, role:t, exec, create, */*, allow\n"
        "p, role:t, exec, create, prod/*, deny  # no exec in prod\n"
        "g, u, role:t"
    )
    assert enforcer.enforce("u", "exec", "create", "prod/web")  # the deny never applies


def test_default_role_is_checked_first_and_beats_deny() -> None:
    policy = "p, mallory, applications, get, */*, deny"
    assert not Enforcer(policy).enforce("mallory", "applications", "get", "p/a")
    assert Enforcer(policy, default_role="role:readonly").enforce("mallory", "applications", "get", "p/a")


def test_enforcement_disabled_allows_everything() -> None:
    assert Enforcer(builtin_policy="", enforcement_enabled=False).enforce(None, "x", "y", "z")


def test_null_subject_is_empty_string() -> None:
    assert not Enforcer("p, alice, *, get, foo/obj, allow").enforce(None, "applications", "get", "foo/obj")


def test_groups_are_evaluated_one_at_a_time() -> None:
    policy = "\n".join(
        [
            "p, role:all, exec, create, */*, allow",
            "p, role:noexec, exec, create, */*, deny",
            "g, org:admins, role:all",
            "g, org:restricted, role:noexec",
        ]
    )
    enforcer = Enforcer(policy)
    assert enforcer.can("u", ["org:restricted", "org:admins"], "exec", "create", "p/a")
    assert not enforcer.can("u", ["org:restricted"], "exec", "create", "p/a")


def test_groups_without_g_line_are_not_checked() -> None:
    enforcer = Enforcer("p, org:team, logs, get, */*, allow")
    assert not enforcer.can("u", ["org:team"], "logs", "get", "p/a")
    assert enforcer.enforce("org:team", "logs", "get", "p/a")  # a string subject is enforced as-is


def test_custom_scopes() -> None:
    enforcer = Enforcer("p, role:r, logs, get, */*, allow\ng, me@example.com, role:r", scopes=["email"])
    assert enforcer.enforce_claims({"sub": "x", "email": "me@example.com"}, "logs", "get", "p/a")
    assert not enforcer.enforce_claims({"sub": "x", "groups": ["me@example.com"]}, "logs", "get", "p/a")


def test_federated_user_id_beats_sub() -> None:
    enforcer = Enforcer("p, bob, logs, get, */*, allow")
    claims = {"sub": "opaque", "federated_claims": {"user_id": "bob"}}
    assert enforcer.enforce_claims(claims, "logs", "get", "p/a")


def _project() -> Project:
    role = ProjectRole(
        name="deployer",
        policies=("p, proj:shop:deployer, applications, sync, shop/*, allow",),
        groups=("org:shop-team",),
    )
    return Project(name="shop", roles=(role,))


def test_project_role_policies_string() -> None:
    assert _project().policies_csv().splitlines() == [
        "p, proj:shop:deployer, projects, get, shop, allow",
        "p, proj:shop:deployer, applications, sync, shop/*, allow",
        "g, org:shop-team, proj:shop:deployer",
    ]


def test_project_roles_apply_to_groups_and_tokens_in_their_project_only() -> None:
    enforcer = Enforcer(projects=[_project()])
    assert enforcer.can("u", ["org:shop-team"], "applications", "sync", "shop/web")
    assert not enforcer.can("u", ["org:shop-team"], "applications", "sync", "other/web")
    token = {"sub": "proj:shop:deployer", "iat": 1}
    assert enforcer.enforce_claims(token, "applications", "sync", "shop/web")
    assert enforcer.enforce_claims(token, "projects", "get", "shop")
    assert not enforcer.enforce_claims(token, "applications", "delete", "shop/web")
    assert not enforcer.enforce_claims({"sub": "proj:other:deployer"}, "applications", "sync", "shop/web")


def test_invalid_runtime_policy_falls_back() -> None:
    enforcer = Enforcer()
    kwargs = {"subject": "admin", "resource": "applications", "action": "update", "obj": "a/b"}
    assert enforcer.enforce_runtime_policy("", "this, is, not, a, good, policy", **kwargs)
    assert enforcer.enforce_runtime_policy("", "", **kwargs)


def test_decisions_are_cached() -> None:
    enforcer = Enforcer("p, alice, logs, get, */*, allow")
    assert enforcer.enforce("alice", "logs", "get", "p/a")
    assert ("alice", "logs", "get", "p/a") in enforcer._cache
    assert enforcer.enforce("alice", "logs", "get", "p/a")


def test_from_config_and_resource_aliases() -> None:
    config = RbacConfig.from_configmap_data({"policy.csv": "", "policy.default": "role:readonly"})
    enforcer = Enforcer.from_config(config)
    assert enforcer.default_role == "role:readonly"
    assert enforcer.enforce("anyone", "projects", "get", "x")
    assert Enforcer.from_config(config, default_role="").default_role == ""
    assert resolve_resource_name("app") == "applications"
    assert resolve_resource_name("proj") == "projects"
    assert resolve_resource_name("clusters") == "clusters"
