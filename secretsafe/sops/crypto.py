"""The sops crypto core, independent of any file format: the data key, the AES-256-GCM value
cipher, the additional data of a value's path, typed scalars and the MAC over the tree.

Confirmed against getsops/sops v3.11.0 (``aes/cipher.go``, ``sops.go``, ``stores/stores.go``,
``age/keysource.go``, ``shamir/``):

- A random 32-byte data key encrypts each value with AES-256-GCM and a random 32-byte IV:
  ``ENC[AES256_GCM,data:<b64>,iv:<b64>,tag:<b64 16 bytes>,type:<t>]`` (standard base64 with
  padding). The additional data is the value's path joined by ``:`` plus ``:`` (``KEY:``,
  ``db:password:``); a comment uses its parent's path (``:`` at the top level).
- ``type`` is ``str``, ``int``, ``float``, ``bool`` or ``comment``; the plaintext of a typed value
  is its Go text (``strconv.Itoa``, ``FormatFloat(v, 'f', -1, 64)``, ``True``/``False``).
  :func:`scalar` turns a decrypted typed value into the text sops prints for it
  (``stores.ValToString``: ``42.0``, ``1.5``, ``1E+21``, ``true``) and the bytes its MAC hashes.
- Each age recipient holds the data key age-encrypted and ASCII-armored. With several key
  groups the data key is split with Shamir (``shamir.py``) and each group holds one share.
- The MAC is SHA-512 over the plaintext of every non-comment value in tree order, concatenated
  with no separator, as upper-case hex, encrypted like a value with the ``lastmodified`` string
  as additional data. With ``mac_only_encrypted`` the hash starts with ``sha256("sops")`` and
  only encrypted values are hashed.

The store modules (``secretsafe.sops.stores``) turn text into values and back; this module
never sees a file's syntax.
"""

from __future__ import annotations

import binascii  # base64's functions without its import (and its `re`): run's start-up
import os

try:
    # What hashlib.sha256/sha512 and hmac.compare_digest are where OpenSSL is available,
    # without importing hashlib (with _blake2) and hmac (with warnings): about 0.8 ms of every
    # `secretsafe run`, whose AES-GCM comes from the same libcrypto (aead.py).
    from _hashlib import compare_digest
    from _hashlib import openssl_sha256 as sha256
    from _hashlib import openssl_sha512 as sha512
except ImportError:  # an interpreter built without OpenSSL
    from hashlib import sha256, sha512
    from hmac import compare_digest

from secretsafe.errors import DecryptionError, IntegrityError
from secretsafe.sops.aead import Cipher
from secretsafe.sops.metadata import NativeUnsupported, ParsedMetadata

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any, NamedTuple
else:
    from secretsafe._namedtuple import NamedTuple

__all__ = [
    "ENC_PREFIX",
    "KEY_SIZE",
    "Keep",
    "Mac",
    "Sealed",
    "aad",
    "aead",
    "b64",
    "data_key",
    "go_bytes",
    "go_text",
    "kind_of",
    "new_data_key",
    "new_shares",
    "parse_scalar",
    "scalar",
    "seal",
    "sealed",
    "unseal",
    "wrap_shares",
]

ENC_PREFIX = "ENC[AES256_GCM,"
_ARMOR_BEGIN = "-----BEGIN AGE ENCRYPTED FILE-----"
_ARMOR_END = "-----END AGE ENCRYPTED FILE-----"
_IV_SIZE = 32
_TAG_SIZE = 16
KEY_SIZE = 32
# sops.MACOnlyEncryptedInitialization: sha256(b"sops").
_MAC_ONLY_INIT = sha256(b"sops").digest()
# The patterns are compiled on first use (re's own cache): `secretsafe run` on a file of
# strings never needs them, and importing `re` (with enum) is milliseconds of its start-up.
# strconv.Atoi: an optional sign and decimal digits, in int64 range.
_GO_INT = r"[+-]?[0-9]+"
# The decimal forms of strconv.ParseFloat; anything else (hex floats, '_') goes to the binary.
_GO_FLOAT = r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
_GO_FLOAT_SPECIAL = {
    "inf": float("inf"),
    "+inf": float("inf"),
    "-inf": float("-inf"),
    "infinity": float("inf"),
    "+infinity": float("inf"),
    "-infinity": float("-inf"),
    "nan": float("nan"),
}
_GO_BOOLS = {
    **dict.fromkeys(("1", "t", "T", "TRUE", "true", "True"), True),
    **dict.fromkeys(("0", "f", "F", "FALSE", "false", "False"), False),
}
_INT64 = 1 << 63


