"""In-process reader and writer of SOPS dotenv files (age keys only), compatible with sops 3.11.

Format (confirmed against getsops/sops v3.11.0: ``stores/dotenv/store.go``, ``aes/cipher.go``,
``sops.go``, ``stores/flatten.go``, ``stores/stores.go``, ``age/keysource.go``, ``shamir/``):

- Lines are split on ``\\n``; empty lines are dropped; ``#...`` is a comment; otherwise the key
  is everything before the first ``=``, the value everything after, with the two characters
  ``\\n`` meaning a newline. Keys starting with ``sops_`` are metadata (see ``metadata.py``).
- A random 32-byte data key encrypts each value with AES-256-GCM and a random 32-byte IV:
  ``ENC[AES256_GCM,data:<b64>,iv:<b64>,tag:<b64 16 bytes>,type:str]`` (standard base64 with
  padding). The additional data is the key path joined by ``:`` plus ``:``: ``KEY:`` for a
  value, ``:`` for a comment (comments are encrypted too, ``type:comment``). Empty values and
  empty comments are never encrypted.
- Each age recipient holds the data key age-encrypted and ASCII-armored. With several key
  groups the data key is split with Shamir (``shamir.py``) and each group holds one share.
- ``sops_mac`` is SHA-512 over the UTF-8 plaintext of every non-comment value in file order,
  concatenated with no separator, as upper-case hex, encrypted like a value with the
  ``sops_lastmodified`` string as additional data. With ``mac_only_encrypted`` the hash starts
  with the 32 bytes of ``sha256("sops")`` and only values that are encrypted are hashed.

What the sops MAC protects, and what it does not:

- Covered: the plaintext of every value (every encrypted value, with ``mac_only_encrypted``)
  and their order. Each encrypted value is also bound to its own key name by the GCM
  additional data, so swapping encrypted values between keys fails.
- Not covered: key names of unencrypted and empty values (they can be renamed), lines with
  an empty value (``KEY=`` lines can be added or removed: an empty value adds nothing to the
  hash), boundaries between values (``a``,``bc`` hashes like ``ab``,``c``), comments (sops
  keeps a comment that fails to decrypt as is, with a warning), the ``type:`` field of a value
  (sops crashes on ``type:bytes``), every metadata line except ``sops_lastmodified``
  (recipients, rules, ``sops_shamir_threshold``, ``sops_version``), text after ``ENC[...]``
  (sops' regex is not anchored), duplicate keys. With ``mac_only_encrypted``, unencrypted
  values are not covered at all. This reader cannot close the gaps the format leaves (renamed
  unencrypted keys, added or removed empty values, a changed recipient line for a key it
  cannot decrypt), but refuses everything below.

This reader is stricter than sops, and refuses: duplicate keys (FormatError), duplicated
metadata lines, missing or unknown-shaped metadata, gaps in key lists, both top-level keys and
key groups, a value that should be encrypted under the file's rules but is not ``ENC[...]``
(injected plaintext), an ``ENC[...]`` value under a key the rules leave in plaintext (rules
edited), malformed ``ENC[...]`` values (unanchored text, non-canonical base64, IV not 32 bytes,
tag not 16 bytes, a type other than ``str``/``comment``), a comment that looks encrypted but
fails to decrypt, a ``sops_lastmodified`` not in the exact form sops writes, a recipient line
that does not match the identity that decrypted its key, a data key not 32 bytes, and MAC
mismatch (IntegrityError). Plaintext comments where the rules say comments are encrypted are
accepted, as sops does: users add notes to encrypted files, and comments never reach the
environment. Values of type ``int``/``float``/``bool`` (files converted from YAML) raise
:class:`NativeUnsupported` so the facade can use the binary.

Rules regexes are Go RE2 patterns, evaluated as Go's ``regexp.Match`` (an unanchored search,
linear time) by :mod:`secretsafe.sops.regex`. A rule regex in a file's metadata that Go cannot
compile is a :class:`FormatError` naming the metadata line (sops would match nothing with it and
read every value as plaintext); in a rule given to :func:`encrypt`, a :class:`ConfigError`.

Before any encrypted text leaves this package for a write, :func:`verify_encrypted` checks the
output itself: every value and comment the rules select is an ``ENC[...]`` value, the file's
metadata holds the same rules, and the keys are the ones given.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from secretsafe.errors import (
    ConfigError,
    DecryptionError,
    FormatError,
    IntegrityError,
    NoIdentityError,
)
from secretsafe.sops import metadata as _md
from secretsafe.sops.metadata import NativeUnsupported
from secretsafe.sops.model import Comment, Document, Entry, Item, Metadata, Rules

if TYPE_CHECKING:
    from datetime import datetime

    import pyrage

    from secretsafe.sops.regex import GoRegex

__all__ = [
    "SOPS_VERSION",
    "NativeUnsupported",
    "decrypt",
    "encrypt",
    "is_encrypted",
    "parse_metadata",
    "plaintext_where_encrypted",
    "to_sops_plaintext",
    "verify_encrypted",
]

SOPS_VERSION = "3.11.0"
_PREFIX = _md.PREFIX
# sops.MACOnlyEncryptedInitialization: sha256(b"sops").
_MAC_ONLY_INIT = hashlib.sha256(b"sops").digest()
_ENC_PREFIX = "ENC[AES256_GCM,"
_ENC_RE = re.compile(
    r"ENC\[AES256_GCM,data:([A-Za-z0-9+/=]+),iv:([A-Za-z0-9+/=]+),"
    r"tag:([A-Za-z0-9+/=]+),type:([a-z]+)\]"
)
_ARMOR_BEGIN = "-----BEGIN AGE ENCRYPTED FILE-----"
_ARMOR_END = "-----END AGE ENCRYPTED FILE-----"
_CONVERTED_TYPES = ("int", "float", "bool")
_IV_SIZE = 32
_TAG_SIZE = 16
_KEY_SIZE = 32


def _where(path: str | None) -> str:
    return path or "<input>"


# ---------------------------------------------------------------------------------------------
# Lines


def _split(text: str, path: str | None) -> tuple[list[tuple[int, str | None, str]], dict[str, str]]:
    """Data items ``(line, key or None for a comment, raw value/comment text)`` and the
    metadata map (names without ``sops_``, values with real newlines)."""
    if "\r" in text:
        raise FormatError(
            f"{_where(path)}: the file has Windows line endings (CRLF); sops cannot read it either",
            hint="convert it to LF line endings (dos2unix, or git config core.autocrlf false)",
        )
    items: list[tuple[int, str | None, str]] = []
    meta: dict[str, str] = {}
    for lineno, line in enumerate(text.split("\n"), start=1):
        if not line:
            continue
        if line[0] == "#":
            items.append((lineno, None, line[1:]))
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise FormatError(
                f"{_where(path)}:{lineno}: not a KEY=VALUE line",
                hint="sops dotenv files hold one KEY=VALUE a line; restore the file",
            )
        if key.startswith(_PREFIX):
            name = key[len(_PREFIX) :]
            if name in meta:
                raise IntegrityError(
                    f"{_where(path)}:{lineno}: metadata line {key} appears twice",
                    hint="the file was altered; restore it from version control",
                )
            meta[name] = value.replace("\\n", "\n")
        else:
            items.append((lineno, key, value))
    return items, meta


def is_encrypted(text: str) -> bool:
    """True if any line's key starts with ``sops_`` (what sops checks before encrypting)."""
    return any(line.startswith(_PREFIX) and "=" in line for line in text.split("\n"))


