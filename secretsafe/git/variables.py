"""A sops file (dotenv, JSON or YAML) as flat variables, the unit git merges and diffs.

Nested JSON/YAML values are named as ``run`` and ``load()`` name them (``DATABASE__HOST``,
:mod:`secretsafe.sops.flatten`). :func:`listing` needs no key: names, which of them are
encrypted, and the recipients are in the file in clear. :func:`decrypt` returns the values (in
memory only) and the file's data key, for fingerprints.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from secretsafe.errors import NoIdentityError, SecretsafeError

if TYPE_CHECKING:
    from secretsafe.keys import Identity

__all__ = ["Decrypted", "Listing", "Store", "decrypt", "listing", "store_of"]

Store = Literal["dotenv", "json", "yaml"]


def store_of(text: str) -> Store | None:
    """The sops format of ``text``, or ``None`` when it is not a sops file secretsafe reads."""
    from secretsafe.sops import sops_format

    return sops_format(text)


@dataclass(frozen=True)
class Listing:
    """What anyone can read in a sops file without a key."""

    store: Store
    #: Name -> ``encrypted``/``plaintext``/``empty``, in file order
    #: (:func:`secretsafe.sops.listing.names`).
    states: Mapping[str, str]
    recipients: tuple[str, ...]
    #: Per encrypted value, a short hash of its ciphertext (public, in the file already): it
    #: changes when the value is re-encrypted, so a diff without a key still shows changes.
    ciphertext_ids: dict[str, str]


def _where(path: str | os.PathLike[str] | None) -> str | None:
    return os.fspath(path) if path is not None else None


def _metadata_map(text: str, store: Store, where: str | None) -> dict[str, str]:
    if store == "dotenv":
        from secretsafe.sops.stores import dotenv

        return dotenv.split(text, where)[1]
    if store == "json":
        from secretsafe.sops.stores import json

        return json.load(text, where)[1]
    from secretsafe.sops.stores import yaml

    return yaml.load_metadata(text, where)


def _recipients(meta: dict[str, str], where: str | None) -> tuple[str, ...]:
    from secretsafe.sops import metadata

    try:
        return metadata.parse(meta, path=where).metadata.recipients
    except SecretsafeError:  # unusual metadata: the names are still worth showing
        return ()


def _stored(text: str, store: Store, where: str | None) -> dict[str, str]:
    """Each variable's text as stored (``ENC[...]`` for an encrypted value; a list's JSON)."""
    if store == "dotenv":
        from secretsafe.sops.stores import dotenv

        return {name: raw for _, name, raw in dotenv.split(text, where)[0] if name is not None}
    from secretsafe.sops.flatten import flatten

    if store == "json":
        from secretsafe.sops.stores import json as store_mod
    else:
        from secretsafe.sops.stores import yaml as store_mod  # type: ignore[no-redef]
    return {e.key: e.value for e in flatten(store_mod.load(text, where)[0], path=where)}


def listing(text: str, *, path: str | os.PathLike[str] | None = None) -> Listing:
    """Names (file order) with their state, recipients and ciphertext ids, without a key."""
    from secretsafe.errors import FormatError
    from secretsafe.sops.listing import names

    where = _where(path)
    store = store_of(text)
    if store is None:
        raise FormatError(f"{where or '<input>'}: not a sops file")
    states = {item.name: item.state for item in names(text, where or "<input>")}
    stored = _stored(text, store, where)
    return Listing(
        store=store,
        states=states,
        recipients=_recipients(_metadata_map(text, store, where), where),
        ciphertext_ids={
            n: hashlib.sha256(stored[n].encode("utf-8", "surrogatepass")).hexdigest()[:12]
            for n, state in states.items()
            if state == "encrypted" and n in stored
        },
    )


@dataclass(frozen=True, repr=False)
class Decrypted:
    """A decrypted sops file: values by flat name in file order, and its data key.

    Plaintext: keep it in memory, never print it (the repr shows names only)."""

    store: Store
    values: dict[str, str]
    data_key: bytes
    recipients: tuple[str, ...]

    def __repr__(self) -> str:
        return f"Decrypted(store={self.store!r}, names={list(self.values)!r})"


def decrypt(
    text: str,
    *,
    path: str | os.PathLike[str] | None = None,
    identities: Sequence[Identity] | None = None,
) -> Decrypted:
    """Decrypt ``text`` in memory with ``identities`` (default: the user's, as sops finds
    them). No identity at all is a :class:`NoIdentityError`; identities that open none of
    the file's keys, a :class:`~secretsafe.errors.DecryptionError`."""
    from secretsafe.errors import FormatError
    from secretsafe.sops import crypto, decrypt_text, metadata
    from secretsafe.sops.model import Entry

    where = _where(path)
    store = store_of(text)
    if store is None:
        raise FormatError(f"{where or '<input>'}: not a sops file")
    if identities is None:
        from secretsafe.keys import discover

        identities = discover()
    if not identities:
        raise NoIdentityError(
            f"{where or '<input>'}: no age identity to decrypt with",
            hint="create one with `secretsafe keys generate` or set SOPS_AGE_KEY_FILE",
        )
    parsed = metadata.parse(_metadata_map(text, store, where), path=where)
    key = crypto.data_key(parsed, [i.to_pyrage() for i in identities], where)
    doc = decrypt_text(text, identities=identities, path=where, backend="native")
    values = {i.key: i.value for i in doc.items if isinstance(i, Entry)}
    return Decrypted(
        store=store, values=values, data_key=key, recipients=parsed.metadata.recipients
    )
