"""Typed Git errors whose messages never carry a credential.

Every message goes through a :class:`Scrubber` built from the credentials of the call, and names the
repository by its URL with any password removed.
"""

from __future__ import annotations

import base64
import enum
import re
from collections.abc import Iterable
from urllib.parse import quote

from argosy.model.repository import RepoCredentials, redact_url

__all__ = ["GitError", "GitErrorKind", "Scrubber", "classify_stderr"]

MASK = "***"
_MIN_SECRET_LENGTH = 6
_URL_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<user>[^/@\s:]*):(?P<pw>[^/@\s]*)@")
_AUTH_HEADER = re.compile(r"(Authorization:\s*(?:Basic|Bearer)\s+)\S+", re.IGNORECASE)


class GitErrorKind(enum.Enum):
    AUTHENTICATION = "authentication failed"
    HOST_KEY = "host key verification failed"
    REVISION_NOT_FOUND = "revision not found"
    REPOSITORY_NOT_FOUND = "repository not found"
    NETWORK = "network error"
    TIMEOUT = "timed out"
    UNSUPPORTED = "unsupported"
    FAILED = "git failed"


class Scrubber:
    """Replaces every known secret value (and its common encodings) in a text with ``***``."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        values: set[str] = set()
        for secret in secrets:
            if not secret:
                continue
            # The value itself is always masked, however short; derived fragments (one line of a
            # key, encodings) only from a length where they cannot be ordinary words.
            values.update(v for v in {secret, secret.strip()} if v)
            derived = {quote(secret, safe=""), quote(secret)}
            derived.update(line.strip() for line in secret.splitlines())
            values.update(v for v in derived if len(v) >= _MIN_SECRET_LENGTH)
        self._values = sorted(values, key=len, reverse=True)

    @classmethod
    def for_credentials(cls, creds: RepoCredentials | None) -> Scrubber:
        if creds is None:
            return cls()
        secrets = list(creds.secret_values())
        if creds.username or creds.password:
            pair = f"{creds.username}:{creds.password}".encode()
            secrets.append(base64.b64encode(pair).decode())
        return cls(secrets)

    def __call__(self, text: str) -> str:
        for value in self._values:
            text = text.replace(value, MASK)
        text = _AUTH_HEADER.sub(rf"\g<1>{MASK}", text)
        return _URL_USERINFO.sub(rf"\g<scheme>\g<user>:{MASK}@", text)


class GitError(RuntimeError):
    """A Git operation failed. ``str(error)`` is ``"<repo url>: <kind>: <detail>"``, scrubbed."""

    def __init__(
        self, repo_url: str, kind: GitErrorKind, detail: str = "", *, scrubber: Scrubber | None = None
    ) -> None:
        scrub = scrubber or Scrubber()
        self.repo_url = scrub(redact_url(repo_url))
        self.kind = kind
        self.detail = scrub(detail.strip())
        message = f"{self.repo_url}: {kind.value}"
        if self.detail:
            message += f": {self.detail}"
        super().__init__(message)


_PATTERNS: tuple[tuple[GitErrorKind, re.Pattern[str]], ...] = (
    (
        GitErrorKind.HOST_KEY,
        re.compile(
            r"Host key verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED|"
            r"No \S+ host key is known|host key for .* has changed",
            re.IGNORECASE,
        ),
    ),
    (
        GitErrorKind.AUTHENTICATION,
        re.compile(
            r"Authentication failed|could not read (Username|Password)|"
            r"returned error: 40[13]|HTTP (Basic: )?Access denied|Permission denied \(|"
            r"Permission denied, please try again|Invalid username or password|"
            r"terminal prompts disabled|401 Unauthorized|403 Forbidden|Load key .*: invalid format|"
            r"error in libcrypto",
            re.IGNORECASE,
        ),
    ),
    (
        GitErrorKind.REPOSITORY_NOT_FOUND,
        re.compile(
            r"repository '.*' not found|does not appear to be a git repository|returned error: 404|"
            r"not a git repository|No such file or directory.*\.git",
            re.IGNORECASE,
        ),
    ),
    (
        GitErrorKind.REVISION_NOT_FOUND,
        re.compile(
            r"couldn't find remote ref|not our ref|no such remote ref|unknown revision|bad revision|"
            r"bad object|not a valid object name|invalid reference|Needed a single revision|"
            r"did not match any|fatal: remote error: upload-pack: not our ref",
            re.IGNORECASE,
        ),
    ),
    (
        GitErrorKind.NETWORK,
        re.compile(
            r"Could not resolve host|Connection refused|Connection timed out|Connection reset|"
            r"Failed to connect|Network is unreachable|Operation timed out|SSL certificate problem|"
            r"server certificate verification failed|unable to access|Connection closed by|"
            r"ssh: connect to host|early EOF|the remote end hung up",
            re.IGNORECASE,
        ),
    ),
)

UNADVERTISED = re.compile(
    r"unadvertised object|not our ref|Server does not allow request|want .* not valid|"
    r"couldn't find remote ref [0-9a-f]{40}",
    re.IGNORECASE,
)


def classify_stderr(stderr: str) -> GitErrorKind:
    """The kind of failure git's (``LC_ALL=C``) standard error describes."""
    for kind, pattern in _PATTERNS:
        if pattern.search(stderr):
            return kind
    return GitErrorKind.FAILED


def summarize_stderr(stderr: str, limit: int = 400) -> str:
    """The informative lines of git's standard error, joined, for an error's detail."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    lines = [line for line in lines if not line.startswith(("remote: Enumerating", "remote: Counting"))]
    text = " | ".join(lines[-4:])
    return text if len(text) <= limit else "..." + text[-limit:]
