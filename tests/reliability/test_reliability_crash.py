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
import tempfile
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
    # The caller has reaped a killed edit's watchdog (see _reap_orphans): whatever is on disk
    # now stays there, so one strict look is enough.
    leaks = files_containing(work, CANARY, allow=scenario.plaintext_ok)
    for root in _plaintext_roots(tmp):
        leaks += files_containing(root, CANARY)
    if leaks:
        return f"plaintext left on disk: {[p.name for p in leaks]}", state
    return None, state


def _stray_temp_files(work: Path, tmp: Path) -> int:
    """Remove (and count) atomic-write temp files a kill left behind; they hold ciphertext."""
    count = 0
    for root in (work, *_plaintext_roots(tmp)):
        for p in list(root.rglob("*.tmp")) + list(root.glob("secretsafe-*")):
            count += 1
            if p.is_dir():
                shutil.rmtree(p, ignore_errors=True)
            else:
                p.unlink(missing_ok=True)
    return count


# ---------------------------------------------------------------------------------------------
# Orphans: a killed ``edit`` leaves its watchdog (a forked grandchild, see
# secretsafe.files.remove_if_killed) running while it removes the plaintext temp dir. This
# process becomes a child subreaper, so such orphans are re-parented to it and the test waits
# for them before it looks at the disk: no walk races a removal, and the leftover check is
# strict (nothing the watchdog could still remove is on disk when it runs).

_PR_SET_CHILD_SUBREAPER = 36


def _plaintext_roots(tmp: Path) -> tuple[Path, ...]:
    """Where an operation may put temp files: TMPDIR and the RAM-backed runtime dir ``edit``
    prefers (the workdir fixture points XDG_RUNTIME_DIR at a private one)."""
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    return (tmp, Path(runtime)) if runtime else (tmp,)


def _set_subreaper(on: bool) -> None:
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_CHILD_SUBREAPER, int(on), 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


def _children_of(parent: int) -> set[int]:
    """Pids whose parent is ``parent`` (from /proc)."""
    found = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                stat_line = fh.read()
        except OSError:
            continue  # exited meanwhile
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses.
        fields = stat_line[stat_line.rindex(b")") + 2 :].split()
        if int(fields[1]) == parent:
            found.add(int(entry))
    return found


def _reap_orphans(known: set[int]) -> int:
    """Wait (bounded) for every child of this process not in ``known``: orphans adopted as
    subreaper. Called after the killed operation itself was reaped. Returns how many."""
    orphans = _children_of(os.getpid()) - known
    for pid in orphans:
        try:
            _wait(pid)
        except ChildProcessError:
            continue  # already reaped (not ours after all)
    return len(orphans)


@pytest.fixture(autouse=True)
def _subreaper() -> Iterator[None]:
    _set_subreaper(True)
    try:
        yield
    finally:
        _set_subreaper(False)


def _kill_runs(scenario: Scenario, tally: Tally, tmp: Path, work: Path, rng: random.Random) -> None:
    known = _children_of(os.getpid())
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
        if _reap_orphans(known):
            tally.note("watchdogs of killed operations waited for")
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
    # edit puts its plaintext on a RAM-backed filesystem: give it a private one to scan.
    runtime = tempfile.mkdtemp(prefix="secretsafe-test-runtime-", dir="/dev/shm")
    monkeypatch.setenv("XDG_RUNTIME_DIR", runtime)
    monkeypatch.chdir(work)
    monkeypatch.setenv("SECRETSAFE_BACKEND", "native")
    try:
        yield work, tmp
    finally:
        shutil.rmtree(runtime, ignore_errors=True)


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


# ---------------------------------------------------------------------------------------------
# edit as PID 1 of a PID namespace (a container's main process): `docker stop` sends SIGTERM,
# which PID 1 ignores without a handler, then SIGKILL, which kills the watchdog too.

EDIT_AS_PID1_TIMEOUT = 30.0


def _pid1_edit(work: Path, target: Path) -> tuple[subprocess.Popen[bytes], int, Path]:
    """Start ``unshare --pid --fork --mount-proc secretsafe edit`` with an editor that records
    the plaintext's path and waits; return the unshare process, the host pid of the
    namespace's PID 1 (secretsafe) and the plaintext path, once the editor runs."""
    marker = work / "editing"
    marker.unlink(missing_ok=True)
    editor = work / "slow-editor.sh"
    editor.write_text(
        f'#!/bin/sh\necho "$1" > {marker}.part\nmv {marker}.part {marker}\nexec sleep 120\n'
    )
    editor.chmod(0o700)
    argv = ["unshare", "--pid", "--fork", "--mount-proc", sys.executable, "-m", "secretsafe"]
    proc = subprocess.Popen(
        [*argv, "edit", str(target), "--editor", str(editor)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + EDIT_AS_PID1_TIMEOUT
    while not marker.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            proc.wait()
            raise AssertionError(f"edit as PID 1 did not start its editor (exit {proc.returncode})")
        time.sleep(0.01)
    (pid1,) = _children_of(proc.pid)
    return proc, pid1, Path(marker.read_text().strip())


def _unshare_works() -> bool:
    try:
        probe = subprocess.run(
            ["unshare", "--pid", "--fork", "--mount-proc", "true"],
            capture_output=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return probe.returncode == 0


def test_edit_as_pid1_of_a_pid_namespace(
    workdir: tuple[Path, Path], age_key: Any, tally: Tally
) -> None:
    """SIGTERM (docker stop): the plaintext is removed and edit exits at once, though PID 1
    ignores signals it has no handler for. SIGKILL of the whole namespace (the grace period
    over, or docker kill): nothing can run, so the plaintext may stay, but only on the
    RAM-backed runtime dir, never on a disk (TMPDIR, the working directory)."""
    if not _unshare_works():
        pytest.skip("unshare --pid needs privileges this environment lacks")
    work, tmp = workdir
    runtime = Path(os.environ["XDG_RUNTIME_DIR"])
    target = work / ".env.enc"
    _write_encrypted(target, BASE, [age_key.recipient])
    before = target.read_bytes()

    proc, pid1, plaintext = _pid1_edit(work, target)
    on_ram = plaintext.is_relative_to(runtime) and plaintext.exists()
    os.kill(pid1, signal.SIGTERM)
    try:
        proc.wait(timeout=EDIT_AS_PID1_TIMEOUT)
        problem = None
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        problem = "SIGTERM ignored: edit as PID 1 kept running with the plaintext on disk"
    if problem is None and plaintext.parent.exists():
        problem = "plaintext directory left after SIGTERM"
    if problem is None and not on_ram:
        problem = f"plaintext was not on the RAM-backed runtime dir: {plaintext}"
    if problem is None and target.read_bytes() != before:
        problem = "the encrypted file changed"
    tally.check("edit as PID 1, SIGTERM", problem, note="edit as PID 1: plaintext removed")

    proc, pid1, plaintext = _pid1_edit(work, target)
    os.kill(pid1, signal.SIGKILL)  # the kernel then kills every process of the namespace
    proc.wait(timeout=EDIT_AS_PID1_TIMEOUT)
    leaks = files_containing(work, CANARY) + files_containing(tmp, CANARY)
    left = files_containing(runtime, CANARY)
    problem = None
    if leaks:
        problem = f"plaintext on disk: {leaks}"
    elif any(not p.is_relative_to(runtime) for p in left):
        problem = "plaintext outside the runtime dir"
    tally.check(
        "edit as PID 1, SIGKILL of the namespace",
        problem,
        note="edit as PID 1 killed: plaintext left in RAM only" if left else "nothing left",
    )