def parse_metadata(text: str, *, path: str | None = None) -> Metadata:
    """The file's metadata (recipients, rules, ...) without decrypting anything."""
    return _parse(text, path)[1].metadata


def _parse(
    text: str, path: str | None
) -> tuple[list[tuple[int, str | None, str]], _md.ParsedMetadata]:
    items, meta = _split(text, path)
    if not meta:
        raise FormatError(
            f"{_where(path)}: not encrypted with sops (no sops_ metadata lines)",
            hint="encrypt it first (secretsafe encrypt), or pass the encrypted file",
        )
    return items, _md.parse(meta, path=path)


# ---------------------------------------------------------------------------------------------
# Rules


class _Selector:
    """sops.Tree.shouldBeEncrypted for a flat dotenv tree (one path component at most)."""

    __slots__ = (
        "enc_comment",
        "enc_regex",
        "enc_suffix",
        "unenc_comment",
        "unenc_regex",
        "unenc_suffix",
    )

    def __init__(self, rules: Rules, path: str | None, *, in_file: bool) -> None:
        self.unenc_suffix = rules.unencrypted_suffix or None
        self.enc_suffix = rules.encrypted_suffix or None
        self.unenc_regex = _compile(rules, "unencrypted_regex", path, in_file)
        self.enc_regex = _compile(rules, "encrypted_regex", path, in_file)
        self.unenc_comment = _compile(rules, "unencrypted_comment_regex", path, in_file)
        self.enc_comment = _compile(rules, "encrypted_comment_regex", path, in_file)

    def __call__(self, key: str | None, comments: list[str], is_comment: bool) -> bool:
        encrypted = True
        if self.unenc_suffix is not None and key is not None and key.endswith(self.unenc_suffix):
            encrypted = False
        if self.enc_suffix is not None:
            encrypted = key is not None and key.endswith(self.enc_suffix)
        if self.unenc_regex is not None and key is not None and self.unenc_regex.matches(key):
            encrypted = False
        if self.enc_regex is not None:
            encrypted = key is not None and self.enc_regex.matches(key)
        if self.unenc_comment is not None and any(self.unenc_comment.matches(c) for c in comments):
            encrypted = False
        if self.enc_comment is not None:
            # The comment line that matches is itself left in plaintext (sops skips the last
            # comment of the stack when judging a comment).
            judged = comments[:-1] if is_comment else comments
            encrypted = any(self.enc_comment.matches(c) for c in judged)
        return encrypted


