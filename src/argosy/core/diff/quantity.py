"""Kubernetes resource quantities (``500m``, ``0.5``, ``1Gi``, ``1024Mi``, ``1e3``) as exact fractions."""

from __future__ import annotations

import re
from fractions import Fraction
from typing import Any

__all__ = ["parse_quantity"]

_SUFFIXES: dict[str, Fraction] = {
    "": Fraction(1),
    "n": Fraction(1, 10**9),
    "u": Fraction(1, 10**6),
    "m": Fraction(1, 1000),
    "k": Fraction(10**3),
    "M": Fraction(10**6),
    "G": Fraction(10**9),
    "T": Fraction(10**12),
    "P": Fraction(10**15),
    "E": Fraction(10**18),
    "Ki": Fraction(2**10),
    "Mi": Fraction(2**20),
    "Gi": Fraction(2**30),
    "Ti": Fraction(2**40),
    "Pi": Fraction(2**50),
    "Ei": Fraction(2**60),
}
_QUANTITY = re.compile(
    r"([+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+))(?:([eE][+-]?[0-9]+)|(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]))?"
)


def parse_quantity(value: Any) -> Fraction | None:
    """The exact value of a quantity, or ``None`` when ``value`` is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return Fraction(value)
    if isinstance(value, float):
        return Fraction(str(value))
    if not isinstance(value, str):
        return None
    match = _QUANTITY.fullmatch(value.strip())
    if not match:
        return None
    number, exponent, suffix = match.groups()
    result = Fraction(number)
    if exponent:
        exp = int(exponent[1:])
        if abs(exp) > 100:
            return None
        result *= Fraction(10) ** exp
    return result * _SUFFIXES[suffix or ""]
