"""examples/git-merge: the script merges two branches' changes to one .env.enc and shows
`git log -p` with names and fingerprints, never a value."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "git-merge"


def test_merge_demo(tmp_path: Path) -> None:
    bin_dir = Path(sys.executable).parent
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "SOPS_", "SECRETSAFE_"))
    }
    env.update(PATH=f"{bin_dir}:{env['PATH']}", TMPDIR=str(tmp_path))
    r = subprocess.run(
        [str(EXAMPLE / "merge-demo.sh")],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
        check=False,
    )
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert "Merge made by" in out
    assert "merged by variable, took API_TOKEN from their side" in out
    assert "+API_TOKEN = fp:" in out
    assert "+PORT = fp:" in out
    assert "both changes are in (15 + 18 characters)" in out
    for value in ("example-not-a-real-password", "example-token-1", "example-token-2"):
        assert value not in out
    assert "example-password-2" not in out
    assert list(tmp_path.iterdir()) == []  # the script's temp dir is gone
