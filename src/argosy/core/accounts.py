"""Local accounts as Argo CD stores them: capabilities in argocd-cm, hashes and tokens in argocd-secret.

Pure (layer 1): callers pass the *decoded* ``data`` of the two objects (see :func:`secret_data`) and get
frozen values back. Nothing here reads a cluster, a file or the clock.

Shapes (Argo CD's ``util/settings/accounts.go`` conventions):

* argocd-cm ``accounts.<name>: "apiKey, login"`` declares an account and its capabilities;
  ``accounts.<name>.enabled: "false"`` disables it. ``admin.enabled: "false"`` disables the built-in
  ``admin`` account, which always exists otherwise and has the ``login`` capability only.
* argocd-secret ``admin.password`` (bcrypt), ``admin.passwordMtime`` (RFC 3339), ``admin.tokens`` and
  ``accounts.<name>.password`` / ``accounts.<name>.passwordMtime`` / ``accounts.<name>.tokens``, where
  ``tokens`` is a JSON list of ``{"id": ..., "iat": <unix s>, "exp": <unix s or 0>}``.
* A setting value ``$<key>`` is read from argocd-secret's ``<key>``; ``$<secret>:<key>`` from the
  Secret named ``<secret>`` (Argo CD only honours Secrets labelled ``app.kubernetes.io/part-of: argocd``;
  the caller filters them before passing ``named_secrets``). A reference that cannot be resolved is left
  as the literal text, as Argo CD does, and reported in :attr:`Resolved.missing`.

Secret material is wrapped in :class:`SecretStr`, whose ``repr``/``str`` never show the value.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

__all__ = [
    "ADMIN",
    "CAPABILITY_API_KEY",
    "CAPABILITY_LOGIN",
    "Account",
    "AccountProblem",
    "Accounts",
    "Resolved",
    "SecretStr",
    "TokenRecord",
    "format_rfc3339",
    "parse_accounts",
    "parse_rfc3339",
    "resolve_ref",
    "secret_data",
    "secret_keys_for",
    "tokens_json",
]

ADMIN = "admin"
CAPABILITY_LOGIN = "login"
CAPABILITY_API_KEY = "apiKey"
KNOWN_CAPABILITIES = frozenset({CAPABILITY_LOGIN, CAPABILITY_API_KEY})

_ACCOUNTS_PREFIX = "accounts."
_ENABLED_SUFFIX = ".enabled"
_REDACTED = "<redacted>"


class SecretStr:
    """A string that does not print itself. Use :meth:`reveal` at the single place that needs it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"SecretStr({_REDACTED!r})"

    def __str__(self) -> str:
        return _REDACTED

    def __format__(self, spec: str) -> str:
        return _REDACTED

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SecretStr) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("SecretStr", self._value))

    def __bool__(self) -> bool:
        return bool(self._value)


@dataclass(frozen=True)
class Resolved:
    """The result of :func:`resolve_ref`: the value, whether it came from a Secret, and any missing ref."""

    value: SecretStr
    ref: str | None = None
    missing: str | None = None


def secret_data(secret: Mapping[str, object]) -> dict[str, str]:
    """Decode a Secret object's ``data`` (base64) and ``stringData`` into text; ``stringData`` wins.

    Values that are not valid base64 or UTF-8 are skipped (a Secret the API server accepted is always
    valid base64; this only guards hand-written fixtures).
    """
    out: dict[str, str] = {}
    data = secret.get("data")
    if isinstance(data, Mapping):
        for key, raw in data.items():
            if not isinstance(raw, str):
                continue
            try:
                out[str(key)] = base64.b64decode(raw, validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError, ValueError):
                continue
    string_data = secret.get("stringData")
    if isinstance(string_data, Mapping):
        out.update({str(k): v for k, v in string_data.items() if isinstance(v, str)})
    return out


