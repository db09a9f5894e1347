"""Crash safety: ``kill -9`` at random moments during every command that writes an encrypted
file, and concurrent writers to one file.

Most runs fork this test process and let the child run the real operation (the same code the
CLI calls, native backend: about a millisecond each) while the parent sends SIGKILL after a
random delay drawn from the operation's own measured duration; a smaller number of runs kill
a real ``secretsafe`` CLI process. After every kill:

- the target is byte-for-byte the old file, or a complete new file that decrypts to exactly
  the new values (never a mix, never half a file);
- no file under the working directory or TMPDIR holds the plaintext canary (except the
  plaintext input ``encrypt`` was given);
- stray atomic-write temp files (ciphertext only) are counted and removed.

Concurrent writers: several processes ``set`` different keys of one file at the same moment;
every one that reports success must find its key in the final file (no lost update).
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import stat
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from reliability_support import CANARY, Tally, files_containing, private_tmpdir

pytestmark = pytest.mark.reliability

SEED = 9_2026
KILLS_PER_OPERATION = 60
CLI_KILLS = 16
WRITERS = 6
CONCURRENT_ROUNDS = 4

BASE = {"DB__HOST": "db.internal", "API_KEY": CANARY, "PORT": "5432", "NOTE": "multi\nline"}


def _fork(fn: Callable[[], None]) -> int:
    """Run ``fn`` in a forked child; the child exits 0 on success, 3 on error, never returns."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 3
        try:
            fn()
            code = 0
        except BaseException:
            code = 3
        finally:
            os._exit(code)
    return pid


def _wait(pid: int, timeout: float = 30.0) -> int:
    """The child's wait status; a child stuck past ``timeout`` is killed (and reported)."""
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            raise AssertionError(f"child {pid} hung for {timeout} s")
        time.sleep(0.0005)


def _timed_run(fn: Callable[[], None]) -> float:
    start = time.perf_counter()
    status = _wait(_fork(fn))
    assert os.WIFEXITED(status), "operation died unkilled"
    assert os.WEXITSTATUS(status) == 0, "operation failed unkilled"
    return time.perf_counter() - start


@dataclass
class Scenario:
    """One kind of write: ``prepare`` resets the target to its old state; ``operate`` is the
    write the child performs; ``new`` are the values a complete write produces."""

    name: str
    target: Path
    prepare: Callable[[], None]
    operate: Callable[[], None]
    new: dict[str, str]
    plaintext_ok: tuple[Path, ...] = ()


def _decrypt_values(path: Path) -> dict[str, str]:
    from secretsafe.sops import decrypt_file

    return decrypt_file(path, backend="native").reveal()


def _check_after_kill(
    scenario: Scenario, old: bytes, old_values: dict[str, str], tmp: Path, work: Path
) -> tuple[str | None, str]:
    """(problem, state) after a run; state is old / new."""
    try:
        now = scenario.target.read_bytes()
    except FileNotFoundError:
        return "target file is gone", "lost"
    if now == old:
        state = "old"
    else:
        try:
            values = _decrypt_values(scenario.target)
        except Exception as exc:
            return f"target is neither old nor decryptable: {type(exc).__name__}", "corrupt"
        if values == scenario.new:
            state = "new"
        elif values == old_values:
            state = "old"  # the same values re-encrypted (e.g. recipients unchanged)
        else:
            return "target decrypts to values that are neither old nor new", "corrupt"
    # A killed edit's plaintext dir is removed by its watchdog process: give it a moment.
    deadline = time.monotonic() + 3.0
    while True:
        leaks = files_containing(work, CANARY, allow=scenario.plaintext_ok)
        leaks += files_containing(tmp, CANARY)
        if not leaks or time.monotonic() > deadline:
            break
        time.sleep(0.005)
    if leaks:
        return f"plaintext left on disk: {[p.name for p in leaks]}", state
    return None, state


def _stray_temp_files(work: Path, tmp: Path) -> int:
    """Remove (and count) atomic-write temp files a kill left behind; they hold ciphertext."""
    count = 0
    for root in (work, tmp):
        for p in list(root.rglob("*.tmp")) + list(root.glob("secretsafe-*")):
            count += 1
            # A killed edit's watchdog may be removing its directory at the same moment.
            if p.is_dir():
                shutil.rmtree(p, ignore_errors=True)
            else:
                p.unlink(missing_ok=True)
    return count


