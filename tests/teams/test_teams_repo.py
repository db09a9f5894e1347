"""Issue 16, done when: a git repository with a ``.sops.yaml``, 5 encrypted files in 3 formats
and folders, and 3 members. One ``secretsafe updatekeys`` after adding a member changes only
metadata lines in every file (``git diff --numstat`` and the data part byte for byte) and the
new member decrypts them all (with the real sops); after removing a member every file has a
new data key and the removed key decrypts none; a failure half-way writes nothing. The result
is compared with what ``sops updatekeys -y`` makes of the same change."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from secretsafe import envfile
from secretsafe.sops import read_encrypted, sops_format
from tests.conftest import AgeKey, make_age_key

GIT = shutil.which("git") or "git"
SECRETSAFE = str(Path(sys.executable).parent / "secretsafe")
CANARY = "cAnArY-teams-Zq81vB5x"

FILES = {
    ".env.enc": "dotenv",
    "services/api/.env.enc": "dotenv",
    "services/web/secrets.enc.json": "json",
    "config/app.enc.yaml": "yaml",
    "config/db.enc.yaml": "yaml",
}


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        [GIT, "-C", str(repo), *args], check=True, capture_output=True, text=True, timeout=60
    ).stdout


def rule(repo: Path, *members: AgeKey) -> None:
    recipients = ",".join(m.recipient for m in members)
    (repo / ".sops.yaml").write_text(
        f"creation_rules:\n  - path_regex: .*\n    age: {recipients}\n", encoding="utf-8"
    )


def ss(repo: Path, who: AgeKey, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SOPS_AGE_KEY_FILE": str(who.key_file)}
    r = subprocess.run(
        [SECRETSAFE, *args],
        capture_output=True,
        text=True,
        cwd=repo,
        env=env,
        timeout=120,
        check=False,
    )
    assert "Traceback" not in r.stderr
    assert CANARY not in r.stdout + r.stderr
    return r


def sops_decrypt(sops_bin: Path, path: Path, who: AgeKey) -> subprocess.CompletedProcess[str]:
    # sops picks the format by extension; a .env.enc needs telling.
    types = ["--input-type", "dotenv"] if ".env" in path.name else []
    env = {**os.environ, "SOPS_AGE_KEY_FILE": str(who.key_file)}
    return subprocess.run(
        [str(sops_bin), "decrypt", *types, "--output-type", "json", str(path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def data_part(text: str, fmt: str) -> str:
    """The file's values (everything before the sops metadata), as text."""
    if fmt == "dotenv":
        return "\n".join(line for line in text.split("\n") if not line.startswith("sops_"))
    marker = "\nsops:\n" if fmt == "yaml" else '\n\t"sops": {'
    assert marker in text
    return text[: text.index(marker)]


def data_key(path: Path, who: AgeKey) -> bytes:
    import pyrage

    from secretsafe.sops import update

    text = read_encrypted(path)
    store = sops_format(text)
    assert store is not None
    ident = pyrage.x25519.Identity.from_str(who.identity)
    return update.open_text(text, [ident], path=path, store=store).keep.data_key


@pytest.fixture
def team(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, AgeKey]:
    return {n: make_age_key(tmp_path / "keys" / n) for n in ("alice", "bob", "carol", "dave")}


