"""Hostile inputs for the git integration (issue 16 review): files from a branch or commit
someone else wrote, merged by the driver or shown by the diff filter, and a hostile
repository's ``.gitattributes``. Each case failed before its fix."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pyrage
import pytest

from secretsafe.errors import FileError, FormatError, SecretsafeError
from secretsafe.git.merge import merge_driver
from secretsafe.git.textconv import textconv
from secretsafe.sops import native
from secretsafe.sops.model import Entry, Rules
from secretsafe.sops.tree import Branch

SECRET = "s3cret-canary-value"


@pytest.fixture
def ident(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> pyrage.x25519.Identity:
    ident = pyrage.x25519.Identity.generate()
    key_file = tmp_path / "keys.txt"
    key_file.write_text(f"{ident}\n")
    key_file.chmod(0o600)
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(key_file))
    monkeypatch.delenv("SOPS_AGE_KEY", raising=False)
    return ident


def _dotenv(values: dict[str, str], recipients: list[str], rules: Rules = Rules()) -> str:  # noqa: B008
    return native.encrypt(
        [Entry(k, v) for k, v in values.items()], key_groups=[recipients], rules=rules
    )


# -- merge: a value encrypted on one side is never written in plaintext --------------------

_OTHER = str(pyrage.x25519.Identity.generate().to_public())


@pytest.mark.parametrize(
    "case",
    [
        # Their side adds a member (so the merge is written under their key) and, with it,
        # rules that leave every name but A and B in plaintext: our new C would be exposed.
        "their-rules-with-their-key",
        # Our rules leave names other than A in plaintext; their side adds TOKEN, encrypted.
        "our-rules-their-new-value",
    ],
)
def test_merge_never_writes_an_encrypted_value_in_plaintext(
    tmp_path: Path, ident: pyrage.x25519.Identity, case: str
) -> None:
    me = str(ident.to_public())
    if case == "their-rules-with-their-key":
        base = _dotenv({"A": "a", "B": "b"}, [me])
        ours = _dotenv({"A": "a", "B": "b", "C": SECRET}, [me])
        theirs = _dotenv(
            {"A": "a", "B": "b2"},
            [me, _OTHER],
            Rules(unencrypted_suffix=None, encrypted_regex="^(A|B)$"),
        )
    else:
        only_a = Rules(unencrypted_suffix=None, encrypted_regex="^A$")
        base = _dotenv({"A": "a", "PORT": "1"}, [me], only_a)
        ours = _dotenv({"A": "a2", "PORT": "1"}, [me], only_a)
        theirs = _dotenv({"A": "a", "PORT": "1", "TOKEN": SECRET}, [me])
    paths = {}
    for name, text in (("base", base), ("ours", ours), ("theirs", theirs)):
        paths[name] = tmp_path / name
        paths[name].write_text(text)
    with pytest.raises(FormatError) as info:
        merge_driver(str(paths["base"]), str(paths["ours"]), str(paths["theirs"]), ".env.enc")
    assert "plaintext" in info.value.message
    assert SECRET not in str(info.value)
    assert paths["ours"].read_text() == ours  # untouched
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".secretsafe-merge")]


def test_merge_refuses_tampered_theirs_and_base(
    tmp_path: Path, ident: pyrage.x25519.Identity
) -> None:
    """A side or the ancestor that fails its MAC is not trusted: refused, ours untouched."""
    me = str(ident.to_public())
    good = _dotenv({"A": "a", "B": "b"}, [me])
    ours = _dotenv({"A": "a", "B": "b", "C": "c"}, [me])
    lines = good.splitlines(keepends=True)
    # A keyless attacker swaps the two values' ciphertext (path-bound: fails) or drops one.
    swapped = lines[1].replace("B=", "A=", 1) + lines[0].replace("A=", "B=", 1) + "".join(lines[2:])
    dropped = "".join(lines[1:])
    for bad in (swapped, dropped):
        for who in ("theirs", "base"):
            (tmp_path / "ours").write_text(ours)
            (tmp_path / "base").write_text(bad if who == "base" else good)
            (tmp_path / "theirs").write_text(bad if who == "theirs" else good)
            with pytest.raises(SecretsafeError):
                merge_driver(
                    str(tmp_path / "base"), str(tmp_path / "ours"), str(tmp_path / "theirs"), "e"
                )
            assert (tmp_path / "ours").read_text() == ours


# -- parsers: deep or self-referencing documents fail fast and cleanly ----------------------

_META_JSON = '"sops": {"mac": "x", "version": "3.11.0", "lastmodified": "2020-01-01T00:00:00Z"}'


def _deep_json(depth: int) -> str:
    return '{"a": ' + "[" * depth + "]" * depth + ", " + _META_JSON + "}"


def _alias_bomb(levels: int) -> str:
    lines = ['l0: &l0 ["ENC[x]","x","x","x","x","x","x","x","x","x"]']
    lines += [f"l{i}: &l{i} [" + ",".join([f"*l{i - 1}"] * 10) + "]" for i in range(1, levels)]
    lines.append('sops:\n    version: 3.11.0\n    mac: x\n    lastmodified: "2020-01-01T00:00:00Z"')
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    "doc",
    [_deep_json(2000), _deep_json(100_000), _alias_bomb(9)],
    ids=["json-2000-deep", "json-100000-deep", "yaml-alias-bomb"],
)
def test_textconv_and_ls_on_hostile_documents(doc: str, ident: object) -> None:
    """No RecursionError (an internal error: git's diff fails), no exponential expansion of
    YAML aliases (a 400-byte file that would take hours): one clear answer, fast."""
    from secretsafe.sops.listing import names

    start = time.monotonic()
    out = textconv(doc.encode())
    # Not read as a sops file: shown as it is, as git would without the filter.
    assert out.startswith(b"# secretsafe:") or out == doc.encode(), out[:200]
    with pytest.raises(FormatError):
        names(doc, "f")
    assert time.monotonic() - start < 20  # before: RecursionError / hours


def test_merge_driver_on_deep_json(tmp_path: Path, ident: pyrage.x25519.Identity) -> None:
    """A deep JSON side is no sops file: refused in one line, no RecursionError."""
    sops_json = native.encrypt_tree(
        Branch([("a", "b")]), key_groups=[[str(ident.to_public())]], store="json"
    )
    (tmp_path / "base").write_text(sops_json)
    (tmp_path / "ours").write_text(sops_json)
    (tmp_path / "theirs").write_text(_deep_json(5000))
    with pytest.raises(FormatError):
        merge_driver(str(tmp_path / "base"), str(tmp_path / "ours"), str(tmp_path / "theirs"), "x")
    assert (tmp_path / "ours").read_text() == sops_json


# -- output: names, recipients and paths from a file cannot drive the terminal --------------


def test_textconv_escapes_control_characters_in_recipients(
    ident: pyrage.x25519.Identity,
) -> None:
    me = str(ident.to_public())
    text = _dotenv({"A": "a"}, [me]).replace(
        f"recipient={me}", "recipient=age1\x1b]8;;x\x07\x1b[2J"
    )
    out = textconv(text.encode())
    assert b"\x1b" not in out
    assert b"\x07" not in out
    assert b"age1\\x1b]8;;x\\x07\\x1b[2J" in out


def test_textconv_escapes_control_characters_in_nested_names(
    ident: pyrage.x25519.Identity,
) -> None:
    tree = Branch([("a\x1b[2J\nb", SECRET), ("\u202e", Branch([("x", SECRET)]))])
    text = native.encrypt_tree(tree, key_groups=[[str(ident.to_public())]], store="json")
    for data in (text.encode(), text.replace('"mac": "ENC', '"mac": "XENC').encode()):
        out = textconv(data)
        assert b"\x1b" not in out
        assert "\u202e".encode() not in out
        assert SECRET.encode() not in out
        assert len(out.decode().splitlines()) == 4  # header, recipient, two names


# -- ls: a list holding lists of plaintext is not "encrypted" --------------------------------


def test_ls_nested_list_of_plaintext_is_not_encrypted() -> None:
    from secretsafe.sops.listing import names

    doc = json.dumps({"a": [["plain"]], "b": [], "sops": json.loads("{" + _META_JSON + "}")})
    states = {n.name: n.state for n in names(doc, "f")}
    assert states == {"A": "plaintext", "B": "empty"}


# -- git setup: a symlinked .gitattributes is not followed ----------------------------------


def test_setup_does_not_follow_a_symlinked_gitattributes(tmp_path: Path) -> None:
    """A hostile repository whose .gitattributes links to a private file (git itself does not
    follow it): setup must not copy that file's content into the repository."""
    from tests.git.git_support import git, git_env, make_repo

    env = git_env(tmp_path, None)
    repo = make_repo(tmp_path, env)
    private = tmp_path / "id_private"
    private.write_text(f"PRIVATE KEY {SECRET}\n")
    (repo / ".gitattributes").symlink_to(private)
    old = dict(os.environ)
    try:
        os.environ.clear()
        os.environ.update(env)
        from secretsafe.git.setup import setup

        with pytest.raises(FileError) as info:
            setup(repo)
    finally:
        os.environ.clear()
        os.environ.update(old)
    assert "symbolic link" in info.value.message
    assert (repo / ".gitattributes").is_symlink()
    assert SECRET not in git(repo, "status", "--porcelain", env=env).stdout


def test_merge_messages_escape_the_path(tmp_path: Path, ident: pyrage.x25519.Identity) -> None:
    """git's %P is a path from the branch being merged: it reaches messages escaped."""
    sops_text = _dotenv({"A": "a"}, [str(ident.to_public())])
    for name, text in (("base", sops_text), ("ours", sops_text), ("theirs", "A=plain\n")):
        (tmp_path / name).write_text(text)
    hostile = "x\x1b]0;owned\x07\n.env.enc"
    with pytest.raises(FormatError) as info:
        merge_driver(
            str(tmp_path / "base"), str(tmp_path / "ours"), str(tmp_path / "theirs"), hostile
        )
    assert not any(c in str(info.value) for c in "\x1b\x07\n")


# -- set --create: never over a file that appeared meanwhile --------------------------------


@pytest.mark.parametrize("planted", ["file", "symlink"])
def test_create_never_replaces_what_appeared_meanwhile(
    tmp_path: Path, ident: pyrage.x25519.Identity, monkeypatch: pytest.MonkeyPatch, planted: str
) -> None:
    """Two `set --create` at once (or a symlink planted between the check and the write):
    the second writer used to rename over the first, losing its value with exit 0."""
    import secretsafe.sops as sops_pkg
    from secretsafe.envfile import update_values

    target = tmp_path / "new.env.enc"
    outside = tmp_path / "outside"
    real = sops_pkg.encrypt_items

    def racing(*args: object, **kwargs: object) -> str:
        text = real(*args, **kwargs)  # type: ignore[arg-type]
        if planted == "file":
            target.write_text("FIRST=writer\n")
        else:
            target.symlink_to(outside)
        return text

    monkeypatch.setattr(sops_pkg, "encrypt_items", racing)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileError):
        update_values(target, {"B": SECRET}, create=True)
    if planted == "file":
        assert target.read_text() == "FIRST=writer\n"
    else:
        assert target.is_symlink()
        assert not outside.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".new")] == []


