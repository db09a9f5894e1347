"""Change a sops file with the least churn: keep its data key and the ciphertext of every
value that did not change, as a reviewer reading ``git diff`` expects.

sops itself re-encrypts every value on every change (getsops/sops#1587): one ``sops set``
rewrites every line. Here a change decrypts the file once (keeping the data key and, for each
``ENC[...]`` value, its plaintext), applies the change to the plaintext, and writes it back
through the same encoders as a fresh encrypt (:func:`secretsafe.sops.native.encrypt`,
:func:`~secretsafe.sops.native.encrypt_tree`) with a :class:`~secretsafe.sops.crypto.Keep`: an
unchanged value (same path, type and plaintext) keeps its ``ENC[...]`` text, a new or changed
one gets a new IV, the wrapped data keys stay while the recipients stay, and the MAC over the
whole tree is computed again under a new ``lastmodified``. So a change to one value rewrites
that value's line plus the ``mac`` and ``lastmodified`` lines.

Reusing a ciphertext is safe: it is the same plaintext under the same key and additional data,
already public in the file; each kept ciphertext is used once, so two equal values never share
one. Adding a recipient wraps the same data key for it (``sops updatekeys`` does too); removing
one makes a new data key (:func:`render` with ``rotate``), since the removed member knew the old
one.

Values are written by the native codec whatever the backend: the sops binary cannot keep a
ciphertext. Files it cannot handle (KMS/PGP keys, a value the native reader leaves to sops)
are refused with a hint to use ``sops`` itself.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from secretsafe.errors import UnsupportedError

if TYPE_CHECKING:
    from secretsafe.sops.crypto import Keep
    from secretsafe.sops.model import Item, Metadata
    from secretsafe.sops.tree import Branch

__all__ = ["Opened", "open_text", "render"]

Store = Literal["dotenv", "json", "yaml"]


class Opened(NamedTuple):
    """A sops file decrypted for a change: its format, plaintext (``items`` for dotenv, a
    ``tree`` for JSON/YAML), metadata, and what a rewrite keeps (:class:`Keep`)."""

    path: str
    text: str
    store: Store
    items: tuple[Item, ...]
    tree: Branch | None
    metadata: Metadata
    keep: Keep

    def __repr__(self) -> str:
        return f"Opened(path={self.path!r}, store={self.store!r}, <hidden>)"


def _unsupported(where: str, message: str) -> UnsupportedError:
    return UnsupportedError(
        f"{where}: {message}", hint=f"change this file with sops itself: sops edit {where}"
    )


def open_text(
    text: str, identities: Sequence[Any], *, path: str | os.PathLike[str], store: Store
) -> Opened:
    """Decrypt ``text`` (a sops file in ``store`` format) in process with ``identities``
    (pyrage identities), checking every tag and the MAC, and keep its data key and the
    ``ENC[...]`` text of each value by its plaintext."""
    from secretsafe.sops import crypto, native
    from secretsafe.sops import metadata as _md

    where = os.fspath(path)
    try:
        if store == "dotenv":
            from secretsafe.sops.stores import dotenv as dotenv_store

            doc = native.decrypt(text, identities, path=where)
            raw_items, meta = dotenv_store.split(text, where)
            found = [
                (crypto.aad(() if name is None else (name,)), dotenv_store.decode_value(raw))
                for _, name, raw in raw_items
            ]
            items, tree, metadata = doc.items, None, doc.metadata
        else:
            from secretsafe.sops import tree as tree_mod

            tree, metadata = native.decrypt_tree(text, identities, path=where, store=store)
            if store == "yaml":
                from secretsafe.sops.stores import yaml as yaml_store

                encrypted, meta = yaml_store.load(text, where)
            else:
                from secretsafe.sops.stores import json as json_store

                encrypted, meta = json_store.load(text, where)
            found = tree_mod.sealed_values(encrypted)
            items = ()
        parsed = _md.parse(meta, path=where)
        if metadata.unsupported_key_types:
            raise _unsupported(
                where,
                f"also encrypted with {', '.join(metadata.unsupported_key_types)} keys, "
                "which secretsafe cannot re-create",
            )
        data_key = crypto.data_key(parsed, identities, where)
    except native.NativeUnsupported as exc:
        raise _unsupported(where, exc.message) from None
    cipher = crypto.aead(data_key)
    sealed: dict[tuple[str, str, str], list[str]] = {}
    for additional, value in found:
        parts = crypto.sealed(value)
        plain = crypto.unseal(cipher, parts, additional) if parts is not None else None
        if parts is None or plain is None:
            continue  # not a value of this file's key: it gets new ciphertext if kept
        try:
            decoded = plain.decode("utf-8")
        except UnicodeDecodeError:
            continue
        sealed.setdefault((additional, parts.kind, decoded), []).append(value)
    keep = crypto.Keep(
        data_key=data_key,
        groups=tuple(tuple((k.recipient, k.enc) for k in g) for g in parsed.groups),
        threshold=metadata.shamir_threshold,
        sealed=sealed,
    )
    return Opened(where, text, store, tuple(items), tree, metadata, keep)


def render(
    opened: Opened,
    *,
    items: Sequence[Item] | None = None,
    tree: Branch | None = None,
    key_groups: Sequence[Sequence[str]] | None = None,
    shamir_threshold: int | None = None,
    rotate: bool = False,
) -> str:
    """The new text of the file: ``items`` (dotenv) or ``tree`` (JSON/YAML), default the
    file's own plaintext, for ``key_groups`` (default the file's), under the file's rules,
    keeping its data key and unchanged ciphertext unless ``rotate`` (a new data key for
    everything). Checked by the same output gate as every write before it is returned."""
    from secretsafe.sops import native

    meta = opened.metadata
    groups = (
        [list(g) for g in key_groups]
        if key_groups is not None
        else [list(g.age) for g in meta.key_groups]
    )
    threshold = shamir_threshold if key_groups is not None else meta.shamir_threshold
    keep = None if rotate else opened.keep
    if opened.store == "dotenv":
        from secretsafe.sops.stores.dotenv import check_items

        new_items = list(opened.items if items is None else items)
        check_items(new_items)
        text = native.encrypt(
            new_items,
            key_groups=groups,
            shamir_threshold=threshold,
            rules=meta.rules,
            keep=keep,
        )
        native.verify_encrypted(text, items=new_items, rules=meta.rules, path=opened.path)
        return text
    data = opened.tree if tree is None else tree
    assert data is not None  # noqa: S101 - a nested file always has its tree
    text = native.encrypt_tree(
        data,
        key_groups=groups,
        shamir_threshold=threshold,
        rules=meta.rules,
        store=opened.store,
        keep=keep,
    )
    if opened.store == "yaml" and keep is not None:
        # A file sops wrote keeps its layout: only the changed scalars are replaced.
        from secretsafe.sops.stores.yaml_patch import patch

        text = patch(opened.text, text) or text
    native.verify_tree_encrypted(
        text, data=data, rules=meta.rules, store=opened.store, path=opened.path
    )
    return text
