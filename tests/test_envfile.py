"""The file operations (encrypt, decrypt, edit, set, unset, rotate, recipients) with real age
keys, on both backends, and interop with the real sops binary both ways."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from secretsafe import envfile
from secretsafe.errors import (
    DecryptionError,
    DotenvSyntaxError,
    FileError,
    FormatError,
    IntegrityError,
    NoIdentityError,
    SecretsafeError,
    UsageError,
)
from tests.conftest import AgeKey

CANARY = "canary-Zq81-secret-value"
BACKENDS = ["native", "sops"]

PLAIN = f"""# database settings
export DB_PASSWORD='{CANARY}'
DB_HOST=db.internal
MULTI="line one
line two"
EMPTY=
"""


def _sops_decrypt(sops_bin: Path, env: dict[str, str], path: Path) -> str:
    return subprocess.run(
        [str(sops_bin), "decrypt", "--input-type", "dotenv", "--output-type", "dotenv", str(path)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    ).stdout


@pytest.fixture
def plain(tmp_path: Path) -> Path:
    p = tmp_path / ".env"
    p.write_text(PLAIN)
    return p


@pytest.mark.parametrize("backend", BACKENDS)
def test_encrypt_then_sops_decrypts_same_values(
    plain: Path, age_key: AgeKey, sops_bin: Path, sops_env: dict[str, str], backend: str
) -> None:
    dst = envfile.encrypt_file(plain, backend=backend)
    assert dst == plain.with_name(".env.enc")
    assert stat.S_IMODE(dst.stat().st_mode) == 0o600
    text = dst.read_text()
    assert CANARY not in text
    assert f"sops_age__list_0__map_recipient={age_key.recipient}" in text
    assert _sops_decrypt(sops_bin, sops_env, dst) == (
        f"# database settings\nDB_PASSWORD={CANARY}\nDB_HOST=db.internal\n"
        "MULTI=line one\\nline two\nEMPTY=\n"
    )
    for reader in BACKENDS:
        values = envfile.decrypt_file(dst, backend=reader)
        assert values.reveal() == {
            "DB_PASSWORD": CANARY,
            "DB_HOST": "db.internal",
            "MULTI": "line one\nline two",
            "EMPTY": "",
        }


@pytest.mark.parametrize("backend", BACKENDS)
def test_sops_encrypted_file_decrypts(
    tmp_path: Path, age_key: AgeKey, sops_bin: Path, sops_env: dict[str, str], backend: str
) -> None:
    src = tmp_path / "in.env"
    src.write_text(f"#c\nA={CANARY}\nB=x\\ny\nC_unencrypted=plain\n")
    enc = tmp_path / "out.env.enc"
    with enc.open("w") as fh:
        subprocess.run(
            [str(sops_bin), "encrypt", "--age", age_key.recipient, str(src)],
            stdout=fh,
            env=sops_env,
            check=True,
        )
    _, doc = envfile.decrypt_document(enc, backend=backend)
    assert doc.values.reveal() == {"A": CANARY, "B": "x\ny", "C_unencrypted": "plain"}
    assert envfile.render(doc, fmt="sops") == _sops_decrypt(sops_bin, sops_env, enc)


def test_recipients_from_sops_yaml(
    tmp_path: Path, age_key: AgeKey, other_age_key: AgeKey, plain: Path
) -> None:
    (tmp_path / ".sops.yaml").write_text(
        f"creation_rules:\n  - path_regex: \\.env$\n    age: {age_key.recipient},"
        f"{other_age_key.recipient}\n    encrypted_regex: PASSWORD\n"
    )
    dst = envfile.encrypt_file(plain)
    text = dst.read_text()
    assert other_age_key.recipient in text
    assert "DB_HOST=db.internal" in text  # not selected by encrypted_regex
    assert envfile.list_recipients(dst) == [[age_key.recipient, other_age_key.recipient]]


def test_explicit_recipient_wins(plain: Path, age_key: AgeKey, other_age_key: AgeKey) -> None:
    dst = envfile.encrypt_file(plain, recipients=[other_age_key.recipient])
    assert envfile.list_recipients(dst) == [[other_age_key.recipient]]
    with pytest.raises(DecryptionError) as info:
        envfile.decrypt_file(dst)
    assert info.value.exit_code == 21
    assert other_age_key.recipient in str(info.value)


def test_no_recipient_at_all(plain: Path) -> None:
    with pytest.raises(NoIdentityError, match="keys generate") as info:
        envfile.encrypt_file(plain)
    assert info.value.exit_code == 20
    assert not plain.with_name(".env.enc").exists()


def test_refusals_leave_files_untouched(plain: Path, age_key: AgeKey, tmp_path: Path) -> None:
    dst = envfile.encrypt_file(plain)
    before = dst.read_bytes()
    with pytest.raises(FileError, match="already exists"):
        envfile.encrypt_file(plain)
    with pytest.raises(FormatError, match="already encrypted") as info:
        envfile.encrypt_file(dst, tmp_path / "again.enc")
    assert info.value.exit_code == 13
    assert dst.read_bytes() == before
    assert envfile.encrypt_file(plain, force=True) == dst
    assert dst.read_bytes() != before


def test_malformed_env_names_the_line(tmp_path: Path, age_key: AgeKey) -> None:
    src = tmp_path / "bad.env"
    src.write_text(f"A=1\nB={CANARY}\nthis line is broken {CANARY}\n")
    with pytest.raises(DotenvSyntaxError) as info:
        envfile.encrypt_file(src)
    assert info.value.exit_code == 12
    assert info.value.line == 3
    assert CANARY not in str(info.value)


def test_unrepresentable_value(tmp_path: Path, age_key: AgeKey) -> None:
    src = tmp_path / "bs.env"
    src.write_text("A=1\nWIN_PATH='C:\\new\\dir'\n")
    with pytest.raises(FormatError, match="WIN_PATH") as info:
        envfile.encrypt_file(src)
    assert "bs.env:2" in str(info.value)
    assert not (tmp_path / "bs.env.enc").exists()


@pytest.mark.parametrize("backend", BACKENDS)
def test_set_unset_rotate(plain: Path, age_key: AgeKey, backend: str) -> None:
    dst = envfile.encrypt_file(plain, backend=backend)
    dst.chmod(0o640)
    assert envfile.set_value(dst, "NEW", "v1", backend=backend) is True
    assert envfile.set_value(dst, "DB_HOST", "other", backend=backend) is False
    values = envfile.decrypt_file(dst)
    assert list(values) == ["DB_PASSWORD", "DB_HOST", "MULTI", "EMPTY", "NEW"]
    assert values["DB_HOST"] == "other"
    assert stat.S_IMODE(dst.stat().st_mode) == 0o640  # mode kept
    envfile.unset_value(dst, "NEW", backend=backend)
    assert "NEW" not in envfile.decrypt_file(dst)
    with pytest.raises(UsageError, match="no variable NEW"):
        envfile.unset_value(dst, "NEW", backend=backend)
    before = dst.read_text()
    envfile.rotate(dst, backend=backend)
    after = dst.read_text()
    key_line = [ln for ln in before.splitlines() if "map_enc=" in ln]
    assert key_line
    assert key_line[0] not in after  # a new data key
    assert envfile.decrypt_file(dst)["DB_PASSWORD"] == CANARY
    _, doc = envfile.decrypt_document(dst)
    assert "database settings" in envfile.render(doc)  # comments survive


def test_set_refuses_bad_names_and_values(plain: Path, age_key: AgeKey) -> None:
    dst = envfile.encrypt_file(plain)
    before = dst.read_bytes()
    with pytest.raises(UsageError):
        envfile.set_value(dst, "1BAD", "x")
    with pytest.raises(FormatError):
        envfile.set_value(dst, "sops_mac", "x")
    with pytest.raises(FormatError):
        envfile.set_value(dst, "OK", "a\\nb")
    assert dst.read_bytes() == before


def test_recipients_add_and_remove(
    plain: Path, age_key: AgeKey, other_age_key: AgeKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    dst = envfile.encrypt_file(plain)
    assert envfile.add_recipients(dst, [other_age_key.recipient]) == [other_age_key.recipient]
    assert envfile.list_recipients(dst) == [[age_key.recipient, other_age_key.recipient]]
    # The other key can now decrypt on its own.
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(other_age_key.key_file))
    assert envfile.decrypt_file(dst)["DB_PASSWORD"] == CANARY
    envfile.remove_recipients(dst, [age_key.recipient])
    assert envfile.list_recipients(dst) == [[other_age_key.recipient]]
    with pytest.raises(UsageError, match="nobody could decrypt"):
        envfile.remove_recipients(dst, [other_age_key.recipient])
    with pytest.raises(UsageError, match="not a recipient"):
        envfile.remove_recipients(dst, [age_key.recipient])
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(age_key.key_file))
    with pytest.raises(DecryptionError):
        envfile.decrypt_file(dst)


def test_tampered_file(plain: Path, age_key: AgeKey) -> None:
    dst = envfile.encrypt_file(plain)
    text = dst.read_text().replace("EMPTY=\n", "EMPTY=injected\n")
    dst.write_text(text)
    for backend in BACKENDS:
        with pytest.raises(IntegrityError) as info:
            envfile.decrypt_file(dst, backend=backend)
        assert info.value.exit_code == 22


def test_not_a_sops_file(plain: Path, age_key: AgeKey) -> None:
    for backend in BACKENDS:
        with pytest.raises(FormatError, match="not a sops file"):
            envfile.decrypt_file(plain, backend=backend)


def test_missing_and_unreadable_files(tmp_path: Path, age_key: AgeKey) -> None:
    with pytest.raises(FileError, match="no such file") as info:
        envfile.decrypt_file(tmp_path / "nope.enc")
    assert info.value.exit_code == 10
    if os.geteuid() != 0:  # root reads anything
        locked = tmp_path / "locked.enc"
        locked.write_text("x")
        locked.chmod(0)
        with pytest.raises(FileError, match="permission denied"):
            envfile.decrypt_file(locked)


def test_write_plaintext_is_private(plain: Path, age_key: AgeKey, tmp_path: Path) -> None:
    dst = envfile.encrypt_file(plain)
    out = tmp_path / "out.json"
    envfile.write_plaintext(dst, out, fmt="json")
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert CANARY in out.read_text()


# ---------------------------------------------------------------------------------------------
# edit, with a scripted editor


def _editor(tmp_path: Path, body: str) -> str:
    script = tmp_path / "editor.py"
    script.write_text(
        "import os, pathlib, stat, sys\n"
        "p = pathlib.Path(sys.argv[1])\n"
        "log = pathlib.Path(os.environ['EDIT_LOG'])\n"
        "log.write_text(f'{p}\\n{stat.S_IMODE(p.stat().st_mode):o}\\n'"
        " + f'{stat.S_IMODE(p.parent.stat().st_mode):o}\\n')\n" + body
    )
    return f"{sys.executable} {script}"


@pytest.fixture
def edit_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    log = tmp_path / "edit.log"
    monkeypatch.setenv("EDIT_LOG", str(log))
    return log


def test_edit_changes_and_cleans_up(
    plain: Path, age_key: AgeKey, tmp_path: Path, edit_log: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dst = envfile.encrypt_file(plain)
    editor = _editor(
        tmp_path, "p.write_text(p.read_text().replace('db.internal', 'db2') + 'ADDED=yes\\n')\n"
    )
    assert envfile.edit_file(dst, editor=editor) is True
    values = envfile.decrypt_file(dst)
    assert values["DB_HOST"] == "db2"
    assert values["ADDED"] == "yes"
    assert values["DB_PASSWORD"] == CANARY
    tmpfile, file_mode, dir_mode, _ = edit_log.read_text().split("\n")
    assert (file_mode, dir_mode) == ("600", "700")
    assert not Path(tmpfile).exists()
    assert not Path(tmpfile).parent.exists()


def test_edit_without_change_keeps_file(
    plain: Path, age_key: AgeKey, tmp_path: Path, edit_log: Path
) -> None:
    dst = envfile.encrypt_file(plain)
    before = dst.read_bytes()
    assert envfile.edit_file(dst, editor=_editor(tmp_path, "")) is False
    assert dst.read_bytes() == before


def test_invalid_edit_is_refused(
    plain: Path, age_key: AgeKey, tmp_path: Path, edit_log: Path
) -> None:
    dst = envfile.encrypt_file(plain)
    before = dst.read_bytes()
    editor = _editor(tmp_path, "p.write_text(p.read_text() + 'not valid at all\\n')\n")
    with pytest.raises(DotenvSyntaxError) as info:
        envfile.edit_file(dst, editor=editor)
    assert info.value.line == 6  # comment + 4 variables (MULTI is re-quoted on one line)
    assert dst.read_bytes() == before
    assert not Path(edit_log.read_text().split("\n")[0]).exists()


def test_failing_editor(plain: Path, age_key: AgeKey, tmp_path: Path, edit_log: Path) -> None:
    dst = envfile.encrypt_file(plain)
    before = dst.read_bytes()
    with pytest.raises(SecretsafeError, match="status 3"):
        envfile.edit_file(dst, editor=_editor(tmp_path, "sys.exit(3)\n"))
    assert dst.read_bytes() == before
    assert not Path(edit_log.read_text().split("\n")[0]).exists()
    with pytest.raises(UsageError, match="not found"):
        envfile.edit_file(dst, editor="no-such-editor-xyz")


def test_api_refuses_secret_keys_and_values_without_echoing_them(
    tmp_path: Path, age_key: AgeKey
) -> None:
    src = tmp_path / ".env"
    src.write_text("HOST=db\n")
    enc = envfile.encrypt_file(src, recipients=[age_key.recipient])
    before = enc.read_bytes()
    # An identity pasted where a recipient belongs.
    with pytest.raises(UsageError) as info:
        envfile.remove_recipients(enc, [age_key.identity])
    assert age_key.identity not in str(info.value)
    assert age_key.identity[15:] not in repr(info.value)
    # `KEY=value` typed where a name belongs.
    with pytest.raises(UsageError) as bad_name:
        envfile.set_value(enc, "TOKEN=canary-typed-as-name", "x")
    assert "canary-typed-as-name" not in str(bad_name.value)
    assert "TOKEN" in str(bad_name.value)
    assert enc.read_bytes() == before


def test_edit_at_a_terminal_reopens_the_editor_after_a_typo(
    tmp_path: Path, age_key: AgeKey
) -> None:
    import pty
    import select

    src = tmp_path / ".env"
    src.write_text("A=1\n")
    enc = envfile.encrypt_file(src, recipients=[age_key.recipient])
    # First run leaves a malformed line, the second fixes it: the edit must not be lost.
    editor = tmp_path / "editor.py"
    editor.write_text(
        "import sys, pathlib\n"
        f"count = pathlib.Path({str(tmp_path / 'count')!r})\n"
        "n = int(count.read_text()) if count.exists() else 0\n"
        "count.write_text(str(n + 1))\n"
        "pathlib.Path(sys.argv[1]).write_text('A=2\\nnot a line\\n' if n == 0 else 'A=2\\n')\n"
    )
    primary, secondary = pty.openpty()
    proc = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "secretsafe"),
            "edit",
            str(enc),
            "--editor",
            f"{sys.executable} {editor}",
        ],
        stdin=secondary,
        stdout=subprocess.PIPE,
        stderr=secondary,
        env=dict(os.environ),
    )
    os.close(secondary)
    seen = b""
    while b"return to the editor" not in seen:
        ready, _, _ = select.select([primary], [], [], 30)
        assert ready, seen
        seen += os.read(primary, 4096)
    assert b"(edited):2:" in seen  # the line number, never the text
    os.write(primary, b"\n")
    assert proc.wait(timeout=30) == 0
    os.close(primary)
    from secretsafe.sops import decrypt_file

    assert dict(decrypt_file(enc)) == {"A": "2"}


# ---------------------------------------------------------------------------------------------
# edit's plaintext copy lives on a RAM-backed filesystem when one is usable


@pytest.fixture
def runtime_dir(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A private 0700 XDG_RUNTIME_DIR on /dev/shm (tmpfs), removed afterwards."""
    d = Path(tempfile.mkdtemp(prefix="secretsafe-test-runtime-", dir="/dev/shm"))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(d))
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


