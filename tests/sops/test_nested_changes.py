"""``set``, ``unset``, ``rotate`` and ``recipients add|remove`` on sops YAML and JSON files,
rewritten in their own format, against the real sops: after every command ``sops decrypt``
prints exactly the expected document (values, types, key order, YAML comments); the result
survives ``sops rotate`` and ``sops updatekeys`` and reads back natively."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from secretsafe import envfile
from secretsafe.errors import FormatError, IntegrityError, UnsupportedError, UsageError
from secretsafe.sops import _nested_meta, decrypt_file, native
from secretsafe.sops.model import Metadata, Rules
from secretsafe.sops.tree import Branch
from tests.conftest import AgeKey, make_age_key

CANARY = "canary-nested-write-5be1"

#: The plaintext every file starts from; YAML adds comments around it (PLAIN_YAML).
START: dict[str, Any] = {
    "database": {
        "host": "db",
        "port": 5432,
        "password": "old-password",
        "replicas": ["r1", "r2"],
        "options": {"sslmode": "require", "timeout": 1.5},
    },
    "debug": True,
    "nothing": None,
    "api_token": "tok",
}

PLAIN_YAML = """\
# top comment
database:
    host: db
    port: 5432
    # the password
    password: old-password
    replicas:
        - r1
        - r2
    options:
        sslmode: require
        timeout: 1.5
debug: true
nothing: null
api_token: tok
"""

#: sops encrypt options: every kind of rule, and mac_only_encrypted.
OPTIONS: dict[str, list[str]] = {
    "default": [],
    "unencrypted_suffix": ["--unencrypted-suffix", "_token"],
    "encrypted_regex": ["--encrypted-regex", "^(password|api_token)$"],
    "unencrypted_regex": ["--unencrypted-regex", "^host$"],
    "encrypted_suffix": ["--encrypted-suffix", "word"],
    # no flag for it: a .sops.yaml creation rule (written by _make)
    "mac_only_encrypted": ["encrypted_regex: ^password$", "mac_only_encrypted: true"],
}

#: Values that must come back exactly through set (quotes, newlines, unicode, lookalikes).
HARD_VALUES = [
    CANARY,
    "",
    "line1\nline2\n",
    'quo"te \\n back\\slash',
    "ENC[AES256_GCM,data:x,iv:y,tag:z,type:str]",
    "  spaced  ",
    "ünïcödé ✓ 秘密",
    "true",
    "5432",
    "null",
    "# not a comment",
    "a: b",
    "- item",
    "\tcr\r\n",
]


def _sops(
    sops_bin: Path, env: dict[str, str], *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    out = subprocess.run(
        [str(sops_bin), *args],
        input=stdin,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    return out


def _ordered(value: Any) -> Any:
    """``value`` with map order made significant and numbers compared as floats (sops reads
    every JSON number as a float)."""
    if isinstance(value, dict):
        return [(k, _ordered(v)) for k, v in value.items()]
    if isinstance(value, list):
        return [_ordered(v) for v in value]
    if isinstance(value, int | float) and not isinstance(value, bool):
        return ("num", float(value))
    return value


def _sops_view(sops_bin: Path, env: dict[str, str], path: Path, fmt: str) -> Any:
    """What ``sops decrypt`` prints for ``path``, parsed in the file's own format."""
    text = _sops(sops_bin, env, "decrypt", "--input-type", fmt, "--output-type", fmt, str(path))
    if fmt == "json":
        return json.loads(text.stdout)
    import yaml

    return yaml.safe_load(text.stdout)


def _meta(path: Path, fmt: str) -> Metadata:
    return native.parse_metadata_of(_nested_meta(path.read_text(), str(path), fmt))


def _make(
    sops_bin: Path, env: dict[str, str], key: AgeKey, fmt: str, *, options: list[str], dst: Path
) -> Path:
    plain = PLAIN_YAML if fmt == "yaml" else json.dumps(START)
    if options and not options[0].startswith("--"):
        config = dst.parent / "rule.sops.yaml"
        body = "".join(f"    {line}\n" for line in options)
        config.write_text(f"creation_rules:\n  - age: {key.recipient}\n{body}")
        options = ["--config", str(config), "encrypt"]
    else:
        options = ["encrypt", "--age", key.recipient, *options]
    out = _sops(
        sops_bin,
        env,
        *options,
        *("--input-type", fmt, "--output-type", fmt, "/dev/stdin"),
        stdin=plain,
    )
    dst.write_text(out.stdout, encoding="utf-8")
    return dst


