"""Argo CD's notification helper objects: ``time``, ``strings``, ``repo`` and ``sync``.

Layer 1 (``argosy.core``), pure; standard library and sibling modules only. Anything that Argo CD
fetches (commit metadata from the repo server, app details) is *provided* by the caller as plain
data in :class:`RepoData`; nothing here does I/O.

The same objects serve triggers (members read through :class:`~argosy.core.notify.gotime.ExprObject`)
and templates (:func:`template_helpers` exposes them as dicts of callables, which is what Go's
``{{call .repo.RepoURLToHTTPS .app.spec.source.repoURL}}`` expects).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from argosy.core.notify.gotime import ExprObject, TimeHelpers

__all__ = [
    "RepoData",
    "RepoHelpers",
    "StringsHelpers",
    "SyncHelpers",
    "expr_env",
    "full_name_by_repo_url",
    "query_escape",
    "repo_url_to_https",
    "template_helpers",
]

_SCP_RE = re.compile(r"^(?:(?P<user>[^@/]+)@)?(?P<host>[^:/]+):(?P<path>(?!//).*)$")
_URL_RE = re.compile(
    r"^(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*)://(?:(?P<user>[^@/]*)@)?(?P<host>[^/]*)(?P<path>/.*)?$"
)


def _split_repo_url(raw: str) -> tuple[str, str]:
    """(host[:port], path) of a git URL in URL or scp-like (``git@host:org/repo``) form."""
    url = _URL_RE.match(raw)
    if url is not None:
        return url.group("host"), url.group("path") or ""
    scp = _SCP_RE.match(raw)
    if scp is not None:
        return scp.group("host"), "/" + scp.group("path").lstrip("/")
    raise ValueError(f"cannot parse repository URL {raw!r}")


_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~")


def query_escape(text: str) -> str:
    """Go's ``url.QueryEscape``: space becomes ``+``, everything but ``[A-Za-z0-9-_.~]`` is %XX."""
    out: list[str] = []
    for byte in text.encode("utf-8"):
        if byte in _UNRESERVED:
            out.append(chr(byte))
        elif byte == 0x20:
            out.append("+")
        else:
            out.append(f"%{byte:02X}")
    return "".join(out)


def repo_url_to_https(raw: object) -> str:
    """``repo.RepoURLToHTTPS``: same host and path, scheme ``https``, user dropped."""
    host, path = _split_repo_url(str(raw))
    return f"https://{host}{path}"


def full_name_by_repo_url(raw: object) -> str:
    """``repo.FullNameByRepoURL``: the first two path segments without ``.git`` (``org/repo``)."""
    _, path = _split_repo_url(str(raw))
    path = re.sub(r"\.git$", "", path)
    parts = [p for p in path.split("/") if p]
    return "/".join(parts[:2]) if len(parts) >= 2 else path


@dataclass(frozen=True, slots=True)
class RepoData:
    """What the shell fetched for the repo helpers.

    ``commits`` maps a revision to ``{"Message", "Author", "Date", "Tags"}`` (Argo CD's
    ``RevisionMetadata`` field names); ``app_details`` is the ``GetAppDetails()`` result
    (``{"Type": "Helm", "Helm": {...}}`` and so on).
    """

    commits: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    app_details: Mapping[str, Any] | None = None


class StringsHelpers(ExprObject):
    """``strings.ReplaceAll``, ``strings.ToUpper``, ``strings.ToLower``."""

    EXPORTED = frozenset({"ReplaceAll", "ToUpper", "ToLower"})

    def ReplaceAll(self, s: str, old: str, new: str) -> str:
        return str(s).replace(str(old), str(new))

    def ToUpper(self, s: str) -> str:
        return str(s).upper()

    def ToLower(self, s: str) -> str:
        return str(s).lower()


class RepoHelpers(ExprObject):
    """``repo.RepoURLToHTTPS``, ``FullNameByRepoURL``, ``QueryEscape``, ``GetCommitMetadata``,
    ``GetAppDetails`` over data the shell provides."""

    EXPORTED = frozenset(
        {"RepoURLToHTTPS", "FullNameByRepoURL", "QueryEscape", "GetCommitMetadata", "GetAppDetails"}
    )

    def __init__(self, data: RepoData) -> None:
        self._data = data

    def RepoURLToHTTPS(self, url: str) -> str:
        return repo_url_to_https(url)

    def FullNameByRepoURL(self, url: str) -> str:
        return full_name_by_repo_url(url)

    def QueryEscape(self, s: str) -> str:
        return query_escape(str(s))

    def GetCommitMetadata(self, sha: str) -> Mapping[str, Any]:
        commit = self._data.commits.get(str(sha))
        if commit is None:
            raise LookupError(f"commit metadata for revision {sha!r} is not available")
        return commit

    def GetAppDetails(self) -> Mapping[str, Any]:
        if self._data.app_details is None:
            raise LookupError("application details are not available")
        return self._data.app_details


class SyncHelpers(ExprObject):
    """``sync.GetInfoItem(app, name)``: the value of the sync operation's ``info`` item ``name``.

    Reads ``app.operation.info`` (the running operation) and then
    ``app.status.operationState.operation.info`` (kept after it finishes).
    """

    EXPORTED = frozenset({"GetInfoItem"})

    def GetInfoItem(self, app: Mapping[str, Any], name: str) -> str:
        for info in _info_lists(app):
            for item in info:
                if isinstance(item, Mapping) and item.get("name") == name:
                    return str(item.get("value", ""))
        raise LookupError(f"application has no info item with name {name}")


def _info_lists(app: Mapping[str, Any]) -> list[list[Any]]:
    found: list[list[Any]] = []
    operation = app.get("operation")
    status = app.get("status")
    state = status.get("operationState") if isinstance(status, Mapping) else None
    for op in (operation, state.get("operation") if isinstance(state, Mapping) else None):
        if isinstance(op, Mapping) and isinstance(op.get("info"), list):
            found.append(op["info"])
    return found


def expr_env(app: Mapping[str, Any], *, now: datetime, repo: RepoData | None = None) -> dict[str, object]:
    """The variables a trigger's ``when``/``oncePer`` sees."""
    return {
        "app": app,
        "time": TimeHelpers(now),
        "strings": StringsHelpers(),
        "repo": RepoHelpers(repo or RepoData()),
        "sync": SyncHelpers(),
    }


def _plain_function(method: Callable[..., object]) -> Callable[..., object]:
    # gotpl invokes a *bound method* found as a map value on field access (Go returns the func
    # value, for ``call`` to invoke); a plain function is left alone, so wrap each method.
    def function(*args: object) -> object:
        return method(*args)

    function.__name__ = getattr(method, "__name__", "helper")
    return function


def _callables(obj: ExprObject) -> dict[str, object]:
    out: dict[str, object] = {}
    for name in sorted(obj.EXPORTED):
        value = getattr(obj, name)
        out[name] = _plain_function(value) if callable(value) else value
    return out


def template_helpers(*, now: datetime, repo: RepoData | None = None) -> dict[str, dict[str, object]]:
    """``.time``, ``.strings``, ``.repo``, ``.sync`` for templates: dicts of callables and constants."""
    helpers: dict[str, ExprObject] = {
        "time": TimeHelpers(now),
        "strings": StringsHelpers(),
        "repo": RepoHelpers(repo or RepoData()),
        "sync": SyncHelpers(),
    }
    return {key: _callables(obj) for key, obj in helpers.items()}
