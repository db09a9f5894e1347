"""Compose variable interpolation, as docker compose v2 does it (``compose-go/template``).

Forms: ``$VAR``, ``${VAR}``, ``${VAR:-default}`` (unset or empty), ``${VAR-default}`` (unset),
``${VAR:?message}`` / ``${VAR?message}`` (required), ``${VAR:+alt}`` / ``${VAR+alt}``
(replacement when set) and ``$$`` for a literal ``$``. Defaults and alternatives may nest
(``${A:-${B:-x}}``). As in compose (v2.40 ships compose-go v2.9.1), every branch is evaluated,
taken or not: ``${A-${B:?msg}}`` fails when ``B`` is unset even if ``A`` is set.

The evaluation is a port of compose-go's own algorithm (:class:`_Compose`), quirks included:
a bare ``{`` in a default pairs with a ``}`` (``${UNSET:-{a}b}`` is ``{a}b``, ``${SET:-{a}b}``
is the value of ``SET``; ``${J:-{"json":1}}`` keeps its braces), and an unbalanced default
runs to the line's last ``}``. It recurses and is quadratic in the nesting, so a text with
more than ``_PORT_MAX_BRACES`` braces (hostile in practice: docker compose accepts
``${A:-${A:-...}}`` 100,000 deep) goes to a linear parser with an explicit stack
(:class:`_Parser`), which gives the same result on well-formed nesting. Both are checked
against ``docker compose config`` (``tests/compose/test_compose_hostile.py``,
``tests/compose/test_compose_interp_vs_docker.py``).

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
    if text.count("{") <= _PORT_MAX_BRACES:
        value = _Compose(env, refs, where).substitute(text)
    else:
        value = _Parser(text, env, refs, where).run()
    return Interpolation(value, tuple(refs))


def references(text: str) -> tuple[str, ...]:
    """The variable names ``text`` refers to (every branch), without substituting."""
    if "$" not in text:
        return ()
    return tuple(dict.fromkeys(r.name for r in interpolate(text, {}).refs))


#: Texts with at most this many "{" are substituted by the port of compose-go's algorithm
#: (:class:`_Compose`: exact, quirks included, but recursive and quadratic in the nesting);
#: longer ones, hostile in practice, by the linear :class:`_Parser`, which agrees with it on
#: well-formed nesting.
_PORT_MAX_BRACES = 64

# compose-go template.DefaultPattern. Go's RE2 and Python's re pick the same match here
# (leftmost-first; the greedy ``(.*)`` runs to the line's last "}").
_PATTERN = re.compile(
    r"\$(?i:(?P<escaped>\$)|(?P<named>[_a-z][_a-z0-9]*)"
    r"|\{(?:(?P<braced>[_a-z][_a-z0-9]*(?::?[-+?](?:.*))?)\}|(?P<invalid>)))"
)
_OP_AT = re.compile(r"[^-:+?]*(:?[-+?])")  # the name, then its operator


class _Compose:
    """A port of compose-go v2.9.1 ``template.Substitute`` (the version docker compose v2.40
    ships): every match of the pattern is cut at its first balanced "}" (counting every "{",
    and skipping the character after one, as ``getFirstBraceClosingIndex`` does); what
    follows is substituted on its own and appended. Defaults, alternatives and ``:?``
    messages are substituted whether or not they are used (so their ``:?`` are checked)."""

    __slots__ = ("env", "refs", "where")

    def __init__(self, env: Mapping[str, str], refs: list[Ref], where: str) -> None:
        self.env = env
        self.refs = refs
        self.where = where

    def _bad(self) -> ComposeError:
        return ComposeError(
            f"{self.where}: invalid interpolation (docker compose reports an invalid template)",
            hint="use $$ for a literal $, and ${NAME}, ${NAME:-default} or ${NAME:?message}",
        )

    def substitute(self, text: str) -> str:
        if "$" not in text:
            return text
        return _PATTERN.sub(lambda m: self._replace(m.group(0)), text)

    def _replace(self, substring: str) -> str:
        close = _first_brace_closing(substring)
        rest = ""
        if close > -1:
            rest = substring[close + 1 :]
            substring = substring[: close + 1]
        m = _PATTERN.match(substring)
        if m is None:
            raise self._bad()
        if m.group("escaped"):
            return "$"
        name = m.group("named")
        braced = not name
        substitution = name or m.group("braced") or ""
        if not substitution:
            raise self._bad()
        if braced:
            op = _OP_AT.match(substitution)
            if op is not None:
                return self._apply(substitution, op.group(1)) + self.substitute(rest)
        value = self.env.get(substitution)
        self.refs.append(Ref(substitution, "", value is not None))
        return value or ""

    def _apply(self, substitution: str, op: str) -> str:
        name, _, arg = substitution.partition(op)
        arg = self.substitute(arg)  # eager, as in v2.9.1
        value = self.env.get(name)
        found = value is not None
        colon = op.startswith(":")
        if op.endswith("-"):
            result = arg if not found or (colon and not value) else value or ""
            self.refs.append(Ref(name, op, found))
            return result
        if op.endswith("+"):
            self.refs.append(Ref(name, op, found))
            return arg if found and (not colon or value) else value or ""
        failed = not found or (colon and not value)
        self.refs.append(Ref(name, op, found, failed))
        return "" if failed else value or ""


def _first_brace_closing(s: str) -> int:
    """compose-go ``getFirstBraceClosingIndex``, quirk included (the character after a "{"
    is skipped)."""
    depth = 0
    i = 0
    n = len(s)
    while i < n:
        ch = s[i]
        if ch == "}":
            depth -= 1
            if depth == 0:
                return i
        if ch == "{":
            depth += 1
            i += 1
        i += 1
    return -1


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
