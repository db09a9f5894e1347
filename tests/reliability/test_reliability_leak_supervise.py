"""Leak suite, ``run --redact / --watch / --mount``: the supervisor never shows a value.

Each case runs the real console script with a file holding the canary and searches every
output channel for the canary (and its base64 / URL / JSON forms): what the child prints
through ``--redact``, the line ``--watch`` prints when new values are refused, the errors of
``--mount`` and of bad arguments (a value typed where a name or mode goes).
"""

from __future__ import annotations

import base64
import json
import os
import select
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest
from reliability_support import CANARY, Tally

pytestmark = pytest.mark.reliability

SECRETSAFE = str(Path(sys.executable).parent / "secretsafe")

FORMS = {
    "plain": CANARY.encode(),
    "base64": base64.b64encode(CANARY.encode()),
    "base64 in a longer text": base64.b64encode(b"ab" + CANARY.encode())[4:20],
    "urlsafe base64": base64.urlsafe_b64encode(CANARY.encode()).rstrip(b"="),
    "url": quote(CANARY, safe="").encode(),
    "json": json.dumps(CANARY)[1:-1].encode(),
}

PRINTER = r"""
import base64, json, os, sys, time
from urllib.parse import quote
v = os.environ["SECRET"]
for out in (sys.stdout, sys.stderr):
    out.write(v + "\n" + base64.b64encode(v.encode()).decode() + "\n")
    out.write(base64.b64encode(b"ab" + v.encode()).decode() + "\n")
    out.write(base64.urlsafe_b64encode(v.encode()).decode() + "\n")
    out.write(quote(v, safe="") + " " + json.dumps({"k": v}) + "\n")
    out.write(v[:9]); out.flush(); time.sleep(0.1); out.write(v[9:] + "\n"); out.flush()
print("done")
"""


def _leaks(*channels: bytes) -> str | None:
    for label, form in FORMS.items():
        for i, data in enumerate(channels):
            if form in data:
                return f"the canary ({label}) in channel {i}"
    return None


@pytest.fixture
def enc(tmp_path: Path, age_key: object) -> Path:
    from secretsafe import envfile

    src = tmp_path / ".env"
    src.write_text(f"SECRET={CANARY}\nVERSION=1\n")
    out = envfile.encrypt_file(src)
    src.unlink()
    return out


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "SECRET"}


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [SECRETSAFE, *args], capture_output=True, cwd=cwd, env=_env(), timeout=60, check=False
    )


def test_redacted_output(tally: Tally, enc: Path, tmp_path: Path) -> None:
    for mode in ("--redact", "--redact=values", "--redact=names"):
        r = _run(["run", "-f", str(enc), mode, "--", sys.executable, "-c", PRINTER], tmp_path)
        problem = _leaks(r.stdout, r.stderr)
        if problem is None and (r.returncode != 0 or b"done" not in r.stdout):
            problem = f"the child did not run (exit {r.returncode})"
        tally.check(f"{mode}: child prints the value in every form", problem)


def test_errors_and_typed_arguments(tally: Tally, enc: Path, tmp_path: Path) -> None:
    cases = {
        "--redact CANARY (a value where the mode goes)": ["--redact", CANARY, "true"],
        "--redact -- CANARY (a value where the command goes)": ["--redact", "--", CANARY],
        "--mount-names CANARY": ["--mount", "/dev/shm/ss-leak-x", "--mount-names", CANARY],
        "--mount on disk": ["--mount", str(tmp_path / "m"), "--", "true"],
        "--mount-names without --mount": ["--mount-names", CANARY, "--", "true"],
    }
    for label, args in cases.items():
        argv = ["run", "-f", str(enc), *args]
        if "--" not in args and label.startswith("--mount-names CANARY"):
            argv += ["--", "true"]
        r = _run(argv, tmp_path)
        problem = _leaks(r.stdout, r.stderr)
        if problem is None and r.returncode == 0:
            problem = "accepted"
        tally.check(label, problem)


def _read_until(fd: int, marker: bytes, timeout: float = 30.0) -> bytes:
    got = b""
    deadline = time.monotonic() + timeout
    while marker not in got and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        if ready:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            got += chunk
    return got


def test_watch_refusal_line(tally: Tally, enc: Path, tmp_path: Path) -> None:
    from secretsafe import envfile

    schema = tmp_path / "schema.toml"
    schema.write_text('[fields.version]\ntype = "int"\n')
    proc = subprocess.Popen(
        [
            SECRETSAFE,
            "run",
            "--watch",
            "-f",
            str(enc),
            "--schema",
            str(schema),
            "--redact",
            "--",
            "sh",
            "-c",
            'echo "up $SECRET"; exec sleep 600',
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
        env=_env(),
    )
    try:
        assert proc.stdout is not None
        assert proc.stderr is not None
        out = _read_until(proc.stdout.fileno(), b"\n")
        # The invalid value is the canary itself, and the file keeps the secret.
        src = tmp_path / "new.env"
        src.write_text(f"SECRET={CANARY}\nVERSION={CANARY}\n")
        envfile.encrypt_file(src, enc, force=True)
        err = _read_until(proc.stderr.fileno(), b"keeping the command")
        problem = _leaks(out, err)
        if problem is None and b"keeping the command" not in err:
            problem = "no refusal line"
        tally.check("--watch: schema refuses a changed value", problem)
        enc.write_text(f"SECRET=ENC[AES256_GCM,data:{CANARY}]\nsops_version=3.9.0\n")
        err = _read_until(proc.stderr.fileno(), b"keeping the command")
        problem = _leaks(err)
        if problem is None and b"keeping the command" not in err:
            problem = "no refusal line"
        tally.check("--watch: a changed file that cannot be decrypted", problem)
    finally:
        proc.kill()
        proc.communicate(timeout=30)


def test_reprs(tally: Tally) -> None:
    from secretsafe.supervise.redact import Redactor
    from secretsafe.supervise.supervisor import Options

    for label, obj in (("Redactor", Redactor({"S": CANARY})), ("Options", Options())):
        text = repr(obj) + str(obj)
        tally.check(f"repr({label})", _leaks(text.encode()))


def test_overlapping_values_show_no_part(tally: Tally) -> None:
    """Two values that share a part (the canary's start is another value's end, its end
    another's start): at every split, no piece of either shows past the first match."""
    from secretsafe.supervise.redact import Redactor

    head, tail = CANARY[:12], CANARY[12:]
    secrets = {"A": "prefix-" + head, "B": CANARY, "C": tail + "-suffix"}
    text = f"x prefix-{CANARY}-suffix y".encode()
    for cut in range(len(text) + 1):
        r = Redactor(secrets)
        out = r.feed(text[:cut]) + r.feed(text[cut:]) + r.close()
        problem = None
        for piece in (head, tail, "-suffix", "prefix-"):
            if piece.encode() in out:
                problem = f"{piece!r} shown at split {cut}"
        tally.check(f"overlapping values, split at {cut}", problem)
