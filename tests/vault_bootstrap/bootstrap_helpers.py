"""Shared by the bootstrap tests: canary values and helpers to run the CLI and collect every
secret the run created (to prove none of them reached any output)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from secretsafe.cli import main
from secretsafe.sops import decrypt_file

CANARY = "Canary-bootstrap-5f0d-NEVER-PRINT"
APP_VALUES = {
    "DATABASE__PASSWORD": CANARY,
    "JWT_SECRET": CANARY + "-jwt-0123456789abcdef",
    "DATABASE__HOST": "db",
}


class Outputs:
    """Everything the CLI printed during a test, to check against secrets at the end."""

    def __init__(self) -> None:
        self.chunks: list[str] = []

    def run(self, capfd: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
        code = main(["vault", *args])
        out, err = capfd.readouterr()
        self.chunks += [out, err]
        return code, out, err

    def assert_free_of(self, secrets: list[str]) -> None:
        text = "\n".join(self.chunks)
        for s in secrets:
            assert s, "empty secret in the canary list"
            assert s not in text, "a secret value appeared in the CLI output"


def created_secrets(keys_file: Path, creds_file: Path | None = None) -> list[str]:
    """Unseal keys, root token (if still there) and AppRole secret id, decrypted."""
    keys = decrypt_file(keys_file)
    out = [v for k, v in keys.items() if k.startswith("UNSEAL_KEY_") or k == "VAULT_ROOT_TOKEN"]
    if creds_file is not None:
        out.append(decrypt_file(creds_file)["VAULT_SECRET_ID"])
    out.append(CANARY)
    return out


@dataclass
class Workdir:
    path: Path
    key: Any  # tests.conftest.AgeKey
    env_file: Path

    @property
    def config(self) -> Path:
        return self.path / "bootstrap.toml"

    @property
    def keys_file(self) -> Path:
        return self.path / "vault-keys.enc.env"

    @property
    def creds_file(self) -> Path:
        return self.path / "api-approle.enc.env"

    def write_config(
        self,
        nodes: Sequence[str],
        *,
        shares: int = 3,
        threshold: int = 2,
        revoke_root: bool = False,
        extra: str = "",
        ca_cert: Path | None = None,
    ) -> Path:
        node_list = ", ".join(f'"{n}"' for n in nodes)
        ca_line = f'ca_cert = "{ca_cert}"\n' if ca_cert is not None else ""
        self.config.write_text(
            f"""\
[server]
nodes = [{node_list}]
{ca_line}
[init]
shares = {shares}
threshold = {threshold}
keys_file = "vault-keys.enc.env"
recipients = ["{self.key.recipient}"]
revoke_root = {"true" if revoke_root else "false"}

[mounts.secret]
description = "application secrets"
max_versions = 5

[apps.api]
path = "apps/api/prod"
env_file = "api.env.enc"
token_ttl = "15m"
{extra}""",
            encoding="utf-8",
        )
        return self.config
