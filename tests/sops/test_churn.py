"""Minimal churn (issue 16, item 4): a change to one variable rewrites that variable's line and
the ``mac`` and ``lastmodified`` lines only; every other value keeps its exact ciphertext and
the data key stays. Checked on the diff of the file's lines, in dotenv, YAML and JSON, and
against the real sops (the file still decrypts, and sops can still set and rotate it)."""

from __future__ import annotations

import difflib
import json
import os
import subprocess
from pathlib import Path

import pytest

from secretsafe import envfile
from tests.conftest import AgeKey

N = 42
FORMATS = ("dotenv", "yaml", "json")
SUFFIX = {"dotenv": ".env.enc", "yaml": ".enc.yaml", "json": ".enc.json"}


def _values() -> dict[str, str]:
    return {f"VAR_{i:02d}": f"value-{i}-x" for i in range(N)}


def _make(tmp_path: Path, fmt: str) -> Path:
    """A 42-variable file (dotenv; YAML/JSON nested one section deep: ``APP__VAR_NN``)."""
    path = tmp_path / f"secrets{SUFFIX[fmt]}"
    if fmt == "dotenv":
        envfile.update_values(path, _values(), create=True)
    else:
        envfile.update_values(path, {f"APP__{k}": v for k, v in _values().items()}, create=True)
    return path


def _name(fmt: str, key: str) -> str:
    return key if fmt == "dotenv" else f"APP__{key}"


def _changed(before: str, after: str) -> tuple[list[str], list[str]]:
    """The removed and added lines of a line diff."""
    diff = list(difflib.ndiff(before.splitlines(), after.splitlines()))
    return [d[2:] for d in diff if d.startswith("- ")], [d[2:] for d in diff if d.startswith("+ ")]


def _meta_line(line: str) -> str | None:
    """``mac``/``lastmodified`` when ``line`` is one of those metadata lines."""
    for field in ("mac", "lastmodified"):
        if line.startswith(f"sops_{field}=") or line.strip().startswith(
            (f'"{field}":', f"{field}:")
        ):
            return field
    return None


def _assert_churn(before: str, after: str, *, data_lines: int, fmt: str) -> None:
    removed, added = _changed(before, after)
    data_removed = [r for r in removed if _meta_line(r) is None]
    data_added = [a for a in added if _meta_line(a) is None]
    # lastmodified changes unless the two writes fell in the same second.
    assert set(filter(None, map(_meta_line, removed))) in ({"mac"}, {"lastmodified", "mac"})
    assert set(filter(None, map(_meta_line, added))) in ({"mac"}, {"lastmodified", "mac"})
    assert len(data_removed) == data_lines, (fmt, removed)
    assert len(data_added) == data_lines, (fmt, added)
    # The wrapped data key (age enc blocks) stays.
    assert "AGE ENCRYPTED FILE" not in "".join(removed + added)


def _types(path: Path) -> list[str]:
    """sops picks the format by extension; ``.env.enc`` needs telling."""
    return ["--input-type", "dotenv", "--output-type", "dotenv"] if ".env" in path.name else []


