"""``secretsafe convert``: sops dotenv <-> nested sops YAML/JSON, against the real sops: what
sops decrypts from a converted file, what secretsafe reads back, the refusals."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import secretsafe
from secretsafe.errors import FileError, FormatError, UsageError
from secretsafe.sops import decrypt_file
from secretsafe.sops.convert import convert_file, format_for, unflatten
from secretsafe.sops.model import Comment, Entry
from tests.conftest import AgeKey
from tests.sops.sops_files import CANARY, FLAT, FLAT_JSON, dotenv_text, sops_encrypt, sops_files

SECRETSAFE = str(Path(sys.executable).parent / "secretsafe")

#: FLAT nested, every value a string: what sops must decrypt from the converted YAML/JSON.
NESTED_STRINGS = {
    "database": {
        "host": "db",
        "port": "5432",
        "password": CANARY,
        "replicas": '["r1","r2"]',
        "options": {"sslmode": "require"},
    },
    "debug": "true",
    "ratio": "0.5",
}


@pytest.fixture
def files(
    sops_bin: Path, sops_env: dict[str, str], age_key: AgeKey, tmp_path: Path
) -> dict[str, Path]:
    return sops_files(sops_bin, sops_env, age_key, tmp_path)


def _sops_decrypt(sops_bin: Path, env: dict[str, str], path: Path, out: str = "json") -> str:
    return subprocess.run(
        [
            *(str(sops_bin), "decrypt", "--input-type", format_for(path)),
            *("--output-type", out, str(path)),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SECRETSAFE, *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=dict(os.environ),
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_dotenv_to_nested_is_read_by_sops_and_back(
    sops_bin: Path, sops_env: dict[str, str], files: dict[str, Path], tmp_path: Path, fmt: str
) -> None:
    dst = tmp_path / f"out.enc.{fmt}"
    r = _cli("convert", str(files["dotenv"]), "-o", str(dst), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert CANARY not in r.stdout + r.stderr
    text = dst.read_text(encoding="utf-8")
    assert CANARY not in text
    assert dst.stat().st_mode & 0o777 == 0o600
    # The real sops decrypts the nested tree; every value kept as the string it was.
    assert json.loads(_sops_decrypt(sops_bin, sops_env, dst)) == NESTED_STRINGS
    # secretsafe reads back exactly the variables of the source, and the same settings.
    assert decrypt_file(dst).reveal() == FLAT
    assert secretsafe.load(_settings(), env_files=[dst], environ={}).model_dump() == (
        secretsafe.load(_settings(), env_files=[files["dotenv"]], environ={}).model_dump()
    )


@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_nested_to_dotenv_and_round_trip(
    sops_bin: Path, sops_env: dict[str, str], files: dict[str, Path], tmp_path: Path, fmt: str
) -> None:
    expected = FLAT if fmt == "yaml" else FLAT_JSON
    dst = tmp_path / "out.env.enc"
    source, written, count = convert_file(files[fmt], dst)
    assert (source, written, count) == (fmt, "dotenv", len(expected))
    assert CANARY not in dst.read_text(encoding="utf-8")
    assert decrypt_file(dst).reveal() == expected
    by_sops = _sops_decrypt(sops_bin, sops_env, dst, out="json")
    assert json.loads(by_sops) == expected
    # and back to nested: the same variables again
    again = tmp_path / f"again.enc.{fmt}"
    convert_file(dst, again)
    assert decrypt_file(again).reveal() == expected


def test_the_schema_delimiter_and_the_recipients_are_kept(
    sops_bin: Path,
    sops_env: dict[str, str],
    age_key: AgeKey,
    other_age_key: AgeKey,
    tmp_path: Path,
) -> None:
    src = sops_encrypt(
        sops_bin,
        sops_env,
        age_key,
        dotenv_text({"DATABASE.HOST": "db", "DATABASE.PASSWORD": CANARY, "A__B": "x"}),
        fmt="dotenv",
        dst=tmp_path / "dotted.env.enc",
    )
    (tmp_path / "dotted_schema.py").write_text(
        "from pydantic_settings import BaseSettings, SettingsConfigDict\n"
        "class S(BaseSettings):\n"
        "    model_config = SettingsConfigDict(env_nested_delimiter='.')\n",
        encoding="utf-8",
    )
    dst = tmp_path / "dotted.enc.yaml"
    r = subprocess.run(
        [SECRETSAFE, "convert", str(src), "-o", str(dst), "--schema", "dotted_schema:S"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(tmp_path)},
        timeout=60,
        check=False,
    )
    assert r.returncode == 0, r.stderr
    tree = json.loads(_sops_decrypt(sops_bin, sops_env, dst))
    assert tree == {"database": {"host": "db", "password": CANARY}, "a__b": "x"}
    assert secretsafe.sops.decrypt_file(dst, delimiter=".").reveal() == {
        "DATABASE.HOST": "db",
        "DATABASE.PASSWORD": CANARY,
        "A__B": "x",
    }
    # The recipients travel with the file: the other key cannot read it, this one can.
    other_env = {**sops_env, "SOPS_AGE_KEY_FILE": str(other_age_key.key_file)}
    failed = subprocess.run(
        [str(sops_bin), "decrypt", str(dst)], env=other_env, capture_output=True, check=False
    )
    assert failed.returncode != 0


@pytest.mark.parametrize(
    ("items", "message"),
    [
        ([Entry("lower", CANARY)], "cannot be nested"),
        ([Entry("Mixed__CASE", CANARY)], "cannot be nested"),
        ([Entry("A__", CANARY)], "cannot be nested"),
        ([Entry("__A", CANARY)], "cannot be nested"),
        ([Entry("A____B", CANARY)], "cannot be nested"),
        ([Entry("A", CANARY), Entry("A__B", CANARY)], "is a value and"),
        ([Entry("A__B", CANARY), Entry("A", CANARY)], "given twice"),
        ([Entry("A", CANARY), Entry("A", CANARY)], "given twice"),
    ],
)
def test_names_that_would_not_come_back_are_refused(items: list[Entry], message: str) -> None:
    with pytest.raises(FormatError, match=message) as info:
        unflatten(items, path="x.env.enc")
    assert CANARY not in str(info.value)
    assert "x.env.enc" in str(info.value)


def test_unflatten_keeps_order_and_comments() -> None:
    tree = unflatten(
        [Comment(" top"), Entry("B", "1"), Entry("A__X", "2"), Entry("C", "3"), Entry("A__Y", "4")]
    )
    assert [k for k, _ in tree] == [Comment(" top"), "b", "a", "c"]
    assert dict(tree)["a"] == [("x", "2"), ("y", "4")]


def test_refusals(files: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="and back"):
        convert_file(files["dotenv"], tmp_path / "x.env.enc")
    with pytest.raises(UsageError, match="and back"):
        convert_file(files["yaml"], tmp_path / "x.enc.json")
    with pytest.raises(UsageError, match="being converted"):
        convert_file(files["yaml"], files["yaml"])
    taken = tmp_path / "taken.enc.yaml"
    taken.write_text("keep me", encoding="utf-8")
    with pytest.raises(FileError, match="already exists"):
        convert_file(files["dotenv"], taken)
    assert taken.read_text(encoding="utf-8") == "keep me"
    convert_file(files["dotenv"], taken, force=True)
    assert decrypt_file(taken).reveal() == FLAT
    plain = tmp_path / "plain.env"
    plain.write_text("A=1\n", encoding="utf-8")
    with pytest.raises(FormatError, match="not a sops file"):
        convert_file(plain, tmp_path / "p.enc.yaml")


def test_format_for() -> None:
    assert [format_for(p) for p in ("a.enc.yaml", "a.yml", "x.JSON", "a.json.enc")] == [
        "yaml",
        "yaml",
        "json",
        "json",
    ]
    assert [format_for(p) for p in (".env.enc", "prod.env", "secrets")] == ["dotenv"] * 3


def _random_values(rng: random.Random, n: int) -> dict[str, str]:
    parts = ["DB", "API", "A", "B1", "X_Y", "Z"]
    alphabet = "ab \\n\"'#=:{}[]-,&*!|>%@`\t\u00e9\u65e5\U0001f511" + "0123456789.e+"
    out: dict[str, str] = {}
    while len(out) < n:
        depth = rng.randint(1, 3)
        name = "__".join(rng.choice(parts) for _ in range(depth))
        if any(k == name or k.startswith(name + "__") or name.startswith(k + "__") for k in out):
            continue
        length = rng.randint(0, 12)
        out[name] = "".join(rng.choice(alphabet) for _ in range(length))
    return out


def _nest(values: dict[str, str]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for name, value in values.items():
        *path, last = name.lower().split("__")
        node = tree
        for key in path:
            node = node.setdefault(key, {})
        node[last] = value
    return tree


def test_differential_against_sops_over_many_files(
    sops_bin: Path, sops_env: dict[str, str], age_key: AgeKey, tmp_path: Path
) -> None:
    """40 random sets of variables (nesting, YAML/JSON-significant characters, numbers that
    must stay strings, empty values): sops decrypts each converted file to the nested
    strings, and secretsafe reads back the same variables."""
    from secretsafe.sops import native

    rng = random.Random(14)
    for case in range(40):
        values = _random_values(rng, rng.randint(1, 8))
        src = tmp_path / f"c{case}.env.enc"
        src.write_text(
            native.encrypt(
                [Entry(k, v) for k, v in values.items()], key_groups=[[age_key.recipient]]
            ),
            encoding="utf-8",
        )
        fmt = "yaml" if case % 2 else "json"
        dst = tmp_path / f"c{case}.enc.{fmt}"
        convert_file(src, dst)
        assert json.loads(_sops_decrypt(sops_bin, sops_env, dst)) == _nest(values), case
        assert decrypt_file(dst).reveal() == values, case


def _settings() -> type[Any]:
    from tests.schemas.test_schema_sops_files import AppSettings

    return AppSettings
