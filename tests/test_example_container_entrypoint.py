"""examples/container-entrypoint: the entrypoint runs a command with the decrypted values."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from secretsafe import envfile
from tests.conftest import AgeKey

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "container-entrypoint"


def test_entrypoint(tmp_path: Path, age_key: AgeKey) -> None:
    app = tmp_path / "app"
    shutil.copytree(EXAMPLE, app)
    envfile.encrypt_file(app / "sample.env", app / ".env.enc")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    r = subprocess.run(
        [
            str(app / "entrypoint.sh"),
            "sh",
            "-c",
            'echo "len=${#DATABASE__PASSWORD} host=$DATABASE__HOST"; exit 3',
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert r.returncode == 3, r.stderr
    assert r.stdout == f"len={len('example-not-a-real-password')} host=db\n"
    assert "example-not-a-real-password" not in r.stdout + r.stderr