def _sops_decrypt(sops_bin: Path, path: Path, env: dict[str, str]) -> dict[str, object]:
    out = subprocess.run(
        [str(sops_bin), "decrypt", *_types(path), "--output-type", "json", str(path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=True,
    ).stdout
    loaded: dict[str, object] = json.loads(out)
    return loaded


def _flat(fmt: str, data: dict[str, object]) -> dict[str, object]:
    if fmt == "dotenv":
        return data
    app = data["app"]
    assert isinstance(app, dict)
    return {k.upper(): v for k, v in app.items()}


@pytest.mark.parametrize("fmt", FORMATS)
def test_set_one_of_42_changes_one_line(
    tmp_path: Path, age_key: AgeKey, sops_bin: Path, sops_env: dict[str, str], fmt: str
) -> None:
    path = _make(tmp_path, fmt)
    before = path.read_text()
    assert envfile.set_value(path, _name(fmt, "VAR_17"), "changed") is False
    after = path.read_text()
    _assert_churn(before, after, data_lines=1, fmt=fmt)
    expected = {**_values(), "VAR_17": "changed"}
    assert _flat(fmt, _sops_decrypt(sops_bin, path, sops_env)) == expected


@pytest.mark.parametrize("fmt", FORMATS)
def test_unset_one_of_42_removes_one_line(
    tmp_path: Path, age_key: AgeKey, sops_bin: Path, sops_env: dict[str, str], fmt: str
) -> None:
    path = _make(tmp_path, fmt)
    before = path.read_text()
    envfile.unset_value(path, _name(fmt, "VAR_05"))
    after = path.read_text()
    removed, added = _changed(before, after)
    assert len([r for r in removed if _meta_line(r) is None]) == 1
    meta_added = list(filter(None, map(_meta_line, added)))
    assert set(meta_added) in ({"mac"}, {"lastmodified", "mac"})
    assert len(added) == len(meta_added)
    expected = {k: v for k, v in _values().items() if k != "VAR_05"}
    assert _flat(fmt, _sops_decrypt(sops_bin, path, sops_env)) == expected


@pytest.mark.parametrize("fmt", FORMATS)
def test_edit_one_of_42_changes_one_line(
    tmp_path: Path, age_key: AgeKey, sops_bin: Path, sops_env: dict[str, str], fmt: str
) -> None:
    path = _make(tmp_path, fmt)
    before = path.read_text()
    # A non-interactive editor given explicitly: replace one value in the plaintext copy.
    script = tmp_path / "editor.py"
    script.write_text(
        "import sys\np = sys.argv[1]\nt = open(p).read()\n"
        "open(p, 'w').write(t.replace('value-23-x', 'edited-23'))\n"
    )
    editor = f"{os.sys.executable} {script}"
    assert envfile.edit_file(path, editor=editor) is True
    _assert_churn(before, path.read_text(), data_lines=1, fmt=fmt)
    expected = {**_values(), "VAR_23": "edited-23"}
    assert _flat(fmt, _sops_decrypt(sops_bin, path, sops_env)) == expected


@pytest.mark.parametrize("fmt", FORMATS)
def test_update_values_several_in_one_write_and_noop(
    tmp_path: Path, age_key: AgeKey, sops_bin: Path, sops_env: dict[str, str], fmt: str
) -> None:
    path = _make(tmp_path, fmt)
    before = path.read_text()
    envfile.update_values(path, {_name(fmt, "VAR_01"): "value-1-x"})  # the same value
    assert path.read_text() == before  # nothing changed: nothing written
    envfile.update_values(
        path, {_name(fmt, "VAR_01"): "one", _name(fmt, "VAR_02"): None, _name(fmt, "NEW"): "n"}
    )
    after = path.read_text()
    removed, added = _changed(before, after)
    # Two changed lines (VAR_01 and VAR_02 gone), one new; in JSON the last value before
    # the new one also gains its comma.
    extra = 1 if fmt == "json" else 0
    assert len([r for r in removed if _meta_line(r) is None]) == 2 + extra
    assert len([a for a in added if _meta_line(a) is None]) == 2 + extra
    expected = {**_values(), "VAR_01": "one", "NEW": "n"}
    del expected["VAR_02"]
    assert _flat(fmt, _sops_decrypt(sops_bin, path, sops_env)) == expected


@pytest.mark.parametrize("fmt", FORMATS)
def test_sops_can_still_set_and_rotate(
    tmp_path: Path, age_key: AgeKey, sops_bin: Path, sops_env: dict[str, str], fmt: str
) -> None:
    path = _make(tmp_path, fmt)
    envfile.set_value(path, _name(fmt, "VAR_00"), "mine")
    index = '["VAR_01"]' if fmt == "dotenv" else '["app"]["var_01"]'
    for args in (
        ["set", *_types(path), str(path), index, '"by-sops"'],
        ["rotate", *_types(path), "-i", str(path)],
    ):
        subprocess.run(
            [str(sops_bin), *args], env=sops_env, timeout=60, check=True, capture_output=True
        )
    envfile.set_value(path, _name(fmt, "VAR_02"), "again")
    expected = {**_values(), "VAR_00": "mine", "VAR_01": "by-sops", "VAR_02": "again"}
    assert _flat(fmt, _sops_decrypt(sops_bin, path, sops_env)) == expected


def test_equal_values_never_share_a_ciphertext(tmp_path: Path, age_key: AgeKey) -> None:
    """A kept ciphertext is used once: two equal values keep two ciphertexts."""
    path = tmp_path / "list.enc.json"
    envfile.update_values(path, {"B": "x"}, create=True)
    envfile.update_values(path, {"C": "same", "D": "same"})
    envfile.update_values(path, {"B": "y"})
    data = json.loads(path.read_text())
    assert data["c"] != data["d"]


def test_sops_yaml_comment_at_column_0_survives_a_change(
    tmp_path: Path, age_key: AgeKey, sops_bin: Path, sops_env: dict[str, str]
) -> None:
    """A comment line at column 0 after the first line (sops encrypts it) was dropped by the
    YAML reader's quick scan, so the first change lost it; it now keeps even its
    ciphertext."""
    plain = tmp_path / "p.yaml"
    plain.write_text("app:\n    token: abc\n# a note\nother: x\n")
    enc = tmp_path / "p.enc.yaml"
    out = subprocess.run(
        [str(sops_bin), "encrypt", "--age", age_key.recipient, str(plain)],
        env=sops_env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    enc.write_text(out)
    note = next(line for line in out.splitlines() if line.startswith("#ENC["))
    envfile.set_value(enc, "OTHER", "y")
    assert note in enc.read_text().splitlines()
    shown = subprocess.run(
        [str(sops_bin), "decrypt", str(enc)],
        env=sops_env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert "# a note" in shown
    assert 'other: "y"' in shown  # a string set by secretsafe: sops quotes it


def test_yaml_written_by_sops_keeps_its_layout(
    tmp_path: Path, age_key: AgeKey, sops_bin: Path, sops_env: dict[str, str]
) -> None:
    """A YAML file sops wrote (plain ENC[...] values, ``|`` key blocks) changes by one line
    too: the changed scalar is replaced in place, not the file re-laid out."""
    plain = tmp_path / "p.yaml"
    body = "".join(f"    var_{i:02d}: value-{i}-x\n" for i in range(N))
    plain.write_text(f"app:\n{body}# trailing note\nport: 5432\n")
    path = tmp_path / "p.enc.yaml"
    path.write_text(
        subprocess.run(
            [str(sops_bin), "encrypt", "--age", age_key.recipient, str(plain)],
            env=sops_env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout
    )
    for change in (
        lambda: envfile.set_value(path, "APP__VAR_07", "changed"),
        lambda: envfile.update_values(path, {"APP__VAR_08": "x", "APP__VAR_09": "y"}),
    ):
        before = path.read_text()
        change()
        removed, added = _changed(before, path.read_text())
        data = [line for line in removed if _meta_line(line) is None]
        assert 1 <= len(data) <= 2
        assert len(added) == len(removed)
        new_data = [line for line in added if _meta_line(line) is None]
        # Replaced in place, in sops' own style: plain ENC[...] values, no quotes.
        assert all("ENC[" in line and '"' not in line for line in data + new_data)
    subprocess.run(
        [str(sops_bin), "rotate", "-i", str(path)],
        env=sops_env,
        capture_output=True,
        timeout=60,
        check=True,
    )
    before = path.read_text()
    envfile.set_value(path, "APP__VAR_10", "after-sops-rotate")
    _assert_churn(before, path.read_text(), data_lines=1, fmt="yaml")
    expected = {**_values(), "VAR_07": "changed", "VAR_08": "x", "VAR_09": "y"}
    expected["VAR_10"] = "after-sops-rotate"
    decrypted = _sops_decrypt(sops_bin, path, sops_env)
    assert decrypted["port"] == 5432
    assert _flat("yaml", decrypted) == expected


@pytest.mark.parametrize("groups", [1, 2])
def test_recipient_added_to_a_sops_yaml_changes_metadata_only(
    tmp_path: Path, age_key: AgeKey, sops_bin: Path, groups: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``recipients add`` on a YAML file sops wrote: the values and their layout stay; with
    key groups every share is wrapped again (``|`` blocks replaced in place, as sops does)."""
    from tests.conftest import make_age_key

    second = make_age_key(tmp_path / "second")
    new = make_age_key(tmp_path / "new")
    both = tmp_path / "both.txt"
    both.write_text(f"{age_key.identity}\n{second.identity}\n{new.identity}\n")
    both.chmod(0o600)
    env = {**os.environ, "SOPS_AGE_KEY_FILE": str(both)}
    plain = tmp_path / "p.yaml"
    plain.write_text("app:\n    token: abc\n    user: me\n")
    config = tmp_path / ".sops.yaml"
    if groups == 1:
        config.write_text(f"creation_rules:\n  - age: {age_key.recipient}\n")
    else:
        config.write_text(
            "creation_rules:\n  - shamir_threshold: 2\n    key_groups:\n"
            f"      - age: [{age_key.recipient}]\n      - age: [{second.recipient}]\n"
        )
    path = tmp_path / "p.enc.yaml"
    path.write_text(
        subprocess.run(
            [str(sops_bin), "encrypt", str(plain)],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout
    )
    config.unlink()
    before = path.read_text()
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(both))
    assert envfile.add_recipients(path, [new.recipient]) == [new.recipient]
    after = path.read_text()
    assert after.split("\nsops:\n")[0] == before.split("\nsops:\n")[0]
    removed, added = _changed(before, after)
    assert "sops:" not in removed + added
    assert f"- recipient: {new.recipient}" in "\n".join(added)
    assert not any(line.lstrip().startswith(('"', '- "')) for line in added)  # sops' style
    only_new = {**os.environ, "SOPS_AGE_KEY_FILE": str(new.key_file)}
    if groups == 2:
        only_new["SOPS_AGE_KEY_FILE"] = str(both)
    assert _sops_decrypt(sops_bin, path, only_new) == {"app": {"token": "abc", "user": "me"}}
