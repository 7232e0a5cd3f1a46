"""Go-flavoured time values for triggers and templates: ``time.Time`` and ``time.Duration``.

Layer 1 (``argosy.core``), pure; standard library only. ``Now`` is never read from the wall clock:
:class:`TimeHelpers` is built with the ``now`` the caller passes in. ``Local`` is UTC (the
controller reports in UTC; there is no local zone in a pure function).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

__all__ = [
    "Duration",
    "GoTime",
    "TimeHelpers",
    "format_go_layout",
    "parse_rfc3339",
]

NANOSECOND = 1
MICROSECOND = 1_000
MILLISECOND = 1_000_000
SECOND = 1_000_000_000
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE

RFC3339 = "2006-01-02T15:04:05Z07:00"
RFC3339_NANO = "2006-01-02T15:04:05.999999999Z07:00"

_RFC3339_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})$"
)


class ExprObject:
    """Base for objects whose members expressions may read: only names in ``EXPORTED``."""

    EXPORTED: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True, order=True)
class Duration(ExprObject):
    """A Go ``time.Duration``: an integer count of nanoseconds."""

    ns: int

    EXPORTED = frozenset(
        {"Hours", "Minutes", "Seconds", "Milliseconds", "Microseconds", "Nanoseconds", "String", "Abs"}
    )

    def Hours(self) -> float:
        return self.ns / HOUR

    def Minutes(self) -> float:
        return self.ns / MINUTE

    def Seconds(self) -> float:
        return self.ns / SECOND

    def Milliseconds(self) -> int:
        return int(self.ns / MILLISECOND)

    def Microseconds(self) -> int:
        return int(self.ns / MICROSECOND)

    def Nanoseconds(self) -> int:
        return self.ns

    def Abs(self) -> Duration:
        return Duration(abs(self.ns))

    def String(self) -> str:
        return str(self)

    def __str__(self) -> str:
        ns = self.ns
        if ns == 0:
            return "0s"
        sign = "-" if ns < 0 else ""
        ns = abs(ns)
        if ns < SECOND:
            for unit, size in (("ms", MILLISECOND), ("µs", MICROSECOND), ("ns", NANOSECOND)):
                if ns >= size:
                    return f"{sign}{_trim(ns / size)}{unit}"
        hours, rest = divmod(ns, HOUR)
        minutes, rest = divmod(rest, MINUTE)
        seconds = _trim(rest / SECOND)
        out = f"{hours}h{minutes}m" if hours else (f"{minutes}m" if minutes else "")
        return f"{sign}{out}{seconds}s"


def _trim(value: float) -> str:
    text = f"{value:.9f}".rstrip("0").rstrip(".")
    return text or "0"


@dataclass(frozen=True, slots=True)
class GoTime(ExprObject):
    """A Go ``time.Time`` (always timezone-aware)."""

    dt: datetime

    EXPORTED = frozenset(
        {
            "Add",
            "Sub",
            "Before",
            "After",
            "Equal",
            "IsZero",
            "Unix",
            "UnixMilli",
            "UnixNano",
            "Format",
            "UTC",
            "Local",
            "String",
            "Year",
            "Month",
            "Day",
            "Hour",
            "Minute",
            "Second",
            "Weekday",
        }
    )

    def Add(self, d: Duration | int) -> GoTime:
        ns = d.ns if isinstance(d, Duration) else int(d)
        return GoTime(self.dt + timedelta(microseconds=ns / 1000))

    def Sub(self, other: GoTime) -> Duration:
        delta = self.dt - other.dt
        return Duration((delta.days * 86400 + delta.seconds) * SECOND + delta.microseconds * 1000)

    def Before(self, other: GoTime) -> bool:
        return self.dt < other.dt

    def After(self, other: GoTime) -> bool:
        return self.dt > other.dt

    def Equal(self, other: GoTime) -> bool:
        return self.dt == other.dt

    def IsZero(self) -> bool:
        return self.dt == datetime(1, 1, 1, tzinfo=UTC)

    def Unix(self) -> int:
        return int(self.dt.timestamp() // 1)

    def UnixMilli(self) -> int:
        return int(self.dt.timestamp() * 1000 // 1)

    def UnixNano(self) -> int:
        return int(self.dt.timestamp()) * SECOND + self.dt.microsecond * 1000

    def Format(self, layout: str) -> str:
        return format_go_layout(self.dt, layout)

    def UTC(self) -> GoTime:
        return GoTime(self.dt.astimezone(UTC))

    def Local(self) -> GoTime:
        return self.UTC()

    def String(self) -> str:
        return str(self)

    def Year(self) -> int:
        return self.dt.year

    def Month(self) -> int:
        return self.dt.month

    def Day(self) -> int:
        return self.dt.day

    def Hour(self) -> int:
        return self.dt.hour

    def Minute(self) -> int:
        return self.dt.minute

    def Second(self) -> int:
        return self.dt.second

    def Weekday(self) -> str:
        return self.dt.strftime("%A")

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, GoTime):
            return NotImplemented
        return self.dt < other.dt

    def __le__(self, other: object) -> bool:
        if not isinstance(other, GoTime):
            return NotImplemented
        return self.dt <= other.dt

    def __gt__(self, other: object) -> bool:
        if not isinstance(other, GoTime):
            return NotImplemented
        return self.dt > other.dt

    def __ge__(self, other: object) -> bool:
        if not isinstance(other, GoTime):
            return NotImplemented
        return self.dt >= other.dt

    def __str__(self) -> str:
        """Go's ``Time.String``: ``2006-01-02 15:04:05.999999999 -0700 MST``."""
        return format_go_layout(self.dt, "2006-01-02 15:04:05.999999999 -0700 MST")


