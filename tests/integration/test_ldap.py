"""LDAP authentication against a real OpenLDAP slapd on loopback (tests/support/ldap.py).

The connector settings come from a spec §6.2-shaped ``dex.config`` parsed by the core and copied into
the adapter's :class:`LdapConfig`, as the service layer will do.
"""

from __future__ import annotations

import dataclasses
import socket

import pytest

from argosy.adapters.ldap import (
    LdapAuthenticator,
    LdapAuthError,
)
from argosy.bootstrap import ldap_config
from argosy.core.sso import LdapConnector, parse_dex_ldap_connectors
from tests.support.ldap import BASE_DN, LdapServer, dex_config, ldap_server  # noqa: F401 - the fixture

pytestmark = pytest.mark.integration


@pytest.fixture
def connector(ldap_server: LdapServer) -> LdapConnector:  # noqa: F811
    (conn,) = parse_dex_ldap_connectors(
        dex_config(ldap_server), {"dex.ldap.bindPW": ldap_server.bind_password}
    )
    return conn


@pytest.fixture
def authenticator(connector: LdapConnector) -> LdapAuthenticator:
    return LdapAuthenticator(ldap_config(connector))


def test_correct_password_authenticates_and_yields_groups(
    authenticator: LdapAuthenticator,
    ldap_server: LdapServer,  # noqa: F811
) -> None:
    identity = authenticator.authenticate("alice", ldap_server.users["alice"])
    assert identity.user_id == "alice" and identity.username == "alice"
    assert identity.email == "alice@sophia-intel-ai.com" and identity.name == "Alice Artemis"
    assert identity.dn == f"uid=alice,ou=users,{BASE_DN}"
    assert set(identity.groups) == {"artemis-developers", "developers"}
    bob = authenticator.authenticate("bob", ldap_server.users["bob"])
    assert bob.groups == ("developers",)


def test_wrong_password_fails(authenticator: LdapAuthenticator, ldap_server: LdapServer) -> None:  # noqa: F811
    with pytest.raises(LdapAuthError) as exc:
        authenticator.authenticate("alice", ldap_server.users["bob"])
    assert exc.value.reason == "invalid_credentials"
    assert ldap_server.users["bob"] not in str(exc.value)


def test_empty_password_is_not_an_anonymous_bind(authenticator: LdapAuthenticator) -> None:
    with pytest.raises(LdapAuthError) as exc:
        authenticator.authenticate("alice", "")
    assert exc.value.reason == "invalid_credentials"


def test_unknown_user_fails(authenticator: LdapAuthenticator) -> None:
    with pytest.raises(LdapAuthError) as exc:
        authenticator.authenticate("mallory", "whatever-password")
    assert exc.value.reason == "unknown_user"
    assert str(exc.value) == "invalid username or password"


def test_filter_injection_is_escaped(authenticator: LdapAuthenticator) -> None:
    with pytest.raises(LdapAuthError) as exc:
        authenticator.authenticate("*", "whatever-password")
    assert exc.value.reason == "unknown_user"
    with pytest.raises(LdapAuthError) as exc:
        authenticator.authenticate("alice)(uid=*", "whatever-password")
    assert exc.value.reason == "unknown_user"


def test_bind_password_never_appears_in_errors(connector: LdapConnector, ldap_server: LdapServer) -> None:  # noqa: F811
    assert ldap_server.bind_password not in repr(connector)
    wrong_bind = ldap_server.bind_password + "-wrong"
    bad = LdapAuthenticator(ldap_config(connector, bind_password=wrong_bind))
    assert wrong_bind not in repr(bad) and wrong_bind not in repr(bad.config)
    with pytest.raises(LdapAuthError) as exc:
        bad.authenticate("alice", ldap_server.users["alice"])
    assert exc.value.reason == "misconfigured"
    text = f"{exc.value!s} {exc.value!r} {exc.value.args}"
    assert wrong_bind not in text and ldap_server.users["alice"] not in text


def test_unreachable_server_is_reported_without_secrets(
    connector: LdapConnector,
    ldap_server: LdapServer,  # noqa: F811
) -> None:
    cfg = ldap_config(connector)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    dead = LdapAuthenticator(dataclasses.replace(cfg, port=closed_port, connect_timeout=1.0))
    with pytest.raises(LdapAuthError) as exc:
        dead.authenticate("alice", ldap_server.users["alice"])
    assert exc.value.reason == "unavailable"
    assert ldap_server.bind_password not in str(exc.value) and ldap_server.users["alice"] not in str(
        exc.value
    )