def _where(path: str | None) -> str:
    return path or "<input>"


def _b64encode(data: bytes) -> str:
    """``base64.b64encode(data).decode()``."""
    return binascii.b2a_base64(data, newline=False).decode("ascii")


def b64(raw: str) -> bytes | None:
    """Strict, canonical standard base64 (one encoding per byte string), else None."""
    try:
        data = binascii.a2b_base64(raw, strict_mode=True)  # = b64decode(validate=True)
    except ValueError:
        return None
    if _b64encode(data) != raw:
        return None
    return data


# ---------------------------------------------------------------------------------------------
# Values


class Sealed(NamedTuple):
    """The parts of an ``ENC[...]`` value."""

    data: bytes
    iv: bytes
    tag: bytes
    kind: str


def sealed(value: str) -> Sealed | None:
    """``ENC[...]`` -> its parts if exactly in the form sops writes, else None.

    The form is ``ENC[AES256_GCM,data:B,iv:B,tag:B,type:T]``, B non-empty standard base64 and T
    non-empty ``[a-z]``. Parsed by hand rather than with ``re`` (run's start-up); ``b64``'s
    canonical round trip admits only the base64 alphabet, so no ``,`` or ``]`` can hide in a
    field (``tests/sops/test_crypto_parse.py`` holds it equal to the regular expression)."""
    if not value.startswith(ENC_PREFIX) or not value.endswith("]"):
        return None
    fields = value[len(ENC_PREFIX) : -1].split(",")
    if len(fields) != 4:  # data, iv, tag, type
        return None
    data_text, iv_text, tag_text, kind = fields
    if not (
        data_text.startswith("data:")
        and iv_text.startswith("iv:")
        and tag_text.startswith("tag:")
        and kind.startswith("type:")
    ):
        return None
    data_text, iv_text, tag_text, kind = data_text[5:], iv_text[3:], tag_text[4:], kind[5:]
    # Non-empty: b64("") is b"" (an empty iv or tag then fails its length check below).
    if not data_text or not (kind.isascii() and kind.isalpha() and kind.islower()):
        return None
    # b64() of each, inline (every value of every file comes through here).
    a2b, b2a = binascii.a2b_base64, binascii.b2a_base64
    try:
        data = a2b(data_text, strict_mode=True)
        iv = a2b(iv_text, strict_mode=True)
        tag = a2b(tag_text, strict_mode=True)
    except ValueError:
        return None
    if (
        len(iv) != _IV_SIZE
        or len(tag) != _TAG_SIZE
        # canonical: the one encoding of these bytes (strict decoding succeeded: ASCII)
        or b2a(data, newline=False) != data_text.encode("ascii")
        or b2a(iv, newline=False) != iv_text.encode("ascii")
        or b2a(tag, newline=False) != tag_text.encode("ascii")
    ):
        return None
    return Sealed(data, iv, tag, kind)


def aad(path: Sequence[str]) -> str:
    """The additional data of a value at ``path`` (sops: the path joined by ``:``, plus ``:``)."""
    return ":".join(path) + ":"


def aead(key: bytes) -> Cipher:
    """An AES-256-GCM cipher object for ``key`` (``encrypt``/``decrypt(iv, data, aad)``):
    decryption through OpenSSL's EVP API, encryption through cryptography's public ``AESGCM``
    (see :mod:`secretsafe.sops.aead` for why and what is guaranteed)."""
    return Cipher(key)


def seal(cipher: Any, plaintext: str, additional: str, kind: str) -> str:
    """``plaintext`` (the Go text of a value of type ``kind``) as an ``ENC[...]`` value."""
    iv = os.urandom(_IV_SIZE)
    out = cipher.encrypt(iv, plaintext.encode("utf-8"), additional.encode("utf-8"))
    data, tag = out[:-_TAG_SIZE], out[-_TAG_SIZE:]
    return (
        f"ENC[AES256_GCM,data:{_b64encode(data)},"
        f"iv:{_b64encode(iv)},tag:{_b64encode(tag)},type:{kind}]"
    )


def unseal(cipher: Any, parts: Sealed, additional: str) -> bytes | None:
    """The plaintext bytes, or None when the value is not authentic under ``additional``."""
    try:
        return bytes(cipher.decrypt(parts.iv, parts.data + parts.tag, additional.encode("utf-8")))
    except Exception:  # noqa: BLE001 - InvalidTag or a malformed input: both mean "not authentic"
        # Not importing cryptography.exceptions keeps ~10 ms off every `secretsafe run`.
        return None


# ---------------------------------------------------------------------------------------------
# Typed scalars (Go's strconv, as sops uses it)


Scalar = str | int | float | bool


