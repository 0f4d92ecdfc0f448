"""Kubernetes resource quantities, parsed exactly (no floats) so derived numbers are reproducible."""

from __future__ import annotations

import re
from fractions import Fraction

_SUFFIX = {
    "": 1,
    "k": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
    "m": Fraction(1, 1000),
}
QUANTITY = re.compile(r"^([0-9]+(?:\.[0-9]+)?)(Ki|Mi|Gi|Ti|k|M|G|T|m)?$")


def parse_quantity(text: str | int) -> Fraction:
    """Value of a quantity such as '1Gi', '500m' or '2', as an exact fraction of base units."""
    match = QUANTITY.match(str(text).strip())
    if not match:
        raise ValueError(f"{text!r} is not a Kubernetes quantity (examples: 512Mi, 1Gi, 500m, 2)")
    number, suffix = match.groups()
    return Fraction(number) * _SUFFIX[suffix or ""]


def memory_bytes(text: str | int) -> int:
    """Bytes of a memory quantity; fractional bytes make no sense, so they are refused."""
    value = parse_quantity(text)
    if value.denominator != 1:
        raise ValueError(f"{text!r} is not a whole number of bytes")
    return int(value)
