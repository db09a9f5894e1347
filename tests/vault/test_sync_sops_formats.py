"""``vault push`` of a sops YAML or JSON file writes exactly what the push of the equivalent
sops dotenv file writes (nested maps flattened to ``SECTION__FIELD``), on a real OpenBao dev
server, through the API and the console script, in both layouts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from secretsafe.vault import kv, sync
from secretsafe.vault.client import VaultClient
from secretsafe.vault.dev import DevServer
from tests.conftest import AgeKey
from tests.sops.sops_files import CANARY, FLAT, FLAT_JSON, sops_files

SECRETSAFE = str(Path(sys.executable).parent / "secretsafe")


@pytest.fixture
def files(
    sops_bin: Path, sops_env: dict[str, str], age_key: AgeKey, tmp_path: Path
) -> dict[str, Path]:
    return sops_files(sops_bin, sops_env, age_key, tmp_path)


def _data(client: VaultClient, path: str) -> dict[str, str]:
    return dict(kv.read_secret(client, path).data.reveal())


@pytest.mark.parametrize("fmt", ["yaml", "json"])
@pytest.mark.parametrize("layout", ["flat", "sections"])
def test_push_of_a_nested_file_equals_push_of_the_dotenv_file(
    vault_client: VaultClient, kv_path: str, files: dict[str, Path], fmt: str, layout: str
) -> None:
    nested, flat = f"{kv_path}/nested", f"{kv_path}/flat"
    dotenv, expected = (
        (files["dotenv"], FLAT) if fmt == "yaml" else (files["dotenv_json"], FLAT_JSON)
    )
    sync.push_file(vault_client, files[fmt], path=nested, layout=layout)  # type: ignore[arg-type]
    sync.push_file(vault_client, dotenv, path=flat, layout=layout)  # type: ignore[arg-type]
    assert sync.pull(vault_client, path=nested).reveal() == expected
    assert sync.pull(vault_client, path=flat).reveal() == expected
    if layout == "sections":
        assert _data(vault_client, f"{nested}/database") == _data(vault_client, f"{flat}/database")
        assert _data(vault_client, f"{nested}/database")["password"] == CANARY
    assert _data(vault_client, nested) == _data(vault_client, flat)
    # Pushing the dotenv file over the YAML one's secret changes nothing.
    again = sync.push_file(vault_client, dotenv, path=nested, layout=layout)  # type: ignore[arg-type]
    assert not again.plan.changed


def test_cli_push_of_a_yaml_file(
    vault_env: DevServer, vault_client: VaultClient, kv_path: str, files: dict[str, Path]
) -> None:
    r = subprocess.run(
        [SECRETSAFE, "vault", "push", str(files["yaml"]), "--path", kv_path],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=60,
        check=False,
    )
    assert r.returncode == 0, r.stderr
    assert CANARY not in r.stdout + r.stderr
    assert "DATABASE__OPTIONS__SSLMODE" in r.stdout  # the plan names the flattened variables
    assert sync.pull(vault_client, path=kv_path).reveal() == FLAT
