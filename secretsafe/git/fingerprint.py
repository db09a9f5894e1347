"""Short keyed fingerprints of values, for diffs of encrypted files.

``fingerprint = HMAC-SHA256(k, len(name) || name || value)``, first 12 hex digits, where
``k = HMAC-SHA256(data key, "secretsafe git fingerprint v1")``: a key derived from the file's
data key with a fixed label (one HKDF-Expand block in all but name). So:

- without the data key nobody can compute or test a fingerprint (a guessed value cannot be
  checked against the diff, as it could with a plain hash);
- the same name and value give the same fingerprint as long as the file keeps its data key:
  a reviewer sees that two changes set the same value, and unchanged values keep their
  fingerprint across ``set``/``unset``/``edit``/merges that keep the key (minimal churn);
- ``rotate`` (and removing a recipient, which rotates) changes every fingerprint, and so does
  the key id printed with them; the same value in two files shows different fingerprints
  (each file has its own data key).

48 bits are enough to tell changes apart in a review, not to stand for the value anywhere.
"""

from __future__ import annotations

import hashlib
import hmac

__all__ = ["FINGERPRINT_LABEL", "KEY_ID_LABEL", "Fingerprinter"]

FINGERPRINT_LABEL = b"secretsafe git fingerprint v1"
KEY_ID_LABEL = b"secretsafe git key id v1"
_HEX_DIGITS = 12


class Fingerprinter:
    """Fingerprints under one file's data key (the derived key only is kept)."""

    __slots__ = ("_key", "key_id")

    def __init__(self, data_key: bytes) -> None:
        self._key = hmac.new(data_key, FINGERPRINT_LABEL, hashlib.sha256).digest()
        #: Names the data key in a diff (a rotation shows as a changed key id).
        self.key_id = hmac.new(data_key, KEY_ID_LABEL, hashlib.sha256).hexdigest()[:_HEX_DIGITS]

    def __call__(self, name: str, value: str) -> str:
        raw_name = name.encode("utf-8", "surrogatepass")
        message = (
            len(raw_name).to_bytes(4, "big") + raw_name + value.encode("utf-8", "surrogatepass")
        )
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()[:_HEX_DIGITS]

    def __repr__(self) -> str:
        return f"Fingerprinter(key_id={self.key_id!r})"