def _fs_type(path: Path) -> str:
    """The filesystem type as the kernel names it (statfs through coreutils, not our code)."""
    return subprocess.run(
        ["stat", "-f", "-c", "%T", str(path)], capture_output=True, text=True, check=True
    ).stdout.strip()


def test_edit_plaintext_lives_on_tmpfs(
    plain: Path, age_key: AgeKey, tmp_path: Path, edit_log: Path, runtime_dir: Path
) -> None:
    dst = envfile.encrypt_file(plain)
    assert envfile.edit_file(dst, editor=_editor(tmp_path, "")) is False
    tmpfile = Path(edit_log.read_text().split("\n")[0])
    assert tmpfile.parent.parent == runtime_dir
    assert _fs_type(runtime_dir) == "tmpfs"
    assert not tmpfile.parent.exists()


def test_private_tempdir_only_uses_safe_ram_dirs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every kind of $XDG_RUNTIME_DIR: used only when it is a tmpfs directory that is ours (or
    root's) and not writable by others without the sticky bit; else /dev/shm; else TMPDIR."""
    from secretsafe import files

    shm = Path(tempfile.mkdtemp(prefix="secretsafe-test-shm-", dir="/dev/shm"))
    on_disk = tmp_path / "disk-runtime"
    on_disk.mkdir(mode=0o700)
    not_dir = shm / "a-file"
    not_dir.write_text("x")
    link = tmp_path / "link-runtime"

    def ram_dir(name: str, mode: int, uid: int | None = None) -> Path:
        d = shm / name
        d.mkdir()
        d.chmod(mode)
        if uid is not None:
            os.chown(d, uid, -1)
        return d

    private = ram_dir("private", 0o700)
    link.symlink_to(private)
    cases: list[tuple[str, str, Path | None]] = [
        ("private 0700 on tmpfs", str(private), private),
        ("sticky 1777 on tmpfs", str(ram_dir("sticky", 0o1777)), shm / "sticky"),
        ("world-writable, no sticky bit", str(ram_dir("open", 0o777)), None),
        ("group-writable, no sticky bit", str(ram_dir("group", 0o770)), None),
        ("someone else's", str(ram_dir("other", 0o700, uid=12345)), None),
        ("on a disk", str(on_disk), None),
        ("symlink to a private tmpfs dir", str(link), private),
        ("relative path", os.path.relpath(private), None),
        ("missing", str(shm / "missing"), None),
        ("a file", str(not_dir), None),
        ("empty", "", None),
    ]
    try:
        for label, value, want in cases:
            monkeypatch.setenv("XDG_RUNTIME_DIR", value)
            made, in_ram = files.private_tempdir("secretsafe-test-")
            try:
                parent = Path(made).parent
                assert in_ram, label
                if want is not None:
                    assert parent.resolve() == want.resolve(), label
                else:
                    assert parent == Path("/dev/shm"), label  # the next candidate
                assert stat.S_IMODE(os.stat(made).st_mode) == 0o700, label
            finally:
                os.rmdir(made)
        # No usable RAM-backed filesystem at all: TMPDIR, and the caller is told.
        monkeypatch.setattr(files, "_safe_ram_dir", lambda _path: False)
        made, in_ram = files.private_tempdir("secretsafe-test-")
        os.rmdir(made)
        assert (in_ram, Path(made).parent) == (False, Path(tempfile.gettempdir()))
    finally:
        shutil.rmtree(shm, ignore_errors=True)


def test_remove_tree_wins_against_a_process_still_writing(tmp_path: Path) -> None:
    """An orphaned editor that keeps saving into the plaintext dir while it is removed (the
    race a loaded CI run hit): the directory is gone afterwards, whatever the interleaving."""
    from secretsafe.files import remove_tree

    for round_no in range(20):
        target = tmp_path / f"edit-{round_no}"
        target.mkdir()
        writer = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "import os, sys\n"
                "d = sys.argv[1]\n"
                "print('go', flush=True)\n"
                "i = 0\n"
                "while True:\n"
                "    try:\n"
                "        with open(os.path.join(d, f'.env.{i % 3}'), 'w') as fh:\n"
                f"            fh.write('{CANARY}')\n"
                "    except OSError:\n"
                "        break\n"  # the directory is gone: nothing more can be created
                "    i += 1\n",
                str(target),
            ],
            stdout=subprocess.PIPE,
        )
        assert writer.stdout is not None
        writer.stdout.readline()  # writing has started
        remove_tree(target)
        writer.wait(timeout=30)
        assert not target.exists(), f"round {round_no}"
