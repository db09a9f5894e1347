"""The native JSON store against the real sops binary, both ways: files sops makes decrypt
natively to exactly what sops decrypt prints; files secretsafe makes decrypt with sops,
survive sops rotate, and read back."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pyrage
import pytest

from secretsafe.errors import IntegrityError
from secretsafe.sops import native
from secretsafe.sops.model import Comment, Rules
from secretsafe.sops.tree import Branch
from tests.conftest import AgeKey

CANARY = "canary-json-store-77e1"
DOC: dict[str, Any] = {
    "database": {"host": "db", "password": CANARY, "port": 5432, "ratio": 0.25},
    "flags": [True, False, None, "x", 1e21, {"nested_key": "in a list"}],
    "empty": "",
    "empty_map": {},
    "empty_list": [],
    "token_unencrypted": "visible",
    "unicode ✓": "日本語",
    "big": 9007199254740993,
    "lit": "a\\nb\nc",
    "null": None,
}
RULES = [
    [],
    ["--unencrypted-suffix", "_plain"],
    ["--encrypted-suffix", "password"],
    ["--unencrypted-regex", "^(host|port)$"],
    ["--encrypted-regex", "^(password|flags)$"],
    ["mac_only_encrypted: true"],  # config-only options: through a .sops.yaml
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


def _typed(value: Any) -> Any:
    """Values with their JSON types made explicit (True == 1 and 7 == 7.0 in Python); comments
    left out (sops' JSON output has none)."""
    if isinstance(value, Branch):
        return [(k, _typed(v)) for k, v in value if not isinstance(k, Comment)]
    if isinstance(value, dict):
        return [(k, _typed(v)) for k, v in value.items()]
    if isinstance(value, list):
        return [_typed(v) for v in value if not isinstance(v, Comment)]
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, int | float):
        return ("number", float(value))
    return (type(value).__name__, value)


def _me(key: AgeKey) -> list[pyrage.x25519.Identity]:
    return [pyrage.x25519.Identity.from_str(key.identity)]


@pytest.mark.parametrize("flags", RULES, ids=lambda f: " ".join(f) or "default")
def test_sops_writes_native_reads(
    sops_bin: Path, sops_env: dict[str, str], age_key: AgeKey, tmp_path: Path, flags: list[str]
) -> None:
    argv = ["encrypt", "--age", age_key.recipient, *flags]
    if flags and ":" in flags[0]:
        config = tmp_path / "sops.yaml"
        lines = "".join(f"    {line}\n" for line in flags)
        config.write_text(f"creation_rules:\n  - age: {age_key.recipient}\n{lines}")
        argv = ["--config", str(config), "encrypt"]
    enc = _sops(
        sops_bin,
        sops_env,
        *argv,
        *("--input-type", "json", "--output-type", "json", "/dev/stdin"),
        stdin=json.dumps(DOC),
    )
    assert CANARY not in enc
    by_sops = json.loads(
        _sops(
            sops_bin,
            sops_env,
            *("decrypt", "--input-type", "json", "--output-type", "json", "/dev/stdin"),
            stdin=enc,
        )
    )
    tree, metadata = native.decrypt_tree(enc, _me(age_key))
    assert _typed(tree) == _typed(by_sops)
    assert metadata.recipients == (age_key.recipient,)
    assert metadata.rules.mac_only_encrypted == ("mac_only_encrypted: true" in flags)


@pytest.mark.parametrize(
    "rules",
    [
        Rules(),
        Rules(unencrypted_suffix="_plain"),
        Rules(encrypted_suffix="password"),
        Rules(unencrypted_regex="^(host|port)$"),
        Rules(encrypted_regex="^(password|flags)$"),
        Rules(mac_only_encrypted=True),
        Rules(encrypted_regex="pass", mac_only_encrypted=True),
    ],
    ids=lambda r: ",".join(f"{k}" for k, v in r._asdict().items() if v not in (None, False)),
)
def test_native_writes_sops_reads_and_rotates(
    sops_bin: Path,
    sops_env: dict[str, str],
    age_key: AgeKey,
    *,
    other_age_key: AgeKey,
    tmp_path: Path,
    rules: Rules,
) -> None:
    data = json.loads(json.dumps(DOC), object_pairs_hook=Branch, parse_int=float)
    enc = native.encrypt_tree(
        data, key_groups=[[age_key.recipient, other_age_key.recipient]], rules=rules
    )
    if not rules.encrypted_regex and not rules.encrypted_suffix:
        assert CANARY not in enc
    plain = _sops(
        sops_bin,
        sops_env,
        *("decrypt", "--input-type", "json", "--output-type", "json", "/dev/stdin"),
        stdin=enc,
    )
    assert _typed(json.loads(plain)) == _typed(DOC)
    path = tmp_path / "native.json"
    path.write_text(enc, encoding="utf-8")
    _sops(sops_bin, sops_env, "rotate", "-i", str(path))
    rotated = path.read_text(encoding="utf-8")
    assert rotated != enc
    tree, _ = native.decrypt_tree(rotated, _me(other_age_key))
    assert _typed(tree) == _typed(DOC)


