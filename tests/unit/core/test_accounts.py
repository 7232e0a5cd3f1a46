"""argosy.core.accounts / auditconfig / sso: Argo CD's account, audit and dex.config shapes."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest

from argosy.core.accounts import (
    ADMIN,
    SecretStr,
    TokenRecord,
    format_rfc3339,
    parse_accounts,
    parse_rfc3339,
    resolve_ref,
    secret_data,
    secret_keys_for,
    tokens_json,
)
from argosy.core.auditconfig import DEFAULT_AUDIT_LOG_PATH, parse_audit_config
from argosy.core.sso import SsoConfigError, parse_dex_ldap_connectors

CM = {
    "accounts.ci-cd-bot": "apiKey",
    "accounts.alice": "apiKey, login",
    "accounts.alice.enabled": "true",
    "accounts.bob": "login",
    "accounts.bob.enabled": "false",
    "url": "https://argocd.example",
}
SECRET = {
    "admin.password": "$2a$10$abcdefghijklmnopqrstuu5Vx1cR9xQy6s3fZfJ0b7bA8YxQyQyQy",
    "admin.passwordMtime": "2024-05-01T10:00:00Z",
    "accounts.alice.password": "$2b$10$somethingelse",
    "accounts.alice.passwordMtime": "2024-06-01T10:00:00.123456789+02:00",
    "accounts.ci-cd-bot.tokens": (
        '[{"id":"t1","iat":1700000000,"exp":0},{"id":"t2","iat":1700000001,"exp":1800000000}]'
    ),
    "server.secretkey": "k" * 32,
    "dex.ldap.bindPW": "s3cr3t-bind",
}


def test_admin_always_exists_with_login_only() -> None:
    accounts = parse_accounts({}, {})
    admin = accounts.get(ADMIN)
    assert admin is not None
    assert admin.enabled
    assert admin.capabilities == frozenset({"login"})
    assert admin.password_hash is None


def test_admin_disabled_and_password_shapes() -> None:
    accounts = parse_accounts({"admin.enabled": "false"}, SECRET)
    admin = accounts.get(ADMIN)
    assert admin is not None and not admin.enabled
    assert admin.password_hash is not None and admin.password_hash.reveal().startswith("$2a$10$")
    assert admin.password_mtime == datetime(2024, 5, 1, 10, tzinfo=UTC)


def test_accounts_capabilities_enabled_tokens() -> None:
    accounts = parse_accounts(CM, SECRET)
    assert accounts.names() == ["admin", "alice", "bob", "ci-cd-bot"]
    alice, bob, bot = accounts.get("alice"), accounts.get("bob"), accounts.get("ci-cd-bot")
    assert alice is not None and bob is not None and bot is not None
    assert alice.capabilities == frozenset({"apiKey", "login"}) and alice.enabled
    assert alice.password_mtime == datetime(2024, 6, 1, 8, 0, 0, 123456, tzinfo=UTC)
    assert not bob.enabled and bob.password_hash is None
    assert bot.capabilities == frozenset({"apiKey"})
    assert bot.tokens == (TokenRecord("t1", 1700000000, 0), TokenRecord("t2", 1700000001, 1800000000))
    assert bot.token("t2") is not None and bot.token("nope") is None
    assert not accounts.problems


def test_problems_are_reported_not_raised() -> None:
    cm = {"accounts.x": "login, sudo", "accounts.ghost.enabled": "true", "accounts.admin": "apiKey"}
    secret = {"accounts.x.tokens": "not json", "accounts.x.passwordMtime": "yesterday"}
    accounts = parse_accounts(cm, secret)
    x = accounts.get("x")
    assert (
        x is not None
        and x.capabilities == frozenset({"login"})
        and x.tokens == ()
        and x.password_mtime is None
    )
    keys = sorted(p.key for p in accounts.problems)
    assert keys == [
        "accounts.admin",
        "accounts.ghost.enabled",
        "accounts.x",
        "accounts.x.passwordMtime",
        "accounts.x.tokens",
    ]
    admin = accounts.get("admin")
    assert admin is not None and admin.capabilities == frozenset({"login"})


def test_bad_token_entries_are_dropped() -> None:
    secret = {"accounts.x.tokens": '[{"id":"ok","iat":1},{"iat":2},{"id":"b","iat":"x"}, 5]'}
    accounts = parse_accounts({"accounts.x": "apiKey"}, secret)
    x = accounts.get("x")
    assert x is not None and [t.id for t in x.tokens] == ["ok"]
    assert len(accounts.problems) == 3


def test_password_hash_never_in_repr() -> None:
    accounts = parse_accounts(CM, SECRET)
    text = repr(accounts) + str(accounts.get("alice")) + f"{accounts.get(ADMIN)}"
    assert "$2a$10$" not in text and "$2b$10$" not in text


def test_secret_str_hides_value() -> None:
    s = SecretStr("hunter2")
    assert "hunter2" not in repr(s) + str(s) + f"{s}" + f"{s!r}" + "{}".format(s)  # noqa: UP032
    assert s.reveal() == "hunter2"
    assert s == SecretStr("hunter2") and s != SecretStr("x")
    assert "hunter2" not in repr([s, {"k": s}])


def test_resolve_ref_forms() -> None:
    named = {"my-secret": {"clientSecret": "abc"}}
    assert resolve_ref("$dex.ldap.bindPW", SECRET).value.reveal() == "s3cr3t-bind"
    plain = resolve_ref("literal", SECRET)
    assert plain.value.reveal() == "literal" and plain.ref is None
    named_ref = resolve_ref("$my-secret:clientSecret", SECRET, named)
    assert named_ref.value.reveal() == "abc" and named_ref.ref == "my-secret:clientSecret"
    missing = resolve_ref("$nope", SECRET)
    assert missing.value.reveal() == "$nope" and missing.missing == "nope"
    assert resolve_ref("$other:key", SECRET, named).missing == "other:key"
    assert resolve_ref("$", SECRET).value.reveal() == "$"
    assert "s3cr3t" not in repr(resolve_ref("$dex.ldap.bindPW", SECRET))


def test_secret_data_decodes_and_string_data_wins() -> None:
    obj = {
        "data": {"a": base64.b64encode(b"one").decode(), "b": base64.b64encode(b"two").decode(), "bad": "!!"},
        "stringData": {"b": "override"},
    }
    assert secret_data(obj) == {"a": "one", "b": "override"}


def test_rfc3339_round_trip_and_keys() -> None:
    moment = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert parse_rfc3339(format_rfc3339(moment)) == moment
    assert format_rfc3339(moment + timedelta(microseconds=5)) == "2025-01-02T03:04:05Z"
    with pytest.raises(ValueError, match="time zone"):
        parse_rfc3339("2025-01-02T03:04:05")
    assert secret_keys_for("admin") == ("admin.password", "admin.passwordMtime", "admin.tokens")
    assert secret_keys_for("bot")[2] == "accounts.bot.tokens"
    assert tokens_json([TokenRecord("a", 1, 0)]) == '[{"id":"a","iat":1,"exp":0}]'


# -- audit config (spec §7.4) ------------------------------------------------------------------


def test_audit_config_spec_example() -> None:
    cfg = parse_audit_config(
        {
            "server.audit.enabled": "true",
            "server.audit.logpath": "/tmp/argocd-audit.log",
            "server.audit.maxage": "7",
            "server.audit.maxsize": "100",
            "server.audit.maxbackups": "5",
        }
    )
    assert cfg.enabled and cfg.path == "/tmp/argocd-audit.log"
    assert (cfg.max_age_days, cfg.max_size_mb, cfg.max_backups) == (7, 100, 5)
    assert cfg.max_size_bytes == 100 * 1024 * 1024 and cfg.max_age == timedelta(days=7)
    assert not cfg.problems


def test_audit_config_defaults_and_problems() -> None:
    cfg = parse_audit_config({})
    assert not cfg.enabled and cfg.path == DEFAULT_AUDIT_LOG_PATH and cfg.max_age is None
    bad = parse_audit_config(
        {"server.audit.enabled": "yes", "server.audit.maxsize": "big", "server.audit.maxbackups": "-1"}
    )
    assert not bad.enabled and bad.max_size_mb == 100 and bad.max_backups == 0
    assert len(bad.problems) == 3


# -- dex.config LDAP connectors (spec §6.2) -----------------------------------------------------

DEX_CONFIG = """
connectors:
- type: github
  id: github
  name: GitHub
  config:
    clientID: $dex.github.clientId
