"""Validation error -> problem message: the rule that keeps values out of every report.

**The rule** (it holds by construction, not by searching the text for values):

1. The text pydantic produced for an error (``msg``) is never shown, nor its ``input``.
2. A message is rebuilt from the error *type* through the table in this module. Its only
   variable parts are (a) constraint values from the error's ``ctx`` that are numbers or dates
   (``min_length``, ``ge``, ``min_bytes``, ...), checked by type, and (b) facts read from the
   schema itself, never from the error: the allowed choices, the pattern, the URL schemes.
3. Every other error -- ``value_error``, ``assertion_error``, a ``PydanticCustomError`` of a
   type the table does not know, a built-in type whose template would need an unchecked
   ``ctx`` value -- is shown as ``rejected by a validator (<type>)``: the error type and the
   variable, never the validator's message. This covers field validators (before, after,
   wrap, plain) on secret and non-secret fields alike (a validator of one field can quote
   another through ``info.data``) and model-level validators (reported as ``<schema>`` or
   the section's name).
4. A custom error type name is shown only when it looks like an identifier (letters, digits
   and ``_``, at most 40 characters); otherwise ``custom``.

So a validator that quotes ``v.strip()``, one list element, a base64 of the value or the
whole input dict cannot put any of it into ``check`` (text, JSON), ``load()``'s exception
(``str``, ``repr``, ``args``) or the log: there is no path from the input to a message.
The cost: a custom validator's own explanation is not shown; the hint says where to look.
"""

from __future__ import annotations

import datetime as _dt
import decimal
import functools
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pydantic.fields import FieldInfo

__all__ = ["CUSTOM_HINT", "is_custom", "safe_message"]

#: Hint for errors whose message is withheld (rule 3).
CUSTOM_HINT = "see the validator in the schema; its message is withheld as it may quote values"

# Constraint values a message may show: numbers and dates, never a string.
_SAFE_SCALARS = (int, float, decimal.Decimal, _dt.date, _dt.time, _dt.timedelta)

# type -> (template, ctx keys it uses). Templates are ours; ctx values are type-checked.
_TEMPLATES: dict[str, tuple[str, tuple[str, ...]]] = {
    "missing": ("required but not set", ()),
    "string_too_short": ("must be at least {min_length} characters long", ("min_length",)),
    "string_too_long": ("must be at most {max_length} characters long", ("max_length",)),
    "too_short": ("must have at least {min_length} items", ("min_length",)),
    "too_long": ("must have at most {max_length} items", ("max_length",)),
    "bytes_too_short": ("must be at least {min_length} bytes long", ("min_length",)),
    "bytes_too_long": ("must be at most {max_length} bytes long", ("max_length",)),
    "url_too_long": ("must be at most {max_length} characters long", ("max_length",)),
    "greater_than": ("must be greater than {gt}", ("gt",)),
    "greater_than_equal": ("must be greater than or equal to {ge}", ("ge",)),
    "less_than": ("must be less than {lt}", ("lt",)),
    "less_than_equal": ("must be less than or equal to {le}", ("le",)),
    "multiple_of": ("must be a multiple of {multiple_of}", ("multiple_of",)),
    "decimal_max_digits": ("must have at most {max_digits} digits", ("max_digits",)),
    "decimal_max_places": ("must have at most {decimal_places} decimals", ("decimal_places",)),
    "decimal_whole_digits": (
        "must have at most {whole_digits} digits before the point",
        ("whole_digits",),
    ),
    "extra_forbidden": ("is not a field of this section", ()),
    "json_invalid": ("must be valid JSON", ()),
    "url_parsing": ("must be a valid URL", ()),
    "url_syntax_violation": ("must be a valid URL", ()),
    "date_parsing": ("must be a valid date (YYYY-MM-DD)", ()),
    "datetime_parsing": ("must be a valid date and time (ISO 8601)", ()),
    "time_parsing": ("must be a valid time (HH:MM[:SS])", ()),
    "time_delta_parsing": ("must be a valid duration", ()),
    "uuid_parsing": ("must be a valid UUID", ()),
    # secretsafe.schemas.types
    "secret_too_short": ("must be at least {min_bytes} bytes long", ("min_bytes",)),
    "secret_weak": ("is a placeholder or a well-known weak value", ()),
    "secret_entropy": (
        "is too predictable (needs about {min_entropy:.0f} bits of entropy)",
        ("min_entropy",),
    ),
    "url_invalid": ("is not a valid URL", ()),
}


def _choices(values: Any) -> str:
    shown = [repr(v) for v in values]
    return shown[0] if len(shown) == 1 else f"{', '.join(shown[:-1])} or {shown[-1]}"


