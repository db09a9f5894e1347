"""Compose variable interpolation, as docker compose v2 does it (``compose-go/template``).

Forms: ``$VAR``, ``${VAR}``, ``${VAR:-default}`` (unset or empty), ``${VAR-default}`` (unset),
``${VAR:?message}`` / ``${VAR?message}`` (required), ``${VAR:+alt}`` / ``${VAR+alt}``
(replacement when set) and ``$$`` for a literal ``$``. Defaults and alternatives may nest
(``${A:-${B:-x}}``) to any depth. As in compose, every branch is parsed and evaluated, taken
or not: ``${A-${B:?msg}}`` fails when ``B`` is unset even if ``A`` is set, and a syntax error
in a branch not taken is still an error. Checked against ``docker compose config`` on generated
samples (``tests/compose/test_compose_hostile.py``). Known differences, on malformed text only:
compose's regex-based parser pairs a bare ``{`` in a branch with a ``}`` in ways that depend on
where the string's last ``}`` is (``${E-:+{}}``), and accepts an unclosed escaped ``$${`` in a
branch; here a branch ends at the first ``}`` not closing an inner ``${`` or ``$${``.

The sources are the project ``.env`` (next to the first compose file) with the process
environment over it; :func:`interpolate` takes them as one mapping. An unset ``${VAR}`` with no
default becomes the empty string, as in compose (which warns); the caller turns the recorded
:class:`Ref` into a finding. Messages never quote a value, nor the text after ``:?`` (it is
written in the compose file next to values).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import NamedTuple

from secretsafe.errors import ComposeError

__all__ = ["Interpolation", "Ref", "interpolate", "references"]

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_OPS = (":-", ":?", ":+", "-", "?", "+")


class Ref(NamedTuple):
    """One variable reference met while interpolating.

    ``op``: ``""`` (plain), ``":-"``, ``"-"``, ``":?"``, ``"?"``, ``":+"`` or ``"+"``.
    ``found``: the variable was set in the sources. ``failed``: a required reference
    (``:?``/``?``) whose condition was not met (compose refuses to start).
    """

    name: str
    op: str
    found: bool
    failed: bool = False

    @property
    def undefined(self) -> bool:
        """A plain ``$VAR``/``${VAR}`` with no source: compose substitutes ``""``."""
        return self.op == "" and not self.found


class Interpolation(NamedTuple):
    value: str
    refs: tuple[Ref, ...]

    def __repr__(self) -> str:
        # ``value`` may be a substituted secret.
        return f"Interpolation(value=<hidden>, refs={self.refs!r})"


def interpolate(text: str, env: Mapping[str, str], *, where: str = "<input>") -> Interpolation:
    """``text`` with every reference substituted from ``env``, and the references met.

    Raises :class:`ComposeError` for malformed syntax (``${}``, ``${A``, ``${1A}``).
    """
    if "$" not in text:
        return Interpolation(text, ())
    refs: list[Ref] = []
    value = _Parser(text, env, refs, where).run()
    return Interpolation(value, tuple(refs))


def references(text: str) -> tuple[str, ...]:
    """The variable names ``text`` refers to (every branch), without substituting."""
    if "$" not in text:
        return ()
    refs: list[Ref] = []
    _Parser(text, {}, refs, "<input>").run()
    return tuple(dict.fromkeys(r.name for r in refs))


class _Open(NamedTuple):
    """A ``${NAME<op>`` whose branch is being substituted: the branch's text starts at
    ``mark`` in the output parts; ``taken``: the branch is the expression's result."""

    name: str
    op: str
    value: str | None
    taken: bool
    mark: int


class _Parser:
    """One pass over the text with an explicit stack of open ``${...`` branches, never
    recursion: nesting depth is bounded only by the text's length (docker compose accepts
    ``${A:-${A:-...}}`` 100,000 deep), and the work is linear in it."""

    __slots__ = ("env", "refs", "text", "where")

    def __init__(self, text: str, env: Mapping[str, str], refs: list[Ref], where: str) -> None:
        self.text = text
        self.env = env
        self.refs = refs
        self.where = where

    def _bad(self, why: str) -> ComposeError:
        return ComposeError(
            f"{self.where}: invalid interpolation ({why})",
            hint="use $$ for a literal $, and ${NAME}, ${NAME:-default} or ${NAME:?message}",
        )

    def run(self) -> str:
        text = self.text
        n = len(text)
        parts: list[str] = []
        stack: list[_Open] = []
        pos = 0
        # Next "$" and "}" at or after pos, cached so that each is searched for once per
        # occurrence (a fresh find() per token would be quadratic on "$$$$...}").
        dollar = brace = -1
        while True:
            if dollar < pos:
                dollar = text.find("$", pos)
                if dollar == -1:
                    dollar = n
            if stack:
                if brace < pos:
                    brace = text.find("}", pos)
                    if brace == -1:
                        brace = n
                if brace < dollar:
                    parts.append(text[pos:brace])
                    pos = brace + 1
                    self._close(stack.pop(), parts)
                    continue
            if dollar >= n:
                if stack:
                    raise self._bad("a ${ has no closing }")
                parts.append(text[pos:])
                return "".join(parts)
            parts.append(text[pos:dollar])
            pos = dollar + 1
            if pos >= n:
                if stack:
                    raise self._bad("a ${ has no closing }")
                parts.append("$")
                return "".join(parts)
            ch = text[pos]
            if ch == "$":
                parts.append("$")
                pos += 1
                if stack and text.startswith("{", pos):
                    # Inside a branch compose pairs the "{" of an escaped "$${" with a "}"
                    # (${A:-$${B}c} is "${B}c"): a literal pair, not the branch's end.
                    parts.append("{")
                    stack.append(_Open("", "{", None, True, len(parts)))
                    pos += 1
            elif ch == "{":
                pos = self._open(pos + 1, parts, stack)
            else:
                m = _NAME.match(text, pos)
                if m is None:
                    parts.append("$")  # a lone $ is literal, as in compose
                    continue
                parts.append(self._lookup(m.group(0), ""))
                pos = m.end()

    def _lookup(self, name: str, op: str) -> str:
        value = self.env.get(name)
        self.refs.append(Ref(name, op, value is not None))
        return value or ""

    def _open(self, pos: int, parts: list[str], stack: list[_Open]) -> int:
        """Read ``NAME}`` or ``NAME<op>`` after a ``${``: substitute the first; push the
        second (its branch is then substituted into ``parts`` until its ``}``, taken or not,
        as compose does). Returns the position to go on from."""
        text = self.text
        m = _NAME.match(text, pos)
        if m is None:
            raise self._bad("${ must be followed by a variable name")
        name = m.group(0)
        pos = m.end()
        if pos >= len(text):
            raise self._bad("a ${ has no closing }")
        if text[pos] == "}":
            parts.append(self._lookup(name, ""))
            return pos + 1
        op = next((o for o in _OPS if text.startswith(o, pos)), None)
        if op is None:
            raise self._bad(f"unexpected character after ${{{name}")
        value = self.env.get(name)
        if op in (":-", ":?", ":+"):
            taken = not value if op != ":+" else bool(value)
        else:
            taken = (value is None) if op != "+" else (value is not None)
        stack.append(_Open(name, op, value, taken, len(parts)))
        return pos + len(op)

    def _close(self, opened: _Open, parts: list[str]) -> None:
        """Replace the branch text of ``opened`` (``parts[mark:]``) by what the whole
        ``${...}`` expression stands for."""
        name, op, value, taken, mark = opened
        if op == "{":
            parts.append("}")
            return
        failed = op in (":?", "?") and taken
        self.refs.append(Ref(name, op, value is not None, failed))
        if op in (":-", "-", ":+", "+") and taken:
            return  # the branch is the result: keep it in place
        del parts[mark:]
        if op in (":-", "-") or (op in (":?", "?") and not failed):
            parts.append(value or "")