- type: ldap
  id: ldap
  name: LDAP
  config:
    host: ldap.sophia-intel-ai.com:636
    bindDN: cn=admin,dc=sophia-intel-ai,dc=com
    bindPW: $dex.ldap.bindPW
    usernamePrompt: Username
    userSearch:
      baseDN: ou=users,dc=sophia-intel-ai,dc=com
      filter: "(objectClass=person)"
      username: uid
      idAttr: uid
      emailAttr: mail
      nameAttr: cn
    groupSearch:
      baseDN: ou=groups,dc=sophia-intel-ai,dc=com
      filter: "(objectClass=groupOfNames)"
      userMatchers:
      - userAttr: DN
        groupAttr: member
      nameAttr: cn
"""


def test_dex_ldap_connector_from_spec() -> None:
    (conn,) = parse_dex_ldap_connectors(DEX_CONFIG, SECRET)
    assert (conn.id, conn.name, conn.host, conn.port) == ("ldap", "LDAP", "ldap.sophia-intel-ai.com", 636)
    assert not conn.insecure_no_ssl and not conn.start_tls
    assert conn.bind_dn == "cn=admin,dc=sophia-intel-ai,dc=com"
    assert conn.bind_pw.reveal() == "s3cr3t-bind"
    assert "s3cr3t-bind" not in repr(conn)
    us = conn.user_search
    assert (us.base_dn, us.filter, us.username, us.id_attr, us.email_attr, us.name_attr) == (
        "ou=users,dc=sophia-intel-ai,dc=com",
        "(objectClass=person)",
        "uid",
        "uid",
        "mail",
        "cn",
    )
    gs = conn.group_search
    assert gs is not None and gs.base_dn == "ou=groups,dc=sophia-intel-ai,dc=com"
    assert [(m.user_attr, m.group_attr) for m in gs.user_matchers] == [("DN", "member")]
    assert gs.name_attr == "cn" and conn.missing_refs == ()


def test_dex_ldap_defaults_ports_and_missing_ref() -> None:
    text = """