def parse_rfc3339(value: object) -> GoTime:
    """``time.Parse(time.RFC3339, value)``; raises ``ValueError`` like Go returns an error."""
    if not isinstance(value, str):
        raise ValueError(f'parsing time "{_go_v(value)}" as "{RFC3339}": not a string')
    match = _RFC3339_RE.match(value)
    if match is None:
        raise ValueError(f'parsing time "{value}" as "{RFC3339}": cannot parse')
    year, month, day, hour, minute, second, frac, zone = match.groups()
    micro = int((frac or "0").ljust(9, "0")[:6])
    if zone in ("Z", "z"):
        tz: timezone = UTC
    else:
        sign = 1 if zone[0] == "+" else -1
        tz = timezone(sign * timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6])))
    try:
        dt = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), micro, tzinfo=tz)
    except ValueError as exc:
        raise ValueError(f'parsing time "{value}": {exc}') from None
    return GoTime(dt)


def _go_v(value: object) -> str:
    return "<nil>" if value is None else str(value)


_LAYOUT_TOKEN = re.compile(
    r"January|Jan|Monday|Mon|MST|2006|Z07:00|Z0700|Z07|-07:00|-0700|-07|"
    r"[.,](?:0+|9+)|"
    r"01|02|_2|03|04|05|06|15|PM|pm|1|2|3|4|5"
)


def format_go_layout(dt: datetime, layout: str) -> str:
    """Format ``dt`` with a Go reference layout (``Mon Jan 2 15:04:05 MST 2006``)."""
    out: list[str] = []
    pos = 0
    for match in _LAYOUT_TOKEN.finditer(layout):
        out.append(layout[pos : match.start()])
        out.append(_layout_piece(dt, match.group()))
        pos = match.end()
    out.append(layout[pos:])
    return "".join(out)


def _layout_piece(dt: datetime, token: str) -> str:
    offset = dt.utcoffset() or timedelta(0)
    total = int(offset.total_seconds() // 60)
    sign = "-" if total < 0 else "+"
    oh, om = divmod(abs(total), 60)
    simple: dict[str, Any] = {
        "January": dt.strftime("%B"),
        "Jan": dt.strftime("%b"),
        "Monday": dt.strftime("%A"),
        "Mon": dt.strftime("%a"),
        "MST": "UTC" if total == 0 else f"{sign}{oh:02d}{om:02d}",
        "2006": f"{dt.year:04d}",
        "06": f"{dt.year % 100:02d}",
        "01": f"{dt.month:02d}",
        "1": str(dt.month),
        "02": f"{dt.day:02d}",
        "2": str(dt.day),
        "_2": f"{dt.day:2d}",
        "15": f"{dt.hour:02d}",
        "03": f"{(dt.hour % 12) or 12:02d}",
        "3": str((dt.hour % 12) or 12),
        "04": f"{dt.minute:02d}",
        "4": str(dt.minute),
        "05": f"{dt.second:02d}",
        "5": str(dt.second),
        "PM": "PM" if dt.hour >= 12 else "AM",
        "pm": "pm" if dt.hour >= 12 else "am",
        "-07:00": f"{sign}{oh:02d}:{om:02d}",
        "-0700": f"{sign}{oh:02d}{om:02d}",
        "-07": f"{sign}{oh:02d}",
    }
    if token in simple:
        return str(simple[token])
    if token.startswith("Z"):
        if total == 0:
            return "Z"
        return {"Z07:00": f"{sign}{oh:02d}:{om:02d}", "Z0700": f"{sign}{oh:02d}{om:02d}"}.get(
            token, f"{sign}{oh:02d}"
        )
    # fractional seconds: .000 (fixed width) or .999 (trailing zeros trimmed)
    digits = f"{dt.microsecond:06d}000"[: len(token) - 1]
    if token[1] == "9":
        digits = digits.rstrip("0")
        return f"{token[0]}{digits}" if digits else ""
    return f"{token[0]}{digits}"


class TimeHelpers(ExprObject):
    """Argo CD's ``time`` helper: ``Now()``, ``Parse(s)``, duration units and layout constants."""

    EXPORTED = frozenset(
        {
            "Now",
            "Parse",
            "Nanosecond",
            "Microsecond",
            "Millisecond",
            "Second",
            "Minute",
            "Hour",
            "RFC3339",
            "RFC3339Nano",
            "Layout",
            "ANSIC",
            "RFC1123",
            "RFC1123Z",
            "RFC822",
            "RFC822Z",
            "Kitchen",
            "DateTime",
            "DateOnly",
            "TimeOnly",
        }
    )

    Nanosecond = Duration(NANOSECOND)
    Microsecond = Duration(MICROSECOND)
    Millisecond = Duration(MILLISECOND)
    Second = Duration(SECOND)
    Minute = Duration(MINUTE)
    Hour = Duration(HOUR)
    RFC3339 = RFC3339
    RFC3339Nano = RFC3339_NANO
    Layout = "01/02 03:04:05PM '06 -0700"
    ANSIC = "Mon Jan _2 15:04:05 2006"
    RFC1123 = "Mon, 02 Jan 2006 15:04:05 MST"
    RFC1123Z = "Mon, 02 Jan 2006 15:04:05 -0700"
    RFC822 = "02 Jan 06 15:04 MST"
    RFC822Z = "02 Jan 06 15:04 -0700"
    Kitchen = "3:04PM"
    DateTime = "2006-01-02 15:04:05"
    DateOnly = "2006-01-02"
    TimeOnly = "15:04:05"

    def __init__(self, now: datetime) -> None:
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        self._now = GoTime(now)

    def Now(self) -> GoTime:
        return self._now

    def Parse(self, value: object) -> GoTime:
        return parse_rfc3339(value)
