"""The in-memory model of a SOPS dotenv document, shared by the native codec and the sops
binary backend. Values here are plaintext: these objects never leave the process.

The classes are NamedTuples rather than dataclasses on purpose: `secretsafe run` loads this
module on every container start, and dataclasses costs an import of inspect plus code
generation per class (about 10 ms together).
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import NamedTuple

    from secretsafe.secret import SecretValues
else:
    from secretsafe._namedtuple import NamedTuple  # typing's, without importing typing

__all__ = ["Comment", "Document", "Entry", "Item", "KeyGroup", "Metadata", "Rules"]


class Entry(NamedTuple):
    """One ``KEY=value`` line; ``value`` is the real value (newlines are real newlines)."""

    key: str
    value: str

    def __repr__(self) -> str:
        return f"Entry(key={self.key!r}, value=<hidden>)"


class Comment(NamedTuple):
    """A full-line comment; ``text`` is what follows the ``#``."""

    text: str

    def __repr__(self) -> str:
        return "Comment(<hidden>)"


Item = Entry | Comment


class Rules(NamedTuple):
    """Which values sops encrypts (``.sops.yaml`` creation rule options of the same names).

    At most one of the six selectors may be set; sops' default is the unencrypted suffix
    ``_unencrypted`` (the native codec drops that default when another selector is given).
    The two comment regexes select by the comment lines just above a ``KEY=value`` line.
    """

    unencrypted_suffix: str | None = "_unencrypted"
    encrypted_suffix: str | None = None
    unencrypted_regex: str | None = None
    encrypted_regex: str | None = None
    mac_only_encrypted: bool = False
    unencrypted_comment_regex: str | None = None
    encrypted_comment_regex: str | None = None


class KeyGroup(NamedTuple):
    """One key group: the age recipients in it, and the names of other key types present
    (``"pgp"``, ``"kms"``, ``"gcp_kms"``, ``"azure_kv"``, ``"hc_vault"``) that only the sops
    binary can use."""

    age: tuple[str, ...] = ()
    other: tuple[str, ...] = ()


class Metadata(NamedTuple):
    key_groups: tuple[KeyGroup, ...]
    shamir_threshold: int | None
    lastmodified: str
    rules: Rules
    version: str

    @property
    def recipients(self) -> tuple[str, ...]:
        """Every age recipient of the file, in file order."""
        return tuple(r for g in self.key_groups for r in g.age)

    @property
    def unsupported_key_types(self) -> tuple[str, ...]:
        return tuple(sorted({t for g in self.key_groups for t in g.other}))


class Document(NamedTuple):
    """A decrypted document: the items in file order and the metadata they were stored with."""

    items: tuple[Item, ...]
    metadata: Metadata

    @property
    def values(self) -> SecretValues:
        from secretsafe.secret import SecretValues  # not on `run`'s path (see `plain`)

        return SecretValues(self.plain)

    @property
    def plain(self) -> dict[str, str]:
        """The values as a plain dict, file order (``secretsafe run``: no masked container)."""
        return {i.key: i.value for i in self.items if isinstance(i, Entry)}

    def __repr__(self) -> str:
        keys = [i.key for i in self.items if isinstance(i, Entry)]
        return f"Document(keys={keys!r}, recipients={list(self.metadata.recipients)!r})"