def resolve_ref(
    value: str,
    argocd_secret: Mapping[str, str],
    named_secrets: Mapping[str, Mapping[str, str]] | None = None,
) -> Resolved:
    """Resolve Argo CD's ``$key`` / ``$secret:key`` indirection.

    A value not starting with ``$`` is returned as is (still wrapped, since callers use this for
    secret-bearing settings). An unresolvable reference keeps the literal text, as Argo CD does.
    """
    if not value.startswith("$") or len(value) == 1:
        return Resolved(SecretStr(value))
    ref = value[1:]
    if ":" in ref:
        secret_name, _, key = ref.partition(":")
        source = (named_secrets or {}).get(secret_name)
        if source is not None and key in source:
            return Resolved(SecretStr(source[key]), ref=ref)
        return Resolved(SecretStr(value), ref=ref, missing=ref)
    if ref in argocd_secret:
        return Resolved(SecretStr(argocd_secret[ref]), ref=ref)
    return Resolved(SecretStr(value), ref=ref, missing=ref)


def parse_rfc3339(text: str) -> datetime:
    """Parse an RFC 3339 timestamp (``Z`` or an offset; fractional seconds allowed) to an aware UTC time."""
    cleaned = text.strip()
    if cleaned.endswith(("Z", "z")):
        cleaned = cleaned[:-1] + "+00:00"
    # Go writes up to nine fractional digits; Python accepts at most six.
    if "." in cleaned:
        head, _, rest = cleaned.partition(".")
        digits = ""
        while rest and rest[0].isdigit():
            digits, rest = digits + rest[0], rest[1:]
        cleaned = f"{head}.{digits[:6].ljust(6, '0')}{rest}"
    parsed = datetime.fromisoformat(cleaned)
    if parsed.tzinfo is None:
        raise ValueError(f"timestamp {text!r} has no time zone")
    return parsed.astimezone(UTC)


