"""The two sops backends as objects with one contract: decrypt text into a
:class:`~secretsafe.sops.model.Document`, encrypt items into text.

- :class:`NativeBackend`: in process (the dotenv store, the crypto core, pyrage); age keys only.
  Raises :class:`~secretsafe.sops.metadata.NativeUnsupported` for what it cannot do, so the
  facade (:mod:`secretsafe.sops`) can hand the file to the binary.
- :class:`BinaryBackend`: the real sops binary as a subprocess (:mod:`secretsafe.sops.binary`).

Both refuse and accept the same inputs; ``tests/sops/test_backends.py`` holds the one contract
test class both subclass. The facade decides between them (``auto``) and verifies every
encrypted output before it is written.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

    from secretsafe.keys import Identity
    from secretsafe.sops.model import Document, Item, Rules

__all__ = ["BinaryBackend", "NativeBackend", "SopsBackend", "backend_named"]


class SopsBackend:
    """The contract. ``path`` only names the file in messages (and, for the binary, matches
    ``.sops.yaml`` rules of key types only sops understands)."""

    name = ""

    def decrypt(
        self, text: str, identities: Sequence[Identity], *, path: str | None = None
    ) -> Document:
        raise NotImplementedError

    def encrypt(
        self,
        items: Sequence[Item],
        *,
        key_groups: Sequence[Sequence[str]],
        shamir_threshold: int | None,
        rules: Rules,
        path: str | None = None,
    ) -> str:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class NativeBackend(SopsBackend):
    name = "native"

    def decrypt(
        self, text: str, identities: Sequence[Identity], *, path: str | None = None
    ) -> Document:
        from secretsafe.sops import native

        return native.decrypt(text, [i.to_pyrage() for i in identities], path=path)

    def encrypt(
        self,
        items: Sequence[Item],
        *,
        key_groups: Sequence[Sequence[str]],
        shamir_threshold: int | None,
        rules: Rules,
        path: str | None = None,
    ) -> str:
        from secretsafe.sops import native

        return native.encrypt(
            items, key_groups=key_groups, shamir_threshold=shamir_threshold, rules=rules
        )


class BinaryBackend(SopsBackend):
    name = "sops"

    def decrypt(
        self, text: str, identities: Sequence[Identity], *, path: str | None = None
    ) -> Document:
        from secretsafe.errors import UnsupportedError
        from secretsafe.sops import binary, native
        from secretsafe.sops.model import Document, Metadata, Rules

        items = binary.decrypt_items(text, identities=[i.reveal() for i in identities], path=path)
        try:
            metadata = native.parse_metadata(text, path=path)
        except UnsupportedError:
            # Metadata the native reader does not know (a newer sops): sops itself was content.
            metadata = Metadata(
                key_groups=(), shamir_threshold=None, lastmodified="", rules=Rules(), version=""
            )
        return Document(items=items, metadata=metadata)

    def encrypt(
        self,
        items: Sequence[Item],
        *,
        key_groups: Sequence[Sequence[str]],
        shamir_threshold: int | None,
        rules: Rules,
        path: str | None = None,
    ) -> str:
        from secretsafe.sops import binary
        from secretsafe.sops.config import to_config_json
        from secretsafe.sops.stores.dotenv import to_plaintext

        config = to_config_json(
            [list(g) for g in key_groups], shamir_threshold=shamir_threshold, rules=rules
        )
        return binary.encrypt(to_plaintext(items), config=config, path=path)


_BACKENDS: dict[str, SopsBackend] = {"native": NativeBackend(), "sops": BinaryBackend()}


def backend_named(name: str) -> SopsBackend:
    """The backend object for ``native`` or ``sops``."""
    return _BACKENDS[name]
