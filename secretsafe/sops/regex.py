"""Regexes that come from sops files and ``.sops.yaml``, evaluated exactly as sops does.

sops applies every rule regex (``encrypted_regex``, ``unencrypted_regex``, the two comment
regexes, ``path_regex``; in a file, their ``sops_*`` metadata lines) with Go's ``regexp``:
RE2 syntax, an unanchored search (``regexp.Match`` / ``MatchString``), linear time. Python
``re`` is none of these: it reads ``[[:upper:]]`` as a set of the characters ``[:uper``
followed by ``]``, lets ``$`` match before a final newline, gives ``\\d``/``\\s``/``\\w``
their Unicode meaning, and backtracks (``^(A+)+$`` against a long key runs for hours).
``google-re2`` is RE2 itself, which Go's ``regexp`` ports; the one escape RE2 accepts and Go
refuses (``\\C``, any byte) is refused here as Go refuses it.

Every caller goes through :func:`compile` so there is one engine. ``re2`` costs about 24 ms
to import, so it is imported on the first call only: ``secretsafe run`` on a file without
rule regexes never loads it.

A pattern Go would not compile raises :class:`InvalidPattern`, whose reason is RE2's error
kind (``missing ]``) without the pattern text; :func:`compile_rule` turns it into a
:class:`~secretsafe.errors.ConfigError` naming the key the pattern came from. sops itself
ignores such a pattern in a rule (``regexp.Match`` fails, so nothing matches, so
``encrypted_regex`` encrypts nothing): secretsafe refuses instead of writing plaintext.
"""

from __future__ import annotations

from typing import Any

__all__ = ["GoRegex", "InvalidPattern", "compile", "compile_rule"]

# RE2's compiled-program budget (its default). A pattern over it is refused with a clear
# error rather than evaluated some other way.
_MAX_MEM = 8 << 20


class InvalidPattern(ValueError):
    """The pattern is not one Go's ``regexp`` compiles; ``reason`` is RE2's error kind."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class GoRegex:
    """A compiled pattern; :meth:`matches` is Go's ``regexp.MatchString``."""

    __slots__ = ("_compiled", "pattern")

    def __init__(self, pattern: str, compiled: Any) -> None:
        self.pattern = pattern
        self._compiled = compiled

    def matches(self, text: str) -> bool:
        """True if the pattern matches anywhere in ``text`` (unanchored, as sops uses it)."""
        return self._compiled.search(_utf8(text)) is not None

    def __repr__(self) -> str:
        return f"GoRegex({self.pattern!r})"


def compile(pattern: str) -> GoRegex:
    """Compile ``pattern`` with Go ``regexp`` syntax; :class:`InvalidPattern` if Go refuses it."""
    import re2

    refused = _go_only_refusal(pattern)
    if refused is not None:
        raise InvalidPattern(refused)
    options = re2.Options()
    # RE2 logs every parse error to stderr, pattern included; errors are ours to report.
    options.log_errors = False
    options.max_mem = _MAX_MEM
    try:
        compiled = re2.compile(_utf8(pattern), options)
    except re2.error as exc:
        reason = _reason(exc)
    else:
        return GoRegex(pattern, compiled)
    # Raised outside the handler: RE2's message quotes the pattern, and a chained
    # __context__ would carry it into every traceback.
    raise InvalidPattern(reason)


def compile_rule(pattern: str, name: str, *, where: str | None = None) -> GoRegex:
    """:func:`compile` for a rule from ``.sops.yaml`` or a caller: a :class:`ConfigError`
    (exit 14) naming the key ``name`` (and ``where``), never quoting the pattern."""
    from secretsafe.errors import ConfigError

    try:
        return compile(pattern)
    except InvalidPattern as exc:
        reason = exc.reason
    prefix = f"{where}: " if where else ""
    raise ConfigError(
        f"{prefix}{name} does not compile as a Go RE2 pattern: {reason}",
        hint="fix the rule; sops rules use Go regexp syntax (github.com/google/re2/wiki/Syntax)",
    )


def _utf8(text: str) -> bytes:
    """The bytes Go would see: text read with ``surrogateescape`` gets its original bytes back.
    Other lone surrogates cannot come from a file; encode them rather than fail."""
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass")


def _reason(exc: Exception) -> str:
    """RE2's error kind without the fragment of the pattern it quotes after ``: ``."""
    raw = exc.args[0] if exc.args else ""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    return text.split(": ", 1)[0] or "invalid pattern"


def _go_only_refusal(pattern: str) -> str | None:
    """What Go's parser refuses that RE2's accepts: ``\\C`` (outside ``\\Q...\\E``)."""
    i, n = 0, len(pattern)
    while i < n - 1:
        if pattern[i] != "\\":
            i += 1
            continue
        following = pattern[i + 1]
        if following == "Q":
            end = pattern.find("\\E", i + 2)
            if end < 0:
                return None  # quoted to the end: nothing after it is syntax
            i = end + 2
            continue
        if following == "C":
            return "invalid escape sequence"
        i += 2  # an escape consumes the next character, even a backslash
    return None