def _kill_runs(scenario: Scenario, tally: Tally, tmp: Path, work: Path, rng: random.Random) -> None:
    scenario.prepare()
    durations = []
    for _ in range(3):
        scenario.prepare()
        durations.append(_timed_run(scenario.operate))
    window = statistics.median(durations) * 0.9
    tally.note("lost or corrupted files", 0)
    for run in range(KILLS_PER_OPERATION):
        scenario.prepare()
        old = scenario.target.read_bytes()
        old_values = _decrypt_values(scenario.target)
        # Half the runs anywhere in the operation, half in its last third, where the
        # temp file is written, synced and renamed.
        delay = rng.uniform(0, window) if run % 2 else rng.uniform(window * 0.66, window)
        pid = _fork(scenario.operate)
        end = time.perf_counter() + delay
        while time.perf_counter() < end:  # busy-wait: sleep() is too coarse for short ops
            pass
        os.kill(pid, signal.SIGKILL)
        status = _wait(pid)
        killed = os.WIFSIGNALED(status)
        if not killed and os.WEXITSTATUS(status) != 0:
            tally.fail(f"{scenario.name} run {run}", "operation failed without being killed")
            continue
        problem, state = _check_after_kill(scenario, old, old_values, tmp, work)
        if state in {"lost", "corrupt"}:
            tally.note("lost or corrupted files")
        if not killed and state != "new":
            problem = problem or f"completed but the target is {state}"
        tally.check(
            f"{scenario.name} run {run} (delay {delay * 1e6:.0f} us)",
            problem,
            note=f"{'killed' if killed else 'finished'}, target {state}",
        )
        stray = _stray_temp_files(work, tmp)
        if stray:
            tally.note("stray temp files removed (no plaintext)", stray)


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, Path]]:
    work = tmp_path / "work"
    work.mkdir()
    tmp = private_tmpdir(tmp_path / "tmpdir", monkeypatch)
    monkeypatch.chdir(work)
    monkeypatch.setenv("SECRETSAFE_BACKEND", "native")
    return work, tmp


def _write_encrypted(path: Path, values: dict[str, str], recipients: list[str]) -> None:
    from secretsafe.sops import encrypt_values

    if path.exists():
        path.unlink()
    encrypt_values(values, path, recipients=recipients)


def _scenarios(work: Path, recipient: str, other: str) -> list[Scenario]:
    from secretsafe import envfile
    from secretsafe.dotenv import dumps

    target = work / ".env.enc"
    plain = work / ".env"
    new_values = {**BASE, "API_KEY": CANARY + "-rotated", "ADDED": "yes"}

    def reset() -> None:
        _write_encrypted(target, BASE, [recipient])

    def reset_two() -> None:
        _write_encrypted(target, BASE, [recipient, other])

    def encrypt() -> None:
        envfile.encrypt_file(plain, target, recipients=[recipient], force=True)

    def prepare_encrypt() -> None:
        reset()
        plain.write_text(dumps(new_values), encoding="utf-8")

    def set_value() -> None:
        envfile.set_value(target, "API_KEY", CANARY + "-rotated")

    editor = work / "editor.sh"
    editor.write_text("#!/bin/sh\nsed -i 's/^NOTE=.*/NOTE=edited/' \"$1\"\n", encoding="utf-8")
    editor.chmod(0o700)

    def edit() -> None:
        envfile.edit_file(target, editor=str(editor))

    return [
        Scenario("encrypt --force", target, prepare_encrypt, encrypt, new_values, (plain,)),
        Scenario("set", target, reset, set_value, {**BASE, "API_KEY": CANARY + "-rotated"}),
        Scenario("edit", target, reset, edit, {**BASE, "NOTE": "edited"}),
        Scenario("rotate", target, reset, lambda: envfile.rotate(target), BASE),
        Scenario(
            "recipients add",
            target,
            reset,
            lambda: envfile.add_recipients(target, [other]),
            BASE,
        ),
        Scenario(
            "recipients remove",
            target,
            reset_two,
            lambda: envfile.remove_recipients(target, [other]),
            BASE,
        ),
    ]


