"""In-process reader and writer of SOPS files (age keys only), compatible with sops 3.11: the
tree walk that joins a store (``stores/dotenv.py``: the text), the crypto core (``crypto.py``:
data key, AES-256-GCM, path additional data, typed scalars, MAC) and the encryption rules
(sops.Tree.shouldBeEncrypted), as sops' own ``sops.go`` does.

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
(injected plaintext), malformed ``ENC[...]`` values (unanchored text, non-canonical base64, IV
not 32 bytes, tag not 16 bytes, a type other than ``str``/``int``/``float``/``bool``/``comment``,
a typed value Go would not parse), a comment that looks encrypted but
fails to decrypt, a ``sops_lastmodified`` not in the exact form sops writes, a recipient line
that does not match the identity that decrypted its key, a data key not 32 bytes, and MAC
mismatch (IntegrityError). Plaintext comments where the rules say comments are encrypted are
accepted, as sops does: users add notes to encrypted files, and comments never reach the
environment. A value under a key the rules leave in plaintext is text, even when it looks like
``ENC[...]`` (as sops reads it; edited rules still fail the MAC). Values of type
``int``/``float``/``bool`` (``sops set``, files converted from YAML) read as the text sops
prints for them (``42.0``, ``true``).

Rules regexes are Go RE2 patterns, evaluated as Go's ``regexp.Match`` (an unanchored search,
linear time) by :mod:`secretsafe.sops.regex`. A rule regex in a file's metadata that Go cannot
compile is a :class:`FormatError` naming the metadata line (sops would match nothing with it and
read every value as plaintext); in a rule given to :func:`encrypt`, a :class:`ConfigError`.

Before any encrypted text leaves this package for a write, :func:`verify_encrypted` checks the
output itself: every value and comment the rules select is an ``ENC[...]`` value, the file's
metadata holds the same rules, and the keys are the ones given.
"""

from __future__ import annotations

from secretsafe.errors import ConfigError, FormatError, IntegrityError, NoIdentityError
from secretsafe.sops import crypto
from secretsafe.sops import metadata as _md
from secretsafe.sops.metadata import NativeUnsupported
from secretsafe.sops.model import Comment, Document, Entry, Item, Metadata, Rules
from secretsafe.sops.stores import dotenv as _store

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime
    from typing import Any

    import pyrage

    from secretsafe.sops.regex import GoRegex
    from secretsafe.sops.tree import Branch

__all__ = [
    "SOPS_VERSION",
    "NativeUnsupported",
    "check_items",
    "decrypt",
    "decrypt_tree",
    "encrypt",
    "encrypt_tree",
    "is_encrypted",
    "parse_metadata",
    "plaintext_where_encrypted",
    "to_sops_plaintext",
    "verify_encrypted",
    "verify_tree_encrypted",
]

SOPS_VERSION = "3.11.0"
_TYPED = ("str", "int", "float", "bool")

# The dotenv store's functions under the names other layers have used.
is_encrypted = _store.is_encrypted
to_sops_plaintext = _store.to_plaintext
check_items = _store.check_keys


def _where(path: str | None) -> str:
    return path or "<input>"


def parse_metadata(text: str, *, path: str | None = None) -> Metadata:
    """The file's metadata (recipients, rules, ...) without decrypting anything."""
    return _parse(text, path)[1].metadata


def parse_metadata_of(meta: dict[str, str], *, path: str | None = None) -> Metadata:
    """The metadata from a store's flattened metadata map (any store)."""
    return _md.parse(meta, path=path).metadata