def _compile(rules: Rules, field: str, path: str | None, in_file: bool) -> GoRegex | None:
    """The rule's ``field`` regex, or None. ``in_file``: it comes from the file's metadata
    (``sops_<field>``), else from the caller or ``.sops.yaml``."""
    pattern: str | None = getattr(rules, field)
    if not pattern:
        return None
    from secretsafe.sops import regex

    if not in_file:
        return regex.compile_rule(pattern, field)
    try:
        return regex.compile(pattern)
    except regex.InvalidPattern as exc:
        reason = exc.reason
    raise FormatError(
        f"{_where(path)}: sops_{field} does not compile as a Go RE2 pattern: {reason}; "
        "sops would match nothing with it and read every value as plaintext",
        hint="restore the file from version control",
    )


def _normalized(rules: Rules) -> Rules:
    """Drop the default unencrypted suffix when another selector is given; refuse two."""
    others = [
        rules.encrypted_suffix,
        rules.unencrypted_regex,
        rules.encrypted_regex,
        rules.unencrypted_comment_regex,
        rules.encrypted_comment_regex,
    ]
    count = sum(1 for o in others if o)
    suffix = rules.unencrypted_suffix or None
    if count and suffix == "_unencrypted":
        suffix = None
    if count + (1 if suffix else 0) > 1:
        raise ConfigError(
            "more than one of unencrypted_suffix, encrypted_suffix, unencrypted_regex, "
            "encrypted_regex, unencrypted_comment_regex, encrypted_comment_regex is set",
            hint="keep one rule (sops allows only one per file)",
        )
    if not count and not suffix:
        suffix = "_unencrypted"  # sops' default when no rule is given
    return Rules(
        unencrypted_suffix=suffix,
        encrypted_suffix=rules.encrypted_suffix or None,
        unencrypted_regex=rules.unencrypted_regex or None,
        encrypted_regex=rules.encrypted_regex or None,
        unencrypted_comment_regex=rules.unencrypted_comment_regex or None,
        encrypted_comment_regex=rules.encrypted_comment_regex or None,
        mac_only_encrypted=rules.mac_only_encrypted,
    )


