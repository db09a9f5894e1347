"""encrypt / decrypt / edit / set / unset / rotate / recipients through the real console
script: output, exit codes, files left untouched on failure, and the canary never leaking."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import AgeKey

SECRETSAFE = str(Path(sys.executable).parent / "secretsafe")
CANARY = "canary-cli-9d2e-top-secret"


def ss(
    *args: str, cwd: Path, stdin: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    r = subprocess.run(
        [SECRETSAFE, *args],
        capture_output=True,
        text=True,
        input=stdin,
        cwd=cwd,
        env=env if env is not None else dict(os.environ),
        timeout=60,
        check=False,
    )
    if r.returncode != 0:
        assert "Traceback" not in r.stderr
    return r


@pytest.fixture
def work(tmp_path: Path, age_key: AgeKey) -> Path:
    (tmp_path / ".env").write_text(f"# app\nTOKEN={CANARY}\nHOST=localhost\n")
    return tmp_path


@pytest.fixture
def private_temp(tmp_path: Path) -> Iterator[tuple[dict[str, str], list[Path]]]:
    """An environment whose plaintext temp places are this test's own: a TMPDIR and a 0700
    RAM-backed XDG_RUNTIME_DIR, so other tests running at the same time cannot add to them."""
    tmp = tmp_path / "tmpdir"
    tmp.mkdir(mode=0o700)
    runtime = Path(tempfile.mkdtemp(prefix="ss-test-runtime-", dir="/dev/shm"))
    try:
        yield {**os.environ, "TMPDIR": str(tmp), "XDG_RUNTIME_DIR": str(runtime)}, [tmp, runtime]
    finally:
        shutil.rmtree(runtime, ignore_errors=True)


@pytest.mark.parametrize("backend", ["native", "sops"])
def test_encrypt_decrypt_formats(work: Path, backend: str) -> None:
    r = ss("encrypt", "--backend", backend, cwd=work)
    assert r.returncode == 0, r.stderr
    assert CANARY not in r.stdout + r.stderr
    enc = work / ".env.enc"
    assert stat.S_IMODE(enc.stat().st_mode) == 0o600
    r = ss("decrypt", "--backend", backend, cwd=work)
    assert (r.returncode, r.stdout) == (0, f"# app\nTOKEN={CANARY}\nHOST=localhost\n")
    r = ss("decrypt", "--format", "json", ".env.enc", cwd=work)
    assert json.loads(r.stdout) == {"TOKEN": CANARY, "HOST": "localhost"}
    r = ss("decrypt", "-o", "plain.env", cwd=work)
    assert r.returncode == 0
    assert r.stdout == ""
    assert stat.S_IMODE((work / "plain.env").stat().st_mode) == 0o600
    assert CANARY not in r.stderr


def test_failure_exit_codes(work: Path, other_age_key: AgeKey, sops_bin: Path) -> None:
    assert ss("encrypt", cwd=work).returncode == 0
    enc = work / ".env.enc"
    before = enc.read_bytes()
    results = []
    # already exists / already encrypted
    results.append((ss("encrypt", cwd=work), 10))
    results.append((ss("encrypt", ".env.enc", "-o", "x.enc", cwd=work), 13))
    # missing file, not a sops file
    results.append((ss("decrypt", "missing.enc", cwd=work), 10))
    results.append((ss("decrypt", ".env", cwd=work), 13))
    # wrong key
    wrong = {**os.environ, "SOPS_AGE_KEY_FILE": str(other_age_key.key_file)}
    results.append((ss("decrypt", cwd=work, env=wrong), 21))
    # no identity at all
    none = {k: v for k, v in os.environ.items() if not k.startswith("SOPS_AGE")}
    results.append((ss("decrypt", cwd=work, env=none), 20))
    # malformed .env, with its line number
    (work / "bad.env").write_text(f"A=1\nbroken {CANARY}\n")
    bad = ss("encrypt", "bad.env", cwd=work)
    results.append((bad, 12))
    assert "bad.env:2" in bad.stderr
    # unrepresentable value
    (work / "bs.env").write_text("P='a\\nb'\n")
    results.append((ss("encrypt", "bs.env", cwd=work), 13))
    # unset of a missing key
    results.append((ss("unset", ".env.enc", "NOPE", cwd=work), 2))
    for r, code in results:
        assert r.returncode == code, (r.args, r.stderr)
        assert r.stderr.startswith("secretsafe: error: ")
        assert CANARY not in r.stdout + r.stderr
    assert enc.read_bytes() == before
    assert not (work / "bad.env.enc").exists()
    # tampered
    enc.write_text(
        enc.read_text().replace("HOST=ENC[AES256_GCM,data:", "HOST=ENC[AES256_GCM,data:A")
    )
    for backend in ("native", "sops"):
        r = ss("decrypt", "--backend", backend, cwd=work)
        assert r.returncode == 22, r.stderr
        assert CANARY not in r.stdout + r.stderr


def test_set_unset_rotate_recipients(work: Path, other_age_key: AgeKey) -> None:
    assert ss("encrypt", cwd=work).returncode == 0
    r = ss("set", ".env.enc", "NEW_SECRET", cwd=work, stdin=f"{CANARY}-2\n")
    assert r.returncode == 0, r.stderr
    assert CANARY not in r.stderr
    r = ss("decrypt", "--format", "json", cwd=work)
    assert json.loads(r.stdout)["NEW_SECRET"] == f"{CANARY}-2"  # one newline stripped
    assert ss("unset", ".env.enc", "NEW_SECRET", cwd=work).returncode == 0
    assert "NEW_SECRET" not in ss("decrypt", cwd=work).stdout
    before = (work / ".env.enc").read_text()
    assert ss("rotate", ".env.enc", cwd=work).returncode == 0
    assert (work / ".env.enc").read_text() != before
    r = ss("recipients", "add", ".env.enc", other_age_key.recipient, cwd=work)
    assert r.returncode == 0, r.stderr
    listed = ss("recipients", "list", ".env.enc", cwd=work).stdout.split()
    assert other_age_key.recipient in listed
    r = ss("recipients", "add", ".env.enc", "age1notarecipient", cwd=work)
    assert r.returncode != 0
    assert "Traceback" not in r.stderr
    r = ss("recipients", "remove", ".env.enc", other_age_key.recipient, cwd=work)
    assert r.returncode == 0
    assert other_age_key.recipient not in ss("recipients", "list", ".env.enc", cwd=work).stdout


def test_set_refuses_a_terminal(work: Path) -> None:
    from click.testing import CliRunner

    from secretsafe.cli.app import cli

    assert ss("encrypt", cwd=work).returncode == 0
    # CliRunner's stdin is not a tty; emulate one to check the refusal path.
    import secretsafe.cli.files as files_cli

    class TTY:
        def isatty(self) -> bool:
            return True

    old = sys.stdin
    sys.stdin = TTY()  # type: ignore[assignment]
    try:
        from secretsafe.errors import UsageError

        with pytest.raises(UsageError, match="stdin is a terminal"):
            files_cli._read_stdin_value()
    finally:
        sys.stdin = old
    result = CliRunner().invoke(cli, ["set", "--help"])
    assert "stdin" in result.output


def test_edit_with_scripted_editor(
    work: Path, private_temp: tuple[dict[str, str], list[Path]]
) -> None:
    env, places = private_temp
    assert ss("encrypt", cwd=work).returncode == 0
    script = work / "ed.py"
    script.write_text(
        "import sys, pathlib\np = pathlib.Path(sys.argv[1])\n"
        "p.write_text(p.read_text().replace('localhost', 'db'))\n"
    )
    editor = ("--editor", f"{sys.executable} {script}")  # explicit: no terminal needed
    r = ss("edit", ".env.enc", *editor, cwd=work, env=env)
    assert r.returncode == 0, r.stderr
    assert "saved" in r.stderr
    assert "HOST=db" in ss("decrypt", cwd=work).stdout
    r = ss("edit", ".env.enc", *editor, cwd=work, env=env)
    assert "no changes" in r.stderr
    assert [list(p.iterdir()) for p in places] == [[], []]


def test_canary_never_in_sops_argv_or_temp(work: Path, tmp_path: Path) -> None:
    """With a recording stand-in for sops, the canary is not in its argv, and no temp file
    holding it is left behind."""
    real = subprocess.run(
        [
            sys.executable,
            "-c",
            "from secretsafe.sops.binary import find_binary_path as f;print(f())",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    log = tmp_path / "argv.log"
    spy = tmp_path / "sops-spy"
    spy.write_text(f'#!/bin/sh\necho "$@" >> {log}\nexec {real} "$@"\n')
    spy.chmod(0o755)
    env = {**os.environ, "SECRETSAFE_SOPS": str(spy), "TMPDIR": str(tmp_path / "tmp")}
    (tmp_path / "tmp").mkdir()
    for args in (
        ["encrypt", "--backend", "sops"],
        ["decrypt", "--backend", "sops"],
        ["rotate", "--backend", "sops", ".env.enc"],
    ):
        r = ss(*args, cwd=work, env=env)
        assert r.returncode == 0, r.stderr
    assert log.read_text().count("/dev/stdin") >= 3
    assert CANARY not in log.read_text()
    assert list((tmp_path / "tmp").iterdir()) == []


# ---------------------------------------------------------------------------------------------
# edit starts an interactive editor only at a terminal (real pty for the terminal side)

#: Where the editor comes from -> how the run is set up.
EDITOR_SOURCES = ("--editor", "VISUAL", "EDITOR", "fallback vi")


def _run_edit(
    work: Path, source: str, *, stdin_tty: bool, stdout_tty: bool
) -> tuple[int, str, bool]:
    """``secretsafe edit .env.enc`` with stdin/stdout each a pty or a pipe; a fake editor
    (and a fake ``vi`` first on PATH) records that it ran. Returns (exit, stderr, ran)."""
    import pty

    marker = work / "editor-ran"
    marker.unlink(missing_ok=True)
    bin_dir = work / "bin"
    bin_dir.mkdir(exist_ok=True)
    script = bin_dir / "fake-editor"
    script.write_text(
        f"#!/bin/sh\ntouch {marker}\nsed -i 's/^HOST=.*/HOST=edited/' \"$1\"\n", encoding="utf-8"
    )
    script.chmod(0o755)
    vi = bin_dir / "vi"
    vi.write_bytes(script.read_bytes())
    vi.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    env.pop("VISUAL", None)
    env.pop("EDITOR", None)
    args = [SECRETSAFE, "edit", ".env.enc"]
    if source == "--editor":
        args += ["--editor", str(script)]
    elif source in ("VISUAL", "EDITOR"):
        env[source] = str(script)
    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen(
            args,
            stdin=slave if stdin_tty else subprocess.PIPE,
            stdout=slave if stdout_tty else subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=work,
            env=env,
        )
        os.close(slave)
        slave = -1
        _, err = proc.communicate(timeout=60)
    finally:
        if slave != -1:
            os.close(slave)
        os.close(master)
    return proc.returncode, err.decode(), marker.exists()


@pytest.mark.parametrize("source", EDITOR_SOURCES)
def test_edit_refuses_interactive_editor_without_terminal(work: Path, source: str) -> None:
    """The whole matrix: editor source x (stdin, stdout) pty or pipe. Only an explicit
    --editor runs without a terminal; $VISUAL, $EDITOR and the vi fallback need both ends to
    be terminals, and are refused (exit 2, one line, the file untouched) otherwise."""
    assert ss("encrypt", cwd=work).returncode == 0
    enc = work / ".env.enc"
    for stdin_tty in (True, False):
        for stdout_tty in (True, False):
            before = enc.read_bytes()
            code, err, ran = _run_edit(work, source, stdin_tty=stdin_tty, stdout_tty=stdout_tty)
            allowed = source == "--editor" or (stdin_tty and stdout_tty)
            ends = ("tty" if stdin_tty else "pipe", "tty" if stdout_tty else "pipe")
            case = f"{source}, stdin {ends[0]}, stdout {ends[1]}"
            assert ran is allowed, case
            if allowed:
                assert code == 0, (case, err)
                assert "HOST=edited" in ss("decrypt", cwd=work).stdout, case
                ss("set", ".env.enc", "HOST", cwd=work, stdin="localhost")
            else:
                assert code == 2, (case, err)
                assert err.startswith("secretsafe: error:"), case
                assert err.count("\n") == 1, case
                assert "--editor" in err, case
                assert enc.read_bytes() == before, case
            assert CANARY not in err, case


@pytest.mark.parametrize("backend", ["native", "sops"])
def test_decrypt_key_names_sops_accepts(
    work: Path, age_key: AgeKey, sops_bin: Path, sops_env: dict[str, str], backend: str
) -> None:
    """Names sops accepts but a .env file cannot hold (`foo ` from sops' own functional-test
    file, a space, a leading digit, ':', non-ASCII) decrypt: as JSON, with a note (was exit 13);
    --format sops prints exactly what sops decrypt prints."""
    plain = f"foo ={CANARY}\nhas space=1\n1ABC=2\na:b=3\nключ=4\n"
    (work / "odd.env").write_text(plain, encoding="utf-8")
    made = subprocess.run(
        [str(sops_bin), "encrypt", "--age", age_key.recipient, str(work / "odd.env")],
        capture_output=True,
        env=sops_env,
        check=True,
    )
    (work / "odd.enc.env").write_bytes(made.stdout)
    r = ss("decrypt", "--backend", backend, "odd.enc.env", cwd=work)
    assert r.returncode == 0, r.stderr
    assert "printed as JSON" in r.stderr
    assert CANARY not in r.stderr
    by_sops = subprocess.run(
        [str(sops_bin), "decrypt", "--output-type", "json", str(work / "odd.enc.env")],
        capture_output=True,
        text=True,
        env=sops_env,
        check=True,
    ).stdout
    assert json.loads(r.stdout) == json.loads(by_sops)
    r = ss("decrypt", "--backend", backend, "--format", "sops", "odd.enc.env", cwd=work)
    assert (r.returncode, r.stdout) == (0, plain)


@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_set_unset_rotate_recipients_on_nested_files(
    work: Path, age_key: AgeKey, other_age_key: AgeKey, sops_bin: Path, fmt: str
) -> None:
    """The write commands on a sops YAML/JSON file made by sops: the file keeps its format,
    ``sops decrypt`` prints the change, ``run`` sees the flattened names, nothing leaks."""
    plain = {"database": {"host": "db", "port": 5432}, "debug": True}
    path = work / f"s.enc.{fmt}"
    made = subprocess.run(
        [
            *(str(sops_bin), "encrypt", "--age", age_key.recipient),
            *("--input-type", fmt, "--output-type", fmt, "/dev/stdin"),
        ],
        input=json.dumps(plain),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    path.write_text(made.stdout)
    r = ss("set", path.name, "DATABASE__PASSWORD", cwd=work, stdin=CANARY + "\n")
    assert (r.returncode, r.stderr) == (0, f"{path.name}: added DATABASE__PASSWORD\n")
    r = ss("unset", path.name, "DEBUG", cwd=work)
    assert r.returncode == 0, r.stderr
    r = ss("rotate", path.name, cwd=work)
    assert r.returncode == 0, r.stderr
    r = ss("recipients", "add", path.name, other_age_key.recipient, cwd=work)
    assert r.returncode == 0, r.stderr
    r = ss("recipients", "list", path.name, cwd=work)
    assert r.stdout.split() == [age_key.recipient, other_age_key.recipient]
    assert CANARY not in path.read_text()
    shown = subprocess.run(
        [str(sops_bin), "decrypt", "--output-type", "json", str(path)],
        env={**os.environ, "SOPS_AGE_KEY_FILE": str(other_age_key.key_file)},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert json.loads(shown) == {"database": {"host": "db", "port": 5432, "password": CANARY}}
    code = "import json,os;print(json.dumps({k:v for k,v in os.environ.items() if k.isupper()}))"
    r = ss("run", "-f", path.name, "--", sys.executable, "-c", code, cwd=work)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["DATABASE__PASSWORD"] == CANARY
    # refusals: exit 2, nothing shown, the file untouched
    before = path.read_bytes()
    for args in (("set", path.name, "DATABASE"), ("unset", path.name, "NOPE__X")):
        r = ss(*args, cwd=work, stdin=CANARY)
        assert r.returncode == 2, r.stderr
        assert CANARY not in r.stdout + r.stderr
    assert path.read_bytes() == before
