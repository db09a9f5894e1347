"""`secretsafe run` end to end through the installed console script (the fast path)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from secretsafe import envfile
from tests.conftest import AgeKey

SECRETSAFE = str(Path(sys.executable).parent / "secretsafe")
CANARY = "canary-run-51f0-secret"


def _run(
    args: list[str], *, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SECRETSAFE, *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env if env is not None else dict(os.environ),
        timeout=60,
        check=False,
    )


@pytest.fixture
def enc(tmp_path: Path, age_key: AgeKey) -> Path:
    src = tmp_path / ".env"
    src.write_text(f"TOKEN={CANARY}\nMODE=file\n")
    dst = envfile.encrypt_file(src)
    src.unlink()
    return dst


def test_runs_with_values_and_passes_exit_code(enc: Path, tmp_path: Path) -> None:
    r = _run(
        ["run", "-f", str(enc), "--", "sh", "-c", 'echo "${#TOKEN} $MODE"; exit 7'], cwd=tmp_path
    )
    assert r.returncode == 7
    assert r.stdout == f"{len(CANARY)} file\n"
    assert CANARY not in r.stderr


def test_default_file_and_precedence(enc: Path, tmp_path: Path) -> None:
    env = {**os.environ, "MODE": "env"}
    r = _run(["run", "--", "sh", "-c", "echo $MODE"], cwd=tmp_path, env=env)
    assert (r.returncode, r.stdout) == (0, "env\n")
    r = _run(["run", "--override", "--", "sh", "-c", "echo $MODE"], cwd=tmp_path, env=env)
    assert (r.returncode, r.stdout) == (0, "file\n")
    # The click path (options it alone handles) gives the same result.
    r = _run(["run", "--file", str(enc), "sh", "-c", "echo $MODE"], cwd=tmp_path, env=env)
    assert (r.returncode, r.stdout) == (0, "env\n")


def test_failures_and_exit_codes(enc: Path, tmp_path: Path, other_age_key: AgeKey) -> None:
    r = _run(["run", "-f", str(enc), "--", "no-such-command-xyz"], cwd=tmp_path)
    assert r.returncode == 127
    assert "command not found" in r.stderr
    r = _run(["run", "-f", str(tmp_path / "missing.enc"), "--", "true"], cwd=tmp_path)
    assert r.returncode == 10
    wrong = {**os.environ, "SOPS_AGE_KEY_FILE": str(other_age_key.key_file)}
    r = _run(["run", "-f", str(enc), "--", "true"], cwd=tmp_path, env=wrong)
    assert r.returncode == 21
    r = _run(["run", "--", "true"], cwd=tmp_path / "..")
    assert r.returncode == 2
    r = _run(["run", "--help"], cwd=tmp_path)
    assert r.returncode == 0
    assert "--override" in r.stdout
    for result in (r,):
        assert CANARY not in result.stdout + result.stderr


def test_insecure_key_file(enc: Path, tmp_path: Path, age_key: AgeKey) -> None:
    age_key.key_file.chmod(0o644)
    r = _run(["run", "-f", str(enc), "--", "true"], cwd=tmp_path)
    assert r.returncode == 11
    assert "chmod 600" in r.stderr


def test_no_identity(enc: Path, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOPS_AGE")}
    r = _run(["run", "-f", str(enc), "--", "true"], cwd=tmp_path, env=env)
    assert r.returncode == 20


def test_signal_reaches_the_app(enc: Path, tmp_path: Path) -> None:
    """exec replaced secretsafe: the pid we started is the app, and SIGTERM reaches its trap."""
    marker = tmp_path / "ready"
    script = f"trap 'echo got-term; exit 42' TERM; touch {marker}; while true; do sleep 0.05; done"
    proc = subprocess.Popen(
        [SECRETSAFE, "run", "-f", str(enc), "--", "sh", "-c", script],
        stdout=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    try:
        for _ in range(400):
            if marker.exists():
                break
            time.sleep(0.025)
        assert marker.exists()
        cmdline = Path(f"/proc/{proc.pid}/cmdline").read_bytes().split(b"\0")
        assert cmdline[0] == b"sh"  # the process image is the app now
        assert CANARY.encode() not in b" ".join(cmdline)
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 42
    assert out == "got-term\n"


def test_fast_path_imports_no_click(enc: Path, tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from secretsafe.cli.run import fast_main\n"
        "import os\n"
        "os.execvpe = lambda *a: (print(sorted(m for m in ('click','pydantic','yaml') "
        "if m in sys.modules)), sys.exit(0))\n"
        f"fast_main(['-f', {str(enc)!r}, '--', 'true'])\n"
    )
    r = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, check=False
    )
    assert r.stdout == "[]\n", r.stderr


def test_fast_main_falls_back_for_unusual_args() -> None:
    from secretsafe.cli.run import fast_main

    assert fast_main([]) is None
    assert fast_main(["--help"]) is None
    assert fast_main(["--unknown", "--", "true"]) is None
    assert fast_main(["-f"]) is None
    assert fast_main(["-f", "x.enc", "--"]) is None
    assert fast_main(["--backend", "bogus", "--", "true"]) is None


def test_expand_flag_on_both_paths(tmp_path: Path, age_key: AgeKey) -> None:
    src = tmp_path / "x.env"
    src.write_text("HOST=db\nURL=pg://${HOST}/${NAME:-app}\n")
    enc = envfile.encrypt_file(src)
    src.unlink()
    show = ["sh", "-c", 'printf "%s" "$URL"']
    r = _run(["run", "-f", str(enc), "--expand", "--", *show], cwd=tmp_path)
    assert (r.returncode, r.stdout) == (0, "pg://db/app")
    r = _run(["run", "-f", str(enc), "--", *show], cwd=tmp_path)
    assert (r.returncode, r.stdout) == (0, "pg://${HOST}/${NAME:-app}")
    # The click path (--file) takes the flags too.
    r = _run(["run", "--file", str(enc), "--expand", *show], cwd=tmp_path)
    assert (r.returncode, r.stdout) == (0, "pg://db/app")
    r = _run(["run", "--file", str(enc), "--no-expand", *show], cwd=tmp_path)
    assert (r.returncode, r.stdout) == (0, "pg://${HOST}/${NAME:-app}")


def test_unmet_required_reference_stops_the_start(tmp_path: Path, age_key: AgeKey) -> None:
    src = tmp_path / "x.env"
    src.write_text(f"TOKEN={CANARY}\nNEED=${{MUST:?{CANARY}}}\n")
    enc = envfile.encrypt_file(src)
    src.unlink()
    r = _run(["run", "-f", str(enc), "--expand", "--", "true"], cwd=tmp_path)
    assert r.returncode == 13
    assert "MUST" in r.stderr
    assert CANARY not in r.stderr + r.stdout