# ---------------------------------------------------------------------------------------------
# Values


def _b64(raw: str) -> bytes | None:
    """Strict, canonical standard base64 (one encoding per byte string), else None."""
    try:
        data = base64.b64decode(raw, validate=True)
    except ValueError:
        return None
    if base64.b64encode(data).decode("ascii") != raw:
        return None
    return data


def _open(value: str) -> tuple[bytes, bytes, bytes, str] | None:
    """``ENC[...]`` -> (data, iv, tag+..., type) if exactly in the form sops writes."""
    m = _ENC_RE.fullmatch(value)
    if m is None:
        return None
    data, iv, tag = _b64(m.group(1)), _b64(m.group(2)), _b64(m.group(3))
    if data is None or iv is None or tag is None or len(iv) != _IV_SIZE or len(tag) != _TAG_SIZE:
        return None
    return data, iv, tag, m.group(4)


def _seal(aead: Any, plaintext: str, aad: str, kind: str) -> str:
    iv = os.urandom(_IV_SIZE)
    out = aead.encrypt(iv, plaintext.encode("utf-8"), aad.encode("utf-8"))
    data, tag = out[:-_TAG_SIZE], out[-_TAG_SIZE:]
    return (
        f"ENC[AES256_GCM,data:{base64.b64encode(data).decode()},"
        f"iv:{base64.b64encode(iv).decode()},tag:{base64.b64encode(tag).decode()},type:{kind}]"
    )


def _unseal(aead: Any, parts: tuple[bytes, bytes, bytes, str], aad: str) -> bytes | None:
    data, iv, tag, _ = parts
    try:
        return bytes(aead.decrypt(iv, data + tag, aad.encode("utf-8")))
    except Exception:  # noqa: BLE001 - InvalidTag or a malformed input: both mean "not authentic"
        # Not importing cryptography.exceptions keeps ~10 ms off every `secretsafe run`.
        return None


def _aead(key: bytes) -> Any:
    # The public path (cryptography.hazmat.primitives.ciphers.aead) re-exports this very class
    # but imports the whole ciphers package first: ~8 ms on every container start. Fall back to
    # it if the binding ever moves.
    try:
        from cryptography.hazmat.bindings._rust import openssl as _openssl

        cls: Any = _openssl.aead.AESGCM
    except (ImportError, AttributeError):
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        cls = AESGCM
    return cls(key)


# ---------------------------------------------------------------------------------------------
# Data key


def _recipient_of(identity: Any) -> str | None:
    try:
        return str(identity.to_public())
    except Exception:  # noqa: BLE001 - identity types without a public form (ssh, plugins)
        return None


def _dearmor(enc: str) -> bytes | None:
    """The binary age file inside sops' armored ``enc`` (Go age armor: 64-column base64)."""
    lines = enc.split("\n")
    if len(lines) < 4 or lines[0] != _ARMOR_BEGIN or lines[-2] != _ARMOR_END or lines[-1] != "":
        return None
    body = lines[1:-2]
    if any(len(line) != 64 for line in body[:-1]) or not 0 < len(body[-1]) <= 64:
        return None
    return _b64("".join(body))


def _age_decrypt(enc: str, identity: Any) -> bytes | None:
    import pyrage

    binary = _dearmor(enc)
    if binary is None:
        return None
    try:
        return bytes(pyrage.decrypt(binary, [identity]))
    except Exception:  # noqa: BLE001 - pyrage raises several types; all mean "not this key"
        return None


