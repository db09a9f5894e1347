"""Keep a sops YAML file's own layout through a change: the scalars that changed are replaced
in the old text, every other byte stays.

secretsafe's YAML writer (``yaml.py``) quotes every string; sops writes ``ENC[...]`` values
plain and wrapped keys as ``|`` blocks. Without this, the first change secretsafe makes to a
file sops wrote (or rotated) would rewrite every line. :func:`patch` compares the old text with
the new one secretsafe wrote: when both have the same shape (the same keys, list lengths and
styles where a value changed), each changed scalar is replaced in place; the result must read
back (values, comments, metadata) exactly as the new text does, else None and the caller
writes the new text as it is.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["patch"]

# What sops writes unquoted and any YAML reader reads back as the same string.
_PLAIN_SAFE = re.compile(
    r"ENC\[AES256_GCM,data:[A-Za-z0-9+/=]*,iv:[A-Za-z0-9+/=]+,"
    r"tag:[A-Za-z0-9+/=]+,type:[a-z]+\]"
)


_STR = "tag:yaml.org,2002:str"


def _scalar_text(value: str, indent: int) -> str:
    """``value`` as sops writes it under a key at column ``indent``: plain when that reads
    back the same, a ``|`` block for multi-line text ending in a newline (a wrapped key),
    else double-quoted."""
    from secretsafe.sops.stores.yaml import _quoted

    if _PLAIN_SAFE.fullmatch(value) or re.fullmatch(r"age1[a-z0-9]+", value):
        return value
    if value.endswith("\n") and "\n" in value[:-1] and re.fullmatch(r"[\x20-\x7e\n]*", value):
        lines = value[:-1].split("\n")
        if all(line and line[0] != " " and line[-1] != " " for line in lines):
            pad = " " * (indent + 2)  # as yaml.v3 indents a block under its key
            return "|\n" + "".join(f"{pad}{line}\n" for line in lines)
    return _quoted(value)


def _block(old: Any, new: Any, text: str, out: list[tuple[int, int, str]]) -> bool:
    """A changed ``|`` block scalar (a wrapped key) replaced by one at the same indentation."""
    start, end = old.start_mark.index, old.end_mark.index
    if old.style != "|" or not new.value.endswith("\n") or text[end - 1 : end] != "\n":
        return False
    first = text.index("\n", start) + 1
    indent = len(text[first:]) - len(text[first:].lstrip(" "))
    lines = new.value[:-1].split("\n")
    if not all(line and line[0] != " " and line[-1] != " " for line in lines):
        return False
    body = "".join(f"{' ' * indent}{line}\n" for line in lines)
    out.append((start, end, "|\n" + body))
    return True


def _appended(old: Any, extra: list[Any], text: str, out: list[tuple[int, int, str]]) -> bool:
    """New items at the end of a list of maps of strings (a recipient joining a key group),
    written as sops writes them, after the last old item."""
    import yaml

    first = old.value[0]
    dash = first.start_mark.column - 2
    line_start = first.start_mark.index - first.start_mark.column
    if dash < 0 or text[line_start + dash : line_start + dash + 2] != "- ":
        return False
    where = old.end_mark.index - old.end_mark.column if old.end_mark.column else old.end_mark.index
    if where != len(text) and text[where - 1 : where] != "\n":
        return False
    chunk = []
    for item in extra:
        if not isinstance(item, yaml.MappingNode) or not item.value:
            return False
        # sops' field order: the recipient first.
        fields = sorted(item.value, key=lambda kv: kv[0].value != "recipient")
        for n, (key, value) in enumerate(fields):
            if not (isinstance(value, yaml.ScalarNode) and value.tag == _STR):
                return False
            lead = f"{' ' * dash}- " if n == 0 else " " * (dash + 2)
            chunk.append(f"{lead}{key.value}: {_scalar_text(value.value, dash + 2)}")
    inserted = "".join(line if line.endswith("\n") else line + "\n" for line in chunk)
    out.append((where, where, inserted))
    return True


def _edits(old: Any, new: Any, out: list[tuple[int, int, str]], text: str) -> bool:
    """Collect ``(start, end, replacement)`` for each scalar of ``old`` that differs from
    ``new`` (and list items ``new`` adds); False when the two differ otherwise in shape."""
    import yaml

    from secretsafe.sops.stores.yaml import _quoted

    if type(old) is not type(new):
        return False
    if isinstance(old, yaml.ScalarNode):
        if (old.value, old.tag) == (new.value, new.tag):
            return True
        if new.tag != _STR:
            return False  # a number or bool: left to the full rewrite
        if old.style not in (None, '"', "'"):
            return _block(old, new, text, out)
        plain = old.style is None and _PLAIN_SAFE.fullmatch(new.value) is not None
        out.append(
            (old.start_mark.index, old.end_mark.index, new.value if plain else _quoted(new.value))
        )
        return True
    if isinstance(old, yaml.SequenceNode):
        shared = len(old.value)
        if shared > len(new.value) or (shared < len(new.value) and not shared):
            return False
        if not all(
            _edits(a, b, out, text) for a, b in zip(old.value, new.value[:shared], strict=True)
        ):
            return False
        return shared == len(new.value) or _appended(old, new.value[shared:], text, out)
    # Mappings: paired by key (sops orders metadata fields its own way); the read-back check
    # in patch() catches any change of order in the values.
    old_keys = {k.value: v for k, v in old.value}
    new_keys = {k.value: v for k, v in new.value}
    if len(old_keys) != len(old.value):
        return False
    for key, value in list(old_keys.items()):
        # sops writes empty key lists (``hc_vault: []``) that mean nothing: they stay.
        if key not in new_keys and not isinstance(value, yaml.ScalarNode) and not value.value:
            del old_keys[key]
    if old_keys.keys() != new_keys.keys():
        return False
    return all(_edits(old_keys[k], new_keys[k], out, text) for k in old_keys)


def patch(old_text: str, new_text: str) -> str | None:
    """``old_text`` with the scalars that differ in ``new_text`` replaced in place, when that
    reads back exactly as ``new_text``; None otherwise (see the module docstring)."""
    import yaml

    from secretsafe.errors import SecretsafeError
    from secretsafe.sops.stores.yaml import load
    from secretsafe.sops.tree import same

    # The pure-Python loader: its marks count characters (libyaml's count bytes).
    try:
        old_doc = yaml.compose(old_text, Loader=yaml.SafeLoader)
        new_doc = yaml.compose(new_text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return None
    edits: list[tuple[int, int, str]] = []
    if old_doc is None or not _edits(old_doc, new_doc, edits, old_text):
        return None
    text = old_text
    for start, end, replacement in sorted(edits, reverse=True):
        text = text[:start] + replacement + text[end:]
    try:
        got, got_meta = load(text, None)
        want, want_meta = load(new_text, None)
    except SecretsafeError:
        return None
    return text if same(got, want) and got_meta == want_meta else None
