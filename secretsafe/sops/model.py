"""The in-memory model of a SOPS dotenv document, shared by the native codec and the sops
binary backend. Values here are plaintext: these objects never leave the process."""

from __future__ import annotations

from dataclasses import dataclass, field

from secretsafe.secret import SecretValues

__all__ = ["Comment", "Document", "Entry", "Item", "KeyGroup", "Metadata", "Rules"]


@dataclass(frozen=True, slots=True)
class Entry:
    """One ``KEY=value`` line; ``value`` is the real value (newlines are real newlines)."""

    key: str
    value: str = field(repr=False)

    def __repr__(self) -> str:
        return f"Entry(key={self.key!r}, value=<hidden>)"


@dataclass(frozen=True, slots=True)
class Comment:
    """A full-line comment; ``text`` is what follows the ``#``."""

    text: str = field(repr=False)

    def __repr__(self) -> str:
        return "Comment(<hidden>)"


Item = Entry | Comment


@dataclass(frozen=True, slots=True)
class Rules:
    """Which values sops encrypts (``.sops.yaml`` creation rule options of the same names).

    At most one of the four selectors may be set; sops' default is the unencrypted suffix
    ``_unencrypted``.
    """

    unencrypted_suffix: str | None = "_unencrypted"
    encrypted_suffix: str | None = None
    unencrypted_regex: str | None = None
    encrypted_regex: str | None = None
    mac_only_encrypted: bool = False


@dataclass(frozen=True, slots=True)
class KeyGroup:
    """One key group: the age recipients in it, and the names of other key types present
    (``"pgp"``, ``"kms"``, ``"gcp_kms"``, ``"azure_kv"``, ``"hc_vault"``) that only the sops
    binary can use."""

    age: tuple[str, ...] = ()
    other: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Metadata:
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


@dataclass(frozen=True, slots=True)
class Document:
    """A decrypted document: the items in file order and the metadata they were stored with."""

    items: tuple[Item, ...]
    metadata: Metadata

    @property
    def values(self) -> SecretValues:
        return SecretValues({i.key: i.value for i in self.items if isinstance(i, Entry)})

    def __repr__(self) -> str:
        keys = [i.key for i in self.items if isinstance(i, Entry)]
        return f"Document(keys={keys!r}, recipients={list(self.metadata.recipients)!r})"
