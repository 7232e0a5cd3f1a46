"""SSO settings from argocd-cm: the LDAP connectors of ``dex.config`` (spec §6.2). Pure (layer 1).

Field names and defaults follow Dex's LDAP connector. ``$key`` / ``$secret:key`` values (``bindPW``
in the spec) are resolved from argocd-secret through :func:`argosy.core.accounts.resolve_ref`, and the
bind password is kept in a :class:`SecretStr`. The LDAP adapter (``argosy.adapters.ldap``) takes the
same fields as plain values; the service layer copies them across.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from argosy.core.accounts import SecretStr, resolve_ref

__all__ = [
    "GroupSearch",
    "LdapConnector",
    "SsoConfigError",
    "UserMatcher",
    "UserSearch",
    "parse_dex_ldap_connectors",
]


class SsoConfigError(ValueError):
    """dex.config cannot be used. The message names the connector and the field, never a secret."""


@dataclass(frozen=True)
class UserSearch:
    base_dn: str
    filter: str = ""
    username: str = "uid"
    id_attr: str = "uid"
    email_attr: str = "mail"
    name_attr: str = ""
    preferred_username_attr: str = ""
    scope: str = "sub"


@dataclass(frozen=True)
class UserMatcher:
    user_attr: str
    group_attr: str


@dataclass(frozen=True)
class GroupSearch:
    base_dn: str
    filter: str = ""
    user_matchers: tuple[UserMatcher, ...] = ()
    name_attr: str = "cn"
    scope: str = "sub"


@dataclass(frozen=True)
class LdapConnector:
    id: str
    name: str
    host: str
    port: int
    insecure_no_ssl: bool = False
    insecure_skip_verify: bool = False
    start_tls: bool = False
    root_ca: str = ""
    root_ca_data: str = ""
    bind_dn: str = ""
    bind_pw: SecretStr = field(default_factory=lambda: SecretStr(""), repr=False)
    username_prompt: str = "Username"
    user_search: UserSearch = field(default_factory=lambda: UserSearch(base_dn=""))
    group_search: GroupSearch | None = None
    missing_refs: tuple[str, ...] = ()


def _str(cfg: Mapping[str, Any], key: str, where: str, default: str = "") -> str:
    value = cfg.get(key, default)
    if value is None:
        return default
    if not isinstance(value, str):
        raise SsoConfigError(f"{where}.{key} must be a string")
    return value


def _bool(cfg: Mapping[str, Any], key: str, where: str) -> bool:
    value = cfg.get(key, False)
    if not isinstance(value, bool):
        raise SsoConfigError(f"{where}.{key} must be true or false")
    return value


def _scope(cfg: Mapping[str, Any], where: str) -> str:
    scope = _str(cfg, "scope", where, "sub")
    if scope not in {"sub", "one"}:
        raise SsoConfigError(f"{where}.scope must be 'sub' or 'one'")
    return scope


def _host_port(host: str, no_ssl: bool, where: str) -> tuple[str, int]:
    if not host:
        raise SsoConfigError(f"{where}.host is required")
    default_port = 389 if no_ssl else 636
    if host.startswith("["):  # [ipv6]:port
        addr, _, rest = host[1:].partition("]")
        port_text = rest.removeprefix(":")
    elif host.count(":") == 1:
        addr, _, port_text = host.partition(":")
    else:
        addr, port_text = host, ""
    if not port_text:
        return addr, default_port
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise SsoConfigError(f"{where}.host has a bad port")
    return addr, int(port_text)


def _user_search(cfg: Any, where: str) -> UserSearch:
    if not isinstance(cfg, Mapping):
        raise SsoConfigError(f"{where} is required and must be a mapping")
    base_dn = _str(cfg, "baseDN", where)
    if not base_dn:
        raise SsoConfigError(f"{where}.baseDN is required")
    username = _str(cfg, "username", where)
    if not username:
        raise SsoConfigError(f"{where}.username is required")
    return UserSearch(
        base_dn=base_dn,
        filter=_str(cfg, "filter", where),
        username=username,
        id_attr=_str(cfg, "idAttr", where, "uid") or "uid",
        email_attr=_str(cfg, "emailAttr", where, "mail") or "mail",
        name_attr=_str(cfg, "nameAttr", where),
        preferred_username_attr=_str(cfg, "preferredUsernameAttr", where),
        scope=_scope(cfg, where),
    )


def _group_search(cfg: Any, where: str) -> GroupSearch | None:
    if cfg is None:
        return None
    if not isinstance(cfg, Mapping):
        raise SsoConfigError(f"{where} must be a mapping")
    base_dn = _str(cfg, "baseDN", where)
    if not base_dn:
        raise SsoConfigError(f"{where}.baseDN is required")
    matchers: list[UserMatcher] = []
    raw_matchers = cfg.get("userMatchers") or []
    if not isinstance(raw_matchers, list):
        raise SsoConfigError(f"{where}.userMatchers must be a list")
    for i, m in enumerate(raw_matchers):
        if not isinstance(m, Mapping):
            raise SsoConfigError(f"{where}.userMatchers[{i}] must be a mapping")
        user_attr, group_attr = _str(m, "userAttr", where), _str(m, "groupAttr", where)
        if not user_attr or not group_attr:
            raise SsoConfigError(f"{where}.userMatchers[{i}] needs userAttr and groupAttr")
        matchers.append(UserMatcher(user_attr, group_attr))
    # Dex's older single-pair form.
    if not matchers and cfg.get("userAttr") and cfg.get("groupAttr"):
        matchers.append(UserMatcher(_str(cfg, "userAttr", where), _str(cfg, "groupAttr", where)))
    if not matchers:
        raise SsoConfigError(f"{where}.userMatchers is required")
    return GroupSearch(
        base_dn=base_dn,
        filter=_str(cfg, "filter", where),
        user_matchers=tuple(matchers),
        name_attr=_str(cfg, "nameAttr", where, "cn") or "cn",
        scope=_scope(cfg, where),
    )


def parse_dex_ldap_connectors(
    dex_config: str,
    argocd_secret: Mapping[str, str],
    named_secrets: Mapping[str, Mapping[str, str]] | None = None,
) -> list[LdapConnector]:
    """Return the ``type: ldap`` connectors of a ``dex.config`` YAML text; other types are skipped.

    Raises :class:`SsoConfigError` for YAML that is not a mapping with a ``connectors`` list, or for
    an LDAP connector missing required fields.
    """
    try:
        doc = yaml.safe_load(dex_config) if dex_config.strip() else {}
    except yaml.YAMLError as exc:
        raise SsoConfigError(f"dex.config is not valid YAML: {type(exc).__name__}") from None
    if doc is None:
        doc = {}
    if not isinstance(doc, Mapping):
        raise SsoConfigError("dex.config must be a YAML mapping")
    connectors = doc.get("connectors") or []
    if not isinstance(connectors, list):
        raise SsoConfigError("dex.config connectors must be a list")
    out: list[LdapConnector] = []
    for index, conn in enumerate(connectors):
        if not isinstance(conn, Mapping) or conn.get("type") != "ldap":
            continue
        cid = conn.get("id") if isinstance(conn.get("id"), str) else f"connectors[{index}]"
        where = f"connector {cid}"
        cfg = conn.get("config")
        if not isinstance(cfg, Mapping):
            raise SsoConfigError(f"{where}: config must be a mapping")
        no_ssl = _bool(cfg, "insecureNoSSL", where)
        start_tls = _bool(cfg, "startTLS", where)
        if no_ssl and start_tls:
            raise SsoConfigError(f"{where}: insecureNoSSL and startTLS cannot both be set")
        host, port = _host_port(_str(cfg, "host", where), no_ssl or start_tls, where)
        bind_pw = resolve_ref(_str(cfg, "bindPW", where), argocd_secret, named_secrets)
        bind_dn = resolve_ref(_str(cfg, "bindDN", where), argocd_secret, named_secrets)
        missing = tuple(r for r in (bind_pw.missing, bind_dn.missing) if r)
        out.append(
            LdapConnector(
                id=str(cid),
                name=_str(conn, "name", where) or str(cid),
                host=host,
                port=port,
                insecure_no_ssl=no_ssl,
                insecure_skip_verify=_bool(cfg, "insecureSkipVerify", where),
                start_tls=start_tls,
                root_ca=_str(cfg, "rootCA", where),
                root_ca_data=_str(cfg, "rootCAData", where),
                bind_dn=bind_dn.value.reveal(),
                bind_pw=bind_pw.value,
                username_prompt=_str(cfg, "usernamePrompt", where) or "Username",
                user_search=_user_search(cfg.get("userSearch"), f"{where}.userSearch"),
                group_search=_group_search(cfg.get("groupSearch"), f"{where}.groupSearch"),
                missing_refs=missing,
            )
        )
    return out