def _data_key(parsed: _md.ParsedMetadata, identities: Sequence[Any], path: str | None) -> bytes:
    from secretsafe.sops import shamir

    mine = [(i, _recipient_of(i)) for i in identities]
    multi = len(parsed.groups) > 1
    part_size = _KEY_SIZE + 1 if multi else _KEY_SIZE
    parts: list[bytes] = []
    for group in parsed.groups:
        part = None
        # First the keys labelled with one of our recipients: failing those means the enc
        # block was altered. Then, as sops does, every identity against every block.
        for key in group:
            for ident, recipient in mine:
                if recipient is not None and recipient == key.recipient:
                    part = _age_decrypt(key.enc, ident)
                    if part is None:
                        raise IntegrityError(
                            f"{_where(path)}: the data key for recipient {key.recipient} does not "
                            "decrypt with its identity",
                            hint="the file was altered; restore it from version control",
                        )
                    break
            if part is not None:
                break
        if part is None:
            for key in group:
                for ident, recipient in mine:
                    part = _age_decrypt(key.enc, ident)
                    if part is not None:
                        if recipient is not None and recipient != key.recipient:
                            raise IntegrityError(
                                f"{_where(path)}: a data key labelled {key.recipient} decrypts "
                                f"with the identity of {recipient}",
                                hint="the recipient lines were edited; restore the file",
                            )
                        break
                if part is not None:
                    break
        if part is not None:
            if len(part) != part_size:
                raise IntegrityError(
                    f"{_where(path)}: the data key has the wrong length",
                    hint="the file was altered; restore it from version control",
                )
            parts.append(part)

    threshold = parsed.metadata.shamir_threshold or 1
    needed = threshold if multi else 1
    if len(parts) < needed:
        file_recipients = parsed.metadata.recipients
        others = parsed.metadata.unsupported_key_types
        if others or any(not r.startswith("age1") for r in file_recipients):
            raise NativeUnsupported(
                f"{_where(path)}: no age identity given decrypts the data key, and the file also "
                f"uses key types only sops can use ({', '.join(others) or 'non-X25519 age'})",
                hint="install the sops binary and make those keys available",
            )
        tried = [r or "<identity without a public key>" for _, r in mine]
        groups_note = (
            f"; {len(parts)} of the {threshold} key groups needed could be decrypted"
            if multi
            else ""
        )
        raise DecryptionError(
            f"{_where(path)}: none of the age identities tried can decrypt this file. It is "
            f"encrypted for: {', '.join(file_recipients) or '(no age recipients)'}; identities "
            f"tried: {', '.join(tried)}{groups_note}",
            hint="ask someone who can decrypt it to add your recipient and run `secretsafe "
            "rotate`, or point SOPS_AGE_KEY_FILE at the right key",
        )
    if not multi:
        return parts[0]
    try:
        combined: bytes | None = shamir.combine(parts)
    except ValueError:
        combined = None
    if combined is None:
        raise IntegrityError(
            f"{_where(path)}: the key-group shares of the data key do not combine",
            hint="the file was altered; restore it from version control",
        )
    return combined


# ---------------------------------------------------------------------------------------------
# Decrypt


