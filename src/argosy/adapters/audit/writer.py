"""The audit log writer: JSON lines, lumberjack-style rotation, masking, and no exceptions to callers.

**Format.** One JSON object per line, keys in a fixed order: ``time`` (RFC 3339 UTC with milliseconds),
``actor``, ``groups``, ``source``, ``action``, ``kind``, ``name``, ``namespace``, ``project``,
``application``, ``outcome``, ``requestId``, ``summary`` and, when set, ``message``.

**Rotation** follows lumberjack (whose ``maxsize``/``maxbackups``/``maxage`` the spec's keys mirror):

* Before a write that would make the file larger than ``max_size_bytes``, ``audit.log`` is renamed to
  ``audit-<UTC time>.log`` (``audit-2025-03-01T12-00-00.000.log``) and a new ``audit.log`` is opened.
  A single line larger than the limit is still written, alone in a fresh file (an audit record is never
  dropped for its size).
* Then backups beyond ``max_backups`` (0 = keep all) are deleted, oldest first, and so are backups whose
  name time is older than ``max_age`` (None = keep forever). The age comes from the time in the name,
  as in lumberjack, so it does not depend on file mtimes.

**Masking.** ``summary`` goes first through the caller's ``mask`` (for example the core's Secret
masking), then through :func:`mask_secret_objects`, which replaces every value under ``data`` and
``stringData`` of any object with ``kind: Secret`` by ``++++++++``; when the event's own ``kind`` is
``Secret``, every ``data``/``stringData`` mapping in the summary is masked, whatever its shape.

**Failures.** :meth:`AuditLogWriter.write` never raises. A failed write (or masking error, or a value
JSON cannot encode even as text) is counted in :attr:`AuditLogWriter.stats` with the last error, and
logged once per distinct error through :mod:`logging`. Thread-safe within one process (one lock); not
safe for several processes writing one file.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

__all__ = ["MASK", "AuditEvent", "AuditLogWriter", "AuditStats", "mask_secret_objects"]

log = logging.getLogger(__name__)

MASK = "++++++++"
_SECRET_FIELDS = ("data", "stringData")
_BACKUP_TIME_FORMAT = "%Y-%m-%dT%H-%M-%S"


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _rfc3339(moment: datetime) -> str:
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


@dataclass(frozen=True)
class AuditEvent:
    actor: str
    action: str
    outcome: str  # "success", "denied", "failure"
    groups: Sequence[str] = ()
    source: str = ""
    kind: str = ""
    name: str = ""
    namespace: str = ""
    project: str = ""
    application: str = ""
    request_id: str = ""
    summary: Any = None
    message: str = ""
    time: datetime | None = None  # None: the writer's clock

    def __repr__(self) -> str:  # the summary may hold object content: keep it out of tracebacks
        return (
            f"AuditEvent(actor={self.actor!r}, action={self.action!r}, kind={self.kind!r}, "
            f"name={self.name!r}, outcome={self.outcome!r}, request_id={self.request_id!r})"
        )


@dataclass
class AuditStats:
    written: int = 0
    failed: int = 0
    rotations: int = 0
    removed_backups: int = 0
    last_error: str = ""


def _mask_fields(obj: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(obj)
    for key in _SECRET_FIELDS:
        value = out.get(key)
        if isinstance(value, Mapping):
            out[key] = dict.fromkeys(value, MASK)
        elif value is not None:
            out[key] = MASK
    return out


def mask_secret_objects(value: Any, *, mask_all: bool = False) -> Any:
    """Return a copy of ``value`` with Secret ``data``/``stringData`` values replaced by ``++++++++``.

    Any mapping with ``kind: Secret`` is masked. With ``mask_all`` every mapping's ``data`` and
    ``stringData`` are masked (used when the audited resource itself is a Secret, whose summary may be
    a bare patch without ``kind``). Keys are kept so a reader still sees *which* keys changed.
    """
    if isinstance(value, Mapping):
        items = {str(k): mask_secret_objects(v, mask_all=mask_all) for k, v in value.items()}
        if mask_all or items.get("kind") == "Secret":
            return _mask_fields(items)
        return items
    if isinstance(value, list | tuple):
        return [mask_secret_objects(v, mask_all=mask_all) for v in value]
    return value


class AuditLogWriter:
    """Appends :class:`AuditEvent` lines to ``path`` and rotates the file.

    ``clock`` (default: the wall clock) stamps events without a time and names backups; tests inject one.
    ``mask`` is applied to each summary before the built-in Secret masking.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        max_size_bytes: int = 100 * 1024 * 1024,
        max_backups: int = 0,
        max_age: timedelta | None = None,
        clock: Callable[[], datetime] = _utcnow,
        mask: Callable[[Any], Any] | None = None,
    ) -> None:
        if max_size_bytes <= 0:
            raise ValueError("max_size_bytes must be positive")
        if max_backups < 0:
            raise ValueError("max_backups must not be negative")
        self.path = Path(path)
        self.max_size_bytes = max_size_bytes
        self.max_backups = max_backups
        self.max_age = max_age if max_age is not None and max_age > timedelta(0) else None
        self._clock = clock
        self._mask = mask
        self._lock = threading.Lock()
        self._file: IO[bytes] | None = None
        self._size = 0
        self._stats = AuditStats()
        self._logged_errors: set[str] = set()
        stem, suffix = self.path.stem, self.path.suffix
        self._backup_re = re.compile(
            re.escape(stem) + r"-(\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2})\.(\d{3})" + re.escape(suffix) + r"$"
        )

    # -- public API -------------------------------------------------------------------------------

    @property
    def stats(self) -> AuditStats:
        with self._lock:
            return AuditStats(**vars(self._stats))

    def write(self, event: AuditEvent) -> bool:
        """Append one event. Returns False (and counts the failure) instead of raising."""
        try:
            line = self._render(event)
        except Exception as exc:  # masking or encoding failed: never let it reach the caller
            with self._lock:
                self._fail("render", exc)
            return False
        with self._lock:
            try:
                self._write_line(line)
            except Exception as exc:
                self._close_quietly()
                self._fail("write", exc)
                return False
            self._stats.written += 1
            return True

    def backups(self) -> list[Path]:
        """Existing backups, oldest first."""
        return [p for _, p in self._backups()]

    def close(self) -> None:
        with self._lock:
            self._close_quietly()

    def __enter__(self) -> AuditLogWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- rendering --------------------------------------------------------------------------------

    def _render(self, event: AuditEvent) -> bytes:
        summary = event.summary
        if summary is not None and self._mask is not None:
            summary = self._mask(summary)
        if summary is not None:
            summary = mask_secret_objects(summary, mask_all=event.kind == "Secret")
        record: dict[str, Any] = {
            "time": _rfc3339(event.time or self._clock()),
            "actor": event.actor,
            "groups": list(event.groups),
            "source": event.source,
            "action": event.action,
            "kind": event.kind,
            "name": event.name,
            "namespace": event.namespace,
            "project": event.project,
            "application": event.application,
            "outcome": event.outcome,
            "requestId": event.request_id,
            "summary": summary,
        }
        if event.message:
            record["message"] = event.message
        text = json.dumps(record, ensure_ascii=False, separators=(",", ":"), default=str)
        return (text + "\n").encode("utf-8")

    # -- file handling (called with the lock held) ------------------------------------------------

    def _open(self) -> IO[bytes]:
        if self._file is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = self.path.open("ab")
            self._size = self.path.stat().st_size
        return self._file

    def _write_line(self, line: bytes) -> None:
        handle = self._open()
        if self._size > 0 and self._size + len(line) > self.max_size_bytes:
            self._rotate()
            handle = self._open()
        handle.write(line)
        handle.flush()
        self._size += len(line)

    def _backup_name(self, moment: datetime) -> Path:
        moment = moment.astimezone(UTC)
        while True:
            stamp = moment.strftime(_BACKUP_TIME_FORMAT) + f".{moment.microsecond // 1000:03d}"
            candidate = self.path.with_name(f"{self.path.stem}-{stamp}{self.path.suffix}")
            if not candidate.exists():
                return candidate
            moment += timedelta(milliseconds=1)

    def _rotate(self) -> None:
        self._close_quietly()
        if self.path.exists():
            self.path.rename(self._backup_name(self._clock()))
            self._stats.rotations += 1
        self._prune()

    def _backups(self) -> list[tuple[datetime, Path]]:
        found: list[tuple[datetime, Path]] = []
        directory = self.path.parent
        if not directory.is_dir():
            return found
        for child in directory.iterdir():
            match = self._backup_re.match(child.name)
            if not match or not child.is_file():
                continue
            try:
                moment = datetime.strptime(match.group(1), _BACKUP_TIME_FORMAT).replace(tzinfo=UTC)
            except ValueError:
                continue
            found.append((moment + timedelta(milliseconds=int(match.group(2))), child))
        found.sort()
        return found

    def _prune(self) -> None:
        backups = self._backups()
        doomed: list[Path] = []
        if self.max_age is not None:
            cutoff = self._clock() - self.max_age
            doomed += [p for moment, p in backups if moment < cutoff]
            backups = [(m, p) for m, p in backups if m >= cutoff]
        if self.max_backups > 0 and len(backups) > self.max_backups:
            doomed += [p for _, p in backups[: len(backups) - self.max_backups]]
        for path in doomed:
            try:
                path.unlink()
                self._stats.removed_backups += 1
            except FileNotFoundError:
                continue
            except OSError as exc:  # a stale backup is not worth losing the event over
                self._fail("prune", exc, count=False)

    def _close_quietly(self) -> None:
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.close()
            self._file = None
            self._size = 0

    def _fail(self, stage: str, exc: BaseException, *, count: bool = True) -> None:
        """Count (unless ``count`` is False) and log once per kind. Called with the lock held."""
        # A render error may quote the summary it choked on, which may hold secrets: name the type only.
        detail = type(exc).__name__ if stage == "render" else f"{type(exc).__name__}: {exc}"
        message = f"audit log {stage} failed: {detail}"
        if count:
            self._stats.failed += 1
            self._stats.last_error = message
        key = f"{stage}:{type(exc).__name__}"
        if key not in self._logged_errors:
            self._logged_errors.add(key)
            log.error("%s (further errors of this kind are counted, not logged)", message)