@pytest.mark.parametrize(
    "name",
    ["encrypt --force", "set", "edit", "rotate", "recipients add", "recipients remove"],
)
def test_kill_9_during_writes(
    name: str,
    workdir: tuple[Path, Path],
    age_key: Any,
    other_age_key: Any,
    tally: Tally,
) -> None:
    work, tmp = workdir
    recipient = age_key.recipient
    other = other_age_key.recipient
    (scenario,) = [s for s in _scenarios(work, recipient, other) if s.name == name]
    _kill_runs(scenario, tally, tmp, work, random.Random(f"{SEED}-{name}"))


def test_kill_9_during_vault_pull(
    workdir: tuple[Path, Path], age_key: Any, tally: Tally, bao_server: Any
) -> None:
    from secretsafe.vault.client import connect
    from secretsafe.vault.sync import pull_to_file, push

    work, tmp = workdir
    recipient = age_key.recipient
    addr, token = bao_server.addr, bao_server.token
    path = f"reliability/crash-{os.getpid()}"
    new_values = {**BASE, "API_KEY": CANARY + "-from-vault"}
    with connect(addr=addr, token=token, retries=1) as client:
        push(client, new_values, path=path)
    target = work / "pulled.env.enc"

    def prepare() -> None:
        _write_encrypted(target, BASE, [recipient])

    def operate() -> None:
        with connect(addr=addr, token=token, retries=0) as child_client:
            pull_to_file(child_client, target, path=path, recipients=[recipient])

    scenario = Scenario("vault pull", target, prepare, operate, new_values)
    _kill_runs(scenario, tally, tmp, work, random.Random(f"{SEED}-pull"))


def test_kill_9_of_cli_processes(workdir: tuple[Path, Path], age_key: Any, tally: Tally) -> None:
    """Real ``secretsafe set`` processes killed at random points of their whole run."""
    work, tmp = workdir
    recipient = age_key.recipient
    target = work / ".env.enc"
    rng = random.Random(f"{SEED}-cli")
    env = dict(os.environ)
    argv = [sys.executable, "-m", "secretsafe", "set", str(target), "API_KEY"]
    _write_encrypted(target, BASE, [recipient])
    start = time.perf_counter()
    subprocess.run(argv, input=b"warm", env=env, check=True, capture_output=True)
    window = (time.perf_counter() - start) * 1.2
    new = {**BASE, "API_KEY": CANARY + "-cli"}
    scenario = Scenario("cli set", target, lambda: None, lambda: None, new)
    for run in range(CLI_KILLS):
        _write_encrypted(target, BASE, [recipient])
        old = target.read_bytes()
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        assert proc.stdin is not None
        proc.stdin.write(new["API_KEY"].encode())
        proc.stdin.close()
        delay = rng.uniform(window * 0.55, window * 0.85)  # startup dominates: aim at the work
        time.sleep(delay)
        os.kill(proc.pid, signal.SIGKILL)
        code = proc.wait(timeout=30)
        problem, state = _check_after_kill(scenario, old, BASE, tmp, work)
        if state in {"lost", "corrupt"}:
            tally.note("lost or corrupted files")
        tally.check(
            f"cli set run {run}",
            problem,
            note=f"cli {'killed' if code == -signal.SIGKILL else 'finished'}, target {state}",
        )
        stray = _stray_temp_files(work, tmp)
        if stray:
            tally.note("stray temp files removed (no plaintext)", stray)


def test_concurrent_writers_lose_no_update(
    workdir: tuple[Path, Path], age_key: Any, tally: Tally
) -> None:
    """WRITERS processes set different keys of one file at the same instant."""
    from secretsafe import envfile

    work, _ = workdir
    recipient = age_key.recipient
    target = work / "shared.env.enc"
    tally.note("lost updates", 0)
    for round_no in range(CONCURRENT_ROUNDS):
        _write_encrypted(target, BASE, [recipient])
        go_r, go_w = os.pipe()
        pids = []
        for i in range(WRITERS):

            def write(i: int = i, r: int = go_r, w: int = go_w, n: int = round_no) -> None:
                os.close(w)
                os.read(r, 1)  # all children start together
                envfile.set_value(target, f"WRITER_{i}", f"value-{n}-{i}")

            pids.append(_fork(write))
        os.close(go_r)
        os.write(go_w, b"x" * WRITERS)
        os.close(go_w)
        statuses = [_wait(pid) for pid in pids]
        final = _decrypt_values(target)
        for i, status in enumerate(statuses):
            ok = os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
            present = final.get(f"WRITER_{i}") == f"value-{round_no}-{i}"
            if ok and not present:
                tally.fail(f"round {round_no} writer {i}", "LOST UPDATE: reported success")
                tally.note("lost updates")
            elif not ok and present:
                tally.fail(f"round {round_no} writer {i}", "failed but its value is there")
            else:
                tally.ok(note="writer succeeded" if ok else "writer refused")
        missing_base = {k for k, v in BASE.items() if final.get(k) != v}
        tally.check(
            f"round {round_no} base values", f"lost {missing_base}" if missing_base else None
        )


