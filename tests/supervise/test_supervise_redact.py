"""`run --redact` with real processes: output redacted on pipes and under a pty, signals,
stdin, exit codes and bounded memory."""

from __future__ import annotations

import base64
import fcntl
import json
import os
import signal
import struct
import subprocess
import sys
import termios
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.supervise.conftest import (
    SECRETS,
    SECRETSAFE,
    SHORT,
    EnvFile,
    child_env,
    read_all,
    read_until,
    run,
    wait_for,
)

# Prints every secret of its environment in many forms, on stdout and stderr, some split
# across writes with a flush (and a pause) between the halves.
PRINTER = r"""
import base64, json, os, sys, time
from urllib.parse import quote
names = sys.argv[1:]
for i, name in enumerate(names):
    v = os.environ[name]
    b = v.encode()
    for out in (sys.stdout, sys.stderr):
        out.write(f"{name} plain={v}\n")
        out.write("b64=" + base64.b64encode(b).decode() + "\n")
        out.write("b64url=" + base64.urlsafe_b64encode(b).decode().rstrip("=") + "\n")
        out.write("b64in=" + base64.b64encode(b"x" * (i % 3 + 1) + b + b"!").decode() + "\n")
        out.write("url=" + quote(v, safe="") + " json=" + json.dumps({"v": v}) + "\n")
        half = len(v) // 2
        out.write("split=" + v[:half]); out.flush(); time.sleep(0.15)
        out.write(v[half:] + "\n"); out.flush()
        for ch in v:  # one byte at a time
            out.write(ch); out.flush()
        out.write("\n")
sys.stdout.write("stdout-only\n"); sys.stderr.write("stderr-only\n")
print("short=" + os.environ["PIN"])
"""


def _forms(value: str) -> list[bytes]:
    b = value.encode()
    forms = [b, base64.b64encode(b), base64.urlsafe_b64encode(b).rstrip(b"=")]
    forms += [quote(value, safe="").encode(), json.dumps(value).encode()[1:-1]]
    forms += [base64.b64encode(b"x" * k + b + b"!")[4:-4] for k in (1, 2, 3)]
    return forms


def _assert_clean(data: bytes) -> None:
    for name, value in SECRETS.items():
        for form in _forms(value):
            assert form not in data, f"{name} leaked as {form!r}"


def _script(tmp_path: Path, text: str = PRINTER) -> str:
    path = tmp_path / "child.py"
    path.write_text(text)
    return str(path)


def test_pipes_redact_every_form_and_keep_streams_apart(enc: EnvFile, tmp_path: Path) -> None:
    script = _script(tmp_path)
    r = run(
        ["run", "-f", str(enc.path), "--redact", "--", sys.executable, script, *SECRETS],
        cwd=tmp_path,
    )
    assert r.returncode == 0, r.stderr
    _assert_clean(r.stdout)
    _assert_clean(r.stderr)
    assert b"stdout-only" in r.stdout
    assert b"stdout-only" not in r.stderr
    assert b"stderr-only" in r.stderr
    assert b"stderr-only" not in r.stdout
    assert r.stdout.count(b"***") >= 8 * len(SECRETS)
    # Split and byte-by-byte writes: the whole value is replaced, no first bytes shown.
    assert r.stdout.count(b"split=***\n") == len(SECRETS)
    assert r.stdout.count(b"\n***\n") >= len(SECRETS)
    assert f"short={SHORT[1]}".encode() in r.stdout  # under 6 characters: not redacted
    # Without --redact the same child shows them (the test child does print them).
    plain = run(["run", "-f", str(enc.path), "--", sys.executable, script, *SECRETS], cwd=tmp_path)
    assert SECRETS["API_TOKEN"].encode() in plain.stdout


def test_names_mode(enc: EnvFile, tmp_path: Path) -> None:
    r = run(
        ["run", "-f", str(enc.path), "--redact=names", "--", "sh", "-c", 'echo "t=$API_TOKEN"'],
        cwd=tmp_path,
    )
    assert (r.returncode, r.stdout) == (0, b"t=<API_TOKEN>\n")


def test_pty_child_sees_a_terminal(enc: EnvFile, tmp_path: Path) -> None:
    # secretsafe itself runs on a pty (as in a terminal): the child must get one too.
    child = (
        "import os, sys\n"
        "print('tty', [os.isatty(fd) for fd in (0, 1, 2)], os.get_terminal_size())\n"
        "print('token', os.environ['API_TOKEN'])\n"
        "sys.stderr.write('err ' + os.environ['DB_PASSWORD'] + '\\n')\n"
        "line = sys.stdin.readline()\n"
        "print('read', line.strip())\n"
    )
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 33, 97, 0, 0))
    proc = subprocess.Popen(
        [SECRETSAFE, "run", "-f", str(enc.path), "--redact", "--", sys.executable, "-c", child],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        cwd=tmp_path,
        env=child_env(),
        start_new_session=True,
    )
    os.close(slave)
    try:
        got = read_until(master, b"token")
        os.write(master, b"typed-line\r")
        got += read_all(master)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    assert b"tty [True, True, True] os.terminal_size(columns=97, lines=33)" in got
    assert b"read typed-line" in got
    _assert_clean(got)
    assert got.count(b"***") >= 2


