"""examples/team-updatekeys: team.sh runs as shipped (create from nothing, ls without a key,
audit drift, updatekeys when a member joins and leaves) and prints no secret."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "team-updatekeys"


def test_team_script(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    r = subprocess.run(
        ["bash", str(EXAMPLE / "team.sh"), str(tmp_path / "work")],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    out = r.stdout
    assert "drift findings: 5" in out
    assert "dry run: 5 of 5 files would change" in r.stderr
    assert out.count("(data key kept)") == 10  # dry run and run, 5 files each
    assert out.count("(new data key, every value re-encrypted)") == 5
    assert "dave decrypts services/api/.env.enc" in out
    assert "audit: no drift" in out
    assert "bob decrypts nothing any more" in out
    assert "5 files changed" in out
    assert "DB_PASSWORD  encrypted" in out
    # The values never reach the output.
    key = tmp_path / "work" / "people" / "carol" / ".config" / "sops" / "age" / "keys.txt"
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(key))
    from secretsafe.sops import decrypt_file

    repo = tmp_path / "work" / "repo"
    for rel in (".env.enc", "services/api/.env.enc", "config/search.enc.yaml"):
        for value in decrypt_file(repo / rel).reveal().values():
            assert value not in out + r.stderr
