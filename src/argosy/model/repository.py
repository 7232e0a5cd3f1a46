"""Repository vocabulary: credentials (as Argo CD stores them), resolved revisions, URL normalisation.

Pure and stdlib-only. Secret values never appear in ``repr``: every secret field prints as ``'***'``
when set, so a credentials object can be logged or shown in a traceback safely.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from datetime import datetime

__all__ = [
    "SECRET_FIELDS",
    "CommitMetadata",
    "RepoCredentials",
    "ResolvedRevision",
    "SSHKnownHost",
    "normalize_repo_url",
    "normalize_repo_url_prefix",
    "redact_url",
    "repo_url_host",
    "strip_url_password",
]

SECRET_FIELDS = frozenset({"password", "ssh_private_key", "bearer_token", "tls_client_cert_key"})

# ``user@host:path`` (scp-like syntax); a ``:`` before the first ``/`` and no scheme.
_SCP_LIKE = re.compile(r"^(?:(?P<user>[^@/:]+)@)?(?P<host>[^@/:]+):(?P<path>(?!//).*)$")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_URL = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?P<netloc>[^/?#]*)(?P<rest>.*)$", re.DOTALL)
_HOSTPORT = re.compile(r"^(?:\[(?P<ip6>[^\]]*)\]|(?P<host>[^:]*))(?::(?P<port>\d*))?$")


@dataclass(frozen=True, slots=True)
class _URLParts:
    scheme: str
    user: str
    password: str | None
    hostport: str
    rest: str

    def join(self, password: str | None) -> str:
        userinfo = self.user + (f":{password}" if password is not None else "")
        at = "@" if userinfo else ""
        return f"{self.scheme}://{userinfo}{at}{self.hostport}{self.rest}"


def _split(url: str) -> _URLParts | None:
    """Split a ``scheme://[user[:password]@]host[:port]/...`` URL (stdlib-free, no I/O modules)."""
    match = _URL.match(url)
    if match is None:
        return None
    userinfo, at, hostport = match["netloc"].rpartition("@")
    user, colon, password = userinfo.partition(":") if at else ("", "", "")
    return _URLParts(match["scheme"], user, password if colon else None, hostport, match["rest"])


@dataclass(frozen=True, slots=True)
class RepoCredentials:
    """Credentials and connection options for one repository URL (or a URL prefix, for templates).

    Field names follow the Argo CD repository Secret keys (``sshPrivateKey`` -> ``ssh_private_key``,
    ``enableLfs`` -> ``enable_lfs`` ...). ``password`` holds a password or an access token.
    """

    url: str
    type: str = "git"
    name: str = ""
    project: str = ""
    username: str = ""
    password: str = field(default="", repr=False)
    bearer_token: str = field(default="", repr=False)
    ssh_private_key: str = field(default="", repr=False)
    tls_client_cert_data: str = ""
    tls_client_cert_key: str = field(default="", repr=False)
    insecure: bool = False
    enable_lfs: bool = False
    force_http_basic_auth: bool = False

    def __repr__(self) -> str:
        parts = []
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in SECRET_FIELDS or f.name == "tls_client_cert_data":
                shown = "'***'" if value else "''"
            else:
                shown = repr(redact_url(value) if f.name == "url" else value)
            parts.append(f"{f.name}={shown}")
        return f"RepoCredentials({', '.join(parts)})"

    __str__ = __repr__

    def has_credentials(self) -> bool:
        """True when this carries any authentication material (Argo CD's ``HasCredentials``)."""
        return bool(
            self.username
            or self.password
            or self.bearer_token
            or self.ssh_private_key
            or self.tls_client_cert_data
            or self.tls_client_cert_key
        )

    def secret_values(self) -> tuple[str, ...]:
        """Every non-empty secret value, for scrubbers; never log this."""
        values = [getattr(self, name) for name in sorted(SECRET_FIELDS)]
        _, url_password = _userinfo(self.url)
        values.append(url_password)
        return tuple(v for v in values if v)