def decrypt(
    text: str, identities: Sequence[pyrage.x25519.Identity], *, path: str | None = None
) -> Document:
    """Decrypt a SOPS dotenv document in memory, checking every tag and the MAC."""
    raw_items, parsed = _parse(text, path)
    where = _where(path)
    if not identities:
        raise NoIdentityError(
            f"{where}: no age identity to decrypt with",
            hint="create one with `secretsafe keys generate` or set SOPS_AGE_KEY_FILE",
        )
    metadata = parsed.metadata
    rules = metadata.rules
    select = _Selector(rules, path, in_file=True)
    key = _data_key(parsed, identities, path)
    aead = _aead(key)

    def altered(lineno: int, what: str) -> IntegrityError:
        return IntegrityError(
            f"{where}:{lineno}: {what}",
            hint="the file was altered; restore it from version control",
        )

    mac = hashlib.sha512()
    if rules.mac_only_encrypted:
        mac.update(_MAC_ONLY_INIT)
    items: list[Item] = []
    seen: dict[str, int] = {}
    comments: list[str] = []
    for lineno, name, raw in raw_items:
        if name is None:
            comments.append(raw)
            if raw and select(None, comments, True) and raw.startswith(_ENC_PREFIX):
                parts = _open(raw)
                plain = _unseal(aead, parts, ":") if parts is not None else None
                if parts is None or plain is None or parts[3] not in ("comment", "str"):
                    raise altered(lineno, "an encrypted comment fails to decrypt")
                text_ = _utf8(plain, where, lineno, "comment")
                items.append(Comment(text_))
            else:
                items.append(Comment(raw))
            continue
        if not name:
            raise FormatError(f"{where}:{lineno}: a line has an empty key", hint="restore the file")
        if name in seen:
            raise FormatError(
                f"{where}:{lineno}: {name} appears twice (also line {seen[name]})",
                hint="remove one of them with `sops edit` (sops would silently use the last)",
            )
        seen[name] = lineno
        encrypted = select(name, comments, False)
        comments = []
        value = raw.replace("\\n", "\n")
        if encrypted and value:
            parts = _open(value)
            if parts is None:
                if value.startswith(_ENC_PREFIX):
                    raise altered(lineno, f"the encrypted value of {name} is malformed")
                raise altered(
                    lineno,
                    f"{name} holds a plaintext value where the file's rules say it is encrypted",
                )
            kind = parts[3]
            if kind in _CONVERTED_TYPES:
                raise NativeUnsupported(
                    f"{where}:{lineno}: {name} is stored with type:{kind} (a file converted from "
                    "YAML/JSON); the native codec reads type:str only",
                    hint="install the sops binary",
                )
            plain = _unseal(aead, parts, name + ":")
            if plain is None or kind != "str":
                raise altered(lineno, f"the value of {name} fails authentication")
            value = _utf8(plain, where, lineno, name)
        elif not encrypted and value.startswith(_ENC_PREFIX):
            raise altered(
                lineno,
                f"{name} holds an encrypted value but the file's rules say it is stored in "
                "plaintext (the rules in the metadata were changed)",
            )
        if not rules.mac_only_encrypted or encrypted:
            mac.update(value.encode("utf-8"))
        items.append(Entry(name, value))

    mac_parts = _open(parsed.mac)
    stored = _unseal(aead, mac_parts, metadata.lastmodified) if mac_parts is not None else None
    if mac_parts is None or stored is None or mac_parts[3] != "str":
        raise IntegrityError(
            f"{where}: sops_mac fails authentication (it, or sops_lastmodified, was altered)",
            hint="restore the file from version control",
        )
    computed = mac.hexdigest().upper().encode("ascii")
    if not hmac.compare_digest(stored, computed):
        raise IntegrityError(
            f"{where}: MAC mismatch: the values were changed outside sops",
            hint="restore the file from version control",
        )
    return Document(items=tuple(items), metadata=metadata)


def _utf8(plain: bytes, where: str, lineno: int, name: str) -> str:
    try:
        return plain.decode("utf-8")
    except UnicodeDecodeError:
        bad = True
    if bad:
        raise NativeUnsupported(
            f"{where}:{lineno}: the value of {name} is not UTF-8 text",
            hint="install the sops binary to read this file",
        )
    return ""  # unreachable


# ---------------------------------------------------------------------------------------------
# Encrypt


def to_sops_plaintext(items: Sequence[Item]) -> str:
    """Exactly what ``sops decrypt --output-type dotenv`` prints for these items."""
    out = []
    for item in items:
        if isinstance(item, Comment):
            out.append(f"#{item.text}\n")
        else:
            out.append(f"{item.key}={item.value.replace(chr(10), chr(92) + 'n')}\n")
    return "".join(out)


