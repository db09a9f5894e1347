"""examples/vault-sync runs end to end and prints no value."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "vault-sync"


def test_vault_sync_example_runs(isolated_env: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(EXAMPLE / "sync_demo.py")],
        capture_output=True,
        text=True,
        env={**os.environ, "HOME": str(isolated_env)},
        timeout=120,
        check=False,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "ok: round trip exact, drift detected by name" in out
    for value in ("db.internal", "s3cret", "line one", "rotated"):
        assert value not in out