@pytest.fixture
def repo(tmp_path: Path, team: dict[str, AgeKey], monkeypatch: pytest.MonkeyPatch) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.email", "dev@example.com")
    git(repo, "config", "user.name", "Dev")
    git(repo, "config", "commit.gpgsign", "false")
    rule(repo, team["alice"], team["bob"], team["carol"])
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(team["alice"].key_file))
    for rel, fmt in FILES.items():
        path = repo / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        prefix = "" if fmt == "dotenv" else "APP__"
        values = {f"{prefix}VAR_{i}": f"{CANARY}-{rel}-{i}" for i in range(6)}
        envfile.update_values(path, values, create=True)
    (repo / ".gitignore").write_text("ignored/\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "team secrets")
    return repo


def _snapshot(repo: Path) -> dict[str, bytes]:
    return {rel: (repo / rel).read_bytes() for rel in FILES}


def test_add_member_changes_only_metadata_and_new_member_decrypts(
    repo: Path, team: dict[str, AgeKey], sops_bin: Path
) -> None:
    before = {rel: (repo / rel).read_text() for rel in FILES}
    keys_before = {rel: data_key(repo / rel, team["alice"]) for rel in FILES}
    rule(repo, team["alice"], team["bob"], team["carol"], team["dave"])
    # dave cannot read anything yet
    assert all(sops_decrypt(sops_bin, repo / rel, team["dave"]).returncode != 0 for rel in FILES)

    dry = ss(repo, team["alice"], "updatekeys", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert _snapshot(repo) == {rel: t.encode() for rel, t in before.items()}
    for rel in FILES:
        assert f"{rel}: add {team['dave'].recipient} (data key kept)" in dry.stdout

    r = ss(repo, team["alice"], "updatekeys")
    assert r.returncode == 0, r.stderr
    numstat = git(repo, "diff", "--numstat").splitlines()
    changed = {line.split("\t")[2] for line in numstat}
    assert changed == {*FILES, ".sops.yaml"}
    for rel, fmt in FILES.items():
        after = (repo / rel).read_text()
        # Every value line is byte for byte the same: only sops metadata lines changed.
        assert data_part(after, fmt) == data_part(before[rel], fmt), rel
        assert data_key(repo / rel, team["alice"]) == keys_before[rel]
        out = sops_decrypt(sops_bin, repo / rel, team["dave"])
        assert out.returncode == 0, (rel, out.stderr)
        assert CANARY in out.stdout
    # Idempotent: a second run changes nothing.
    again = ss(repo, team["alice"], "updatekeys")
    assert again.returncode == 0
    assert "updated 0 of 5 files" in again.stderr


def test_remove_member_rotates_every_data_key(
    repo: Path, team: dict[str, AgeKey], sops_bin: Path
) -> None:
    before = {rel: (repo / rel).read_text() for rel in FILES}
    keys_before = {rel: data_key(repo / rel, team["alice"]) for rel in FILES}
    assert all(sops_decrypt(sops_bin, repo / rel, team["bob"]).returncode == 0 for rel in FILES)
    rule(repo, team["alice"], team["carol"])
    r = ss(repo, team["alice"], "updatekeys")
    assert r.returncode == 0, r.stderr
    for rel, fmt in FILES.items():
        assert data_key(repo / rel, team["alice"]) != keys_before[rel], rel
        assert data_part((repo / rel).read_text(), fmt) != data_part(before[rel], fmt)
        assert sops_decrypt(sops_bin, repo / rel, team["bob"]).returncode != 0, rel
        assert sops_decrypt(sops_bin, repo / rel, team["carol"]).returncode == 0, rel
        assert team["bob"].recipient not in (repo / rel).read_text()


@pytest.mark.parametrize("failure", ["no-key", "broken", "fifo"])
def test_failure_half_way_writes_nothing(
    repo: Path, team: dict[str, AgeKey], failure: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A sixth file, sorted in the middle of the others.
    odd = repo / "config" / "b-odd.env.enc"
    if failure == "no-key":
        # Encrypted for carol alone: alice cannot unwrap its data key.
        from secretsafe.sops import encrypt_items
        from secretsafe.sops.model import Entry

        odd.write_text(encrypt_items([Entry("X", CANARY)], recipients=[team["carol"].recipient]))
    elif failure == "broken":
        envfile.update_values(odd, {"X": CANARY}, create=True)
        odd.write_text(odd.read_text().replace("sops_mac=", "sops_mac=x"))
    else:
        # Not a regular file (a chmod 000 file would not do: CI runs as root, which reads it).
        os.mkfifo(odd)
    rule(repo, team["alice"], team["bob"], team["carol"], team["dave"])
    snapshot = _snapshot(repo)
    odd_before = odd.read_bytes() if failure != "fifo" else None
    # Named explicitly: a FIFO is not found by the walk, a path given by the user is read.
    paths = sorted([*FILES, "config/b-odd.env.enc"])
    r = ss(repo, team["alice"], "updatekeys", *paths)
    assert r.returncode == {"no-key": 21, "broken": 22, "fifo": 10}[failure], r.stderr
    assert "config/b-odd.env.enc" in r.stderr
    assert "no file was written" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert _snapshot(repo) == snapshot
    if odd_before is not None:
        assert odd.read_bytes() == odd_before


def test_same_recipients_as_sops_updatekeys(
    repo: Path, team: dict[str, AgeKey], sops_bin: Path, tmp_path: Path
) -> None:
    """Differential: ``sops updatekeys -y`` on a copy gives the same recipients, and neither
    changes the values (the data key kept on add)."""
    from secretsafe.envfile import list_recipients

    copy = tmp_path / "copy"
    shutil.copytree(repo, copy, ignore=shutil.ignore_patterns(".git"))
    rule(repo, team["alice"], team["bob"], team["carol"], team["dave"])
    rule(copy, team["alice"], team["bob"], team["carol"], team["dave"])
    before = {rel: (repo / rel).read_text() for rel in FILES}
    assert ss(repo, team["alice"], "updatekeys").returncode == 0
    env = {**os.environ, "SOPS_AGE_KEY_FILE": str(team["alice"].key_file)}
    for rel, fmt in FILES.items():
        types = ["--input-type", "dotenv"] if fmt == "dotenv" else []
        subprocess.run(
            [str(sops_bin), "updatekeys", "-y", *types, str(copy / rel)],
            cwd=copy,
            env=env,
            capture_output=True,
            check=True,
            timeout=60,
        )
        ours, theirs = list_recipients(repo / rel), list_recipients(copy / rel)
        assert [sorted(g) for g in ours] == [sorted(g) for g in theirs], rel
        assert data_key(repo / rel, team["alice"]) == data_key(copy / rel, team["alice"])
        if fmt != "yaml":  # sops lays YAML out its own way; dotenv and JSON as secretsafe does
            assert data_part((copy / rel).read_text(), fmt) == data_part(before[rel], fmt)
        assert json.loads(sops_decrypt(sops_bin, repo / rel, team["dave"]).stdout) == json.loads(
            sops_decrypt(sops_bin, copy / rel, team["dave"]).stdout
        )


def test_explicit_paths_and_dry_run_json_free_of_secrets(
    repo: Path, team: dict[str, AgeKey]
) -> None:
    rule(repo, team["alice"], team["bob"], team["carol"], team["dave"])
    r = ss(repo, team["alice"], "updatekeys", "--dry-run", ".env.enc", "config/app.enc.yaml")
    assert r.returncode == 0, r.stderr
    assert len(r.stdout.strip().splitlines()) == 2
    assert "AGE-SECRET-KEY" not in r.stdout + r.stderr
    # A path no .sops.yaml covers is refused by name.
    outside = repo.parent / "outside.env.enc"
    envfile.update_values(outside, {"X": "y"}, create=True)
    r = ss(repo, team["alice"], "updatekeys", str(outside))
    assert r.returncode == 14
    assert "outside.env.enc" in r.stderr
