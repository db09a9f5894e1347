"""``updatekeys`` with key groups (Shamir): a recipient added to a group keeps the data key
(new shares of the same key, as ``sops updatekeys`` re-splits it); one removed makes a new
data key; the real sops decrypts the result with one key of each group."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pyrage
import pytest

from secretsafe import envfile
from secretsafe.sops import read_encrypted, sops_format
from secretsafe.sops import update as _update
from secretsafe.sops.updatekeys import apply, plan
from tests.conftest import AgeKey, make_age_key


def _rule(root: Path, groups: list[list[AgeKey]]) -> None:
    lines = ["creation_rules:", "  - path_regex: .*", "    shamir_threshold: 2", "    key_groups:"]
    for group in groups:
        lines.append("      - age:")
        lines += [f"          - {k.recipient}" for k in group]
    (root / ".sops.yaml").write_text("\n".join(lines) + "\n")


def _data_key(path: Path, keys: list[AgeKey]) -> bytes:
    text = read_encrypted(path)
    store = sops_format(text)
    assert store is not None
    idents = [pyrage.x25519.Identity.from_str(k.identity) for k in keys]
    return _update.open_text(text, idents, path=path, store=store).keep.data_key


def _key_file(tmp_path: Path, *keys: AgeKey) -> Path:
    path = tmp_path / f"ids-{len(list(tmp_path.iterdir()))}.txt"
    path.write_text("".join(f"{k.identity}\n" for k in keys))
    path.chmod(0o600)
    return path


@pytest.mark.parametrize("name", [".env.enc", "s.enc.yaml", "s.enc.json"])
def test_key_groups_add_keeps_the_data_key_remove_rotates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sops_bin: Path, name: str
) -> None:
    a, b, c = (make_age_key(tmp_path / n) for n in "abc")
    root = tmp_path / "repo"
    root.mkdir()
    _rule(root, [[a], [b]])
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(_key_file(tmp_path, a, b)))
    monkeypatch.chdir(root)
    path = root / name
    envfile.update_values(path, {"APP__TOKEN": "t0ken"}, create=True)
    assert envfile.list_recipients(path) == [[a.recipient], [b.recipient]]
    key = _data_key(path, [a, b])

    _rule(root, [[a, c], [b]])
    plans = plan()
    assert [p.added for p in plans] == [(c.recipient,)]
    apply(plans)
    assert envfile.list_recipients(path) == [[a.recipient, c.recipient], [b.recipient]]
    assert _data_key(path, [c, b]) == key
    dotenv = ["--input-type", "dotenv", "--output-type", "dotenv"]
    types = dotenv if name.endswith(".env.enc") else []
    env = {**os.environ, "SOPS_AGE_KEY_FILE": str(_key_file(tmp_path, c, b))}
    out = subprocess.run(
        [str(sops_bin), "decrypt", *types, str(path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "t0ken" in out.stdout

    _rule(root, [[c], [b]])
    apply(plan())
    assert envfile.list_recipients(path) == [[c.recipient], [b.recipient]]
    assert _data_key(path, [c, b]) != key