def _parse(text: str, path: str | None) -> tuple[list[_store.RawItem], _md.ParsedMetadata]:
    items, meta = _store.split(text, path)
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

    def __call__(
        self, path: Sequence[str], stack: Sequence[Sequence[str]], is_comment: bool
    ) -> bool:
        """Whether the value (or comment) at ``path`` is encrypted, ``stack`` being the comments
        above it at each nesting level (sops.Tree.shouldBeEncrypted)."""
        encrypted = True
        # Loops rather than any(<generator>): this runs for every value of every file.
        if self.unenc_suffix is not None:
            for p in path:
                if p.endswith(self.unenc_suffix):
                    encrypted = False
                    break
        if self.enc_suffix is not None:
            encrypted = False
            for p in path:
                if p.endswith(self.enc_suffix):
                    encrypted = True
                    break
        if self.unenc_regex is not None and any(self.unenc_regex.matches(p) for p in path):
            encrypted = False
        if self.enc_regex is not None:
            encrypted = any(self.enc_regex.matches(p) for p in path)
        if self.unenc_comment is not None and any(
            self.unenc_comment.matches(c) for level in stack for c in level
        ):
            encrypted = False
        if self.enc_comment is not None:
            # The comment line that matches is itself left in plaintext (sops skips the last
            # comment of the innermost level when judging a comment).
            last = len(stack) - 1
            encrypted = any(
                self.enc_comment.matches(c)
                for i, level in enumerate(stack)
                for j, c in enumerate(level)
                if not (is_comment and i == last and j == len(level) - 1)
            )
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
    cipher = crypto.aead(crypto.data_key(parsed, identities, path))

    def altered(lineno: int, what: str) -> IntegrityError:
        return IntegrityError(
            f"{where}:{lineno}: {what}",
            hint="the file was altered; restore it from version control",
        )

    mac = crypto.Mac(only_encrypted=rules.mac_only_encrypted)
    items: list[Item] = []
    seen: dict[str, int] = {}
    comments: list[str] = []
    for lineno, name, raw in raw_items:
        if name is None:
            comments.append(raw)
            if raw and select((), (comments,), True) and raw.startswith(crypto.ENC_PREFIX):
                parts = crypto.sealed(raw)
                plain = crypto.unseal(cipher, parts, crypto.aad(())) if parts else None
                if parts is None or plain is None or parts.kind not in ("comment", "str"):
                    raise altered(lineno, "an encrypted comment fails to decrypt")
                items.append(Comment(_utf8(plain, where, lineno, "comment")))
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
        encrypted = select((name,), (comments,), False)
        comments = []
        value = _store.decode_value(raw)
        mac_text = value
        if encrypted and value:
            parts = crypto.sealed(value)
            if parts is None:
                if value.startswith(crypto.ENC_PREFIX):
                    raise altered(lineno, f"the encrypted value of {name} is malformed")
                raise altered(
                    lineno,
                    f"{name} holds a plaintext value where the file's rules say it is encrypted",
                )
            plain = crypto.unseal(cipher, parts, crypto.aad((name,)))
            if plain is None or parts.kind not in _TYPED:
                raise altered(lineno, f"the value of {name} fails authentication")
            typed = crypto.scalar(parts.kind, _utf8(plain, where, lineno, name))
            if typed is None:
                raise altered(lineno, f"the value of {name} is not a valid {parts.kind}")
            value, mac_text = typed
        # An unencrypted value is text whatever it looks like (ENC[...] included), as sops
        # reads it: rules edited to leave an encrypted value in plaintext fail the MAC.
        mac.add(mac_text, encrypted=encrypted)
        items.append(Entry(name, value))

    mac.verify(cipher, parsed.mac, metadata.lastmodified, path)
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
    keep: crypto.Keep | None = None,
) -> str:
    """Encrypt ``items`` under a fresh random data key for the age recipients of each group
    (or under the data key ``keep`` holds, reusing its wrapped keys and unchanged values)."""
    check_items(items)
    keys = _Keys(key_groups, shamir_threshold, rules, lastmodified, keep)
    select, mac = keys.select, keys.mac
    lines: list[tuple[str | None, str]] = []
    comments: list[str] = []
    for item in items:
        if isinstance(item, Comment):
            comments.append(item.text)
            text = item.text
            if text and select((), (comments,), True):
                text = keys.seal(text, crypto.aad(()), "comment")
                if select.unenc_comment is not None and select.unenc_comment.matches(text):
                    raise ConfigError(
                        "an encrypted comment matches unencrypted_comment_regex",
                        hint="make the regex unable to match ENC[...] text",
                    )
            lines.append((None, text))
            continue
        encrypted = select((item.key,), (comments,), False)
        comments = []
        value = item.value
        mac.add(value, encrypted=encrypted)
        if encrypted and value:
            stored = keys.seal(value, crypto.aad((item.key,)), "str")
        else:
            if "\\n" in value:
                raise FormatError(
                    f"{item.key}: an unencrypted value holds the two characters \\n, which the "
                    "sops dotenv format reads back as a newline",
                    hint="encrypt this value or change it",
                )
            stored = _store.encode_value(value)
        lines.append((item.key, stored))

    return _store.emit(lines, keys.metadata())


