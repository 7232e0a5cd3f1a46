"""SSO settings from argocd-cm (spec §6.2): ``oidc.config`` and the ``dex.config`` connectors (LDAP and
GitHub are built in, in place of Dex). Pure (layer 1).

Field names and defaults follow Dex's LDAP and GitHub connectors and Argo CD's ``oidc.config``.
``$key`` / ``$secret:key`` values (``bindPW``, ``clientSecret``) are resolved from argocd-secret through
:func:`argosy.core.accounts.resolve_ref` and kept in a :class:`SecretStr`. The LDAP adapter
(``argosy.adapters.ldap``) takes the same fields as plain values; ``argosy.bootstrap.sso_backends``
copies them across.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from argosy.core.accounts import SecretStr, resolve_ref

__all__ = [
    "ConnectorInfo",
    "GithubConnector",
    "GithubOrg",
    "GroupSearch",
    "LdapConnector",
    "OidcConfig",
    "SsoConfigError",
    "SsoIdentity",
    "UserMatcher",
    "UserSearch",
    "dex_connectors",
    "parse_dex_github_connectors",
    "parse_dex_ldap_connectors",
    "parse_oidc_config",
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


# -- all connectors, OIDC, GitHub -----------------------------------------------------------------


@dataclass(frozen=True)
class SsoIdentity:
    """Who an SSO connector says logged in. ``user_id`` becomes the session subject (Argo CD 3.0 uses
    Dex's ``federated_claims.user_id``); ``groups`` are the connector's group names without any
    connector prefix (Dex's names: LDAP group ``cn``, GitHub ``org`` / ``org:team``)."""

    connector: str
    user_id: str
    username: str = ""
    email: str = ""
    name: str = ""
    groups: tuple[str, ...] = ()


@dataclass(frozen=True)
class ConnectorInfo:
    """What ``GET /api/v1/settings`` shows of a ``dex.config`` connector (never its config)."""

    id: str
    name: str
    type: str


def _load_dex(dex_config: str) -> list[Any]:
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
    return connectors


def dex_connectors(dex_config: str) -> list[ConnectorInfo]:
    """``id``, ``name`` and ``type`` of every connector of ``dex.config`` (entries without a type are
    skipped). Raises :class:`SsoConfigError` for unreadable YAML."""
    out: list[ConnectorInfo] = []
    for index, conn in enumerate(_load_dex(dex_config)):
        if not isinstance(conn, Mapping) or not isinstance(conn.get("type"), str):
            continue
        cid = conn.get("id") if isinstance(conn.get("id"), str) else f"connectors[{index}]"
        name = conn.get("name") if isinstance(conn.get("name"), str) else ""
        out.append(ConnectorInfo(id=str(cid), name=str(name or cid), type=str(conn["type"])))
    return out


@dataclass(frozen=True)
class GithubOrg:
    name: str
    teams: tuple[str, ...] = ()


@dataclass(frozen=True)
class GithubConnector:
    """A ``type: github`` connector (Dex's field names). ``host_name`` (GitHub Enterprise) moves the
    OAuth endpoints to ``https://<hostName>`` and the API to ``https://<hostName>/api/v3`` unless
    ``apiURL`` is given; our addition ``baseURL`` sets the OAuth base with its scheme (the tests use
    a loopback ``http://`` stand-in)."""

    id: str
    name: str
    client_id: str
    client_secret: SecretStr = field(repr=False)
    redirect_uri: str = ""
    orgs: tuple[GithubOrg, ...] = ()
    load_all_groups: bool = False
    team_name_field: str = "name"  # name | slug | both
    use_login_as_id: bool = False
    base_url: str = "https://github.com"
    api_url: str = "https://api.github.com"
    missing_refs: tuple[str, ...] = ()

    @property
    def authorize_url(self) -> str:
        return f"{self.base_url}/login/oauth/authorize"

    @property
    def token_url(self) -> str:
        return f"{self.base_url}/login/oauth/access_token"


def parse_dex_github_connectors(
    dex_config: str,
    argocd_secret: Mapping[str, str],
    named_secrets: Mapping[str, Mapping[str, str]] | None = None,
) -> list[GithubConnector]:
    out: list[GithubConnector] = []
    for index, conn in enumerate(_load_dex(dex_config)):
        if not isinstance(conn, Mapping) or conn.get("type") != "github":
            continue
        cid = conn.get("id") if isinstance(conn.get("id"), str) else f"connectors[{index}]"
        where = f"connector {cid}"
        cfg = conn.get("config")
        if not isinstance(cfg, Mapping):
            raise SsoConfigError(f"{where}: config must be a mapping")
        client_id = resolve_ref(_str(cfg, "clientID", where), argocd_secret, named_secrets)
        secret = resolve_ref(_str(cfg, "clientSecret", where), argocd_secret, named_secrets)
        if not client_id.value.reveal():
            raise SsoConfigError(f"{where}.clientID is required")
        orgs: list[GithubOrg] = []
        raw_orgs = cfg.get("orgs") or []
        if not isinstance(raw_orgs, list):
            raise SsoConfigError(f"{where}.orgs must be a list")
        for i, org in enumerate(raw_orgs):
            if not isinstance(org, Mapping) or not isinstance(org.get("name"), str):
                raise SsoConfigError(f"{where}.orgs[{i}] needs a name")
            teams = org.get("teams") or []
            if not isinstance(teams, list) or not all(isinstance(t, str) for t in teams):
                raise SsoConfigError(f"{where}.orgs[{i}].teams must be a list of names")
            orgs.append(GithubOrg(org["name"], tuple(teams)))
        if not orgs and isinstance(cfg.get("org"), str):  # Dex's deprecated single org
            orgs.append(GithubOrg(cfg["org"]))
        team_field = _str(cfg, "teamNameField", where, "name") or "name"
        if team_field not in {"name", "slug", "both"}:
            raise SsoConfigError(f"{where}.teamNameField must be name, slug or both")
        host = _str(cfg, "hostName", where)
        base = _str(cfg, "baseURL", where) or (f"https://{host}" if host else "https://github.com")
        api = _str(cfg, "apiURL", where) or (f"https://{host}/api/v3" if host else "https://api.github.com")
        out.append(
            GithubConnector(
                id=str(cid),
                name=_str(conn, "name", where) or str(cid),
                client_id=client_id.value.reveal(),
                client_secret=secret.value,
                redirect_uri=_str(cfg, "redirectURI", where),
                orgs=tuple(orgs),
                load_all_groups=_bool(cfg, "loadAllGroups", where),
                team_name_field=team_field,
                use_login_as_id=_bool(cfg, "useLoginAsID", where),
                base_url=base.rstrip("/"),
                api_url=api.rstrip("/"),
                missing_refs=tuple(r for r in (client_id.missing, secret.missing) if r),
            )
        )
    return out


def github_groups(
    connector: GithubConnector, user_orgs: list[str], user_teams: list[tuple[str, str, str]]
) -> tuple[str, ...] | None:
    """Dex's GitHub group rule. ``user_teams`` holds ``(org login, team name, team slug)``.

    With ``orgs`` configured: the user must belong to one of them (and, for an org that lists teams,
    to one of those teams, else that org contributes nothing); groups are ``org:team`` for the matching
    teams, or every team of an org configured without teams. None means "not authorised".
    Without ``orgs``: ``loadAllGroups`` gives every org (``org``) and team (``org:team``); otherwise none.
    """

    def names(name: str, slug: str) -> list[str]:
        if connector.team_name_field == "slug":
            return [slug]
        if connector.team_name_field == "both":
            return [name] if name == slug else [name, slug]
        return [name]

    groups: list[str] = []
    if connector.orgs:
        in_org_no_teams = False
        member_of = {o.lower() for o in user_orgs}
        for org in connector.orgs:
            if org.name.lower() not in member_of:
                continue
            teams = [
                n
                for (o, name, slug) in user_teams
                if o.lower() == org.name.lower()
                for n in names(name, slug)
            ]
            if not org.teams:
                in_org_no_teams = True
            else:
                wanted = set(org.teams)
                teams = [t for t in teams if t in wanted]
            groups += [f"{org.name}:{t}" for t in teams if f"{org.name}:{t}" not in groups]
        return tuple(groups) if in_org_no_teams or groups else None
    if connector.load_all_groups:
        groups = list(dict.fromkeys(user_orgs))
        for org_login, name, slug in user_teams:
            for n in names(name, slug):
                if f"{org_login}:{n}" not in groups:
                    groups.append(f"{org_login}:{n}")
    return tuple(groups)


@dataclass(frozen=True)
class OidcConfig:
    """Argo CD's ``oidc.config``. ``client_secret`` may be empty (a public client using PKCE)."""

    name: str
    issuer: str
    client_id: str
    client_secret: SecretStr = field(repr=False)
    requested_scopes: tuple[str, ...] = ("openid", "profile", "email")
    requested_id_token_claims: Mapping[str, Any] = field(default_factory=dict)
    cli_client_id: str = ""
    logout_url: str = ""
    root_ca: str = ""
    allowed_audiences: tuple[str, ...] = ()
    enable_pkce: bool = True
    missing_refs: tuple[str, ...] = ()

    @property
    def audiences(self) -> tuple[str, ...]:
        """Accepted ``aud`` values: ``allowedAudiences``, else the client id and the CLI client id."""
        if self.allowed_audiences:
            return self.allowed_audiences
        return tuple(a for a in (self.client_id, self.cli_client_id) if a)

    def public(self) -> dict[str, Any]:
        """The settings API's ``oidcConfig``: no secret."""
        out: dict[str, Any] = {
            "name": self.name,
            "issuer": self.issuer,
            "clientID": self.client_id,
            "scopes": list(self.requested_scopes),
        }
        if self.cli_client_id:
            out["cliClientID"] = self.cli_client_id
        if self.requested_id_token_claims:
            out["idTokenClaims"] = dict(self.requested_id_token_claims)
        return out


def parse_oidc_config(
    text: str,
    argocd_secret: Mapping[str, str],
    named_secrets: Mapping[str, Mapping[str, str]] | None = None,
) -> OidcConfig | None:
    """Parse ``oidc.config`` (None when empty). Accepts ``clientID`` and the spec's ``clientId``."""
    try:
        doc = yaml.safe_load(text) if text.strip() else None
    except yaml.YAMLError as exc:
        raise SsoConfigError(f"oidc.config is not valid YAML: {type(exc).__name__}") from None
    if doc is None:
        return None
    if not isinstance(doc, Mapping):
        raise SsoConfigError("oidc.config must be a YAML mapping")
    where = "oidc.config"
    issuer = _str(doc, "issuer", where).rstrip("/")
    if not issuer:
        raise SsoConfigError("oidc.config.issuer is required")
    cid_raw = _str(doc, "clientID", where) or _str(doc, "clientId", where)
    client_id = resolve_ref(cid_raw, argocd_secret, named_secrets)
    if not client_id.value.reveal():
        raise SsoConfigError("oidc.config.clientID is required")
    secret = resolve_ref(_str(doc, "clientSecret", where), argocd_secret, named_secrets)
    scopes_raw = doc.get("requestedScopes")
    if scopes_raw is None:
        scopes: tuple[str, ...] = ("openid", "profile", "email")
    elif isinstance(scopes_raw, list) and all(isinstance(s, str) for s in scopes_raw):
        scopes = tuple(scopes_raw)
        if "openid" not in scopes:
            scopes = ("openid", *scopes)
    else:
        raise SsoConfigError("oidc.config.requestedScopes must be a list of strings")
    claims = doc.get("requestedIDTokenClaims") or {}
    if not isinstance(claims, Mapping):
        raise SsoConfigError("oidc.config.requestedIDTokenClaims must be a mapping")
    audiences = doc.get("allowedAudiences") or []
    if not isinstance(audiences, list):
        raise SsoConfigError("oidc.config.allowedAudiences must be a list")
    pkce = doc.get("enablePKCEAuthentication", True)
    return OidcConfig(
        name=_str(doc, "name", where) or "OIDC",
        issuer=issuer,
        client_id=client_id.value.reveal(),
        client_secret=secret.value,
        requested_scopes=scopes,
        requested_id_token_claims=dict(claims),
        cli_client_id=_str(doc, "cliClientID", where),
        logout_url=_str(doc, "logoutURL", where),
        root_ca=_str(doc, "rootCA", where),
        allowed_audiences=tuple(str(a) for a in audiences),
        enable_pkce=pkce is not False,
        missing_refs=tuple(r for r in (client_id.missing, secret.missing) if r),
    )
