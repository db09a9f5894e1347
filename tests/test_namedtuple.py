"""secretsafe._namedtuple builds the same classes as typing.NamedTuple (without importing
typing), for every shape the run path uses: fields with and without defaults, methods,
properties, docstrings, a custom repr."""

from __future__ import annotations

import pickle
import typing

import pytest

from secretsafe._namedtuple import NamedTuple as Ours


def _shapes(base: typing.Any) -> list[type]:
    class Plain(base):  # type: ignore[misc, valid-type]
        key: str
        value: str

    class Defaults(base):  # type: ignore[misc, valid-type]
        """Docstring kept."""

        suffix: str | None = "_unencrypted"
        flag: bool = False
        items: tuple[str, ...] = ()

    class WithMethods(base):  # type: ignore[misc, valid-type]
        name: str
        count: int = 1

        def __repr__(self) -> str:
            return "WithMethods(<hidden>)"

        @property
        def twice(self) -> int:
            return self.count * 2

        def label(self) -> str:
            return f"{self.name}:{self.count}"

    return [Plain, Defaults, WithMethods]


ARGS: list[tuple[tuple[object, ...], dict[str, object]]] = [
    (("K", "v"), {}),
    ((), {"flag": True}),
    (("n",), {"count": 3}),
]


@pytest.mark.parametrize("index", range(3))
def test_same_class_as_typing(index: int) -> None:
    ours, theirs = _shapes(Ours)[index], _shapes(typing.NamedTuple)[index]
    args, kwargs = ARGS[index]
    a, b = ours(*args, **kwargs), theirs(*args, **kwargs)
    assert tuple(a) == tuple(b)
    assert repr(a).replace("Plain", "X") == repr(b).replace("Plain", "X")
    assert ours._fields == theirs._fields
    assert ours._field_defaults == theirs._field_defaults
    assert ours.__doc__ == theirs.__doc__
    assert ours.__mro__[1:] == theirs.__mro__[1:] == (tuple, object)
    assert ours.__qualname__ == theirs.__qualname__
    assert ours.__module__ == theirs.__module__
    assert ours.__slots__ == theirs.__slots__ == ()
    assert a._replace() == a
    assert a._asdict() == b._asdict()
    for name in ("twice", "label"):
        if hasattr(theirs, name):
            got, want = getattr(a, name), getattr(b, name)
            assert (got() if callable(got) else got) == (want() if callable(want) else want)


def test_pickles_by_name() -> None:
    from secretsafe.sops.model import Entry, Rules

    for value in (Entry("K", "v"), Rules(encrypted_regex="^x")):
        assert pickle.loads(pickle.dumps(value)) == value  # noqa: S301 - our own data


def test_refuses_what_typing_refuses() -> None:
    for base in (Ours, typing.NamedTuple):
        with pytest.raises(TypeError):

            class Bad(base):  # type: ignore[misc, valid-type]
                a: int = 1
                b: int

        with pytest.raises(AttributeError):

            class Clobber(base):  # type: ignore[misc, valid-type]
                a: int

                def _asdict(self) -> dict[str, int]:
                    return {}


@pytest.mark.parametrize(
    ("fields", "defaults"),
    [(["a"], []), (["a", "b"], []), (["a", "b", "c"], [2, 3]), (["x", "y"], [None, ()])],
)
def test_tuple_class_equals_collections_namedtuple(
    fields: list[str], defaults: list[object]
) -> None:
    # The tuple class is built by hand (no `collections` import on the run path): every
    # member collections.namedtuple gives must behave the same.
    import collections
    import inspect

    from secretsafe._namedtuple import _namedtuple

    ours = _namedtuple("T", fields, defaults=defaults, module=__name__)
    theirs = collections.namedtuple("T", fields, defaults=defaults, module=__name__)
    assert ours.__doc__ == theirs.__doc__
    assert ours._fields == theirs._fields
    assert ours.__match_args__ == theirs.__match_args__
    assert ours._field_defaults == theirs._field_defaults
    assert str(inspect.signature(ours)) == str(inspect.signature(theirs))
    for member in ("__new__", "_make", "_replace", "__repr__", "_asdict", "__getnewargs__"):
        assert getattr(ours, member).__doc__ == getattr(theirs, member).__doc__, member
        assert getattr(ours, member).__qualname__ == getattr(theirs, member).__qualname__
    for field in fields:
        assert getattr(ours, field).__doc__ == getattr(theirs, field).__doc__
    values = list(range(len(fields)))
    a, b = ours(*values), theirs(*values)
    assert repr(a) == repr(b)
    assert a._asdict() == b._asdict()
    assert a == b
    assert a.__getnewargs__() == b.__getnewargs__()
    by_name = dict(zip(fields, values, strict=True))
    assert ours(**by_name) == theirs(**by_name)  # __new__'s code is shared per field count
    assert ours._make(values) == theirs._make(values)
    assert a._replace(**{fields[0]: "z"}) == b._replace(**{fields[0]: "z"})
    for call in (
        lambda t: t._make([*values, 9]),
        lambda t: t(*values)._replace(nope=1),
        lambda t: t(*values, 9),
        lambda t: t(**{fields[0]: 1, "nope": 2}),
        lambda t: t(),
    ):
        errors = []
        for cls in (ours, theirs):
            try:
                call(cls)
            except (TypeError, ValueError) as exc:
                errors.append((type(exc), str(exc).replace("namedtuple_T.", "")))
            else:
                errors.append(None)
        assert errors[0] == errors[1]
    with pytest.raises(ValueError, match="underscore"):
        _namedtuple("T", ["_a"], defaults=[], module=__name__)