# -- minimal churn: kept ciphertext is reused only for the same value; every new one has a
#    fresh IV (AES-GCM under a kept data key: an IV used twice would be catastrophic) -----


@pytest.mark.parametrize("store", ["dotenv", "json", "yaml"])
def test_minimal_churn_never_reuses_an_iv(
    tmp_path: Path, ident: pyrage.x25519.Identity, store: str
) -> None:
    import random
    import re

    from secretsafe.envfile import update_values
    from secretsafe.git import variables

    rng = random.Random(16)  # derandomized: the same sequence of changes every run
    me = str(ident.to_public())
    names = [f"V{i}" for i in range(6)]
    values = {n: f"v-{n}" for n in names}
    path = tmp_path / f"f.enc.{'env' if store == 'dotenv' else store}"
    if store == "dotenv":
        path.write_text(_dotenv(values, [me]))
    else:
        path.write_text(
            native.encrypt_tree(Branch(list(values.items())), key_groups=[[me]], store=store)
        )
    enc_re = re.compile(r"ENC\[AES256_GCM,data:[^,]*,iv:([^,]+),")
    seen_ivs = set(enc_re.findall(path.read_text()))
    key = variables.decrypt(path.read_text()).data_key
    for _ in range(12):
        old_text = path.read_text()
        old_encs = set(re.findall(r"ENC\[[^\]]*\]", old_text))
        name = rng.choice(names)
        # Sometimes a value goes back to an earlier one: still a fresh IV, never the old ENC.
        values[name] = rng.choice([f"new-{rng.random()}", f"v-{name}", values[name]])
        update_values(path, {name.lower() if store != "dotenv" else name: values[name]})
        text = path.read_text()
        opened = variables.decrypt(text)
        assert opened.data_key == key  # the data key stays
        assert {k.upper(): v for k, v in opened.values.items()} == values
        for enc in set(re.findall(r"ENC\[[^\]]*\]", text)) - old_encs:
            iv = enc_re.match(enc)
            assert iv is not None
            assert iv.group(1) not in seen_ivs, "an IV was used twice under one data key"
            seen_ivs.add(iv.group(1))


