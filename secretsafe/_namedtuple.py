"""``class X(NamedTuple)`` at run time without importing ``typing``.

``secretsafe run`` is on every container start, and ``typing`` (with ``contextlib``, ``enum``
and ``re`` it imports) costs about 10 ms there. Modules on that path write::

    TYPE_CHECKING = False
    if TYPE_CHECKING:
        from typing import NamedTuple
    else:
        from secretsafe._namedtuple import NamedTuple

Type checkers see ``typing.NamedTuple``; at run time this base builds the same class the way
``typing.NamedTuple`` does: fields from the annotations (in order, with their defaults), then
the class body's methods, properties and docstring. The annotations stay unevaluated strings
(``from __future__ import annotations``).

The tuple class itself is built here the way ``collections.namedtuple`` (CPython 3.11) builds
it, not by calling it: importing ``collections`` costs more than a millisecond of every
``secretsafe run`` (``tests/test_namedtuple.py`` holds the two equal).
"""

from __future__ import annotations

try:  # what collections.namedtuple uses for the field properties (C)
    from _collections import _tuplegetter  # type: ignore[import-not-found]
except ImportError:  # another interpreter: a plain property does the same
    _tuplegetter = None


def _field(index: int, doc: str) -> object:
    if _tuplegetter is not None:
        return _tuplegetter(index, doc)
    from operator import itemgetter

    return property(itemgetter(index), doc=doc)


TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Any

__all__ = ["NamedTuple"]


_function: Any = type(_field)  # types.FunctionType, without importing types
_NEW_CODE: dict[int, Any] = {}


def _new_code(size: int) -> Any:
    """The code of ``lambda _cls, _0, ..., _N: _tuple_new(_cls, (_0, ..., _N))`` (what
    collections.namedtuple compiles for each class), compiled once per field count: the
    caller renames the arguments (``co_varnames``), which saves a compile per class (about a
    third of a millisecond of `secretsafe run`'s start-up, 13 classes)."""
    code = _NEW_CODE.get(size)
    if code is None:
        args = ", ".join(f"_{i}" for i in range(size)) + ("," if size == 1 else "")
        source = f"lambda _cls, {args}: _tuple_new(_cls, ({args}))"
        code = _NEW_CODE[size] = eval(source, {"__builtins__": {}}).__code__  # noqa: S307 - our own text
    return code


def _namedtuple(name: str, fields: list[str], *, defaults: list[object], module: str) -> type:
    """``collections.namedtuple(name, fields, defaults=defaults, module=module)`` for valid
    identifiers (annotations are)."""
    for field in fields:
        if field.startswith("_"):
            raise ValueError(f"Field names cannot start with an underscore: {field!r}")
    args = ", ".join(fields)
    if len(fields) == 1:
        args += ","
    # As collections does: a real signature (keywords, defaults, errors) for __new__.
    scope = {"_tuple_new": tuple.__new__, "__builtins__": {}, "__name__": f"namedtuple_{name}"}
    new: Any = _function(_new_code(len(fields)).replace(co_varnames=("_cls", *fields)), scope)
    if defaults:
        new.__defaults__ = tuple(defaults)
    size = len(fields)
    field_tuple = tuple(fields)
    repr_format = "(" + ", ".join(f"{f}=%r" for f in fields) + ")"

    def make(cls: Any, iterable: Iterable[object]) -> Any:
        result = tuple.__new__(cls, iterable)
        if len(result) != size:
            raise TypeError(f"Expected {size} arguments, got {len(result)}")
        return result

    def replace(self: Any, /, **kwds: object) -> Any:
        result = self._make(map(kwds.pop, field_tuple, self))
        if kwds:
            raise ValueError(f"Got unexpected field names: {list(kwds)!r}")
        return result

    def as_repr(self: Any) -> str:
        return f"{self.__class__.__name__}{repr_format % self}"

    def asdict(self: Any) -> dict[str, object]:
        return dict(zip(self._fields, self, strict=True))

    def getnewargs(self: Any) -> tuple[object, ...]:
        return tuple(self)

    methods: dict[str, tuple[Any, str]] = {
        "__new__": (new, f"Create new instance of {name}({args})"),
        "_make": (make, f"Make a new {name} object from a sequence or iterable"),
        "_replace": (
            replace,
            f"Return a new {name} object replacing specified fields with new values",
        ),
        "__repr__": (as_repr, "Return a nicely formatted representation string"),
        "_asdict": (asdict, "Return a new dict which maps field names to their values."),
        "__getnewargs__": (getnewargs, "Return self as a plain tuple.  Used by copy and pickle."),
    }
    for member, (function, doc) in methods.items():
        function.__name__, function.__doc__ = member, doc
        function.__qualname__ = f"{name}.{member}"
    namespace: dict[str, object] = {
        "__doc__": f"{name}({args})",
        "__slots__": (),
        "_fields": field_tuple,
        "_field_defaults": dict(zip(fields[size - len(defaults) :], defaults, strict=True)),
        **{member: function for member, (function, _) in methods.items()},
        "_make": classmethod(make),
        "__match_args__": field_tuple,
    }
    for index, field in enumerate(fields):
        namespace[field] = _field(index, f"Alias for field number {index}")
    result = type(name, (tuple,), namespace)
    result.__module__ = module
    return result


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
