"""examples/app-startup: the app loads its encrypted .env.enc at startup, as the README says."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "app-startup"


def test_app_startup_example(
    tmp_path: Path, age_key: object, sops_bin: Path, sops_env: dict[str, str]
) -> None:
    d = tmp_path / "app"
    shutil.copytree(EXAMPLE, d)
    out = subprocess.run(
        [
            str(sops_bin),
            "--encrypt",
            "--age",
            age_key.recipient,  # type: ignore[attr-defined]
            "--input-type",
            "dotenv",
            "--output-type",
            "dotenv",
            str(d / "env.sample"),
        ],
        env=sops_env,
        capture_output=True,
        check=True,
    ).stdout
    (d / ".env.enc").write_bytes(out)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    ok = subprocess.run(
        [sys.executable, "app.py"], cwd=d, env=env, capture_output=True, text=True, check=False
    )
    assert ok.returncode == 0, ok.stderr
    assert "started in development: database db, JWT key **********" in ok.stdout
    bad = subprocess.run(
        [sys.executable, "app.py"],
        cwd=d,
        capture_output=True,
        text=True,
        env={**env, "DATABASE__NAME": "app", "ENVIRONMENT": "production"},
        check=False,
    )
    assert bad.returncode == 3
    assert "DATABASE__NAME" in bad.stderr
    assert "did you mean DATABASE__DATABASE" in bad.stderr
    assert "VAULT__ENABLED" in bad.stderr
    assert "Zq8v3N1x" not in bad.stderr + bad.stdout
