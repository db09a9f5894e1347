"""SOPS dotenv files: the facade every other layer uses.

Two backends implement it: ``native`` (in-process: pyrage + AES-256-GCM, no binary needed,
about 1 ms) and ``sops`` (the real sops binary as a subprocess, for key types only sops can
use: cloud KMS, PGP, Vault transit). ``auto`` uses native whenever the file's keys allow it.

CONTRACT (stable; other layers code against these signatures):

    decrypt_text(text, *, identities=None, path=None, backend="auto") -> Document
    decrypt_file(path, *, identities=None, backend="auto") -> SecretValues
    encrypt_items(items, *, recipients=None, key_groups=None, shamir_threshold=None,
                  rules=None, path=None, backend="auto") -> str
    encrypt_values(values, dst, *, recipients=None, rules=None) -> None   # atomic, 0600
    is_encrypted(text) -> bool

``identities=None`` means: discover them the way sops does (secretsafe.keys.discover()).
``recipients=None`` on encrypt means: ``.sops.yaml`` creation rules for ``path``, else the
user's own identities' recipients.
"""
