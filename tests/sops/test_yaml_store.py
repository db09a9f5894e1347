"""The native YAML reader against the real sops binary: files sops makes (every rule option,
key groups, comments, types) decrypt natively to exactly what sops decrypt prints, and flatten
to the same variables through both backends."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pyrage
import pytest

from secretsafe.errors import IntegrityError, UnsupportedError
from secretsafe.keys import Identity
from secretsafe.sops import decrypt_text, native
from secretsafe.sops.model import Rules
from secretsafe.sops.tree import Branch
from tests.conftest import AgeKey
from tests.sops.test_json_store import _typed

CANARY = "canary-yaml-store-3b9d"
YAML = f"""\
# top comment
database:
  host: db  # line comment
  password: {CANARY}
  port: 5432
  ratio: 0.25
  enabled: true
  yes_is_a_string: yes
  nothing: null
  tilde: ~
list:
  - one
  - 2
  - 3.5
  - {{nested_key: in a list}}
  - [a, b]
quoted: "5432"
multi: |
  line one
  line two
lit: 'a\\nb'
token_unencrypted: visible
empty: ""
unicode ✓: 日本語
big_float: 1.0e+21
neg: -7
"""
RULES = [
    [],
    ["--unencrypted-suffix", "_plain"],
    ["--encrypted-suffix", "password"],
    ["--unencrypted-regex", "^(host|port)$"],
    ["--encrypted-regex", "^(password|list)$"],
    ["mac_only_encrypted: true"],
    ["mac_only_encrypted: true", "encrypted_regex: pass"],
]


def _sops(sops_bin: Path, env: dict[str, str], *args: str, stdin: str = "") -> str:
    proc = subprocess.run(
        [str(sops_bin), *args],
        input=stdin.encode(),
        capture_output=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, (args, proc.returncode, proc.stderr)
    return proc.stdout.decode()


def _encrypt(
    sops_bin: Path, env: dict[str, str], key: AgeKey, tmp_path: Path, flags: list[str]
) -> str:
    argv = ["encrypt", "--age", key.recipient, *flags]
    if flags and ":" in flags[0]:
        config = tmp_path / "sops.yaml"
        lines = "".join(f"    {line}\n" for line in flags)
        config.write_text(f"creation_rules:\n  - age: {key.recipient}\n{lines}")
        argv = ["--config", str(config), "encrypt"]
    return _sops(
        sops_bin,
        env,
        *argv,
        *("--input-type", "yaml", "--output-type", "yaml", "/dev/stdin"),
        stdin=YAML,
    )


@pytest.mark.parametrize("flags", RULES, ids=lambda f: " ".join(f) or "default")
def test_sops_writes_native_reads(
    sops_bin: Path, sops_env: dict[str, str], age_key: AgeKey, tmp_path: Path, flags: list[str]
) -> None:
    enc = _encrypt(sops_bin, sops_env, age_key, tmp_path, flags)
    assert CANARY not in enc
    by_sops: Any = json.loads(
        _sops(
            sops_bin,
            sops_env,
            *("decrypt", "--input-type", "yaml", "--output-type", "json", "/dev/stdin"),
            stdin=enc,
        )
    )
    tree, metadata = native.decrypt_tree(
        enc, [pyrage.x25519.Identity.from_str(age_key.identity)], store="yaml"
    )
    assert _typed(tree) == _typed(by_sops)
    assert metadata.rules.mac_only_encrypted == ("mac_only_encrypted: true" in flags)


def test_both_backends_flatten_alike(
    sops_bin: Path, sops_env: dict[str, str], age_key: AgeKey, tmp_path: Path
) -> None:
    enc = _encrypt(sops_bin, sops_env, age_key, tmp_path, [])
    ids = [Identity(age_key.identity, source="test")]
    native_values = decrypt_text(enc, identities=ids, backend="native").values.reveal()
    binary_values = decrypt_text(enc, identities=ids, backend="sops").values.reveal()
    assert native_values == binary_values
    assert native_values["DATABASE__PASSWORD"] == CANARY
    assert native_values["DATABASE__PORT"] == "5432"
    assert native_values["DATABASE__ENABLED"] == "true"
    assert native_values["DATABASE__YES_IS_A_STRING"] == "yes"
    assert "DATABASE__NOTHING" not in native_values
    assert native_values["LIST"] == '["one",2,3.5,{"nested_key":"in a list"},["a","b"]]'
    assert native_values["MULTI"] == "line one\nline two\n"
    assert native_values["BIG_FLOAT"] == "1E+21"


def test_key_groups(sops_bin: Path, sops_env: dict[str, str], tmp_path: Path) -> None:
    keys = [pyrage.x25519.Identity.generate() for _ in range(3)]
    config = tmp_path / "sops.yaml"
    groups = "".join(f"      - age: [{k.to_public()}]\n" for k in keys)
    config.write_text(f"creation_rules:\n  - shamir_threshold: 2\n    key_groups:\n{groups}")
    enc = _sops(
        sops_bin,
        sops_env,
        *("--config", str(config), "encrypt", "--input-type", "yaml", "--output-type", "yaml"),
        "/dev/stdin",
        stdin=YAML,
    )
    tree, metadata = native.decrypt_tree(enc, [keys[0], keys[2]], store="yaml")
    assert metadata.shamir_threshold == 2
    assert dict(dict(tree)["database"])["password"] == CANARY


def test_tampered_yaml_is_refused(
    sops_bin: Path, sops_env: dict[str, str], age_key: AgeKey, tmp_path: Path
) -> None:
    enc = _encrypt(sops_bin, sops_env, age_key, tmp_path, [])
    me = [pyrage.x25519.Identity.from_str(age_key.identity)]
    for old, new in [
        ("token_unencrypted: visible", "token_unencrypted: changed"),
        ('empty: ""', "empty: injected"),
    ]:
        assert old in enc
        with pytest.raises(IntegrityError) as info:
            native.decrypt_tree(enc.replace(old, new), me, store="yaml")
        assert CANARY not in str(info.value)


@pytest.mark.parametrize("value", ["2024-01-02", "0x1F", "1_000", "0777", "!!binary aGk="])
def test_ambiguous_scalars_go_to_sops(age_key: AgeKey, value: str) -> None:
    text = f"a_unencrypted: {value}\nsops:\n  version: 3.11.0\n"
    with pytest.raises(UnsupportedError):
        native.decrypt_tree(text, [], store="yaml")


HARD = {
    "cr": "a\rb",
    "del": "x\x7fy\x85z\u2028w",
    "quote": 'it\'s "q" \\ back',
    "lead space": "  v",
    "looks_int": "5432",
    "looks_bool": "true",
    "empty": "",
}


@pytest.mark.parametrize(
    "rules",
    [
        Rules(),
        Rules(unencrypted_suffix="_plain"),
        Rules(encrypted_suffix="password"),
        Rules(encrypted_regex="^(password|list)$"),
        Rules(mac_only_encrypted=True),
    ],
    ids=lambda r: ",".join(k for k, v in r._asdict().items() if v not in (None, False)),
)
def test_native_writes_sops_reads_and_rotates(
    sops_bin: Path, sops_env: dict[str, str], age_key: AgeKey, tmp_path: Path, rules: Rules
) -> None:
    by_sops = _encrypt(sops_bin, sops_env, age_key, tmp_path, [])
    me = [pyrage.x25519.Identity.from_str(age_key.identity)]
    tree, _ = native.decrypt_tree(by_sops, me, store="yaml")
    tree.append(("hard", Branch(HARD.items())))
    enc = native.encrypt_tree(tree, key_groups=[[age_key.recipient]], rules=rules, store="yaml")
    if rules == Rules():
        assert CANARY not in enc
    plain = _sops(
        sops_bin,
        sops_env,
        *("decrypt", "--input-type", "yaml", "--output-type", "json", "/dev/stdin"),
        stdin=enc,
    )
    assert _typed(json.loads(plain)) == _typed(tree)
    path = tmp_path / "native.yaml"
    path.write_text(enc, encoding="utf-8")
    _sops(sops_bin, sops_env, "rotate", "-i", str(path))
    rotated = path.read_text(encoding="utf-8")
    assert rotated != enc
    again, metadata = native.decrypt_tree(rotated, me, store="yaml")
    assert _typed(again) == _typed(tree)
    assert metadata.rules == native._normalized(rules)


def test_native_yaml_strings_over_many_values(
    sops_bin: Path, sops_env: dict[str, str], age_key: AgeKey
) -> None:
    """200 random strings (any code point but surrogates and NUL) left in plaintext, so the
    YAML text itself must carry them: sops reads every one back unchanged."""
    import random

    rng = random.Random(14)
    pool = [chr(c) for c in range(1, 0x250)] + ["\u2028", "\ufeff", "日", "✓", "\U0001f600"]
    values = {f"v{n}_plain": "".join(rng.choices(pool, k=rng.randint(0, 12))) for n in range(200)}
    data = Branch(values.items())
    enc = native.encrypt_tree(
        data,
        key_groups=[[age_key.recipient]],
        rules=Rules(unencrypted_suffix="_plain"),
        store="yaml",
    )
    plain = _sops(
        sops_bin,
        sops_env,
        *("decrypt", "--input-type", "yaml", "--output-type", "json", "/dev/stdin"),
        stdin=enc,
    )
    assert json.loads(plain) == values
