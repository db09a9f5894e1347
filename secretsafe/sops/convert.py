"""``secretsafe convert``: a sops dotenv file to a nested sops YAML/JSON file and back, the
values decrypted in memory only.

- dotenv -> YAML/JSON: each name is split at the delimiter (a settings model's
  ``env_nested_delimiter``, ``__`` by default) into lower-case map keys:
  ``DATABASE__HOST=db`` becomes ``database: {host: db}``. Values stay strings. Names that
  would not come back the same (lower-case letters, an empty part, a name that is both a value
  and a section) are refused, naming them.
- YAML/JSON -> dotenv: the variables :func:`secretsafe.sops.flatten.flatten` gives (what
  ``run``, ``load()`` and ``vault push`` read).

The new file keeps the source's key groups and Shamir threshold, and every value is encrypted:
the source's encryption rules are not carried over, since a rule written for ``DB_PASSWORD``
would not match the key ``password`` and would leave its value in plaintext. Before the atomic
write, the new file is decrypted in memory and must give back exactly the source's variables.
Comments are kept in YAML (at the top level); JSON has none.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

from secretsafe.errors import FileError, FormatError, UnsupportedError, UsageError

if TYPE_CHECKING:
    from secretsafe.keys import Identity
    from secretsafe.sops.model import Document, Entry, Item
    from secretsafe.sops.tree import Branch

__all__ = ["Format", "convert_file", "format_for", "unflatten"]

Format = Literal["dotenv", "yaml", "json"]


def format_for(path: str | os.PathLike[str]) -> Format:
    """The format a file name asks for: ``.yaml``/``.yml``/``.json`` (also before a final
    ``.enc``), else dotenv."""
    name = os.path.basename(os.fspath(path)).lower().removesuffix(".enc")
    if name.endswith((".yaml", ".yml")):
        return "yaml"
    return "json" if name.endswith(".json") else "dotenv"


def unflatten(
    items: Sequence[Item],
    *,
    delimiter: str = "__",
    comments: bool = True,
    path: str | None = None,
) -> Branch:
    """The nested tree of dotenv ``items`` (the inverse of ``flatten``): see the module
    docstring for the rules. ``comments``: keep comments (at the top level)."""
    from secretsafe.dotenv import shown_name
    from secretsafe.sops.model import Comment
    from secretsafe.sops.tree import Branch

    where = path or "<input>"
    root = Branch()
    branches: dict[tuple[str, ...], Branch] = {(): root}
    leaves: dict[tuple[str, ...], str] = {}
    for item in items:
        if isinstance(item, Comment):
            if comments:
                root.append((item, None))
            continue
        name = item.key
        keys = tuple(part.lower() for part in name.split(delimiter))
        # flatten() joins the keys and upper-cases: the name must come back exactly.
        if delimiter.join(keys).upper() != name or not all(keys):
            raise FormatError(
                f"{where}: {shown_name(name)} cannot be nested and read back the same (only "
                f"upper-case names whose parts, split at {delimiter!r}, are not empty)",
                hint="rename the variable, or pass the schema whose delimiter it uses",
            )
        for depth in range(1, len(keys)):
            prefix = keys[:depth]
            if prefix in leaves:
                raise FormatError(
                    f"{where}: {shown_name(leaves[prefix])} is a value and "
                    f"{shown_name(name)} makes it a section",
                    hint="rename one of them",
                )
            if prefix not in branches:
                branches[prefix] = Branch()
                branches[prefix[:-1]].append((prefix[-1], branches[prefix]))
        if keys in branches or keys in leaves:
            other = leaves.get(keys, "a section")
            raise FormatError(
                f"{where}: {shown_name(name)} is given twice (also as {shown_name(other)})",
                hint="keep one of them",
            )
        leaves[keys] = name
        branches[keys[:-1]].append((keys[-1], item.value))
    return root


def convert_file(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    *,
    delimiter: str | None = None,
    force: bool = False,
    identities: Sequence[Identity] | None = None,
) -> tuple[Format, Format, int]:
    """Convert the sops file ``src`` into ``dst`` (format from its name, :func:`format_for`),
    atomically (a new file gets mode 0600). Returns the source format, the written format and
    the number of variables."""
    from secretsafe.files import atomic_write
    from secretsafe.sops import decrypt_text, read_encrypted, sops_format
    from secretsafe.sops.flatten import DELIMITER
    from secretsafe.sops.model import Entry

    delimiter = delimiter or DELIMITER
    src_path, dst_path = os.fspath(src), os.fspath(dst)
    to = format_for(dst_path)
    if os.path.exists(dst_path) and os.path.samefile(src_path, dst_path):
        raise UsageError(f"{dst_path}: is the file being converted", hint="pass another -o")
    if os.path.exists(dst_path) and not force:
        raise FileError(
            f"{dst_path}: already exists", hint="pass --force to overwrite it, or -o another path"
        )
    text = read_encrypted(src_path)
    source = sops_format(text)
    if source is None:
        raise FormatError(
            f"{src_path}: not a sops file (no sops metadata)",
            hint="encrypt it first with: secretsafe encrypt",
        )
    if (source == "dotenv") == (to == "dotenv"):
        raise UsageError(
            f"{src_path} -> {dst_path}: convert turns a sops dotenv file into a YAML or JSON one "
            "and back",
            hint="name the output .enc.yaml, .enc.json or .env.enc",
        )
    if identities is None:
        from secretsafe.keys import discover

        identities = discover()
    # Native backend: the nested formats are read and written in-process only.
    doc = decrypt_text(
        text, identities=identities, path=src_path, backend="native", delimiter=delimiter
    )
    groups, threshold = _keys_of(doc, src_path)
    entries = [i for i in doc.items if isinstance(i, Entry)]
    if to == "dotenv":
        out = _to_dotenv(doc, groups, threshold, dst_path)
    else:
        tree = unflatten(doc.items, delimiter=delimiter, comments=to == "yaml", path=src_path)
        out = _to_nested(tree, groups, threshold, to)
    _check_round_trip(out, entries, identities, delimiter=delimiter, where=dst_path)
    atomic_write(dst_path, out)
    return source, to, len(entries)


def _keys_of(doc: Document, where: str) -> tuple[list[list[str]], int | None]:
    meta = doc.metadata
    if meta.unsupported_key_types:
        raise UnsupportedError(
            f"{where}: also encrypted with {', '.join(meta.unsupported_key_types)} keys, "
            "which secretsafe cannot re-create",
            hint="convert it with sops itself (sops decrypt | sops encrypt)",
        )
    return [list(g.age) for g in meta.key_groups], meta.shamir_threshold


def _to_dotenv(doc: Document, groups: list[list[str]], threshold: int | None, dst: str) -> str:
    from secretsafe.sops import encrypt_items
    from secretsafe.sops.model import Rules

    return encrypt_items(
        doc.items,
        key_groups=groups,
        shamir_threshold=threshold,
        rules=Rules(),
        path=dst,
        backend="native",
    )


def _to_nested(tree: Branch, groups: list[list[str]], threshold: int | None, to: Format) -> str:
    from secretsafe.sops import native

    return native.encrypt_tree(tree, key_groups=groups, shamir_threshold=threshold, store=to)


def _check_round_trip(
    out: str,
    entries: Sequence[Entry],
    identities: Sequence[Identity],
    *,
    delimiter: str,
    where: str,
) -> None:
    """The gate before the write: ``out`` decrypts to exactly the variables of ``entries``
    (nesting groups them, so the order may differ)."""
    from secretsafe.sops import decrypt_text
    from secretsafe.sops.model import Entry

    back = decrypt_text(
        out, identities=identities, path=where, backend="native", delimiter=delimiter
    )
    got = [(i.key, i.value) for i in back.items if isinstance(i, Entry)]
    if len(got) != len(entries) or dict(got) != {e.key: e.value for e in entries}:
        raise FormatError(
            f"{where}: the converted file would not give back the same variables; not written",
            hint="report this as a bug (no value is shown)",
        )
