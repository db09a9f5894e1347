"""examples/vault-bootstrap runs end to end (3 real raft nodes) and prints no secret."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from bootstrap_helpers import created_secrets

from secretsafe.sops import decrypt_file

pytestmark = pytest.mark.vault

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "vault-bootstrap"


def test_vault_bootstrap_example_runs(tmp_path: Path, age_key: object) -> None:
    work = tmp_path / "demo"
    proc = subprocess.run(
        [sys.executable, str(EXAMPLE / "demo.py"), str(work)],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=240,
        check=False,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "ok: bootstrapped, idempotent, unsealed after restart, app reads its secrets" in out
    assert "bootstrap: already up to date; nothing changed" in out
    assert out.count("done  join") == 2
    assert "app api read ['DATABASE_URL', 'JWT_SECRET']" in out
    assert "# unsealed 3 node(s); active: http://127.0.0.1:" in out
    assert "app api credentials list 3 nodes" in out
    secrets = created_secrets(work / "vault-keys.enc.env", work / "api-approle.enc.env")
    secrets.append(decrypt_file(work / "worker-approle.enc.env")["VAULT_SECRET_ID"])
    for value in [*secrets[:-1], "demo-pw", "demo-worker-pw", "demo-jwt-"]:
        assert value not in out
