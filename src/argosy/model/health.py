"""Health vocabulary: the status codes of Argo CD and the result of one assessment.

Layer 0 (``argosy.model``): standard library only.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class HealthStatus(StrEnum):
    """Argo CD health status codes, declared from most to least healthy."""

    HEALTHY = "Healthy"
    SUSPENDED = "Suspended"
    PROGRESSING = "Progressing"
    MISSING = "Missing"
    DEGRADED = "Degraded"
    UNKNOWN = "Unknown"

    @property
    def rank(self) -> int:
        """Position in Argo CD's ``healthOrder``; a higher rank is worse."""
        return _ORDER.index(self)

    def is_worse_than(self, other: HealthStatus) -> bool:
        """Argo CD's ``IsWorse(current=other, new=self)``."""
        return self.rank > other.rank

    @classmethod
    def parse(cls, value: str) -> HealthStatus | None:
        """The status whose value is exactly ``value``, or None (Argo CD status codes are case-sensitive)."""
        try:
            return cls(value)
        except ValueError:
            return None


_ORDER: tuple[HealthStatus, ...] = (
    HealthStatus.HEALTHY,
    HealthStatus.SUSPENDED,
    HealthStatus.PROGRESSING,
    HealthStatus.MISSING,
    HealthStatus.DEGRADED,
    HealthStatus.UNKNOWN,
)

HEALTH_ORDER: tuple[HealthStatus, ...] = _ORDER
"""Most healthy first, as Argo CD's ``healthOrder``."""


def worst(statuses: list[HealthStatus] | tuple[HealthStatus, ...]) -> HealthStatus:
    """The worst of ``statuses``; Healthy when there are none."""
    result = HealthStatus.HEALTHY
    for status in statuses:
        if status.is_worse_than(result):
            result = status
    return result


@dataclass(frozen=True, slots=True)
class HealthResult:
    """The health of one resource: a status code and a human message (may be empty)."""

    status: HealthStatus
    message: str = ""