def check_items(items: Sequence[Item]) -> None:
    """Refuse keys the sops dotenv format cannot hold, reserved ``sops_`` keys and duplicates.

    A key that fails may be a value typed in the wrong place: messages show it only through
    :func:`secretsafe.dotenv.shown_name`."""
    from secretsafe.dotenv import shown_name

    seen: set[str] = set()
    for n, item in enumerate(items, start=1):
        if isinstance(item, Comment):
            if "\n" in item.text:
                raise FormatError(f"item {n}: a comment holds a newline")
            continue
        key = item.key
        if not key or "=" in key or "\n" in key or key.startswith("#"):
            raise FormatError(
                f"item {n}: {shown_name(key)} is not a key the sops dotenv format can hold",
                hint="keys must be non-empty, without '=', newline or a leading '#'",
            )
        if key.startswith(_PREFIX):
            raise FormatError(
                f"item {n}: {shown_name(key)}: keys starting with sops_ are reserved for sops "
                "metadata",
                hint="rename the variable",
            )
        if key in seen:
            raise FormatError(f"{shown_name(key)} appears twice", hint="keep one definition")
        seen.add(key)


def _recipients(key_groups: Sequence[Sequence[str]]) -> list[list[tuple[str, Any]]]:
    import pyrage

    if not key_groups:
        raise ConfigError("no recipients to encrypt for", hint="add an age recipient")
    out: list[list[tuple[str, Any]]] = []
    for group in key_groups:
        if not group:
            raise ConfigError("an empty key group", hint="every key group needs a recipient")
        parsed = []
        for r in group:
            try:
                parsed.append((r, pyrage.x25519.Recipient.from_str(r)))
            except Exception:  # noqa: BLE001 - pyrage.RecipientError and friends
                bad = True
            else:
                bad = False
            if bad:
                # Never echo a secret key pasted where a recipient belongs.
                if "AGE-SECRET-KEY-" in r.upper():
                    raise ConfigError(
                        "an age secret key (AGE-SECRET-KEY-...) was given as a recipient",
                        hint="use its public key (age1...); `secretsafe keys show` lists yours",
                    )
                raise NativeUnsupported(
                    f"{r!r} is not an X25519 age recipient (age1...)",
                    hint="check the recipient; SSH and plugin recipients need the sops binary",
                )
        out.append(parsed)
    return out


def encrypt(
    items: Sequence[Item],
    *,
    key_groups: Sequence[Sequence[str]],
    shamir_threshold: int | None = None,
    rules: Rules = Rules(),  # noqa: B008 - Rules is frozen
    lastmodified: datetime | None = None,
) -> str:
    """Encrypt ``items`` under a fresh random data key for the age recipients of each group."""
    import pyrage

    from secretsafe.sops import shamir

    check_items(items)
    groups = _recipients(key_groups)
    rules = _normalized(rules)
    select = _Selector(rules, None, in_file=False)
    if len(groups) > 1:
        threshold = shamir_threshold or len(groups)
        if not 2 <= threshold <= len(groups):
            raise ConfigError(
                f"shamir_threshold {threshold} is out of range for {len(groups)} key groups",
                hint=f"use a value from 2 to {len(groups)}",
            )
        shamir_threshold = threshold
    stamp = _stamp(lastmodified)

    data_key = os.urandom(_KEY_SIZE)
    shares = (
        shamir.split(data_key, len(groups), shamir_threshold or len(groups))
        if len(groups) > 1
        else [data_key]
    )
    aead = _aead(data_key)
    mac = hashlib.sha512()
    if rules.mac_only_encrypted:
        mac.update(_MAC_ONLY_INIT)
    lines: list[str] = []
    comments: list[str] = []
    for item in items:
        if isinstance(item, Comment):
            comments.append(item.text)
            text = item.text
            if text and select(None, comments, True):
                text = _seal(aead, text, ":", "comment")
                if select.unenc_comment is not None and select.unenc_comment.matches(text):
                    raise ConfigError(
                        "an encrypted comment matches unencrypted_comment_regex",
                        hint="make the regex unable to match ENC[...] text",
                    )
            lines.append(f"#{text}")
            continue
        encrypted = select(item.key, comments, False)
        comments = []
        value = item.value
        if not rules.mac_only_encrypted or encrypted:
            mac.update(value.encode("utf-8"))
        if encrypted and value:
            stored = _seal(aead, value, item.key + ":", "str")
        else:
            if "\\n" in value:
                raise FormatError(
                    f"{item.key}: an unencrypted value holds the two characters \\n, which the "
                    "sops dotenv format reads back as a newline",
                    hint="encrypt this value or change it",
                )
            stored = value.replace("\n", "\\n")
        lines.append(f"{item.key}={stored}")

    mac_enc = _seal(aead, mac.hexdigest().upper(), stamp, "str")
    meta_groups = []
    for group, share in zip(groups, shares, strict=True):
        meta_groups.append(
            [
                (r, bytes(pyrage.encrypt(share, [rec], armored=True)).decode("ascii"))
                for r, rec in group
            ]
        )
    lines += _md.serialize(
        groups=meta_groups,
        shamir_threshold=shamir_threshold,
        lastmodified=stamp,
        mac=mac_enc,
        rules=rules,
        version=SOPS_VERSION,
    )
    return "\n".join(lines) + "\n"