class _Keys:
    """What every encrypt needs, whatever the store: the recipients checked, a fresh data key
    (split per key group), the rules' selector, the MAC, and the metadata lines at the end."""

    def __init__(
        self,
        key_groups: Sequence[Sequence[str]],
        shamir_threshold: int | None,
        rules: Rules,
        lastmodified: datetime | None,
        keep: crypto.Keep | None = None,
    ) -> None:
        self.groups = _recipients(key_groups)
        self.rules = _normalized(rules)
        self.select = _Selector(self.rules, None, in_file=False)
        if len(self.groups) > 1:
            threshold = shamir_threshold or len(self.groups)
            if not 2 <= threshold <= len(self.groups):
                raise ConfigError(
                    f"shamir_threshold {threshold} is out of range for {len(self.groups)} key "
                    "groups",
                    hint=f"use a value from 2 to {len(self.groups)}",
                )
            shamir_threshold = threshold
        self.threshold = shamir_threshold
        self.stamp = _stamp(lastmodified)
        self.keep = keep
        if keep is None:
            self.data_key, self.shares = crypto.new_data_key(len(self.groups), shamir_threshold)
            self._reuse: dict[tuple[str, str, str], list[str]] = {}
        else:
            self.data_key, self.shares = keep.data_key, []
            self._reuse = {k: list(v) for k, v in keep.sealed.items()}
        self.cipher = crypto.aead(self.data_key)
        self.mac = crypto.Mac(only_encrypted=self.rules.mac_only_encrypted)

    def seal(self, plaintext: str, additional: str, kind: str) -> str:
        """``plaintext`` as an ``ENC[...]`` value: the kept one when this value is unchanged
        (same path, type and plaintext, under the same data key), else a new one."""
        kept = self._reuse.get((additional, kind, plaintext))
        if kept:
            return kept.pop(0)
        return crypto.seal(self.cipher, plaintext, additional, kind)

    def _wrapped(self) -> list[list[tuple[str, str]]]:
        """Each group's ``(recipient, armored enc)``: a fresh key wrapped for everyone; a kept
        key with its wrapped copies reused where the groups allow, as ``sops updatekeys``
        re-wraps the same data key (several groups: new Shamir shares of it)."""
        keep = self.keep
        if keep is None:
            return crypto.wrap_shares(self.groups, self.shares)
        names = [[r for r, _ in g] for g in self.groups]
        if names == [[r for r, _ in g] for g in keep.groups] and self.threshold == keep.threshold:
            return [list(g) for g in keep.groups]
        if len(self.groups) == 1 and len(keep.groups) == 1:
            had = dict(keep.groups[0])
            new = [(r, rec) for r, rec in self.groups[0] if r not in had]
            fresh = dict(crypto.wrap_shares([new], [self.data_key])[0]) if new else {}
            return [[(r, had.get(r) or fresh[r]) for r, _ in self.groups[0]]]
        shares = crypto.new_shares(self.data_key, len(self.groups), self.threshold)
        return crypto.wrap_shares(self.groups, shares)

    def metadata(self) -> list[str]:
        """The ``sops_*`` lines, once every value went through :attr:`mac`."""
        return _md.serialize(
            groups=self._wrapped(),
            shamir_threshold=self.threshold,
            lastmodified=self.stamp,
            mac=self.mac.seal(self.cipher, self.stamp),
            rules=self.rules,
            version=SOPS_VERSION,
        )


# ---------------------------------------------------------------------------------------------
# Nested stores (JSON)


def decrypt_tree(
    text: str,
    identities: Sequence[pyrage.x25519.Identity],
    *,
    path: str | None = None,
    store: str = "json",
) -> tuple[Branch, Metadata]:
    """Decrypt a sops JSON or YAML (``store``) document in memory (nested maps, lists, typed
    values), checking every tag and the MAC. Returns the tree and its metadata."""
    from secretsafe.sops import tree

    if store == "yaml":
        from secretsafe.sops.stores import yaml as yaml_store

        data, meta = yaml_store.load(text, path)
    else:
        from secretsafe.sops.stores import json as json_store

        data, meta = json_store.load(text, path)
    if not meta:
        raise FormatError(
            f"{_where(path)}: not encrypted with sops (no sops metadata)",
            hint="encrypt it first, or pass the encrypted file",
        )
    parsed = _md.parse(meta, path=path)
    if not identities:
        raise NoIdentityError(
            f"{_where(path)}: no age identity to decrypt with",
            hint="create one with `secretsafe keys generate` or set SOPS_AGE_KEY_FILE",
        )
    rules = parsed.metadata.rules
    cipher = crypto.aead(crypto.data_key(parsed, identities, path))
    mac = crypto.Mac(only_encrypted=rules.mac_only_encrypted)
    select = _Selector(rules, path, in_file=True)
    out = tree.decrypt(data, select=select, cipher=cipher, mac=mac, where=_where(path))
    mac.verify(cipher, parsed.mac, parsed.metadata.lastmodified, path)
    return out, parsed.metadata


