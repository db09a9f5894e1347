"""Compose variable interpolation, as docker compose v2 does it (``compose-go/template``).

Forms: ``$VAR``, ``${VAR}``, ``${VAR:-default}`` (unset or empty), ``${VAR-default}`` (unset),
``${VAR:?message}`` / ``${VAR?message}`` (required), ``${VAR:+alt}`` / ``${VAR+alt}``
(replacement when set) and ``$$`` for a literal ``$``. Defaults and alternatives may nest
(``${A:-${B:-x}}``); a nested reference is resolved only when its branch is taken.

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
    _Parser(text, {}, refs, "<input>", all_branches=True).run()
    return tuple(dict.fromkeys(r.name for r in refs))


class _Parser:
    __slots__ = ("all_branches", "env", "refs", "text", "where")

    def __init__(
        self,
        text: str,
        env: Mapping[str, str],
        refs: list[Ref],
        where: str,
        *,
        all_branches: bool = False,
    ) -> None:
        self.text = text
        self.env = env
        self.refs = refs
        self.where = where
        self.all_branches = all_branches

    def run(self) -> str:
        return self._until(0, closing=False)[0]

    def _bad(self, why: str) -> ComposeError:
        return ComposeError(
            f"{self.where}: invalid interpolation ({why})",
            hint="use $$ for a literal $, and ${NAME}, ${NAME:-default} or ${NAME:?message}",
        )

    def _until(self, pos: int, *, closing: bool) -> tuple[str, int]:
        """Substitute from ``pos`` to the end, or to the ``}`` that closes the current
        ``${...:-`` when ``closing``; return the text and the position after it."""
        text = self.text
        parts: list[str] = []
        n = len(text)
        while pos < n:
            stop = text.find("$", pos)
            if closing:
                brace = text.find("}", pos)
                if brace != -1 and (stop == -1 or brace < stop):
                    parts.append(text[pos:brace])
                    return "".join(parts), brace + 1
            if stop == -1:
                if closing:
                    raise self._bad("a ${ has no closing }")
                parts.append(text[pos:])
                return "".join(parts), n
            parts.append(text[pos:stop])
            pos = stop + 1
            if pos >= n:
                parts.append("$")
                break
            ch = text[pos]
            if ch == "$":
                parts.append("$")
                pos += 1
            elif ch == "{":
                value, pos = self._braced(pos + 1)
                parts.append(value)
            else:
                m = _NAME.match(text, pos)
                if m is None:
                    parts.append("$")  # a lone $ is literal, as in compose
                    continue
                parts.append(self._lookup(m.group(0), ""))
                pos = m.end()
        if closing:
            raise self._bad("a ${ has no closing }")
        return "".join(parts), pos

    def _lookup(self, name: str, op: str) -> str:
        value = self.env.get(name)
        self.refs.append(Ref(name, op, value is not None))
        return value or ""

    def _braced(self, pos: int) -> tuple[str, int]:
        text = self.text
        m = _NAME.match(text, pos)
        if m is None:
            raise self._bad("${ must be followed by a variable name")
        name = m.group(0)
        pos = m.end()
        if pos >= len(text):
            raise self._bad("a ${ has no closing }")
        if text[pos] == "}":
            return self._lookup(name, ""), pos + 1
        op = next((o for o in _OPS if text.startswith(o, pos)), None)
        if op is None:
            raise self._bad(f"unexpected character after ${{{name}")
        value = self.env.get(name)
        found = value is not None
        if op in (":-", ":?", ":+"):
            use_branch = not value if op != ":+" else bool(value)
        else:
            use_branch = not found if op != "+" else found
        start = pos + len(op)
        if use_branch or self.all_branches:
            branch, end = self._until(start, closing=True)
        else:
            branch, end = "", self._skip(start)
        failed = op in (":?", "?") and use_branch
        self.refs.append(Ref(name, op, found, failed))
        if op in (":-", "-"):
            return (branch if use_branch else value or ""), end
        if op in (":+", "+"):
            return (branch if use_branch else ""), end
        return ("" if failed else value or ""), end

    def _skip(self, pos: int) -> int:
        """The position after the ``}`` closing a branch that is not taken (nested ``${``
        pairs counted; nothing is looked up)."""
        text = self.text
        depth = 0
        n = len(text)
        while pos < n:
            ch = text[pos]
            if ch == "$" and pos + 1 < n and text[pos + 1] in "${":
                if text[pos + 1] == "{":
                    depth += 1
                pos += 2
                continue
            if ch == "}":
                if depth == 0:
                    return pos + 1
                depth -= 1
            pos += 1
        raise self._bad("a ${ has no closing }")