def test_kill_9_during_decrypt_to_file(
    workdir: tuple[Path, Path], age_key: Any, tally: Tally
) -> None:
    """``decrypt -o``: the plaintext target is the old or the whole new file. A kill between
    the temp file's creation and the rename leaves that 0600 temp file (plaintext, in the
    directory the user chose for plaintext): counted, not hidden."""
    from secretsafe import envfile

    work, tmp = workdir
    src = work / ".env.enc"
    _write_encrypted(src, BASE, [age_key.recipient])
    dst = work / "plain.env"
    _, doc = envfile.decrypt_document(src)
    new = envfile.render(doc).encode()
    old = b"OLD=1\n"
    rng = random.Random(f"{SEED}-decrypt-o")

    def operate() -> None:
        envfile.write_plaintext(src, dst)

    dst.write_bytes(old)
    window = statistics.median(_timed_run(operate) for _ in range(3)) * 0.9
    tally.note("lost or corrupted files", 0)
    for run in range(KILLS_PER_OPERATION // 2):
        dst.write_bytes(old)
        delay = rng.uniform(0, window)
        pid = _fork(operate)
        end = time.perf_counter() + delay
        while time.perf_counter() < end:
            pass
        os.kill(pid, signal.SIGKILL)
        killed = os.WIFSIGNALED(_wait(pid))
        now = dst.read_bytes() if dst.exists() else None
        state = "old" if now == old else "new" if now == new else "corrupt"
        if state == "corrupt":
            tally.note("lost or corrupted files")
        mode_ok = stat.S_IMODE(dst.stat().st_mode) == 0o600 if state == "new" else True
        leaks = files_containing(tmp, CANARY)
        problem = None
        if state == "corrupt":
            problem = "plaintext target is neither old nor the whole new file"
        elif not mode_ok:
            problem = "new plaintext is not 0600"
        elif leaks:
            problem = f"plaintext in TMPDIR: {leaks}"
        tally.check(
            f"decrypt -o run {run}",
            problem,
            note=f"{'killed' if killed else 'finished'}, target {state}",
        )
        strays = list(work.glob(".plain.env.*.tmp"))
        if strays:
            tally.note("decrypt -o: 0600 plaintext temp files left by kill -9", len(strays))
            for p in strays:
                p.unlink()


def test_lock_refuses_after_timeout(workdir: tuple[Path, Path], age_key: Any, tally: Tally) -> None:
    """While another process holds the file's lock, a second writer waits, then refuses with
    one clear line (exit 10) and leaves the file as it was."""
    from secretsafe.locking import locked

    work, _ = workdir
    target = work / ".env.enc"
    _write_encrypted(target, BASE, [age_key.recipient])
    before = target.read_bytes()
    env = dict(os.environ, SECRETSAFE_LOCK_TIMEOUT="0.3")
    with locked(target):
        proc = subprocess.run(
            [sys.executable, "-m", "secretsafe", "set", str(target), "API_KEY"],
            input=b"new",
            env=env,
            capture_output=True,
            timeout=60,
            check=False,
        )
    err = proc.stderr.decode()
    problem = None
    if proc.returncode != 10 or "another process" not in err:
        problem = f"exit {proc.returncode}: {err.strip()[:160]}"
    elif len(err.strip().splitlines()) != 1:
        problem = "more than one line on stderr"
    elif target.read_bytes() != before:
        problem = "file changed although the write was refused"
    tally.check("set while locked", problem, note="writer refused")
    # Once the lock is free the same command succeeds.
    proc = subprocess.run(
        [sys.executable, "-m", "secretsafe", "set", str(target), "API_KEY"],
        input=b"new",
        env=env,
        capture_output=True,
        timeout=60,
        check=False,
    )
    tally.check(
        "set after unlock",
        None if proc.returncode == 0 and _decrypt_values(target)["API_KEY"] == "new" else "failed",
        note="writer succeeded",
    )