def test_error_lines_escape_control_characters(capsys: pytest.CaptureFixture[str]) -> None:
    """Every error line (paths from a branch, recipients from a file) is one line with no
    terminal escape sequence."""
    from secretsafe.cli import print_error

    print_error(FileError("dir/x\x1b]0;owned\x07\nfake line: cannot read", hint="h\x9b2J"))
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert not any(c in err for c in "\x1b\x07\x9b")
    assert "x\\x1b]0;owned\\x07\\nfake line" in err


def test_a_list_of_problems_keeps_one_line_per_problem(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``check`` lists every problem, one per line; control characters are still escaped."""
    from secretsafe.cli import print_error
    from secretsafe.errors import ValidationFailed

    print_error(ValidationFailed("2 problems:\n  - A\x1b[2J: missing\n  - B\r: missing"))
    err = capsys.readouterr().err
    assert err.splitlines() == [
        "secretsafe: error: 2 problems:",
        "  - A\\x1b[2J: missing",
        "  - B\\r: missing",
    ]


def test_updatekeys_plan_line_escapes_paths_and_recipients() -> None:
    from secretsafe.sops.updatekeys import FilePlan

    plan = FilePlan("a\x1b[2J.env.enc", (("age1\x1b[31mx",),), (("age1ok",),), None, None)
    line = plan.describe()
    assert "\x1b" not in line
    assert "age1\\x1b[31mx" in line