def _stamp(when: datetime | None) -> str:
    from datetime import UTC, datetime

    when = datetime.now(UTC) if when is None else when
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---------------------------------------------------------------------------------------------
# Output check


def plaintext_where_encrypted(
    text: str, *, rules: Rules | None = None, path: str | None = None
) -> list[str]:
    """Names of the values (``#N`` for the Nth comment) that ``rules`` (default: the file's
    own metadata rules) say are encrypted but that ``text`` holds in plaintext. Reads lines
    and metadata only; decrypts nothing. Raises like :func:`parse_metadata` on a broken file.
    """
    if rules is None:
        raw_items, parsed = _parse(text, path)
        return _unencrypted(raw_items, parsed.metadata.rules, path, in_file=True)
    return _unencrypted(_split(text, path)[0], _normalized(rules), path, in_file=False)


def _unencrypted(
    raw_items: list[tuple[int, str | None, str]], rules: Rules, path: str | None, *, in_file: bool
) -> list[str]:
    select = _Selector(rules, path, in_file=in_file)
    found: list[str] = []
    comments: list[str] = []
    n_comment = 0
    for _, name, raw in raw_items:
        if name is None:
            n_comment += 1
            comments.append(raw)
            if raw and select(None, comments, True) and _open(raw) is None:
                found.append(f"#{n_comment}")
            continue
        encrypted = select(name, comments, False)
        comments = []
        if encrypted and raw and _open(raw) is None:
            found.append(name)
    return found


def verify_encrypted(
    text: str, *, items: Sequence[Item], rules: Rules, path: str | None = None
) -> None:
    """Refuse encrypted output that does not say what was asked, before it is written.

    Independent of the encoder that produced ``text`` (native or the sops binary): every value
    and comment ``rules`` select is an ``ENC[...]`` value, the file's metadata holds the same
    rules (so reading it back selects the same values), and the keys are those of ``items``,
    in order. :class:`IntegrityError` naming the key otherwise, never a value.
    """
    where = _where(path)

    def refuse(what: str) -> IntegrityError:
        return IntegrityError(
            f"{where}: refusing to write the encrypted file: {what}",
            hint="nothing was written; report this as a bug in secretsafe",
        )

    intended = _normalized(rules)
    raw_items, meta = _split(text, path)
    leaked = _unencrypted(raw_items, intended, path, in_file=False)
    if leaked:
        raise refuse(
            f"{', '.join(leaked)} would be stored in plaintext although the rules say to encrypt it"
        )
    try:
        stored: Rules | None = _md.parse(meta, path=path).metadata.rules
    except NativeUnsupported:
        stored = None  # metadata of a newer sops: the values were checked above
    if stored is not None and _normalized(stored) != intended:
        raise refuse("the rules in the file's metadata differ from the rules asked for")
    written = [name for _, name, _ in raw_items if name is not None]
    if written != [i.key for i in items if isinstance(i, Entry)]:
        raise refuse("the keys in the output differ from the keys given")
