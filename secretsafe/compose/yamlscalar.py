"""Plain YAML scalars as docker compose reads them (go-yaml v3, YAML 1.2 with its extensions),
printed as compose prints them in an environment (Go's ``%v``).

PyYAML resolves plain scalars by YAML 1.1 rules; compose does not: ``1_000`` is 1000 in both
but ``0b101``, ``.inf`` and ``1e6`` print differently, ``yes`` is a string in compose, and a
date (``2024-01-01``) is a time that compose refuses as a value. :func:`number_text` ports
go-yaml v3's ``resolve`` for the scalars that start like a number; :func:`is_timestamp` its
``parseTimestamp``. Checked against ``docker compose config``
(``tests/compose/test_compose_yaml_vs_docker.py``).
"""

from __future__ import annotations

import math
import re
from decimal import Decimal

__all__ = ["NUMERIC_START", "go_float", "is_timestamp", "number_text"]

#: First characters go-yaml v3 tries as a number (its resolve table's 'D', 'S' and '.').
NUMERIC_START = frozenset("0123456789+-.")

_SPECIAL = {
    **dict.fromkeys((".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"), "+Inf"),
    **dict.fromkeys(("-.inf", "-.Inf", "-.INF"), "-Inf"),
    **dict.fromkeys((".nan", ".NaN", ".NAN"), "NaN"),
}
# strconv.ParseInt(s, 0, 64) syntax, underscores already removed.
_GO_INT = re.compile(
    r"([+-]?)(?:0[xX]([0-9a-fA-F]+)|0[oO]([0-7]+)|0[bB]([01]+)|(0[0-7]*)|([1-9][0-9]*))"
)
_YAML_FLOAT = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?")
_DOT_FLOAT = re.compile(r"\.[0-9](?:_?[0-9])*(?:[eE][-+]?[0-9](?:_?[0-9])*)?")
_INT64 = (-(2**63), 2**63 - 1)
_UINT64 = 2**64 - 1
_DATE = r"([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})"
_TIMESTAMPS = (
    re.compile(_DATE),
    re.compile(
        _DATE + r"[Tt]([0-9]{1,2}):([0-9]{1,2}):([0-9]{1,2})(?:\.[0-9]+)?"
        r"(?:Z|[+-][0-9]{2}:[0-9]{2})"
    ),
    re.compile(_DATE + r" ([0-9]{1,2}):([0-9]{1,2}):([0-9]{1,2})(?:\.[0-9]+)?"),
)
_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def is_timestamp(text: str) -> bool:
    """Whether go-yaml v3 reads the plain scalar ``text`` as a time (which compose refuses
    where it expects a string or a number)."""
    if len(text) < 5 or text[4] != "-" or not text[:4].isdigit():
        return False
    for pattern in _TIMESTAMPS:
        m = pattern.fullmatch(text)
        if m is None:
            continue
        year, month, day, *clock = (int(g) for g in m.groups())
        if not (1 <= month <= 12 and 1 <= day <= _DAYS[month - 1]):
            continue
        if month == 2 and day == 29 and not (year % 4 == 0 and (year % 100 or year % 400 == 0)):
            continue
        if clock and not (clock[0] < 24 and clock[1] < 60 and clock[2] < 60):
            continue
        return True
    return False


def number_text(text: str) -> str | None:
    """The plain scalar ``text`` as compose prints it when go-yaml v3 reads it as a number;
    ``None`` when it is a string there (``1.2.3``, ``22:22``, ``0o8``)."""
    special = _SPECIAL.get(text)
    if special is not None:
        return special
    if text[:1] == ".":
        if _DOT_FLOAT.fullmatch(text):
            return go_float(float(text.replace("_", "")))
        return None
    plain = text.replace("_", "")
    m = _GO_INT.fullmatch(plain)
    if m is not None:
        sign, hexa, octal, binary, old_octal, decimal = m.groups()
        if hexa is not None:
            value = int(hexa, 16)
        elif octal is not None:
            value = int(octal, 8)
        elif binary is not None:
            value = int(binary, 2)
        elif old_octal is not None:
            value = int(old_octal, 8)
        else:
            value = int(decimal)
        if sign == "-":
            value = -value
        # ParseInt (int64), then ParseUint (no sign, uint64); past both it is a float below.
        if _INT64[0] <= value <= _INT64[1] or (not sign and value <= _UINT64):
            return str(value)
    if _YAML_FLOAT.fullmatch(plain):
        number = float(plain)
        if not math.isinf(number):  # Go: out of range, so not a float
            return go_float(number)
    return None


def go_float(number: float) -> str:
    """Go's ``fmt.Sprint(float64)`` (``strconv`` 'g', shortest): the shortest digits that
    round-trip, in ``%e`` form when the decimal exponent is below -4 or at least 6."""
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "+Inf" if number > 0 else "-Inf"
    if number == 0:
        return "-0" if str(number).startswith("-") else "0"
    sign, digits, exponent = Decimal(repr(number)).normalize().as_tuple()
    exponent = int(exponent)  # finite here: never "n"/"N"/"F"
    text = "".join(map(str, digits))
    point = len(text) + exponent  # digits before the decimal point
    exp = point - 1
    neg = "-" if sign else ""
    if exp < -4 or exp >= 6:
        mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
        return f"{neg}{mantissa}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    if point <= 0:
        return f"{neg}0.{'0' * -point}{text}"
    if point >= len(text):
        return neg + text + "0" * (point - len(text))
    return f"{neg}{text[:point]}.{text[point:]}"
