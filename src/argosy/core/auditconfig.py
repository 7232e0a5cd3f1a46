"""Audit log settings from the ``argocd-server-config`` ConfigMap (spec §7.4). Pure (layer 1).

These keys are an Argosy feature: Argo CD has no audit-log file (its audit trail is Kubernetes Events
and Git history, argocd-semantics.md §1.11 and §5). Defaults follow lumberjack's, whose semantics the
spec's keys mirror: ``maxsize`` 100 MB, ``maxage`` 0 (never prune by age), ``maxbackups`` 0 (keep all).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

__all__ = ["DEFAULT_AUDIT_LOG_PATH", "AuditConfig", "parse_audit_config"]

DEFAULT_AUDIT_LOG_PATH = "/tmp/argosy-audit.log"  # noqa: S108 - the spec's example location, overridable
_MB = 1024 * 1024


@dataclass(frozen=True)
class AuditConfig:
    enabled: bool = False
    path: str = DEFAULT_AUDIT_LOG_PATH
    max_size_mb: int = 100
    max_age_days: int = 0
    max_backups: int = 0
    problems: tuple[str, ...] = ()

    @property
    def max_size_bytes(self) -> int:
        return self.max_size_mb * _MB

    @property
    def max_age(self) -> timedelta | None:
        return timedelta(days=self.max_age_days) if self.max_age_days > 0 else None


def _non_negative_int(data: Mapping[str, str], key: str, default: int, problems: list[str]) -> int:
    raw = data.get(key)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        problems.append(f"{key}: {raw!r} is not an integer; using {default}")
        return default
    if value < 0:
        problems.append(f"{key}: {value} is negative; using {default}")
        return default
    return value


def parse_audit_config(data: Mapping[str, str]) -> AuditConfig:
    """Parse ``server.audit.*`` keys. Bad values fall back to the default and are listed in ``problems``."""
    problems: list[str] = []
    raw_enabled = (data.get("server.audit.enabled") or "").strip().lower()
    if raw_enabled in {"", "0", "f", "false"}:
        enabled = False
    elif raw_enabled in {"1", "t", "true"}:
        enabled = True
    else:
        problems.append(f"server.audit.enabled: {raw_enabled!r} is not a boolean; audit stays off")
        enabled = False
    path = (data.get("server.audit.logpath") or "").strip() or DEFAULT_AUDIT_LOG_PATH
    max_size = _non_negative_int(data, "server.audit.maxsize", 100, problems)
    if max_size == 0:
        problems.append("server.audit.maxsize: 0 means the default, 100")
        max_size = 100
    return AuditConfig(
        enabled=enabled,
        path=path,
        max_size_mb=max_size,
        max_age_days=_non_negative_int(data, "server.audit.maxage", 0, problems),
        max_backups=_non_negative_int(data, "server.audit.maxbackups", 0, problems),
        problems=tuple(problems),
    )
