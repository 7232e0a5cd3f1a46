"""Policy text: Argo CD's line parser, ``policy.<name>.csv`` composition and ``argocd-rbac-cm`` data.

Layer 1 (``argosy.core``), pure; standard library only.

Argo CD reads a policy one line at a time (``util/rbac`` ``loadPolicyLine``): the line is
whitespace-trimmed; empty lines and lines *starting* with ``#`` are skipped; the rest is one CSV
record (Go ``encoding/csv`` with leading spaces trimmed, strict quotes). ``p`` lines need exactly
6 fields and ``g`` lines 3; any other first field, any other count or any CSV error rejects the
*whole* policy. Trailing text such as ``# comment`` stays part of the last field.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

__all__ = [
    "MatchMode",
    "PolicyError",
    "PolicyLine",
    "RbacConfig",
    "compose_policy_csv",
    "iter_policy_lines",
    "parse_csv_line",
    "parse_policy",
]

POLICY_CSV_KEY = "policy.csv"
POLICY_DEFAULT_KEY = "policy.default"
MATCH_MODE_KEY = "policy.matchMode"
SCOPES_KEY = "scopes"


class MatchMode(StrEnum):
    """``policy.matchMode``: how resource, action and object patterns are matched."""

    GLOB = "glob"
    REGEX = "regex"

    @classmethod
    def parse(cls, value: str | None) -> MatchMode:
        """Argo CD treats anything but ``regex`` as glob."""
        return cls.REGEX if value == cls.REGEX.value else cls.GLOB


class PolicyError(ValueError):
    """A policy Argo CD would reject as a whole; ``line`` is 1-based within its text."""

    def __init__(self, message: str, *, line: int = 0, text: str = "") -> None:
        super().__init__(f"line {line}: {message}" if line else message)
        self.line = line
        self.text = text
        self.reason = message


@dataclass(frozen=True, slots=True)
class PolicyLine:
    """One parsed ``p`` or ``g`` line; ``fields`` excludes the leading ``p``/``g``."""

    ptype: str
    fields: tuple[str, ...]
    line: int
    text: str


def _is_space(ch: str) -> bool:
    return ch.isspace()


def parse_csv_line(line: str) -> list[str]:
    """Parse one CSV record like Go's ``encoding/csv`` with ``TrimLeadingSpace`` and strict quotes.

    Raises :class:`ValueError` for a bare ``"`` inside an unquoted field, text after a closing
    quote, or an unterminated quoted field.
    """
    fields: list[str] = []
    i, n = 0, len(line)
    while True:
        while i < n and _is_space(line[i]):
            i += 1
        if i < n and line[i] == '"':
            i += 1
            buf: list[str] = []
            while True:
                if i >= n:
                    raise ValueError('extraneous or missing " in quoted-field')
                ch = line[i]
                if ch == '"':
                    if i + 1 < n and line[i + 1] == '"':
                        buf.append('"')
                        i += 2
                        continue
                    i += 1
                    break
                buf.append(ch)
                i += 1
            fields.append("".join(buf))
            if i < n and line[i] != ",":
                raise ValueError('extraneous or missing " in quoted-field')
        else:
            end = line.find(",", i)
            raw = line[i:] if end < 0 else line[i:end]
            if '"' in raw:
                raise ValueError('bare " in non-quoted-field')
            fields.append(raw)
            i = n if end < 0 else end
        if i >= n:
            return fields
        i += 1  # the comma


def iter_policy_lines(text: str) -> Iterator[tuple[int, str]]:
    """Yield ``(line number, trimmed line)`` for every line Argo CD would parse."""
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        yield number, line


def parse_policy(text: str) -> list[PolicyLine]:
    """Parse a policy CSV the way Argo CD loads it; raise :class:`PolicyError` where it would fail."""
    parsed: list[PolicyLine] = []
    for number, line in iter_policy_lines(text):
        try:
            tokens = parse_csv_line(line)
        except ValueError as exc:
            raise PolicyError(str(exc), line=number, text=line) from exc
        key = tokens[0]
        if key == "p" and len(tokens) != 6:
            raise PolicyError(f"p lines need 6 fields, got {len(tokens)}", line=number, text=line)
        if key == "g" and len(tokens) != 3:
            raise PolicyError(f"g lines need 3 fields, got {len(tokens)}", line=number, text=line)
        if key not in ("p", "g"):
            raise PolicyError(f"unknown policy type {key!r} (expected p or g)", line=number, text=line)
        parsed.append(PolicyLine(ptype=key, fields=tuple(tokens[1:]), line=number, text=line))
    return parsed


def compose_policy_csv(data: Mapping[str, str]) -> str:
    """``policy.csv`` first, then every other ``policy.*.csv`` key in sorted order, newline-joined."""
    parts = [data.get(POLICY_CSV_KEY, "")]
    parts.extend(
        "\n" + data[key]
        for key in sorted(data)
        if key.startswith("policy.") and key.endswith(".csv") and key != POLICY_CSV_KEY
    )
    return "".join(parts)


def _parse_scopes(value: str | None) -> tuple[str, ...]:
    """``scopes: '[groups, email]'`` (a YAML-ish flow list); default ``groups``."""
    if value is None or not value.strip():
        return ("groups",)
    inner = value.strip()
    if inner.startswith("[") and inner.endswith("]"):
        inner = inner[1:-1]
    scopes = tuple(s.strip().strip("'\"") for s in inner.split(",") if s.strip().strip("'\""))
    return scopes or ("groups",)


@dataclass(frozen=True, slots=True)
class RbacConfig:
    """The RBAC settings of ``argocd-rbac-cm``."""

    policy_csv: str = ""
    default_role: str = ""
    match_mode: MatchMode = MatchMode.GLOB
    scopes: tuple[str, ...] = ("groups",)
    sources: tuple[tuple[str, str], ...] = field(default=())

    @classmethod
    def from_configmap_data(cls, data: Mapping[str, str]) -> RbacConfig:
        """Build from a ConfigMap's ``data`` (policy.csv, policy.*.csv, policy.default, ...)."""
        sources: list[tuple[str, str]] = []
        if POLICY_CSV_KEY in data:
            sources.append((POLICY_CSV_KEY, data[POLICY_CSV_KEY]))
        sources.extend(
            (key, data[key])
            for key in sorted(data)
            if key.startswith("policy.") and key.endswith(".csv") and key != POLICY_CSV_KEY
        )
        return cls(
            policy_csv=compose_policy_csv(data),
            default_role=data.get(POLICY_DEFAULT_KEY, "") or "",
            match_mode=MatchMode.parse(data.get(MATCH_MODE_KEY)),
            scopes=_parse_scopes(data.get(SCOPES_KEY)),
            sources=tuple(sources),
        )


def policy_sources(config: RbacConfig) -> Sequence[tuple[str, str]]:
    """The (key, text) pairs a config was composed from, or one pseudo-key for plain CSV."""
    return config.sources or ((POLICY_CSV_KEY, config.policy_csv),)