def parse_scalar(kind: str, plain: str) -> tuple[Scalar] | None:
    """A decrypted value of type ``kind`` (``str``/``int``/``float``/``bool``) as the Python
    value sops holds, in a 1-tuple (a false value is a value); None if Go would not parse it.

    Raises :class:`NativeUnsupported` for a float in a form this module does not parse (hex
    floats), so the facade can ask the sops binary."""
    if kind == "str":
        return (plain,)
    if kind == "int":
        import re

        if re.fullmatch(_GO_INT, plain) is None:
            return None
        number = int(plain)
        return (number,) if -_INT64 <= number < _INT64 else None
    if kind == "bool":
        flag = _GO_BOOLS.get(plain)
        return None if flag is None else (flag,)
    if kind == "float":
        value = _go_parse_float(plain)
        return None if value is None else (value,)
    return None


def kind_of(value: Scalar) -> str:
    """The ``type:`` sops writes for ``value``."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    return "str"


def go_bytes(value: Scalar) -> str:
    """``sops.ToBytes``: the text the MAC hashes and the ciphertext holds."""
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, float):
        return _go_format_f(value)
    return str(value)


def go_text(value: Scalar) -> str:
    """``stores.ValToString``: the text sops prints for ``value`` (dotenv, exec-env)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return _go_val_to_string(value)
    return str(value)


def scalar(kind: str, plain: str) -> tuple[str, str] | None:
    """A decrypted value of type ``kind`` as ``(text sops prints, text its MAC hashes)``;
    None if Go would not parse it (see :func:`parse_scalar`)."""
    if kind == "str":
        return plain, plain
    parsed = parse_scalar(kind, plain)
    if parsed is None:
        return None
    return go_text(parsed[0]), go_bytes(parsed[0])


def _go_parse_float(text: str) -> float | None:
    special = _GO_FLOAT_SPECIAL.get(text.lower())
    if special is not None:
        return special
    import re

    if re.fullmatch(_GO_FLOAT, text) is None:
        if text.lower().lstrip("+-").startswith("0x"):
            raise NativeUnsupported(
                "a float value in hexadecimal form", hint="install the sops binary"
            )
        return None
    value = float(text)
    if value in (float("inf"), float("-inf")):
        return None  # strconv.ParseFloat: out of range (ErrRange)
    return value


def _digits(value: float) -> tuple[str, str, int]:
    """(sign, shortest decimal digits without trailing zeros, decimal point position): Go's
    shortest ``decimal`` for ``value`` (Python's repr finds the same shortest digits)."""
    from decimal import Decimal

    sign, digit_tuple, exponent = Decimal(repr(value)).as_tuple()
    assert isinstance(exponent, int)  # noqa: S101 - finite values only
    digits = "".join(map(str, digit_tuple)).lstrip("0")
    stripped = digits.rstrip("0")
    exponent += len(digits) - len(stripped)
    return ("-" if sign else ""), stripped, len(stripped) + exponent if stripped else 0


def _fmt_f(digits: str, point: int, frac: int) -> str:
    whole = (digits[:point].ljust(point, "0") if point > 0 else "") or "0"
    if frac <= 0:
        return whole
    tail = "".join(digits[point + i] if 0 <= point + i < len(digits) else "0" for i in range(frac))
    return f"{whole}.{tail}"


def _go_format_f(value: float) -> str:
    """``strconv.FormatFloat(value, 'f', -1, 64)``: the MAC and ciphertext form."""
    special = _go_special(value)
    if special is not None:
        return special
    sign, digits, point = _digits(value)
    return sign + _fmt_f(digits, point, max(len(digits) - point, 0))


def _go_special(value: float) -> str | None:
    import math

    if math.isnan(value):
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "+Inf" if value > 0 else "-Inf"
    return None


def _go_val_to_string(value: float) -> str:
    """``stores.ValToString`` of a float64: ``FormatFloat(v, 'G', -1, 64)``, with ``.0`` added
    when that reads like an integer."""
    special = _go_special(value)
    if special is not None:
        return special
    sign, digits, point = _digits(value)
    exp = point - 1
    if digits and (exp < -4 or exp >= 6):  # Go: shortest 'G' switches to %E at these bounds
        mantissa = digits[0] + (f".{digits[1:]}" if len(digits) > 1 else "")
        return f"{sign}{mantissa}E{'-' if exp < 0 else '+'}{abs(exp):02d}"
    text = _fmt_f(digits, point, max(len(digits) - point, 0))
    if "." not in text:
        text += ".0"
    return sign + text


# ---------------------------------------------------------------------------------------------
# MAC