SIGNALS = [
    signal.SIGINT,
    signal.SIGTERM,
    signal.SIGHUP,
    signal.SIGQUIT,
    signal.SIGUSR1,
    signal.SIGUSR2,
    signal.SIGWINCH,
]

HANDLER = r"""
import os, signal, sys
sig = int(sys.argv[1])
def on(n, f):
    print("got", n, flush=True)
    sys.exit(40)
signal.signal(sig, on)
print("ready", flush=True)
signal.pause() if hasattr(signal, "pause") else None
"""


@pytest.mark.parametrize("sig", SIGNALS, ids=lambda s: signal.Signals(s).name)
def test_signals_reach_the_child(enc: EnvFile, tmp_path: Path, sig: int) -> None:
    proc = subprocess.Popen(
        [
            SECRETSAFE,
            "run",
            "-f",
            str(enc.path),
            "--redact",
            "--",
            sys.executable,
            "-c",
            HANDLER,
            str(int(sig)),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
        env=child_env(),
    )
    try:
        assert proc.stdout is not None
        read_until(proc.stdout.fileno(), b"ready")
        proc.send_signal(sig)
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert f"got {int(sig)}".encode() in out
    assert proc.returncode == 40


@pytest.mark.parametrize(
    "sig", [s for s in SIGNALS if s != signal.SIGWINCH], ids=lambda s: signal.Signals(s).name
)
def test_death_by_signal_is_128_plus_n(enc: EnvFile, tmp_path: Path, sig: int) -> None:
    r = run(
        ["run", "-f", str(enc.path), "--redact", "--", "sh", "-c", f"kill -{int(sig)} $$"],
        cwd=tmp_path,
    )
    assert r.returncode == 128 + int(sig)


@pytest.mark.parametrize("code", [0, 1, 7, 126, 255])
def test_exit_codes(enc: EnvFile, tmp_path: Path, code: int) -> None:
    r = run(
        ["run", "-f", str(enc.path), "--redact", "--", "sh", "-c", f"exit {code}"], cwd=tmp_path
    )
    assert r.returncode == code


def test_command_not_found_and_stdin(enc: EnvFile, tmp_path: Path) -> None:
    r = run(["run", "-f", str(enc.path), "--redact", "--", "no-such-command-xyz"], cwd=tmp_path)
    assert r.returncode == 127
    assert b"command not found" in r.stderr
    r = run(["run", "-f", str(enc.path), "--redact", "--", "cat"], cwd=tmp_path, stdin="in-put\n")
    assert (r.returncode, r.stdout) == (0, b"in-put\n")


def _hwm_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


def test_one_gigabyte_of_output_in_bounded_memory(enc: EnvFile, tmp_path: Path) -> None:
    total = 1 << 30
    # The secret is printed at the end: redaction is on for the whole stream.
    command = f"head -c {total} /dev/zero | tr '\\0' a; echo; echo $API_TOKEN; read x; exit 0"
    proc = subprocess.Popen(
        [SECRETSAFE, "run", "-f", str(enc.path), "--redact", "--", "sh", "-c", command],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
        env=child_env(),
    )
    try:
        assert proc.stdout is not None
        assert proc.stdin is not None
        fd = proc.stdout.fileno()
        seen = 0
        early = None
        tail = b""
        while b"***\n" not in tail:
            chunk = os.read(fd, 1 << 20)
            assert chunk, "EOF before the end of the output"
            seen += len(chunk)
            tail = (tail + chunk)[-64:]
            if early is None and seen > 16 << 20:
                early = _hwm_kib(proc.pid)
        late = _hwm_kib(proc.pid)  # secretsafe is still running: the child waits on stdin
        proc.stdin.close()
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert seen >= total
    assert proc.returncode == 0
    assert early is not None
    assert late - early < 16 * 1024, (early, late)  # no growth with the amount printed
    assert late < 200 * 1024, late


def test_ctrl_z_on_the_pty_stops_both_and_continue_resumes(enc: EnvFile, tmp_path: Path) -> None:
    child = "import time\nprint('ready', flush=True)\ntime.sleep(0.5)\nprint('after', flush=True)\n"
    master, slave = os.openpty()
    proc = subprocess.Popen(
        [SECRETSAFE, "run", "-f", str(enc.path), "--redact", "--", sys.executable, "-c", child],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        cwd=tmp_path,
        env=child_env(),
        start_new_session=True,
    )
    os.close(slave)
    try:
        read_until(master, b"ready")
        os.write(master, b"\x1a")  # Ctrl-Z typed in the terminal
        wait_for(
            lambda: (
                os.waitid(os.P_PID, proc.pid, os.WSTOPPED | os.WNOHANG | os.WNOWAIT) is not None
            ),
            what="secretsafe to stop",
        )
        os.kill(proc.pid, signal.SIGCONT)  # fg
        got = read_all(master)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    assert b"after" in got