@pytest.mark.parametrize("fmt", ["yaml", "json"])
@pytest.mark.parametrize("option", list(OPTIONS))
def test_commands_match_sops_decrypt(
    sops_bin: Path,
    sops_env: dict[str, str],
    age_key: AgeKey,
    *,
    other_age_key: AgeKey,
    tmp_path: Path,
    fmt: str,
    option: str,
) -> None:
    path = _make(
        sops_bin, sops_env, age_key, fmt, options=OPTIONS[option], dst=tmp_path / f"s.enc.{fmt}"
    )
    rules_before = _meta(path, fmt).rules
    expected: dict[str, Any] = json.loads(json.dumps(START))
    db = expected["database"]

    def check() -> None:
        assert _ordered(_sops_view(sops_bin, sops_env, path, fmt)) == _ordered(expected)
        if fmt == "yaml":  # comments kept where they were
            text = _sops(sops_bin, sops_env, "decrypt", "--input-type", "yaml", str(path)).stdout
            assert text.startswith("# top comment\n")
            assert "    # the password\n    password:" in text

    # set: an existing value in place (its neighbours keep their types)
    assert envfile.set_value(path, "DATABASE__PASSWORD", CANARY) is False
    db["password"] = CANARY
    check()
    assert CANARY not in path.read_text() or option == "encrypted_suffix"
    # set: case-insensitive match, an int replaced by a string
    assert envfile.set_value(path, "database__port", "6543") is False
    db["port"] = "6543"
    check()
    # set: new keys, in an existing section, a new section, at the top
    assert envfile.set_value(path, "DATABASE__USER", "app") is True
    db["user"] = "app"
    assert envfile.set_value(path, "CACHE__REDIS__URL", "redis://r") is True
    expected["cache"] = {"redis": {"url": "redis://r"}}
    assert envfile.set_value(path, "NEW_TOKEN", "nt") is True
    expected["new_token"] = "nt"
    check()
    # unset: a value, a list
    envfile.unset_value(path, "DATABASE__HOST")
    del db["host"]
    envfile.unset_value(path, "DATABASE__REPLICAS")
    del db["replicas"]
    check()
    # rotate and recipients keep everything
    before = path.read_text()
    envfile.rotate(path)
    assert path.read_text() != before
    check()
    assert envfile.add_recipients(path, [other_age_key.recipient]) == [other_age_key.recipient]
    assert envfile.list_recipients(path) == [[age_key.recipient, other_age_key.recipient]]
    check()
    envfile.remove_recipients(path, [other_age_key.recipient])
    assert envfile.list_recipients(path) == [[age_key.recipient]]
    check()
    # the file's rules are the ones it had
    assert _meta(path, fmt).rules == rules_before


@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_hard_values_and_sops_rotate_updatekeys(
    sops_bin: Path,
    sops_env: dict[str, str],
    age_key: AgeKey,
    tmp_path: Path,
    fmt: str,
) -> None:
    """Every hard value set comes back from sops decrypt exactly; the file then survives
    ``sops rotate`` and ``sops updatekeys`` (a .sops.yaml adding a key), and reads back
    natively with the new key alone."""
    path = _make(sops_bin, sops_env, age_key, fmt, options=[], dst=tmp_path / f"s.enc.{fmt}")
    names = [f"HARD__V{i}" for i in range(len(HARD_VALUES))]
    for name, value in zip(names, HARD_VALUES, strict=True):
        envfile.set_value(path, name, value)
    view = _sops_view(sops_bin, sops_env, path, fmt)
    assert [view["hard"][f"v{i}"] for i in range(len(HARD_VALUES))] == HARD_VALUES
    _sops(sops_bin, sops_env, "rotate", "-i", str(path))
    new_key = make_age_key(tmp_path / "new")
    config = tmp_path / ".sops.yaml"
    config.write_text(
        f"creation_rules:\n  - path_regex: .*\n    age: {age_key.recipient},{new_key.recipient}\n"
    )
    _sops(sops_bin, sops_env, "--config", str(config), "updatekeys", "-y", str(path))
    assert envfile.list_recipients(path) == [[age_key.recipient, new_key.recipient]]
    from secretsafe.keys import Identity

    values = decrypt_file(path, identities=[Identity(new_key.identity, source="test")])
    for name, value in zip(names, HARD_VALUES, strict=True):
        assert values[name] == value
    # and secretsafe writes it again after sops did
    envfile.set_value(path, "HARD__V0", "again")
    assert _sops_view(sops_bin, sops_env, path, fmt)["hard"]["v0"] == "again"


#: Comments of every kind sops reads: head, line (after a value), in a list, foot, at the end.
COMMENTED_YAML = """\
# top comment
# second top line
database:
    host: db # after a value
    # the password
    password: old
    replicas:
        # in a list
        - r1
        - r2 # after an item
        # list foot
    # foot of database
    port: 5432
debug: true
multi: |
    # not a comment: text
    line two
# end comment
"""