# Types whose message names something from the schema: (fact in the field's JSON schema,
# how to say it, what to say when the schema does not tell).
_FROM_SCHEMA: dict[str, tuple[str, Callable[[Any], str], str]] = {
    "literal_error": (
        "enum",
        lambda v: f"must be one of: {_choices(v)}",
        "is not an allowed value",
    ),
    "enum": ("enum", lambda v: f"must be one of: {_choices(v)}", "is not an allowed value"),
    "string_pattern_mismatch": (
        "pattern",
        lambda v: f"must match {v!r}",
        "does not match the required pattern",
    ),
    "url_scheme": (
        "x-schemes",
        lambda v: f"must be a URL with scheme {', '.join(map(str, v))}",
        "must be a URL with an allowed scheme",
    ),
}

# Validators written by users: never a message of theirs (rule 3).
_CUSTOM = frozenset({"value_error", "assertion_error"})


@functools.cache
def _builtin_templates() -> dict[str, str]:
    """pydantic-core's own types whose message has no placeholder (so holds no input)."""
    from typing import get_args

    from pydantic_core import PydanticKnownError, core_schema

    out: dict[str, str] = {}
    for etype in get_args(core_schema.ErrorType):
        if etype in _CUSTOM:
            continue
        try:
            template = PydanticKnownError(etype).message_template
        except (TypeError, KeyError, ValueError):
            continue  # needs ctx: only the table above may use it
        if "{" not in template:
            out[etype] = template
    return out


def _plain(etype: str) -> str | None:
    template = _builtin_templates().get(etype)
    if template is None:
        return None
    # "Input should be a valid integer, unable to parse ..." -> "must be a valid integer".
    head = template.split(", ", 1)[0]
    return head.replace("Input should be", "must be").replace("String should", "must")


def _walk(node: Any) -> Iterator[tuple[str, Any]]:
    stack = [node]
    while stack:
        cur = stack.pop()
        if isinstance(cur, dict):
            for k, v in cur.items():
                if k in ("default", "examples", "const"):
                    continue  # a default can be a secret: never a fact to show
                yield k, v
                stack.append(v)
        elif isinstance(cur, list):
            stack.extend(cur)


def _schema_fact(info: FieldInfo | None, key: str) -> Any:
    """The one value of ``key`` (``enum``, ``pattern``, ``x-schemes``) in the field's JSON
    schema, or None when there is none or more than one."""
    if info is None:
        return None
    from typing import Annotated

    from pydantic import TypeAdapter

    try:
        ann: Any = info.annotation
        if info.metadata:
            ann = Annotated[(ann, *info.metadata)]
        schema = TypeAdapter(ann).json_schema()
    except Exception:  # noqa: BLE001 - a type without a JSON schema: say it generically
        return None
    found = [v for k, v in _walk(schema) if k == key]
    if not found or any(v != found[0] for v in found):
        return None
    value = found[0]
    ok = isinstance(value, str) or (
        isinstance(value, list) and all(isinstance(v, (str, int, float, bool)) for v in value)
    )
    return value if ok else None


def is_custom(etype: str) -> bool:
    """True when an error of this type gets the withheld-message form (rule 3)."""
    return etype in _CUSTOM or (
        etype not in _TEMPLATES and etype not in _FROM_SCHEMA and _plain(etype) is None
    )


def _type_name(etype: str) -> str:
    ok = 0 < len(etype) <= 40 and etype.replace("_", "a").isalnum() and etype.isascii()
    return etype if ok else "custom"


def safe_message(err: Mapping[str, Any], info: FieldInfo | None = None) -> str:
    """The message for one pydantic error (``errors()`` item), by the rule in the module
    docstring. ``info``: the field the error is about, if known (for schema facts)."""
    etype = str(err.get("type", ""))
    ctx = err.get("ctx") or {}
    entry = _TEMPLATES.get(etype)
    if entry is not None:
        template, keys = entry
        values = {k: ctx.get(k) for k in keys}
        if all(isinstance(v, _SAFE_SCALARS) and not isinstance(v, bool) for v in values.values()):
            try:
                return template.format(**values)
            except (TypeError, ValueError):
                pass  # e.g. a date where a number was expected: say it generically
        return f"is not valid ({etype})"
    facts = _FROM_SCHEMA.get(etype)
    if facts is not None:
        key, say, otherwise = facts
        fact = _schema_fact(info, key)
        return say(fact) if fact else otherwise
    if etype not in _CUSTOM:
        plain = _plain(etype)
        if plain is not None:
            return plain
    return f"rejected by a validator ({_type_name(etype)})"
