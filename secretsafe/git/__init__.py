"""Git integration for sops-encrypted env files (``secretsafe git ...``).

- :mod:`~secretsafe.git.setup`: ``.gitattributes`` entries and the repository's local git
  config that route encrypted files to the two drivers below (``secretsafe git setup``);
- :mod:`~secretsafe.git.merge`: the merge driver, a three-way merge by variable name;
- :mod:`~secretsafe.git.textconv`: the diff text, variable names with keyed fingerprints;
- :mod:`~secretsafe.git.fingerprint`: the keyed fingerprints themselves;
- :mod:`~secretsafe.git.variables`: a sops file as flat variables (names without a key,
  values and data key with one).

Nothing here writes plaintext anywhere: values live in memory between decrypt and
re-encrypt, and every line printed holds names, fingerprints and file paths only.
"""

from __future__ import annotations

__all__: list[str] = []