@pytest.mark.parametrize("comment_rule", [[], ["--encrypted-regex", "^password$"]])
def test_yaml_comments_stay_where_sops_prints_them(
    sops_bin: Path,
    sops_env: dict[str, str],
    age_key: AgeKey,
    tmp_path: Path,
    comment_rule: list[str],
) -> None:
    """sops' own decrypt prints the same YAML text (comments, order, layout) before and after
    rotate/set/unset natively, for encrypted comments and plaintext ones."""
    path = tmp_path / "c.enc.yaml"
    out = _sops(
        sops_bin,
        sops_env,
        *("encrypt", "--age", age_key.recipient, *comment_rule),
        *("--input-type", "yaml", "--output-type", "yaml", "/dev/stdin"),
        stdin=COMMENTED_YAML,
    )
    path.write_text(out.stdout)

    def shown() -> str:
        return _sops(sops_bin, sops_env, "decrypt", "--input-type", "yaml", str(path)).stdout

    before = shown()
    assert "# in a list" in before
    envfile.rotate(path)
    assert shown() == before
    _sops(sops_bin, sops_env, "rotate", "-i", str(path))  # sops' own layout again
    envfile.set_value(path, "DATABASE__PASSWORD", CANARY)
    assert shown() == before.replace("password: old", f"password: {CANARY}")
    envfile.unset_value(path, "DEBUG")
    assert shown() == before.replace("password: old", f"password: {CANARY}").replace(
        "debug: true\n", ""
    )


@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_refusals_leave_the_file_untouched(age_key: AgeKey, tmp_path: Path, fmt: str) -> None:
    data = json.loads(json.dumps(START), object_pairs_hook=Branch)
    path = tmp_path / f"s.enc.{fmt}"
    path.write_text(native.encrypt_tree(data, key_groups=[[age_key.recipient]], store=fmt))
    before = path.read_bytes()
    cases = [
        (lambda: envfile.set_value(path, "DATABASE", CANARY), "a section"),
        (lambda: envfile.set_value(path, "DATABASE__REPLICAS", CANARY), "a list"),
        (lambda: envfile.set_value(path, "DEBUG__X", CANARY), "is a value"),
        (lambda: envfile.set_value(path, "DATABASE____X", CANARY), "empty part"),
        (lambda: envfile.unset_value(path, "DATABASE__NOPE"), "has no variable"),
        (lambda: envfile.unset_value(path, "DATABASE"), "a section"),
    ]
    for call, match in cases:
        with pytest.raises(UsageError, match=match) as info:
            call()
        assert CANARY not in str(info.value)
        assert CANARY not in str(info.value.hint)
        assert path.read_bytes() == before
    assert envfile.edit_file(path, editor="true") is False  # no change: not rewritten
    assert path.read_bytes() == before
    broken = _editor(path.parent, "text.replace(': ', ' ', 1) if fmt == 'yaml' else '{'")
    with pytest.raises(FormatError, match="edited"):
        envfile.edit_file(path, editor=broken)
    assert path.read_bytes() == before


def _editor(directory: Path, expression: str) -> str:
    """An editor command that rewrites the file to ``expression`` of its ``text`` (``fmt``:
    yaml or json, from the file name)."""
    script = directory / "editor.py"
    script.write_text(
        "import sys\n"
        "p = sys.argv[1]\n"
        "fmt = 'json' if p.endswith('.json') else 'yaml'\n"
        "text = open(p, encoding='utf-8').read()\n"
        f"open(p, 'w', encoding='utf-8').write({expression})\n"
    )
    return f"{sys.executable} {script}"


@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_edit_in_the_files_format(
    sops_bin: Path, sops_env: dict[str, str], age_key: AgeKey, tmp_path: Path, fmt: str
) -> None:
    """edit shows YAML (comments kept) or JSON; what is saved is what sops decrypts, in the
    file's format, with the other values' types kept."""
    path = _make(sops_bin, sops_env, age_key, fmt, options=[], dst=tmp_path / f"s.enc.{fmt}")
    editor = _editor(
        tmp_path, f"text.replace('old-password', {CANARY!r}).replace('\"tok\"', '\"t2\"')"
    )
    assert envfile.edit_file(path, editor=editor) is True
    assert CANARY not in path.read_text()
    expected: dict[str, Any] = json.loads(json.dumps(START))
    expected["database"]["password"] = CANARY
    expected["api_token"] = "t2"
    assert _ordered(_sops_view(sops_bin, sops_env, path, fmt)) == _ordered(expected)
    if fmt == "yaml":
        shown = _sops(sops_bin, sops_env, "decrypt", str(path)).stdout
        assert shown.startswith("# top comment\n")
        assert "    # the password\n    password: " + CANARY in shown


