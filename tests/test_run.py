"""secretsafe.run: environment precedence and exec, with real encrypted files."""

from __future__ import annotations

from pathlib import Path

import pytest

from secretsafe import envfile
from secretsafe.errors import CommandError, CommandNotFound, UsageError
from secretsafe.run import build_environment, default_files, exec_command
from tests.conftest import AgeKey


def _enc(tmp_path: Path, name: str, text: str) -> Path:
    src = tmp_path / name
    src.write_text(text)
    return envfile.encrypt_file(src)


def test_precedence(tmp_path: Path, age_key: AgeKey) -> None:
    first = _enc(tmp_path, "a.env", "A=from-a\nB=from-a\nC=from-a\n")
    second = _enc(tmp_path, "b.env", "B=from-b\nC=from-b\n")
    base = {"C": "from-env", "PATH": "/bin"}
    env = build_environment([first, second], base_env=base, override=False)
    # later files win over earlier ones; the environment wins over files
    assert env == {"A": "from-a", "B": "from-b", "C": "from-env", "PATH": "/bin"}
    env = build_environment([first, second], base_env=base, override=True)
    assert env["C"] == "from-b"
    assert base == {"C": "from-env", "PATH": "/bin"}  # not mutated


def test_default_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UsageError, match=r"\.env\.enc"):
        default_files()
    (tmp_path / ".env.enc").write_text("x")
    assert default_files() == [".env.enc"]


def test_exec_errors(tmp_path: Path) -> None:
    with pytest.raises(CommandNotFound) as info:
        exec_command(["no-such-command-xyz"], {"PATH": str(tmp_path)})
    assert info.value.exit_code == 127
    script = tmp_path / "script"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o644)
    with pytest.raises(CommandError) as err:
        exec_command([str(script)], {"PATH": "/bin"})
    assert err.value.exit_code == 126
    with pytest.raises(CommandNotFound):
        exec_command([str(tmp_path / "missing")], {"PATH": "/bin"})
    with pytest.raises(UsageError):
        exec_command([], {})


def test_exec_refuses_nul_in_a_value_without_showing_it() -> None:
    from secretsafe.errors import FormatError

    with pytest.raises(FormatError) as info:
        exec_command(["true"], {"PATH": "/bin", "TOKEN": "canary-nul\x00-value"})
    assert info.value.exit_code == 13
    assert "TOKEN" in str(info.value)
    assert "canary" not in str(info.value)
    assert info.value.__cause__ is None


# ----------------------------------------------------------------------------- ${VAR} expansion
def test_values_are_expanded_as_compose_expands_an_env_file(
    tmp_path: Path, age_key: AgeKey
) -> None:
    first = _enc(
        tmp_path,
        "a.env",
        "DB_HOST=db\nURL=postgres://${DB_HOST}:5432/${DB_NAME:-app}\nLIT=$$HOME\n"
        "SHELL_REF=${FROM_ENV}\nLATER=${B_ONLY}\n",
    )
    second = _enc(tmp_path, "b.env", "B_ONLY=b\nBOTH=${DB_HOST}-${B_ONLY}\n")
    base = {"FROM_ENV": "env", "PATH": "/bin"}
    env = build_environment([first, second], base_env=base, expand=True)
    assert env["URL"] == "postgres://db:5432/app"
    assert env["LIT"] == "$HOME"
    assert env["SHELL_REF"] == "env"
    assert env["LATER"] == ""  # set only by a later file: not seen yet, as in compose
    assert env["BOTH"] == "db-b"
    raw = build_environment([first], base_env=base)  # the default: values as stored
    assert raw["URL"] == "postgres://${DB_HOST}:5432/${DB_NAME:-app}"
    assert raw["LIT"] == "$$HOME"