@dataclass(frozen=True, slots=True)
class CommitMetadata:
    """One commit's author, committer date and message (Argo CD's ``RevisionMetadata``).

    The committer date is what DORA's lead time starts from: it is when the change reached the
    branch (a rebased or cherry-picked commit keeps its old author date).
    """

    sha: str
    author: str
    committed_at: datetime
    message: str


@dataclass(frozen=True, slots=True)
class ResolvedRevision:
    """A symbolic revision (branch, tag, ``HEAD``, SHA) pinned to a commit SHA.

    ``ref`` is the full ref the revision matched (``refs/heads/main``), empty for SHAs.
    """

    repo_url: str
    revision: str
    sha: str
    ref: str = ""


@dataclass(frozen=True, slots=True)
class SSHKnownHost:
    """One line of an OpenSSH ``known_hosts`` file (``argocd-ssh-known-hosts-cm``)."""

    hosts: tuple[str, ...]
    key_type: str
    key: str
    marker: str = ""  # "@cert-authority" or "@revoked"
    comment: str = ""

    def line(self) -> str:
        head = [self.marker] if self.marker else []
        tail = [self.comment] if self.comment else []
        return " ".join([*head, ",".join(self.hosts), self.key_type, self.key, *tail])


def _userinfo(url: str) -> tuple[str, str]:
    parts = _split(url)
    if parts is None:
        return "", ""
    return parts.user, parts.password or ""


def strip_url_password(url: str) -> str:
    """``https://user:secret@host/x`` -> ``https://user@host/x``; other URLs unchanged."""
    parts = _split(url)
    if parts is None or parts.password is None:
        return url
    return parts.join(None)


def redact_url(url: str) -> str:
    """The URL as it may be shown: any password in it replaced by ``***``."""
    parts = _split(url)
    if parts is None or parts.password is None:
        return url
    return parts.join("***")


def _to_ssh_scheme(url: str) -> str:
    """``git@host:org/repo`` -> ``ssh://git@host/org/repo``; anything with a scheme is unchanged."""
    if _SCHEME.match(url):
        return url
    match = _SCP_LIKE.match(url)
    if match is None:
        return url
    user = f"{match['user']}@" if match["user"] else ""
    path = match["path"]
    return f"ssh://{user}{match['host']}/{path.lstrip('/')}"


def normalize_repo_url_prefix(url: str) -> str:
    """Normalise a credential-template URL: like :func:`normalize_repo_url` but a trailing ``/`` stays.

    Keeping the slash matters for prefix matching: ``https://host/org/`` must not match
    ``https://host/org-other/repo``, while ``https://host/org`` does (as in Argo CD).
    """
    text = _to_ssh_scheme(url.strip().lower())
    text = strip_url_password(text)
    return text.removesuffix(".git")


def normalize_repo_url(url: str) -> str:
    """The comparison form of a repository URL, used for matching and for cache keys.

    Lower case, surrounding blanks, a password, trailing ``/`` and ``.git`` removed, and scp-like
    ``git@host:org/repo`` rewritten to ``ssh://git@host/org/repo``, so all of these are equal::

        git@github.com:Org/Repo.git   ssh://git@github.com/org/repo   ssh://git@github.com/org/repo/
    """
    text = normalize_repo_url_prefix(url).rstrip("/")
    return text.removesuffix(".git").rstrip("/")


def repo_url_host(url: str) -> tuple[str, int | None]:
    """(hostname, port) of a repository URL in either syntax; ``("", None)`` when there is none."""
    parts = _split(_to_ssh_scheme(url.strip()))
    if parts is None:
        return "", None
    match = _HOSTPORT.match(parts.hostport)
    if match is None:
        return "", None
    host = match["ip6"] if match["ip6"] is not None else match["host"]
    port = int(match["port"]) if match["port"] else None
    return host.lower(), port