class Mac:
    """The running MAC over a tree's values, in tree order."""

    __slots__ = ("_hash", "only_encrypted")

    def __init__(self, *, only_encrypted: bool) -> None:
        self.only_encrypted = only_encrypted
        self._hash = sha512()
        if only_encrypted:
            self._hash.update(_MAC_ONLY_INIT)

    def add(self, text: str, *, encrypted: bool) -> None:
        """Hash one value's MAC text (see :func:`scalar`)."""
        if encrypted or not self.only_encrypted:
            self._hash.update(text.encode("utf-8"))

    def seal(self, cipher: Any, lastmodified: str) -> str:
        """The ``ENC[...]`` MAC value to store."""
        return seal(cipher, self._hash.hexdigest().upper(), lastmodified, "str")

    def verify(self, cipher: Any, stored: str, lastmodified: str, path: str | None) -> None:
        """Raise :class:`IntegrityError` unless ``stored`` holds this MAC."""
        parts = sealed(stored)
        plain = unseal(cipher, parts, lastmodified) if parts is not None else None
        if parts is None or plain is None or parts.kind != "str":
            raise IntegrityError(
                f"{_where(path)}: sops_mac fails authentication (it, or sops_lastmodified, "
                "was altered)",
                hint="restore the file from version control",
            )
        computed = self._hash.hexdigest().upper().encode("ascii")
        if not compare_digest(plain, computed):
            raise IntegrityError(
                f"{_where(path)}: MAC mismatch: the values were changed outside sops",
                hint="restore the file from version control",
            )


# ---------------------------------------------------------------------------------------------
# Data key


def new_data_key(groups: int, threshold: int | None) -> tuple[bytes, list[bytes]]:
    """A fresh data key and the share each of ``groups`` key groups holds (the key itself
    when there is one group)."""
    key = os.urandom(KEY_SIZE)
    return key, new_shares(key, groups, threshold)


def new_shares(key: bytes, groups: int, threshold: int | None) -> list[bytes]:
    """The share of ``key`` each of ``groups`` key groups holds (``key`` itself for one)."""
    if groups <= 1:
        return [key]
    from secretsafe.sops import shamir

    return shamir.split(key, groups, threshold or groups)


def wrap_shares(
    groups: Sequence[Sequence[tuple[str, Any]]], shares: Sequence[bytes]
) -> list[list[tuple[str, str]]]:
    """Each group's ``(recipient, armored age file of its share)``."""
    import pyrage

    return [
        [(r, bytes(pyrage.encrypt(share, [rec], armored=True)).decode("ascii")) for r, rec in g]
        for g, share in zip(groups, shares, strict=True)
    ]


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
    return b64("".join(body))


def _age_decrypt(enc: str, identity: Any) -> bytes | None:
    import pyrage

    binary = _dearmor(enc)
    if binary is None:
        return None
    try:
        return bytes(pyrage.decrypt(binary, [identity]))
    except Exception:  # noqa: BLE001 - pyrage raises several types; all mean "not this key"
        return None


def _group_part(
    group: Sequence[Any], mine: list[tuple[Any, str | None]], path: str | None
) -> bytes | None:
    # First the keys labelled with one of our recipients: failing those means the enc block
    # was altered. Then, as sops does, every identity against every block.
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
                return part
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
                return part
    return None


def data_key(parsed: ParsedMetadata, identities: Sequence[Any], path: str | None) -> bytes:
    """The file's data key, from its age keys (and Shamir shares) and ``identities``."""
    mine = [(i, _recipient_of(i)) for i in identities]
    multi = len(parsed.groups) > 1
    part_size = KEY_SIZE + 1 if multi else KEY_SIZE
    parts: list[bytes] = []
    for group in parsed.groups:
        part = _group_part(group, mine, path)
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
    from secretsafe.sops import shamir  # only files with key groups pay for it

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
# Kept from the file a change rewrites


class Keep(NamedTuple):
    """What a change keeps of the file it rewrites (``secretsafe.sops.update``), so that only
    what changed gets new ciphertext: its data key, its wrapped keys (``(recipient, armored
    enc)`` per key group, reused while a group's recipients stay), its Shamir threshold, and
    the ``ENC[...]`` text of each value by ``(additional data, type, plaintext)``, reused for
    a value that did not change (each once: two equal values never share a ciphertext)."""

    data_key: bytes
    groups: tuple[tuple[tuple[str, str], ...], ...]
    threshold: int | None
    sealed: dict[tuple[str, str, str], list[str]]

    def __repr__(self) -> str:
        return f"Keep(groups={[[r for r, _ in g] for g in self.groups]!r}, <hidden>)"
