"""``secretsafe git textconv FILE``: the text git diffs instead of an encrypted file.

One line per variable, in file order, ``NAME = fp:<fingerprint>`` (see
:mod:`secretsafe.git.fingerprint`), so ``git diff`` and ``git log -p`` show which variables were
added, removed or changed, and equal fingerprints mean equal values. A header names the data
key (its key id) and the recipients, so a rotation or a membership change is visible too.

Without a key that opens the file (no identity, not a recipient, a file that fails its
integrity check) the lines are ``NAME (encrypted, ciphertext <id>)``, ``NAME (not
encrypted)`` or ``NAME (empty)``, still exit 0 so that git shows a diff: names, plus a short
hash of each encrypted value's ciphertext (already public in the file), which changes when the
value is re-encrypted, so a changed value still shows as a changed line (it cannot tell two
equal changes apart: every encryption is randomised). No value, encrypted or not, is ever
printed: an unencrypted value gets a fingerprint like the others. A file that is not a sops file (a
pattern in ``.gitattributes`` can match a plaintext template) is shown as it is, as git would
show it without this filter.
"""

from __future__ import annotations

import os

from secretsafe.errors import DecryptionError, IntegrityError, NoIdentityError, SecretsafeError
from secretsafe.git import variables

__all__ = ["shown", "textconv"]


def shown(name: str) -> str:
    """A variable name, recipient or path from a file or a branch, as a line may hold it
    (control and format characters escaped: no terminal escape sequence, no line break, no
    bidi override). Names of sops files are stored in clear, so showing them reveals
    nothing new."""
    if name.isprintable():
        return name
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in name)


def _why_not(exc: SecretsafeError) -> str:
    # Fixed texts: a reason, never an error's own words, reaches the diff.
    if isinstance(exc, NoIdentityError):
        return "no age key here"
    if isinstance(exc, DecryptionError):
        return "none of your age keys is a recipient"
    if isinstance(exc, IntegrityError):
        return "it fails its integrity check (altered?)"
    return "it cannot be decrypted here"


def textconv(data: bytes, *, path: str | os.PathLike[str] | None = None) -> bytes:
    """The diff text of a file's content ``data`` (see the module docstring)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return data
    if variables.store_of(text) is None:
        return data
    try:
        listing = variables.listing(text, path=path)
    except SecretsafeError:
        return b"# secretsafe: a sops file secretsafe cannot read; not shown\n"
    head = f"# secretsafe: sops {listing.store} file"
    recipients = [f"# recipient {shown(r)}" for r in listing.recipients]
    try:
        opened = variables.decrypt(text, path=path)
    except SecretsafeError as exc:
        lines = [f"{head}; {_why_not(exc)}: names only", *recipients]
        for name, state in listing.states.items():
            ct = listing.ciphertext_ids.get(name)
            shown_state = {"plaintext": "not encrypted"}.get(state, state)
            lines.append(f"{shown(name)} ({shown_state}{f', ciphertext {ct}' if ct else ''})")
        return ("\n".join(lines) + "\n").encode("utf-8")
    from secretsafe.git.fingerprint import Fingerprinter

    fp = Fingerprinter(opened.data_key)
    lines = [f"{head}; values as keyed fingerprints, data key {fp.key_id}", *recipients]
    for name, value in opened.values.items():
        if not value:
            lines.append(f"{shown(name)} = (empty)")
            continue
        plain = " (not encrypted)" if listing.states.get(name) == "plaintext" else ""
        lines.append(f"{shown(name)} = fp:{fp(name, value)}{plain}")
    return ("\n".join(lines) + "\n").encode("utf-8")
