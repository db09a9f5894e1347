"""The sops JSON store: text to a tree and metadata, and back (sops 3.11 ``stores/json``).

- The document is one object; key order is kept. Every number is a Go float64 (sops' decoder
  does not use ``UseNumber``): ``7`` is the float 7, encrypted as ``type:float``.
- The ``sops`` key holds the metadata as nested JSON. It is flattened here into the names the
  dotenv store uses (``age__list_0__map_recipient``), so one strict parser
  (:func:`secretsafe.sops.metadata.parse`) reads the metadata of every format.
- Duplicate keys are refused (Go's decoder would keep both).
"""

from __future__ import annotations

import itertools
import json
from typing import Any

from secretsafe.errors import FormatError
from secretsafe.sops.tree import Branch

__all__ = ["emit", "flatten_metadata", "is_encrypted", "load", "parse_plain", "to_plaintext"]

_META_KEY = "sops"
# Metadata fields that are not strings in JSON/YAML (stores.Metadata).
_INT_FIELDS = ("shamir_threshold",)
_BOOL_FIELDS = ("mac_only_encrypted",)


def _where(path: str | None) -> str:
    return path or "<input>"


def _parse(text: str, path: str | None, *, ints: bool = False) -> Any:
    def pairs(items: list[tuple[str, Any]]) -> Branch:
        keys = [k for k, _ in items]
        if len(set(keys)) != len(keys):
            dup = next(k for k in keys if keys.count(k) > 1)
            raise FormatError(
                f"{_where(path)}: the key {dup} appears twice in one object",
                hint="remove one of them (sops would keep both and read the last)",
            )
        return Branch(items)

    def no_constant(name: str) -> Any:
        raise FormatError(f"{_where(path)}: {name} is not JSON", hint="restore the file")

    pos: int | None = None
    try:
        doc = json.loads(
            text,
            object_pairs_hook=pairs,
            parse_int=int if ints else float,
            parse_constant=no_constant,
        )
    except json.JSONDecodeError as exc:
        pos = exc.pos
    except RecursionError:
        pass
    else:
        # Fewer brackets than the bound cannot nest deeper: no walk for the usual file.
        if text.count("[") + text.count("{") <= MAX_DEPTH or not _too_deep(doc):
            return doc
    if pos is None:
        # As the YAML store: every walker of the tree may recurse, a hostile file must not
        # reach them (a RecursionError is an internal error, not one clear line).
        raise FormatError(f"{_where(path)}: JSON nested too deeply", hint="restore the file")
    # Raised outside the handler: the decode error holds the whole text (exc.doc), and even
    # `from None` keeps it as __context__. The position only: the text around it may be a value.
    raise FormatError(f"{_where(path)}: not valid JSON (character {pos})", hint="restore the file")


#: Deeper than this is refused (the YAML store's bound).
MAX_DEPTH = 200


def _too_deep(doc: Any) -> bool:
    """Whether ``doc`` nests maps and lists deeper than :data:`MAX_DEPTH` (iterative)."""
    stack = [(doc, 0)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            return True
        if isinstance(value, Branch):
            stack.extend((v, depth + 1) for _, v in value if isinstance(v, Branch | list))
        elif isinstance(value, list):
            stack.extend((v, depth + 1) for v in value if isinstance(v, Branch | list))
    return False


def parse_plain(text: str, path: str | None, *, ints: bool = False) -> Any:
    """Plaintext JSON (what ``sops decrypt`` prints) as a tree; errors never quote it.
    ``ints``: integers stay ints (sops' JSON store reads every number as a float; YAML does
    not)."""
    return _parse(text, path, ints=ints)


def load(text: str, path: str | None) -> tuple[Branch, dict[str, str]]:
    """The data tree and the flattened metadata map (empty when there is none)."""
    doc = _parse(text, path)
    if not isinstance(doc, Branch):
        raise FormatError(f"{_where(path)}: a sops JSON file is one object", hint="restore it")
    data = Branch((k, v) for k, v in doc if k != _META_KEY)
    meta: dict[str, str] = {}
    for key, value in doc:
        if key == _META_KEY:
            if not isinstance(value, Branch):
                raise FormatError(f"{_where(path)}: sops metadata is not an object")
            flatten_metadata(value, meta)
    return data, meta


def is_encrypted(text: str) -> bool:
    try:
        doc = _parse(text, None)
    except FormatError:
        return False
    return isinstance(doc, Branch) and any(k == _META_KEY for k, _ in doc)


def flatten_metadata(value: Any, out: dict[str, str], prefix: str = "") -> None:
    """The nested ``sops`` metadata as the dotenv store's flat names, into ``out``."""
    if isinstance(value, Branch):
        for key, item in value:
            flatten_metadata(item, out, f"{prefix}__map_{key}" if prefix else key)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            flatten_metadata(item, out, f"{prefix}__list_{index}")
    elif isinstance(value, bool):
        out[prefix] = "true" if value else "false"
    elif isinstance(value, float):
        out[prefix] = str(int(value)) if value.is_integer() else repr(value)
    elif value is not None:  # sops drops null metadata fields
        out[prefix] = str(value)


def unflatten(lines: list[str]) -> dict[str, Any]:
    """The nested metadata object from the dotenv store's ``sops_name=value`` lines."""
    from secretsafe.sops import metadata as _md
    from secretsafe.sops.stores.dotenv import PREFIX, decode_value

    root: dict[str, Any] = {}
    for line in lines:
        name, _, raw = line.partition("=")
        tokens = _md.tokens(name[len(PREFIX) :])
        assert tokens is not None  # noqa: S101 - our own serializer wrote it
        value: Any = decode_value(raw)
        if tokens[-1] in _INT_FIELDS:
            value = int(value)
        elif tokens[-1] in _BOOL_FIELDS:
            value = value == "true"
        node: Any = root
        for token, following in itertools.pairwise(tokens):
            empty: Any = [] if isinstance(following, int) else {}
            if isinstance(token, int):
                while len(node) <= token:
                    node.append(None)
                if node[token] is None:
                    node[token] = empty
                node = node[token]
            else:
                node = node.setdefault(token, empty)
        last = tokens[-1]
        if isinstance(last, int):
            while len(node) <= last:
                node.append(None)
            node[last] = value
        else:
            node[last] = value
    return root


def _plain(value: Any) -> Any:
    if isinstance(value, Branch):
        return {k: _plain(v) for k, v in value if isinstance(k, str)}
    if isinstance(value, list):
        return [_plain(v) for v in value if not _is_comment(v)]
    return value


def _is_comment(value: Any) -> bool:
    from secretsafe.sops.model import Comment

    return isinstance(value, Comment)


def emit(data: Branch, metadata_lines: list[str]) -> str:
    """The encrypted file: the tree, then the ``sops`` object (tab-indented, as sops writes)."""
    doc = _plain(data)
    doc[_META_KEY] = unflatten(metadata_lines)
    return json.dumps(doc, indent="\t", ensure_ascii=False) + "\n"


def to_plaintext(data: Branch) -> str:
    """The decrypted tree as JSON (comments dropped: JSON has none)."""
    return json.dumps(_plain(data), indent="\t", ensure_ascii=False) + "\n"