def test_environment_first_unless_override(tmp_path: Path, age_key: AgeKey) -> None:
    # compose: a reference sees the shell before earlier lines; --override flips both.
    f = _enc(tmp_path, "a.env", "HOST=file\nURL=http://${HOST}/\n")
    env = build_environment([f], base_env={"HOST": "env"}, expand=True)
    assert (env["HOST"], env["URL"]) == ("env", "http://env/")
    env = build_environment([f], base_env={"HOST": "env"}, override=True, expand=True)
    assert (env["HOST"], env["URL"]) == ("file", "http://file/")


def test_unset_warns_and_required_refuses_without_values(tmp_path: Path, age_key: AgeKey) -> None:
    from secretsafe.errors import FormatError

    secret = "s3cr3t-value-never-shown"
    f = _enc(tmp_path, "a.env", f"TOKEN={secret}\nURL=x${{NOPE}}y\n")
    lines: list[str] = []
    env = build_environment([f], base_env={}, warn=lines.append, expand=True)
    assert env["URL"] == "xy"
    assert len(lines) == 1
    assert "URL" in lines[0]
    assert "NOPE" in lines[0]
    g = _enc(tmp_path, "b.env", f"TOKEN={secret}\nNEED=${{MUST:?{secret} message}}\n")
    with pytest.raises(FormatError) as info:
        build_environment([g], base_env={}, expand=True)
    text = str(info.value) + repr(info.value) + str(info.value.hint)
    assert "MUST" in text
    assert "NEED" in text
    assert secret not in text
    assert info.value.__context__ is None
    assert info.value.__cause__ is None
    bad = _enc(tmp_path, "c.env", f"TOKEN={secret}\nX=${{}}{secret}\n")
    with pytest.raises(FormatError) as info2:
        build_environment([bad], base_env={}, expand=True)
    assert secret not in str(info2.value)
    assert "X" in str(info2.value)
    assert build_environment([g], base_env={}, expand=False)["NEED"].startswith("${MUST")


def test_default_passes_a_stored_dollar_unchanged(tmp_path: Path, age_key: AgeKey) -> None:
    # sops keeps no quotes: a generated password with "$" must reach the app as stored.
    f = _enc(tmp_path, "a.env", "DATABASE__PASSWORD='kq9#Vd2$mZ7pLw4!xR8s'\n")
    assert build_environment([f], base_env={})["DATABASE__PASSWORD"] == "kq9#Vd2$mZ7pLw4!xR8s"


def test_expansion_matches_docker_compose_env_file(tmp_path: Path, age_key: AgeKey) -> None:
    """The same values as an unquoted env_file, read by the real docker compose."""
    import json
    import sys

    sys.path.insert(0, str(Path(__file__).parent / "compose"))
    from composeoracle import compose_config, their_env

    values = [
        ("A", "a"),
        ("B", "${A}-$A-${SHELL_V}"),
        ("C", "${UNSET:-d}${A:+alt}${EMPTY-x}${EMPTY:-y}"),
        ("D", "$$A $${A} cost 5$"),
        ("SHELL_V", "file"),
        ("E", "${SHELL_V}"),
        ("F", "${LATER:-none}"),
        ("LATER", "l"),
        ("G", "${UNSET:-{a}b}${A:-{x}}"),
    ]
    text = "".join(f"{k}={v}\n" for k, v in values)
    environ = {"SHELL_V": "shell", "EMPTY": ""}
    root = tmp_path / "p"
    root.mkdir()
    (root / "app.env").write_text(text, encoding="utf-8")
    (root / "compose.yml").write_text("services:\n  s:\n    image: x\n    env_file: app.env\n")
    proc = compose_config(root, ["compose.yml"], environ)
    assert proc.returncode == 0, proc.stderr
    theirs = their_env(json.loads(proc.stdout))["s"]
    ours = build_environment([_enc(tmp_path, "v.env", text)], base_env=environ, expand=True)
    # A name also in the environment: run keeps the environment's value (its precedence),
    # compose the file's; every expansion agrees.
    assert {k: ours[k] for k in theirs if k not in environ} == {
        k: v for k, v in theirs.items() if k not in environ
    }