connectors:
- type: ldap
  id: l2
  config:
    host: 127.0.0.1
    insecureNoSSL: true
    bindPW: $absent
    userSearch: {baseDN: "ou=u", username: uid}
"""
    (conn,) = parse_dex_ldap_connectors(text, {})
    assert conn.port == 389 and conn.group_search is None and conn.missing_refs == ("absent",)
    assert conn.user_search.id_attr == "uid" and conn.user_search.email_attr == "mail"


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("connectors: 5", "must be a list"),
        ("- a", "mapping"),
        ("connectors: [{type: ldap, id: x, config: {host: h}}]", "userSearch"),
        ("connectors: [{type: ldap, id: x, config: {userSearch: {baseDN: b, username: u}}}]", "host"),
        (
            "connectors: [{type: ldap, id: x, config: {host: 'h:99999',"
            " userSearch: {baseDN: b, username: u}}}]",
            "port",
        ),
        (
            "connectors: [{type: ldap, id: x, config: {host: h, insecureNoSSL: true, startTLS: true,"
            " userSearch: {baseDN: b, username: u}}}]",
            "both",
        ),
        (
            "connectors: [{type: ldap, id: x, config: {host: h, userSearch: {baseDN: b, username: u},"
            " groupSearch: {baseDN: g}}}]",
            "userMatchers",
        ),
        ("connectors: [\n", "YAML"),
    ],
)
def test_dex_config_errors(text: str, match: str) -> None:
    with pytest.raises(SsoConfigError, match=match):
        parse_dex_ldap_connectors(text, {"dex.ldap.bindPW": "zzz-secret"})


def test_dex_config_empty_is_no_connectors() -> None:
    assert parse_dex_ldap_connectors("", {}) == []
    assert parse_dex_ldap_connectors("connectors: []", {}) == []
