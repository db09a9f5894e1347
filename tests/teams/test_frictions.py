"""The frictions listed at the top of issue 16, one test each, through the real console script
(each fails on the code before the issue): a file created from nothing (``set --create``,
``generate --into``), 42 values rotated in one process and one write, names listed without a
key, ``recipients add`` of a present key a no-op and of a new key metadata-only, and
``generate --format password`` for services with password rules. (``audit`` reporting drift:
``tests/audit/test_audit_drift.py``; members across the repository:
``test_teams_repo.py``.)"""

from __future__ import annotations

import difflib
import json
import os
import string
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from secretsafe import envfile
from secretsafe.sops import decrypt_file
from tests.conftest import AgeKey, make_age_key

SECRETSAFE = str(Path(sys.executable).parent / "secretsafe")
CANARY = "cAnArY-friction-Pw72kd"


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
    assert "Traceback" not in r.stderr
    assert CANARY not in r.stdout + r.stderr
    return r


@pytest.mark.parametrize("name", [".env.enc", "secrets.enc.yaml", "secrets.enc.json"])
def test_set_create_makes_a_new_file(tmp_path: Path, age_key: AgeKey, name: str) -> None:
    r = ss("set", "--create", name, "DB__PASSWORD", cwd=tmp_path, stdin=CANARY)
    assert r.returncode == 0, r.stderr
    assert "created" in r.stderr
    assert decrypt_file(tmp_path / name)["DB__PASSWORD"] == CANARY
    assert (tmp_path / name).stat().st_mode & 0o777 == 0o600
    # Without --create a missing file is still an error (a typo must not create a file).
    r = ss("set", "other.env.enc", "K", cwd=tmp_path, stdin="v")
    assert r.returncode == 10
    assert not (tmp_path / "other.env.enc").exists()


def test_create_uses_the_sops_yaml_rule(tmp_path: Path, age_key: AgeKey) -> None:
    member = make_age_key(tmp_path / "member")
    (tmp_path / ".sops.yaml").write_text(
        f"creation_rules:\n  - path_regex: .*\n    age: {age_key.recipient},{member.recipient}\n"
    )
    r = ss("generate", "--into", "new.enc.yaml", "API_KEY", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert sorted(envfile.list_recipients(tmp_path / "new.enc.yaml")[0]) == sorted(
        [age_key.recipient, member.recipient]
    )


def test_generate_into_42_keys_is_one_write(
    tmp_path: Path, age_key: AgeKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    from secretsafe import files
    from secretsafe.cli.generate import generate

    path = tmp_path / ".env.enc"
    keys = [f"SECRET_{i:02d}" for i in range(42)]
    envfile.update_values(path, dict.fromkeys(keys, CANARY), create=True)
    writes: list[str] = []
    real = files.atomic_write

    def counting(target: object, data: object, **kw: object) -> None:
        writes.append(os.fspath(target))  # type: ignore[arg-type]
        real(target, data, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(files, "atomic_write", counting)
    result = CliRunner().invoke(generate, ["--into", str(path), *keys], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert writes == [str(path)]
    values = decrypt_file(path)
    assert len({values[k] for k in keys}) == 42
    assert CANARY not in values.values()


def test_ls_lists_names_without_a_key(tmp_path: Path, age_key: AgeKey) -> None:
    path = tmp_path / ".env.enc"
    envfile.update_values(
        path, {"TOKEN": CANARY, "HOST_unencrypted": "db", "EMPTY": ""}, create=True
    )
    nested = tmp_path / "app.enc.yaml"
    envfile.update_values(nested, {"DB__PASSWORD": CANARY, "DB__USER": "app"}, create=True)
    no_key = {k: v for k, v in os.environ.items() if not k.startswith("SOPS_AGE")}
    no_key["HOME"] = str(tmp_path / "nohome")
    r = ss("ls", ".env.enc", cwd=tmp_path, env=no_key)
    assert r.returncode == 0, r.stderr
    rows = [line.split() for line in r.stdout.splitlines()]
    assert rows == [["TOKEN", "encrypted"], ["HOST_unencrypted", "plaintext"], ["EMPTY", "empty"]]
    r = ss("ls", "--json", "app.enc.yaml", cwd=tmp_path, env=no_key)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == [
        {"name": "DB__PASSWORD", "state": "encrypted"},
        {"name": "DB__USER", "state": "encrypted"},
    ]
    # Really no key: decrypt fails in the same environment.
    assert ss("decrypt", ".env.enc", cwd=tmp_path, env=no_key).returncode == 20


def test_recipients_add_existing_changes_nothing(tmp_path: Path, age_key: AgeKey) -> None:
    path = tmp_path / ".env.enc"
    envfile.update_values(path, {f"V{i}": f"{CANARY}{i}" for i in range(42)}, create=True)
    before = path.read_bytes()
    r = ss("recipients", "add", ".env.enc", age_key.recipient, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "already a recipient; nothing changed" in r.stderr
    assert path.read_bytes() == before


def test_recipients_add_new_changes_metadata_lines_only(tmp_path: Path, age_key: AgeKey) -> None:
    path = tmp_path / ".env.enc"
    envfile.update_values(path, {f"V{i}": f"{CANARY}{i}" for i in range(42)}, create=True)
    before = path.read_text()
    other = make_age_key(tmp_path / "other")
    r = ss("recipients", "add", ".env.enc", other.recipient, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    diff = [
        d
        for d in difflib.unified_diff(before.splitlines(), path.read_text().splitlines(), n=0)
        if d[:1] in "+-" and not d.startswith(("+++", "---"))
    ]
    assert diff
    assert all(d[1:].startswith("sops_") for d in diff)
    assert len(diff) <= 6  # the new recipient and enc lines, mac, lastmodified (old and new)
    env = {**os.environ, "SOPS_AGE_KEY_FILE": str(other.key_file)}
    assert ss("decrypt", ".env.enc", "-o", "plain.env", cwd=tmp_path, env=env).returncode == 0


def test_password_format_meets_opensearch_rules() -> None:
    from secretsafe.cli.generate import SYMBOLS, make_secret

    for _ in range(200):
        value = make_secret(16, "password")
        assert len(value) >= 8
        assert any(c.isupper() for c in value)
        assert any(c.islower() for c in value)
        assert any(c.isdigit() for c in value)
        assert any(c in SYMBOLS for c in value)
        assert value[0] in string.ascii_letters
        # Nothing a .env, a shell word or a URL would treat specially.
        assert not set(value) & set("$#'\"`\\ %&?/:@=+!*;,<>|(){}[]^")
    assert len(make_secret(32, "password")) >= 44  # >= 256 bits at ~6 bits a character
