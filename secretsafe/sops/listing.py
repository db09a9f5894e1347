"""The variable names of a sops file and whether each value is stored encrypted, read from the
file's text alone: nothing is decrypted and no key is needed (``secretsafe ls``).

Names are those ``run`` and ``load()`` give: a dotenv file's keys; in JSON/YAML the flattened
``SECTION__FIELD`` names (:mod:`secretsafe.sops.flatten`; a list is one variable, null values
and empty maps none). A value is ``encrypted`` when it is stored as ``ENC[...]`` (a list: every
element), ``plaintext`` when the file's rules leave it in the clear (``*_unencrypted``,
``unencrypted_regex``...), and ``empty`` when it is the empty string (sops never encrypts
one). A file whose values disagree with its own rules is ``secretsafe audit``'s business
(``env-partly-plaintext``); this listing says what the file holds.
"""

from __future__ import annotations

from typing import Any, Literal, NamedTuple

__all__ = ["Listed", "names"]

State = Literal["encrypted", "plaintext", "empty"]


class Listed(NamedTuple):
    name: str
    state: State


def _state(value: Any) -> State:
    from secretsafe.sops import crypto

    if value == "":
        return "empty"
    if isinstance(value, str) and crypto.sealed(value) is not None:
        return "encrypted"
    return "plaintext"


def _leaf_states(value: Any) -> set[State]:
    """The states of every scalar in a list, nested lists and maps included (a list of
    lists of plaintext is not encrypted); comments do not count."""
    from secretsafe.sops.model import Comment
    from secretsafe.sops.tree import Branch

    found: set[State] = set()
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, Branch):
            stack.extend(v for k, v in item if not isinstance(k, Comment))
        elif isinstance(item, list):
            stack.extend(item)
        elif item is not None and not isinstance(item, Comment):
            found.add(_state(item))
    return found


def names(text: str, path: str) -> list[Listed]:
    """Every variable of the sops file ``text`` (at ``path``, for messages), in file order."""
    from secretsafe.errors import FormatError
    from secretsafe.sops import sops_format

    store = sops_format(text)
    if store is None:
        raise FormatError(
            f"{path}: not a sops file (no sops metadata)",
            hint="ls lists encrypted files; a plaintext .env is readable as it is",
        )
    if store == "dotenv":
        from secretsafe.sops.stores import dotenv as dotenv_store

        raw_items, _ = dotenv_store.split(text, path)
        return [
            Listed(key, _state(dotenv_store.decode_value(raw)))
            for _, key, raw in raw_items
            if key is not None
        ]
    from secretsafe.sops.flatten import DELIMITER
    from secretsafe.sops.tree import Branch

    if store == "yaml":
        from secretsafe.sops.stores import yaml as yaml_store

        tree, _ = yaml_store.load(text, path)
    else:
        from secretsafe.sops.stores import json as json_store

        tree, _ = json_store.load(text, path)
    out: list[Listed] = []

    def walk(value: Any, keys: list[str]) -> None:
        if isinstance(value, Branch):
            for key, item in value:
                if isinstance(key, str) and not (not keys and key == "sops"):
                    walk(item, [*keys, key])
        elif isinstance(value, list):
            states = _leaf_states(value)
            state: State = "encrypted" if states <= {"encrypted", "empty"} else "plaintext"
            out.append(Listed(DELIMITER.join(keys).upper(), state if states else "empty"))
        elif value is not None:
            out.append(Listed(DELIMITER.join(keys).upper(), _state(value)))

    walk(tree, [])
    return out