def test_key_groups_both_ways(sops_bin: Path, sops_env: dict[str, str], tmp_path: Path) -> None:
    keys = [pyrage.x25519.Identity.generate() for _ in range(3)]
    data = json.loads(json.dumps(DOC), object_pairs_hook=Branch, parse_int=float)
    enc = native.encrypt_tree(
        data, key_groups=[[str(k.to_public())] for k in keys], shamir_threshold=2
    )
    keyfile = tmp_path / "two.txt"
    keyfile.write_text(f"{keys[0]}\n{keys[2]}\n")
    env = {**sops_env, "SOPS_AGE_KEY_FILE": str(keyfile)}
    plain = _sops(
        sops_bin,
        env,
        "decrypt",
        "--input-type",
        "json",
        "--output-type",
        "json",
        "/dev/stdin",
        stdin=enc,
    )
    assert _typed(json.loads(plain)) == _typed(DOC)
    tree, metadata = native.decrypt_tree(enc, [keys[1], keys[2]])
    assert metadata.shamir_threshold == 2
    assert _typed(tree) == _typed(DOC)


def test_tampered_json_is_refused(age_key: AgeKey) -> None:
    data = json.loads(json.dumps(DOC), object_pairs_hook=Branch, parse_int=float)
    enc = native.encrypt_tree(data, key_groups=[[age_key.recipient]])
    for old, new in [
        ('"token_unencrypted": "visible"', '"token_unencrypted": "changed"'),
        ('"empty": ""', '"empty": "injected"'),
    ]:
        assert old in enc
        with pytest.raises(IntegrityError) as info:
            native.decrypt_tree(enc.replace(old, new), _me(age_key))
        assert CANARY not in str(info.value)
    doc = json.loads(enc)
    doc["database"]["host"], doc["database"]["password"] = (
        doc["database"]["password"],
        doc["database"]["host"],
    )
    with pytest.raises(IntegrityError):
        native.decrypt_tree(json.dumps(doc), _me(age_key))


FLAT = {
    "DATABASE__HOST": "db",
    "DATABASE__PASSWORD": CANARY,
    "DATABASE__PORT": "5432.0",
    "DATABASE__RATIO": "0.25",
    "FLAGS": '[true,false,null,"x",1e+21,{"nested_key":"in a list"}]',
    "EMPTY": "",
    "EMPTY_LIST": "[]",
    "TOKEN_UNENCRYPTED": "visible",
    "UNICODE ✓": "日本語",
    "BIG": "9.007199254740992E+15",
    "LIT": "a\\nb\nc",
}


@pytest.mark.parametrize("backend", ["native", "sops"])
def test_facade_flattens_nested_values(
    sops_bin: Path, sops_env: dict[str, str], age_key: AgeKey, tmp_path: Path, backend: str
) -> None:
    """decrypt_file (run, vault push, check) on a sops JSON file: nested maps become
    SECTION__FIELD, lists JSON text, scalars the text sops prints; both backends agree."""
    from secretsafe.keys import Identity
    from secretsafe.sops import decrypt_file

    enc = _sops(
        sops_bin,
        sops_env,
        *("encrypt", "--age", age_key.recipient, "--input-type", "json"),
        *("--output-type", "json", "/dev/stdin"),
        stdin=json.dumps(DOC),
    )
    path = tmp_path / "secrets.enc.json"
    path.write_text(enc, encoding="utf-8")
    ids = [Identity(age_key.identity, source="test")]
    got = decrypt_file(path, identities=ids, backend=backend).reveal()
    assert got == FLAT
    assert list(got) == list(FLAT)


def test_run_with_a_json_file(
    sops_bin: Path, sops_env: dict[str, str], age_key: AgeKey, tmp_path: Path
) -> None:
    import os
    import sys

    data = json.loads(json.dumps(DOC), object_pairs_hook=Branch, parse_int=float)
    path = tmp_path / "secrets.enc.json"
    path.write_text(native.encrypt_tree(data, key_groups=[[age_key.recipient]]))
    dump = "import json, os; print(json.dumps(dict(os.environ)))"
    secretsafe = str(Path(sys.executable).parent / "secretsafe")
    out = subprocess.run(
        [secretsafe, "run", "-f", str(path), "--", sys.executable, "-c", dump],
        capture_output=True,
        text=True,
        env={**os.environ, "SOPS_AGE_KEY_FILE": str(age_key.key_file)},
        timeout=60,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    env = json.loads(out.stdout)
    assert {k: env.get(k) for k in FLAT} == FLAT
