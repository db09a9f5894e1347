"""`secretsafe check | example | schema`, and the node-service example with check and run."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from secretsafe.cli import main

ROOT = Path(__file__).resolve().parents[2]
NODE = ROOT / "examples" / "node-service"
MODELS = ROOT / "tests" / "schemas"
SECRETSAFE = [sys.executable, "-m", "secretsafe"]

NODE_OK = {
    "DATABASE__URL": "postgres://app:pw-Xk29@db:5432/app",
    "SESSION__SECRET": "Zq8v3N1xW5t7Kp0Lr2Ys4Uh6Jb9Mc3Fd",
}


@pytest.fixture
def node_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    d = tmp_path / "node-service"
    shutil.copytree(NODE, d)
    monkeypatch.chdir(d)
    return d


def test_check_valid_exits_0(node_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    env_file = node_dir / "app.env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in NODE_OK.items()), encoding="utf-8")
    assert main(["check", "--schema", "env.schema.toml", "-f", str(env_file)]) == 0
    assert capsys.readouterr().out.startswith("ok: NodeService")


def test_check_invalid_exits_3_with_every_problem(
    node_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE__URL", "mysql://db/app")
    monkeypatch.setenv("SESSION__SECRET", "short")
    monkeypatch.setenv("NODE_ENV", "production")
    monkeypatch.setenv("PORT", "99999")
    monkeypatch.setenv("DATABASE_POOL_SIZE", "3")
    rc = main(["check", "--schema", "env.schema.toml", "--format", "json"])
    assert rc == 3
    doc = json.loads(capsys.readouterr().out)
    got = {(p["variable"], p["kind"]) for p in doc["problems"]}
    assert got == {
        ("DATABASE__URL", "url"),
        ("SESSION__SECRET", "too_short"),
        ("PORT", "range"),
        ("DATABASE_POOL_SIZE", "unknown"),
        ("VAULT__ENABLED", "rule"),
    }
    unknown = next(p for p in doc["problems"] if p["kind"] == "unknown")
    assert unknown["suggestions"] == ["DATABASE__POOL_SIZE"]


def test_check_text_output_and_environment_flag(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(MODELS)
    env_file = tmp_path / "x.env"
    env_file.write_text(
        "DATABASE__HOST=db\nDATABASE__USER=u\nDATABASE__PASSWORD=pG7rT2wQ9zX4vL1k\n"
        "DATABASE__DATABASE=app\nAUTH__JWT_SECRET_KEY=Zq8v3N1xW5t7Kp0Lr2Ys4Uh6Jb9Mc3Fd\n",
        encoding="utf-8",
    )
    args = ["check", "--schema", "schema_models:PlainSettings", "-f", str(env_file)]
    assert main([*args, "--no-environ"]) == 0
    assert main([*args, "--no-environ", "--environment", "production"]) == 3
    err = capsys.readouterr().err
    assert "VAULT__ENABLED" in err
    assert "must be true" in err


def test_check_bad_spec_is_config_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["check", "--schema", "no_such_module:Settings"]) == 14
    assert "not found" in capsys.readouterr().err
    bad = tmp_path / "bad.toml"
    bad.write_text("[fields.x]\ntype = 'nope'\n", encoding="utf-8")
    assert main(["check", "--schema", str(bad)]) == 14
    assert "unknown type" in capsys.readouterr().err


def test_example_and_schema_commands(node_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["example", "--schema", "env.schema.toml"]) == 0
    example = capsys.readouterr().out
    assert "SESSION__SECRET=\n" in example
    assert "SECRET" in example
    assert "# PORT=3000" in example
    assert "# --- DATABASE ---" in example
    assert main(["schema", "--schema", "env.schema.toml"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["x-env-variables"]["DATABASE__POOL_SIZE"] == "database.pool_size"
    assert main(["schema", "--schema", "env.schema.toml", "--format", "names"]) == 0
    assert "SESSION__SECRET" in capsys.readouterr().out.split()
    assert main(["schema", "--schema", "env.schema.toml", "--format", "markdown"]) == 0
    assert "| `PORT` | " in capsys.readouterr().out


def test_schema_markdown_escapes_pipes_in_cells(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # "str | None" and a default holding "|" must not add columns to the table.
    (tmp_path / "mod_with_pipes.py").write_text(
        "from secretsafe.schemas import Settings\n"
        "class S(Settings):\n    role_id: str | None = None\n    sep: str = 'a|b'\n",
        encoding="utf-8",
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    assert main(["schema", "--schema", "mod_with_pipes:S", "--format", "markdown"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 4
    for line in lines:
        assert len(re.split(r"(?<!\\)\|", line)) == 7, line  # 5 cells between 6 pipes
    assert "\\|" in lines[2]
    assert "`a\\|b`" in lines[3]


def test_example_never_prints_secret_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "mod_with_default.py").write_text(
        "from pydantic import SecretStr\nfrom secretsafe.schemas import Settings\n"
        "class S(Settings):\n    token: SecretStr = SecretStr('Default-Canary-123')\n",
        encoding="utf-8",
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    for cmd in (["example"], ["schema"], ["schema", "--format", "markdown"]):
        assert main([*cmd, "--schema", "mod_with_default:S"]) == 0
        assert "Default-Canary-123" not in capsys.readouterr().out


def _encrypt(
    sops_bin: Path, sops_env: dict[str, str], recipient: str, src: Path, dst: Path
) -> None:
    out = subprocess.run(
        [
            str(sops_bin),
            "--encrypt",
            "--age",
            recipient,
            "--input-type",
            "dotenv",
            "--output-type",
            "dotenv",
            str(src),
        ],
        env=sops_env,
        capture_output=True,
        check=True,
    ).stdout
    dst.write_bytes(out)


def test_node_service_run_validates_before_exec(
    node_dir: Path, age_key: object, sops_bin: Path, sops_env: dict[str, str]
) -> None:
    plain = node_dir / "app.env"
    plain.write_text("".join(f"{k}={v}\n" for k, v in NODE_OK.items()), encoding="utf-8")
    _encrypt(sops_bin, sops_env, age_key.recipient, plain, node_dir / ".env.enc")  # type: ignore[attr-defined]
    plain.unlink()
    env = {**os.environ}
    cmd = [
        *SECRETSAFE,
        "run",
        "-f",
        ".env.enc",
        "--schema",
        "env.schema.toml",
        "--",
        sys.executable,
        "-c",
        "import os; print('started', os.environ['PORT'] if 'PORT' in os.environ else 'default')",
    ]
    ok = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.strip() == "started default"
    bad = subprocess.run(
        cmd, env={**env, "NODE_ENV": "production"}, capture_output=True, text=True, check=False
    )
    assert bad.returncode == 3
    assert "started" not in bad.stdout
    assert "VAULT__ENABLED" in bad.stderr
    assert NODE_OK["SESSION__SECRET"] not in bad.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["example"],
        ["schema", "--format", "json-schema"],
        ["schema", "--format", "json"],
        ["schema", "--format", "names"],
        ["schema", "--format", "markdown"],
    ],
)
def test_defaults_of_secret_looking_plain_fields_never_printed(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
) -> None:
    # Plain `str` fields, so only their names say they are secrets; the defaults also reach
    # the JSON Schema inside the section's own dict default.
    (tmp_path / "mod_plain_secrets.py").write_text(
        "from pydantic import BaseModel\n"
        "from secretsafe.schemas import Settings\n"
        "class Db(BaseModel):\n"
        "    host: str = 'db-host-shown'\n"
        "    password: str = 'canary-plain-pw'\n"
        "    api_token: str = 'canary-plain-token'\n"
        "class S(Settings):\n    db: Db = Db()\n",
        encoding="utf-8",
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    assert main([*args, "--schema", "mod_plain_secrets:S"]) == 0
    out = capsys.readouterr().out
    assert "canary-plain" not in out
    assert "DB__PASSWORD" in out or "password" in out
    if args[0] == "example" or "json-schema" in args:
        assert "db-host-shown" in out  # non-secret defaults are still documented
