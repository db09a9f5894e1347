"""Nested sops values (JSON, YAML) as environment variables: ``database: {host: db}`` becomes
``DATABASE__HOST=db`` (sops ``exec-env`` refuses nested values: "cannot use complex value").

- Map keys along the path are joined with the delimiter (pydantic-settings'
  ``env_nested_delimiter``, ``__`` by default) and upper-cased, as environment names are.
- A list becomes one variable holding its JSON text, which pydantic-settings parses for list
  fields; a scalar keeps the text sops prints for it (``42.0``, ``true``: ``ValToString``);
  null is left out (the field keeps its default), and so is an empty map.
- Two paths that give the same name are refused, naming it.
"""

from __future__ import annotations

from typing import Any

from secretsafe.errors import FormatError
from secretsafe.sops import crypto
from secretsafe.sops.model import Comment, Entry
from secretsafe.sops.tree import Branch

__all__ = ["DELIMITER", "flatten"]

DELIMITER = "__"


def flatten(data: Branch, *, delimiter: str = DELIMITER, path: str | None = None) -> list[Entry]:
    """The environment variables of a decrypted tree, in tree order."""
    out: list[Entry] = []
    seen: dict[str, str] = {}

    def add(keys: list[str], value: str) -> None:
        name = delimiter.join(keys).upper()
        where = ":".join(keys)
        if name in seen:
            raise FormatError(
                f"{path or '<input>'}: {where} and {seen[name]} both become {name}",
                hint="rename one of them",
            )
        seen[name] = where
        out.append(Entry(name, value))

    def walk(value: Any, keys: list[str]) -> None:
        if isinstance(value, Branch):
            for key, item in value:
                if isinstance(key, str):
                    walk(item, [*keys, key])
        elif isinstance(value, list):
            add(keys, _json_text(value))
        elif value is not None:
            add(keys, crypto.go_text(value))

    walk(data, [])
    return out


def _json_text(value: list[Any]) -> str:
    import json

    def plain(v: Any) -> Any:
        if isinstance(v, Branch):
            return {k: plain(x) for k, x in v if isinstance(k, str)}
        if isinstance(v, list):
            return [plain(x) for x in v if not isinstance(x, Comment)]
        if isinstance(v, float) and v.is_integer() and abs(v) < 2**53:
            return int(v)  # Go prints the float 7 as 7 in JSON
        return v

    return json.dumps(plain(value), ensure_ascii=False, separators=(",", ":"))
