"""The README's first set-up command, `./scripts/demo`, runs end to end: key, encrypt,
decrypt, check, run, then push / diff / pull through a local OpenBao dev server."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_demo_runs_the_main_job(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOPS_", "VAULT_", "BAO_"))}
    env["TMPDIR"] = str(tmp_path)
    r = subprocess.run(
        [str(ROOT / "scripts" / "demo")],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    out = r.stdout
    assert "age1" in out  # keys generate printed the recipient
    assert "ENC[AES256_GCM," in out  # the file on disk is encrypted
    assert "app started; DATABASE__HOST = db" in out
    assert "did you mean DATABASE__DATABASE" in out + r.stderr
    assert "no drift" in out
    assert "pulled: AUTH__JWT_SECRET_KEY" in out
    # The dev server's root token is never shown, and the demo cleans up after itself.
    token_lines = [line for line in out.splitlines() if "VAULT_TOKEN=" in line]
    assert token_lines == ["export VAULT_TOKEN=<printed by vault dev; not shown here>"]
    assert list(tmp_path.iterdir()) == []
