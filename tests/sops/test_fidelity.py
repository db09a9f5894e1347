"""Differential tests of the sops dotenv fidelity fixes (issue 14, item 4) against the real sops
binary: what ``sops exec-env`` gives a program is the oracle for both backends."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

from secretsafe import sops as facade
from secretsafe.errors import FormatError
from secretsafe.keys import Identity
from secretsafe.sops import crypto, native
from secretsafe.sops.model import Entry, Rules
from tests.conftest import AgeKey
from tests.sops.test_native import Sops

# Strings that are hard for the dotenv store: the two-character \n (ambiguous in sops' dotenv
# output), real newlines, a trailing backslash, CR, ENC[...] look-alikes, '=' and '#'.
HARD_STRINGS = {
    "LIT_BACKSLASH_N": "lit\\nx",
    "ONLY_BACKSLASH_N": "\\n",
    "DOUBLE_BACKSLASH_N": "a\\\\nb",
    "NEWLINE": "x\ny",
    "BOTH": "a\\n\nb\\",
    "TRAILING_BACKSLASH": "trailing\\",
    "TAB": "tab\tv",
    "CR": "a\rb",
    "ENC_LOOKALIKE": "ENC[AES256_GCM,data:x]",
    "SPACES": "  spaces  ",
    "UNICODE": "日本語 ✓",
    "EQ_HASH": "=eq=#hash",
    "QUOTES": "quote'\"",
    "EMPTY": "",
    # Left in plaintext by the default rule: what sops can store unencrypted.
    "CR_unencrypted": "a\rb",
    "ENC_unencrypted": "ENC[AES256_GCM,data:Zm9v,iv:eA==,tag:eA==,type:str]",
    "NL_unencrypted": "x\ny",
}
# Numbers and booleans as a JSON file gives them to sops (typed int/float/bool values).
TYPED: dict[str, object] = {
    "INT": 42,
    "NEG": -7,
    "ZERO": 0,
    "BIG": 9007199254740993,
    "FLOAT": 1.5,
    "FLOAT_WHOLE": 100000.0,
    "FLOAT_E6": 1e6,
    "FLOAT_7DIGITS": 1234567.0,
    "FLOAT_SMALL": 0.0001,
    "FLOAT_TINY": 0.00001,
    "FLOAT_HUGE": 1e21,
    "FLOAT_NEG_EXP": -1.5e-7,
    "FLOAT_PI": 3.141592653589793,
    "FLOAT_GOOGOL": 1e100,
    "FLOAT_FRACTION": 123456.7,
    "TRUE": True,
    "FALSE": False,
}


@pytest.fixture
def sops(sops_bin: Path, tmp_path: Path, age_key: AgeKey) -> Sops:
    return Sops(sops_bin, tmp_path, age_key.key_file)


def _run(sops: Sops, *args: str) -> str:
    """sops' stdout, byte for byte (Sops.run reads text mode, which turns CR into LF)."""
    proc = subprocess.run(
        [str(sops.binary), *args],
        cwd=sops.workdir,
        env=sops.env,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, (args, proc.returncode, proc.stderr)
    return proc.stdout.decode("utf-8")


def _sops_from_json(sops: Sops, values: dict[str, object], recipient: str) -> str:
    """A sops dotenv file that sops makes from a JSON document (typed values stay typed)."""
    src = sops.workdir / "in.json"
    src.write_text(json.dumps(values), encoding="utf-8")
    return _run(
        sops,
        *("encrypt", "--age", recipient, "--input-type", "json", "--output-type", "dotenv"),
        str(src),
    )


def _exec_env(sops: Sops, text: str) -> dict[str, str]:
    """What ``sops exec-env --pristine`` gives a program: the oracle."""
    path = sops.workdir / "oracle.env"
    path.write_bytes(text.encode("utf-8"))
    dump = f"{sys.executable} -c 'import json,os; print(json.dumps(dict(os.environ)))'"
    env = json.loads(_run(sops, "exec-env", "--pristine", str(path), dump))
    for added in ("PWD", "SHLVL", "_", "LC_CTYPE"):  # the shell and Python add these
        env.pop(added, None)
    return dict(env)


def _sops_json(sops: Sops, text: str) -> dict[str, object]:
    """``sops decrypt --output-type json``: the oracle for names a shell drops from exec-env."""
    path = sops.workdir / "oracle.env"
    path.write_bytes(text.encode("utf-8"))
    return dict(json.loads(_run(sops, "decrypt", "--output-type", "json", str(path))))


def _both_backends(text: str, key: AgeKey) -> list[dict[str, str]]:
    identities = [Identity(key.identity, source="test")]
    return [
        facade.decrypt_text(text, identities=identities, backend=b).values.reveal()
        for b in ("native", "sops")
    ]


@pytest.mark.parametrize("values", [HARD_STRINGS, TYPED], ids=["strings", "typed"])
def test_values_match_exec_env(sops: Sops, age_key: AgeKey, values: dict[str, object]) -> None:
    """Both backends give exactly what sops exec-env gives. strings: the literal backslash-n
    is kept (the binary backend read sops' dotenv output and made it a newline), and CR and
    ENC[...] text in unencrypted values read back (CR was refused natively, ENC[...] as
    altered). typed: int/float/bool values as sops prints them (natively: exit 23)."""
    text = _sops_from_json(sops, values, age_key.recipient)
    oracle = _exec_env(sops, text)
    # exec-env cannot tell an empty value from an unset one
    expected = {k: oracle.get(k, "") for k in values}
    assert expected.get("LIT_BACKSLASH_N", "lit\\nx") == "lit\\nx"
    assert expected.get("FLOAT_E6", "1E+06") == "1E+06"
    for got in _both_backends(text, age_key):
        assert got == expected


def test_floats_match_sops_over_many_values(sops: Sops, age_key: AgeKey) -> None:
    """Go's FormatFloat('G' for printing, 'f' for the MAC) over 300 floats of every magnitude,
    against sops itself (a wrong MAC text would fail the whole file)."""
    rng = random.Random(14)
    values: dict[str, object] = {}
    for n in range(300):
        mantissa = rng.choice([rng.random(), rng.randint(1, 10**6), round(rng.random(), 3)])
        value = mantissa * 10.0 ** rng.randint(-12, 25) * rng.choice([1, -1])
        values[f"F{n}"] = float(value)
    text = _sops_from_json(sops, values, age_key.recipient)
    oracle = _exec_env(sops, text)
    native_values = _both_backends(text, age_key)[0]
    assert {k: native_values[k] for k in values} == {k: oracle[k] for k in values}


@pytest.mark.parametrize(
    ("kind", "plain", "shown", "hashed"),
    [
        ("int", "+5", "5", "5"),
        ("int", "007", "7", "7"),
        ("bool", "T", "true", "True"),
        ("bool", "0", "false", "False"),
        ("float", "42", "42.0", "42"),
        ("float", "-0", "-0.0", "-0"),
        ("float", "1e21", "1E+21", "1000000000000000000000"),
        ("float", "NaN", "NaN", "NaN"),
        ("float", "-Inf", "-Inf", "-Inf"),
    ],
)
def test_scalar_text_as_go(kind: str, plain: str, shown: str, hashed: str) -> None:
    assert crypto.scalar(kind, plain) == (shown, hashed)


@pytest.mark.parametrize(
    ("kind", "plain"),
    [("int", "1_000"), ("int", "9223372036854775808"), ("bool", "yes"), ("float", "1e400")],
)
def test_scalar_refuses_what_go_refuses(kind: str, plain: str) -> None:
    assert crypto.scalar(kind, plain) is None


def test_bom_key_from_sops(sops: Sops, age_key: AgeKey, tmp_path: Path) -> None:
    """sops keeps a leading BOM in the first key and encrypts with it; reading the file
    dropped it, so the value failed authentication (exit 22)."""
    src = tmp_path / "bom.env"
    src.write_bytes(b"\xef\xbb\xbfA=1\nB=2\n")
    enc = tmp_path / "bom.enc.env"
    enc.write_bytes(_run(sops, "encrypt", "--age", age_key.recipient, str(src)).encode())
    oracle = _sops_json(sops, enc.read_bytes().decode("utf-8"))
    for backend in ("native", "sops"):
        got = facade.decrypt_file(enc, backend=backend).reveal()
        assert got == {"\ufeffA": "1", "B": "2"} == oracle


def test_crlf_file_still_named() -> None:
    """A whole file converted to CRLF is refused with the reason; CR inside a value is data."""
    me = Identity(_new_identity(), source="test")
    text = native.encrypt(
        [Entry("A", "x"), Entry("B_unencrypted", "a\rb")], key_groups=[[me.recipient]]
    )
    assert native.decrypt(text, [me.to_pyrage()]).values.reveal()["B_unencrypted"] == "a\rb"
    with pytest.raises(FormatError, match="CRLF"):
        native.decrypt(text.replace("\n", "\r\n"), [me.to_pyrage()])


def _new_identity() -> str:
    import pyrage

    return str(pyrage.x25519.Identity.generate())


@pytest.mark.parametrize("backend", ["native", "sops"])
def test_unencrypted_enc_lookalike_reads_back(sops: Sops, age_key: AgeKey, backend: str) -> None:
    """A plaintext value that looks like ENC[...] is text, for sops and for secretsafe: what
    secretsafe wrote used to be refused as altered (exit 22)."""
    value = "ENC[AES256_GCM,data:Zm9v,iv:eA==,tag:eA==,type:str]"
    items = [Entry("SECRET", "s3cret"), Entry("NOTE_unencrypted", value)]
    text = facade.encrypt_items(items, recipients=[age_key.recipient], backend=backend)
    assert f"NOTE_unencrypted={value}\n" in text
    for got in _both_backends(text, age_key):
        assert got == {"SECRET": "s3cret", "NOTE_unencrypted": value}
    assert _exec_env(sops, text)["NOTE_unencrypted"] == value


@pytest.mark.parametrize("backend", ["native", "sops"])
def test_sops_yaml_unencrypted_suffix_rule(sops: Sops, age_key: AgeKey, backend: str) -> None:
    """A .sops.yaml rule with unencrypted_suffix crashed encrypt with internal error
    (TypeError: unencrypted_suffix given twice)."""
    work = sops.workdir
    config = work / ".sops.yaml"
    config.write_text(
        f"creation_rules:\n  - age: {age_key.recipient}\n    unencrypted_suffix: _plain\n",
        encoding="utf-8",
    )
    items = [Entry("TOKEN", "s3cret"), Entry("PORT_plain", "5432")]
    text = facade.encrypt_items(items, path=work / "app.env", backend=backend)
    assert "PORT_plain=5432\n" in text
    assert "sops_unencrypted_suffix=_plain\n" in text
    assert native.parse_metadata(text).rules == Rules(unencrypted_suffix="_plain")
    # sops with the same config makes the same layout
    by_sops = sops.encrypt("TOKEN=s3cret\nPORT_plain=5432\n", config=config)
    assert "PORT_plain=5432\n" in by_sops
    assert _exec_env(sops, text) == {"TOKEN": "s3cret", "PORT_plain": "5432"}


def test_binary_backend_keeps_backslash_n(sops: Sops, age_key: AgeKey) -> None:
    """--backend sops re-parsed sops' dotenv output, where a literal backslash-n reads as a
    newline; its JSON output is exact."""
    values = {k: HARD_STRINGS[k] for k in ("LIT_BACKSLASH_N", "DOUBLE_BACKSLASH_N", "BOTH")}
    text = _sops_from_json(sops, values, age_key.recipient) + "#a comment\n"
    identities = [Identity(age_key.identity, source="test")]
    doc = facade.decrypt_text(text, identities=identities, backend="sops")
    assert doc.values.reveal() == values == _sops_json(sops, text)
