"""docs/vault-rotation.md: its two command blocks (the file route, `generate --into` + `push`,
and the single-key route, `vault put`) run as written against a real OpenBao dev server
(expected exit codes from `# exit N` marks), each rotates exactly what it names with one new
KV version per write, never prints a value, and an app started with `run --vault` afterwards
sees the new value while the old one stays in the version history."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

from secretsafe.vault import sync
from secretsafe.vault.client import connect
from secretsafe.vault.dev import DevServer
from tests.conftest import AgeKey

DOC = Path(__file__).resolve().parents[2] / "docs" / "vault-rotation.md"
OLD = {"API_KEY": "old-api-key-Zx81pQ", "DB_PASSWORD": "db-pw-unchanged-Lk2"}


def _blocks() -> list[str]:
    blocks = re.findall(r"```sh\n(.*?)```", DOC.read_text(encoding="utf-8"), re.DOTALL)
    assert len(blocks) == 2, "docs/vault-rotation.md: want the file route and the put route"
    return blocks


def documented_commands() -> list[tuple[list[str], int]]:
    """(argv after `secretsafe`, expected exit) for each command line of the first sh block."""
    out = []
    for line in _blocks()[0].splitlines():
        if not line.startswith("secretsafe "):
            continue
        command, _, comment = line.partition("#")
        expected = re.search(r"exit (\d+)", comment)
        out.append((shlex.split(command)[1:], int(expected.group(1)) if expected else 0))
    return out


def test_documented_rotation_runs_and_apps_see_the_new_value(
    fresh_bao_server: DevServer, tmp_path: Path, age_key: AgeKey
) -> None:
    commands = documented_commands()
    assert [c[0][:2] for c in commands] == [
        ["vault", "pull"],
        ["generate", "--into"],
        ["vault", "diff"],
        ["vault", "push"],
        ["vault", "diff"],
    ]
    keep = ("PATH", "HOME", "SOPS_AGE_KEY_FILE", "LANG")
    env = {k: os.environ[k] for k in keep if k in os.environ}
    env.update(VAULT_ADDR=fresh_bao_server.addr, VAULT_TOKEN=fresh_bao_server.token)
    with connect(addr=fresh_bao_server.addr, token=fresh_bao_server.token) as admin:
        sync.push(admin, OLD, path="apps/api/prod")
        for args, expected in commands:
            proc = subprocess.run(
                [sys.executable, "-m", "secretsafe", *args],
                env=env,
                cwd=tmp_path,
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            assert proc.returncode == expected, (args, proc.stderr)
            for value in OLD.values():
                assert value not in proc.stdout + proc.stderr
        after = dict(sync.pull(admin, path="apps/api/prod").reveal())
        # One new KV version (the push before the rotation wrote version 1); the old value
        # stays in the history.
        assert dict(sync.pull(admin, path="apps/api/prod", version=1).reveal()) == OLD
        latest = sync.pull(admin, path="apps/api/prod", version=2)
        assert dict(latest.reveal()) == after
    assert after["DB_PASSWORD"] == OLD["DB_PASSWORD"]
    assert after["API_KEY"] != OLD["API_KEY"]
    assert len(after["API_KEY"]) >= 32
    # An app started now reads the new value at its start.
    show = [sys.executable, "-c", "import json, os; print(json.dumps(dict(os.environ)))"]
    proc = subprocess.run(
        [sys.executable, "-m", "secretsafe", "run", "--vault", "apps/api/prod", "--", *show],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["API_KEY"] == after["API_KEY"]


def test_documented_put_route_runs(
    fresh_bao_server: DevServer, tmp_path: Path, age_key: AgeKey
) -> None:
    """The `vault put` block, each line run by sh as written (pipes included): API_KEY gets a
    new random value, DB_PASSWORD the given one, the other key is kept, one KV version per
    write, "up to date" for the repeated line, and no value in any output."""
    lines = [ln for ln in _blocks()[1].splitlines() if ln and not ln.startswith("#")]
    assert len(lines) == 3
    assert all("| secretsafe vault put apps/api/prod " in ln for ln in lines)
    new_password = "given-db-pw-Qm71xV"
    env = {k: os.environ[k] for k in ("HOME", "LANG") if k in os.environ}
    env.update(
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        VAULT_ADDR=fresh_bao_server.addr,
        VAULT_TOKEN=fresh_bao_server.token,
        NEW_DB_PASSWORD=new_password,
    )
    old = {**OLD, "OTHER": "kept-value-Hs4"}
    with connect(addr=fresh_bao_server.addr, token=fresh_bao_server.token) as admin:
        sync.push(admin, old, path="apps/api/prod")
        outputs = []
        for line in lines:
            proc = subprocess.run(
                ["sh", "-c", line],
                env=env,
                cwd=tmp_path,
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            assert proc.returncode == 0, (line, proc.stderr)
            outputs.append(proc.stdout + proc.stderr)
        after = dict(sync.pull(admin, path="apps/api/prod").reveal())
        assert dict(sync.pull(admin, path="apps/api/prod", version=1).reveal()) == old
        # Two writes (the third line found the value in place): versions 2 and 3.
        assert json.loads(outputs[2])["outcome"] == "up to date"
        assert json.loads(outputs[2])["version"] == 3
    assert after["OTHER"] == old["OTHER"]
    assert after["DB_PASSWORD"] == new_password
    assert after["API_KEY"] != OLD["API_KEY"]
    assert len(after["API_KEY"]) >= 32
    for text in outputs:
        assert all(v not in text for v in (*old.values(), *after.values()))
