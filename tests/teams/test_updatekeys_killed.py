"""``updatekeys`` killed (SIGKILL) between two file writes (issue 16 review): no write can be
undone after a kill -9, so the set of files is then partly updated; what must hold is that
every file is whole and valid (each write is atomic) and that running ``updatekeys`` again
finishes the job. Each point of the write loop is tried."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from secretsafe import envfile
from secretsafe.git import variables
from tests.conftest import AgeKey, make_age_key

FILES = (".env.enc", "a/.env.enc", "b/c.enc.json", "d/e.enc.yaml")

_CHILD = """
import os, signal, sys
import secretsafe.files as files
from secretsafe.sops import updatekeys
real, kill_at, calls = files.atomic_write, int(sys.argv[1]), [0]
def dying(*args, **kwargs):
    if calls[0] == kill_at:
        os.kill(os.getpid(), signal.SIGKILL)
    calls[0] += 1
    return real(*args, **kwargs)
files.atomic_write = dying
updatekeys.apply(updatekeys.plan())
"""


def _rule(root: Path, *members: AgeKey) -> None:
    recipients = ",".join(m.recipient for m in members)
    (root / ".sops.yaml").write_text(
        f"creation_rules:\n  - path_regex: .*\n    age: {recipients}\n"
    )


@pytest.mark.parametrize("kill_at", [0, 1, 2, 3])
def test_killed_between_files_leaves_valid_files_and_a_rerun_finishes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kill_at: int
) -> None:
    a, b = make_age_key(tmp_path / "a"), make_age_key(tmp_path / "b")
    root = tmp_path / "repo"
    root.mkdir()
    monkeypatch.chdir(root)
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(a.key_file))
    _rule(root, a, b)
    for rel in FILES:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        envfile.update_values(root / rel, {"APP__TOKEN": "t", "APP__N": "1"}, create=True)
    keys = {rel: variables.decrypt((root / rel).read_text()).data_key for rel in FILES}
    _rule(root, a)  # b leaves: every file gets a new data key
    child = subprocess.run(
        [sys.executable, "-c", _CHILD, str(kill_at)],
        cwd=root,
        env={**os.environ, "SOPS_AGE_KEY_FILE": str(a.key_file)},
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr
    updated = 0
    for rel in FILES:
        opened = variables.decrypt((root / rel).read_text())  # whole and valid
        assert {k.upper(): v for k, v in opened.values.items()} == {
            "APP__TOKEN": "t",
            "APP__N": "1",
        }
        if opened.data_key != keys[rel]:
            updated += 1
            assert b.recipient not in opened.recipients
    assert updated == kill_at  # the files written before the kill, no more
    assert not list(root.rglob(".*.tmp"))  # no stray temp file
    from secretsafe.sops import updatekeys

    updatekeys.apply(updatekeys.plan())
    for rel in FILES:
        opened = variables.decrypt((root / rel).read_text())
        assert opened.recipients == (a.recipient,)
        assert opened.data_key != keys[rel]