def format_rfc3339(moment: datetime) -> str:
    """Format as Go's ``time.RFC3339`` in UTC (whole seconds, ``Z``), which Argo CD writes for mtimes."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class TokenRecord:
    """One entry of an account's (or a project role's) token list. ``expires_at`` 0 means never."""

    id: str
    issued_at: int
    expires_at: int = 0

    def expired(self, now: datetime) -> bool:
        return self.expires_at > 0 and now.timestamp() >= self.expires_at

    def to_json(self) -> dict[str, object]:
        return {"id": self.id, "iat": self.issued_at, "exp": self.expires_at}


def tokens_json(tokens: Iterable[TokenRecord]) -> str:
    """Serialise a token list the way Argo CD stores it in argocd-secret."""
    return json.dumps([t.to_json() for t in tokens], separators=(",", ":"))


@dataclass(frozen=True)
class Account:
    name: str
    enabled: bool
    capabilities: frozenset[str]
    password_hash: SecretStr | None = field(default=None, repr=False)
    password_mtime: datetime | None = None
    tokens: tuple[TokenRecord, ...] = ()

    def has(self, capability: str) -> bool:
        return capability in self.capabilities

    def token(self, token_id: str) -> TokenRecord | None:
        return next((t for t in self.tokens if t.id == token_id), None)


@dataclass(frozen=True)
class AccountProblem:
    key: str
    message: str


@dataclass(frozen=True)
class Accounts:
    by_name: Mapping[str, Account]
    problems: tuple[AccountProblem, ...] = ()

    def get(self, name: str) -> Account | None:
        return self.by_name.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self.by_name

    def names(self) -> list[str]:
        return sorted(self.by_name)


def _parse_bool(value: str | None, default: bool) -> bool:
    if value is None or value.strip() == "":
        return default
    # Go's strconv.ParseBool accepts these; anything else keeps the default (Argo CD logs and moves on).
    lowered = value.strip().lower()
    if lowered in {"1", "t", "true"}:
        return True
    if lowered in {"0", "f", "false"}:
        return False
    return default


def _parse_tokens(key: str, raw: str | None, problems: list[AccountProblem]) -> tuple[TokenRecord, ...]:
    if raw is None or raw.strip() == "":
        return ()
    try:
        loaded = json.loads(raw)
    except json.JSONDecodeError as exc:
        problems.append(AccountProblem(key, f"token list is not JSON: {exc.msg}"))
        return ()
    if not isinstance(loaded, list):
        problems.append(AccountProblem(key, "token list is not a JSON list"))
        return ()
    tokens: list[TokenRecord] = []
    for index, item in enumerate(loaded):
        if not isinstance(item, dict) or not isinstance(item.get("id"), str) or not item["id"]:
            problems.append(AccountProblem(key, f"token {index} has no string id"))
            continue
        iat, exp = item.get("iat", 0), item.get("exp", 0)
        if (
            not isinstance(iat, int)
            or not isinstance(exp, int)
            or isinstance(iat, bool)
            or isinstance(exp, bool)
        ):
            problems.append(AccountProblem(key, f"token {item['id']!r} has non-integer iat/exp"))
            continue
        tokens.append(TokenRecord(item["id"], iat, exp))
    return tuple(tokens)


def _parse_mtime(key: str, raw: str | None, problems: list[AccountProblem]) -> datetime | None:
    if raw is None or raw.strip() == "":
        return None
    try:
        return parse_rfc3339(raw)
    except ValueError:
        problems.append(AccountProblem(key, "not an RFC 3339 timestamp"))
        return None


def _capabilities(key: str, raw: str, problems: list[AccountProblem]) -> frozenset[str]:
    caps = [c.strip() for c in raw.split(",") if c.strip()]
    for cap in caps:
        if cap not in KNOWN_CAPABILITIES:
            problems.append(AccountProblem(key, f"unknown capability {cap!r} (known: apiKey, login)"))
    return frozenset(c for c in caps if c in KNOWN_CAPABILITIES)


def parse_accounts(cm_data: Mapping[str, str], secret: Mapping[str, str]) -> Accounts:
    """Build every local account from argocd-cm ``data`` and the decoded argocd-secret data.

    The built-in ``admin`` account always exists (disabled by ``admin.enabled: "false"``) with the
    ``login`` capability. An ``accounts.admin`` entry in argocd-cm is ignored, with a problem reported.
    Problems (bad JSON, unknown capabilities, bad timestamps) never stop parsing: the bad part is dropped.
    """
    problems: list[AccountProblem] = []
    by_name: dict[str, Account] = {}

    admin_hash = secret.get("admin.password")
    by_name[ADMIN] = Account(
        name=ADMIN,
        enabled=_parse_bool(cm_data.get("admin.enabled"), True),
        capabilities=frozenset({CAPABILITY_LOGIN}),
        password_hash=SecretStr(admin_hash) if admin_hash else None,
        password_mtime=_parse_mtime("admin.passwordMtime", secret.get("admin.passwordMtime"), problems),
        tokens=_parse_tokens("admin.tokens", secret.get("admin.tokens"), problems),
    )

    for key in sorted(cm_data):
        if not key.startswith(_ACCOUNTS_PREFIX) or key.endswith(_ENABLED_SUFFIX):
            continue
        name = key[len(_ACCOUNTS_PREFIX) :]
        if not name:
            continue
        if name == ADMIN:
            problems.append(AccountProblem(key, "the admin account is configured with admin.* keys"))
            continue
        prefix = f"{_ACCOUNTS_PREFIX}{name}"
        pw_hash = secret.get(f"{prefix}.password")
        by_name[name] = Account(
            name=name,
            enabled=_parse_bool(cm_data.get(f"{prefix}{_ENABLED_SUFFIX}"), True),
            capabilities=_capabilities(key, cm_data[key], problems),
            password_hash=SecretStr(pw_hash) if pw_hash else None,
            password_mtime=_parse_mtime(
                f"{prefix}.passwordMtime", secret.get(f"{prefix}.passwordMtime"), problems
            ),
            tokens=_parse_tokens(f"{prefix}.tokens", secret.get(f"{prefix}.tokens"), problems),
        )

    for key in sorted(cm_data):
        if key.startswith(_ACCOUNTS_PREFIX) and key.endswith(_ENABLED_SUFFIX):
            name = key[len(_ACCOUNTS_PREFIX) : -len(_ENABLED_SUFFIX)]
            if name not in by_name:
                problems.append(AccountProblem(key, f"account {name!r} is not declared (accounts.{name})"))
    return Accounts(by_name=by_name, problems=tuple(problems))


def secret_keys_for(name: str) -> tuple[str, str, str]:
    """The argocd-secret keys of an account: (password, passwordMtime, tokens)."""
    prefix = "admin" if name == ADMIN else f"{_ACCOUNTS_PREFIX}{name}"
    return f"{prefix}.password", f"{prefix}.passwordMtime", f"{prefix}.tokens"