def encrypt_tree(
    data: Branch,
    *,
    key_groups: Sequence[Sequence[str]],
    shamir_threshold: int | None = None,
    rules: Rules = Rules(),  # noqa: B008 - Rules is frozen
    lastmodified: datetime | None = None,
    store: str = "json",
    keep: crypto.Keep | None = None,
) -> str:
    """Encrypt a tree into a sops JSON or YAML (``store``) document under a fresh data key
    (or under the data key ``keep`` holds, as :func:`encrypt`)."""
    from secretsafe.sops import tree

    if any(key == "sops" for key, _ in data):
        raise FormatError("the key sops is reserved for sops metadata", hint="rename it")
    keys = _Keys(key_groups, shamir_threshold, rules, lastmodified, keep)
    encrypted = tree.encrypt(data, select=keys.select, seal=keys.seal, mac=keys.mac)
    if store == "yaml":
        from secretsafe.sops.stores import yaml as yaml_store

        return yaml_store.emit(encrypted, keys.metadata())
    from secretsafe.sops.stores import json as json_store

    return json_store.emit(encrypted, keys.metadata())


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
    return _unencrypted(_store.split(text, path)[0], _normalized(rules), path, in_file=False)


def _unencrypted(
    raw_items: list[_store.RawItem], rules: Rules, path: str | None, *, in_file: bool
) -> list[str]:
    select = _Selector(rules, path, in_file=in_file)
    found: list[str] = []
    comments: list[str] = []
    n_comment = 0
    for _, name, raw in raw_items:
        if name is None:
            n_comment += 1
            comments.append(raw)
            if raw and select((), (comments,), True) and crypto.sealed(raw) is None:
                found.append(f"#{n_comment}")
            continue
        encrypted = select((name,), (comments,), False)
        comments = []
        if encrypted and raw and crypto.sealed(raw) is None:
            found.append(name)
    return found


def _refuse_write(path: str | None, what: str) -> IntegrityError:
    return IntegrityError(
        f"{_where(path)}: refusing to write the encrypted file: {what}",
        hint="nothing was written; report this as a bug in secretsafe",
    )


def _check_sealed(leaked: Sequence[str], meta: Any, intended: Rules, path: str | None) -> None:
    """What both write checks share: nothing the rules select left in plaintext, and the
    rules stored in the metadata are the rules asked for."""
    if leaked:
        raise _refuse_write(
            path,
            f"{', '.join(leaked)} would be stored in plaintext although the rules say to "
            "encrypt it",
        )
    try:
        stored: Rules | None = _md.parse(meta, path=path).metadata.rules
    except NativeUnsupported:
        stored = None  # metadata of a newer sops: the values were checked above
    if stored is not None and _normalized(stored) != intended:
        raise _refuse_write(
            path, "the rules in the file's metadata differ from the rules asked for"
        )


def verify_encrypted(
    text: str, *, items: Sequence[Item], rules: Rules, path: str | None = None
) -> None:
    """Refuse encrypted output that does not say what was asked, before it is written.

    Independent of the encoder that produced ``text`` (native or the sops binary): every value
    and comment ``rules`` select is an ``ENC[...]`` value, the file's metadata holds the same
    rules (so reading it back selects the same values), and the keys are those of ``items``,
    in order. :class:`IntegrityError` naming the key otherwise, never a value.
    """
    intended = _normalized(rules)
    raw_items, meta = _store.split(text, path)
    _check_sealed(_unencrypted(raw_items, intended, path, in_file=False), meta, intended, path)
    written = [name for _, name, _ in raw_items if name is not None]
    if written != [i.key for i in items if isinstance(i, Entry)]:
        raise _refuse_write(path, "the keys in the output differ from the keys given")


def verify_tree_encrypted(
    text: str, *, data: Branch, rules: Rules, store: str, path: str | None = None
) -> None:
    """:func:`verify_encrypted` for a sops JSON or YAML (``store``) document: read back
    through its store, every value and comment ``rules`` select is an ``ENC[...]`` value, the
    metadata holds the same rules, and the paths of the values are those of ``data`` (the
    plaintext tree), in order. :class:`IntegrityError` naming the path, never a value."""
    from secretsafe.sops import tree

    intended = _normalized(rules)
    if store == "yaml":
        from secretsafe.sops.stores import yaml as yaml_store

        written, meta = yaml_store.load(text, path)
    else:
        from secretsafe.sops.stores import json as json_store

        written, meta = json_store.load(text, path)
    leaked = tree.unsealed(written, select=_Selector(intended, path, in_file=False))
    _check_sealed(leaked, meta, intended, path)
    if _value_paths(written) != _value_paths(data):
        raise _refuse_write(path, "the keys in the output differ from the keys given")


def _value_paths(data: Branch) -> list[list[str]]:
    """The paths of the values of a tree, comments left out (an encrypted comment in a list is
    written as an item, as sops writes it)."""
    from secretsafe.sops import tree

    def comment(value: Any) -> bool:
        parts = crypto.sealed(value) if isinstance(value, str) else None
        return parts is not None and parts.kind == "comment"

    return [p for p, v in tree.leaves(data) if not comment(v)]
