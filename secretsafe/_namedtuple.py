"""``class X(NamedTuple)`` at run time without importing ``typing``.

``secretsafe run`` is on every container start, and ``typing`` (with ``contextlib``, ``enum``
and ``re`` it imports) costs about 10 ms there. Modules on that path write::

    TYPE_CHECKING = False
    if TYPE_CHECKING:
        from typing import NamedTuple
    else:
        from secretsafe._namedtuple import NamedTuple

Type checkers see ``typing.NamedTuple``; at run time this base builds the same class the way
``typing.NamedTuple`` does, with ``collections.namedtuple``: fields from the annotations (in
order, with their defaults), then the class body's methods, properties and docstring. The
annotations stay unevaluated strings (``from __future__ import annotations``).
"""

from __future__ import annotations

from collections import namedtuple

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["NamedTuple"]

# Called with computed fields and defaults, which mypy's namedtuple plugin cannot type.
_namedtuple: Any = namedtuple

# What typing.NamedTuple refuses to overwrite, and what it does not copy.
_PROHIBITED = frozenset(
    {"__new__", "__init__", "__slots__", "__getnewargs__", "_fields", "_field_defaults"}
    | {"_make", "_replace", "_asdict", "_source"}
)
_SPECIAL = frozenset({"__module__", "__name__", "__annotations__"})


class _NamedTupleMeta(type):
    def __new__(cls, name: str, bases: tuple[type, ...], namespace: dict[str, object]) -> type:
        annotations = dict(namespace.get("__annotations__", {}))  # type: ignore[call-overload]
        defaults: list[object] = []
        for field in annotations:
            if field in namespace:
                defaults.append(namespace[field])
            elif defaults:
                raise TypeError(f"Non-default namedtuple field {field} cannot follow default field")
        tuple_class: type = _namedtuple(
            name, list(annotations), defaults=defaults, module=str(namespace["__module__"])
        )
        tuple_class.__annotations__ = annotations
        for key, value in namespace.items():
            if key in _PROHIBITED:
                raise AttributeError(f"Cannot overwrite NamedTuple attribute {key}")
            if key not in _SPECIAL and key not in annotations:
                setattr(tuple_class, key, value)
        return tuple_class


NamedTuple = type.__new__(_NamedTupleMeta, "NamedTuple", (), {})