def test_set_keeps_types_order_and_unset_leaves_sections(age_key: AgeKey, tmp_path: Path) -> None:
    """Natively: the other values keep their Python types (int, float, bool, None) and order;
    a section emptied by unset stays (as sops unset leaves it) and flattens to nothing."""
    from secretsafe.keys import discover

    data = json.loads(json.dumps(START), object_pairs_hook=Branch)
    path = tmp_path / "s.enc.yaml"
    path.write_text(native.encrypt_tree(data, key_groups=[[age_key.recipient]], store="yaml"))
    envfile.set_value(path, "DATABASE__OPTIONS__SSLMODE", "disable")
    envfile.unset_value(path, "DATABASE__OPTIONS__TIMEOUT")
    envfile.unset_value(path, "DATABASE__OPTIONS__SSLMODE")
    tree, _ = native.decrypt_tree(
        path.read_text(), [i.to_pyrage() for i in discover()], store="yaml"
    )
    assert [k for k, _ in tree] == list(START)
    db = dict(tree)["database"]
    assert dict(db)["port"] == 5432
    assert type(dict(db)["port"]) is int
    assert dict(db)["options"] == Branch()
    assert dict(tree)["debug"] is True
    assert dict(tree)["nothing"] is None
    assert "DATABASE__OPTIONS__SSLMODE" not in decrypt_file(path)


def test_the_output_check_refuses_plaintext_where_rules_say_encrypted() -> None:
    """verify_tree_encrypted, the gate before a nested write: a value left in plaintext, a
    key changed, or metadata rules that differ are refused, naming the path only."""
    import pyrage

    me = pyrage.x25519.Identity.generate()
    data = Branch([("db", Branch([("password", CANARY), ("host", "h")]))])
    rules = Rules(encrypted_regex="^password$")
    text = native.encrypt_tree(data, key_groups=[[str(me.to_public())]], rules=rules, store="yaml")
    native.verify_tree_encrypted(text, data=data, rules=rules, store="yaml")
    with pytest.raises(IntegrityError, match="db:host would be stored in plaintext") as info:
        native.verify_tree_encrypted(text, data=data, rules=Rules(), store="yaml")
    assert CANARY not in str(info.value)
    other = Branch([("db", Branch([("password", CANARY), ("port", "h")]))])
    with pytest.raises(IntegrityError, match="keys in the output differ"):
        native.verify_tree_encrypted(text, data=other, rules=rules, store="yaml")
    plain = text.replace('"ENC[AES256_GCM', '"XENC[AES256_GCM', 1)  # the password's value
    with pytest.raises(IntegrityError, match="db:password would be stored in plaintext"):
        native.verify_tree_encrypted(plain, data=data, rules=rules, store="yaml")


def test_sops_yaml_with_comments_in_lists_reads_natively(
    sops_bin: Path, sops_env: dict[str, str], age_key: AgeKey
) -> None:
    """sops writes an encrypted comment inside a list as a list item (``- ENC[...,
    type:comment]``): it reads back as a comment, not a value, outside the MAC (before, the
    native reader refused such a file as altered)."""
    out = _sops(
        sops_bin,
        sops_env,
        *("encrypt", "--age", age_key.recipient),
        *("--input-type", "yaml", "--output-type", "yaml", "/dev/stdin"),
        stdin=COMMENTED_YAML,
    ).stdout
    assert "type:comment]" in out.split("replicas:")[1].split("port:")[0]
    from secretsafe.sops import decrypt_text

    values = decrypt_text(out, backend="native").values
    assert values["DATABASE__REPLICAS"] == '["r1","r2"]'
    assert values["MULTI"] == "# not a comment: text\nline two\n"


def test_sops_yaml_timestamps_go_to_the_binary(
    sops_bin: Path, sops_env: dict[str, str], age_key: AgeKey, tmp_path: Path
) -> None:
    """sops >= 3.10 encrypts a YAML timestamp as ``type:time``: the native reader hands the
    file to sops (auto) or says so (native, exit 23) instead of calling it altered (exit 22);
    a change is refused, the file untouched."""
    from secretsafe.sops import decrypt_text

    out = _sops(
        sops_bin,
        sops_env,
        *("encrypt", "--age", age_key.recipient),
        *("--input-type", "yaml", "--output-type", "yaml", "/dev/stdin"),
        stdin="expires: 2025-01-01T10:00:00Z\nname: x\n",
    ).stdout
    assert "type:time]" in out
    values = decrypt_text(out).values
    assert values["EXPIRES"] == "2025-01-01T10:00:00Z"
    with pytest.raises(UnsupportedError, match="type:time") as info:
        decrypt_text(out, backend="native")
    assert info.value.exit_code == 23
    path = tmp_path / "t.enc.yaml"
    path.write_text(out)
    with pytest.raises(UnsupportedError, match="sops edit"):
        envfile.set_value(path, "NAME", "y")
    assert path.read_text() == out
