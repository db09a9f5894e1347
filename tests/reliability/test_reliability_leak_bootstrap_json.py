"""Leak suite, ``vault bootstrap`` / ``vault unseal`` and their ``--format json`` reports, on a
real OpenBao raft node: fresh bootstrap, dry run, re-runs, drift (a rotated value), --force,
policies, unseal after a restart and a failing unseal. The unseal keys, the root token, the
AppRole secret id and the app's values (the canary, before and after rotation) never reach
stdout, stderr, logs, an escaping exception, or any file (the encrypted ones included: they
hold ciphertext only)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from reliability_support import (
    CANARY,
    CliResult,
    Tally,
    exception_texts,
    files_containing,
    private_tmpdir,
    run_cli,
)

from secretsafe.sops import decrypt_file, encrypt_values
from secretsafe.testing.raft import RaftCluster, start_cluster

pytestmark = [pytest.mark.reliability, pytest.mark.vault]

VALUES = {"DATABASE__PASSWORD": CANARY, "JWT_SECRET": CANARY + "-jwt", "DATABASE__HOST": "db"}
ROTATED = CANARY + "-rotated"
# Keys a JSON report must never carry (whatever their value).
FORBIDDEN_KEYS = {"token", "root_token", "secret_id", "unseal_key", "keys", "value", "values"}


@pytest.fixture
def raft1(tmp_path: Path) -> Iterator[RaftCluster]:
    with start_cluster(1, base=tmp_path / "raft") as cluster:
        yield cluster


def _config(work: Path, addr: str, recipient: str) -> Path:
    config = work / "bootstrap.toml"
    config.write_text(
        f"""\
[server]
nodes = ["{addr}"]

[init]
shares = 3
threshold = 2
keys_file = "vault-keys.enc.env"
recipients = ["{recipient}"]

[mounts.secret]
description = "application secrets"

[apps.api]
path = "apps/api/prod"
env_file = "api.env.enc"
""",
        encoding="utf-8",
    )
    return config


def _keys(doc: Any) -> Iterator[str]:
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield str(k)
            yield from _keys(v)
    elif isinstance(doc, list):
        for v in doc:
            yield from _keys(v)


def _json_problem(result: CliResult) -> str | None:
    """Why the stdout of a ``--format json`` run is not one clean report, or None."""
    try:
        doc = json.loads(result.out)
    except ValueError:
        return "stdout is not one JSON document"
    bad = FORBIDDEN_KEYS & {k.lower() for k in _keys(doc)}
    return f"report has key(s) {sorted(bad)}" if bad else None


def test_bootstrap_and_unseal_reports_hold_no_secret(
    raft1: RaftCluster,
    tmp_path: Path,
    age_key: Any,
    tally: Tally,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("VAULT_TOKEN", "BAO_TOKEN", "VAULT_ADDR", "BAO_ADDR"):
        monkeypatch.delenv(name, raising=False)
    private_tmpdir(tmp_path / "tmpdir", monkeypatch)
    work = tmp_path / "ops"
    work.mkdir()
    env_file = work / "api.env.enc"
    encrypt_values(VALUES, env_file, recipients=[age_key.recipient])
    config = str(_config(work, raft1.addrs[0], age_key.recipient))
    keys_file, creds_file = work / "vault-keys.enc.env", work / "api-approle.enc.env"

    runs: list[tuple[str, CliResult]] = []

    def run(case: str, *args: str, want: int = 0, as_json: bool = True) -> CliResult:
        fmt = ("--format", "json") if as_json else ()
        result = run_cli(["vault", *args, *fmt])
        runs.append((case, result))
        tally.check(f"{case}: exit", None if result.code == want else f"exit {result.code}")
        if as_json:
            tally.check(f"{case}: json", _json_problem(result))
        return result

    run("dry run, fresh", "bootstrap", "--config", config, "--dry-run")
    first = run("bootstrap, fresh", "bootstrap", "--config", config)
    report = json.loads(first.out) if first.code == 0 else {}
    tally.check(
        "report names nodes, role, path, files",
        None
        if report.get("nodes") == raft1.addrs
        and report.get("apps", {}).get("api", {}).get("path") == "apps/api/prod"
        and report.get("files", {}).get("keys_file") == str(keys_file)
        else "report is missing the nodes, the app's role/path or the files",
    )
    run("re-run, text", "bootstrap", "--config", config, as_json=False)
    run("re-run, json", "bootstrap", "--config", config)
    run("policies", "bootstrap", "--config", config, "--print-policies")
    encrypt_values({**VALUES, "JWT_SECRET": ROTATED}, env_file, recipients=[age_key.recipient])
    run("drift, json", "bootstrap", "--config", config, want=4)
    run("drift, text", "bootstrap", "--config", config, want=4, as_json=False)
    run("force", "bootstrap", "--config", config, "--force")
    run("unseal, already unsealed", "unseal", "--config", config)
    for node in raft1:
        node.kill()
        node.start()
    run("unseal after restart", "unseal", "--config", config)
    run("unseal after restart, text", "unseal", "--config", config, as_json=False)
    # A failing run: its JSON report carries the error (secret-free) and the exit code.
    keys = decrypt_file(keys_file)
    few = work / "few.enc.env"
    encrypt_values({"UNSEAL_KEY_1": keys["UNSEAL_KEY_1"]}, few, recipients=[age_key.recipient])
    for node in raft1:
        node.kill()
        node.start()
    failed = run(
        "unseal, too few keys", "unseal", "--keys-file", str(few), "--addr", raft1.addrs[0], want=36
    )
    tally.check(
        "error in the report",
        None if '"exit_code": 36' in failed.out else "the JSON report has no error",
    )

    secrets = {
        **{k: v for k, v in keys.items() if k.startswith("UNSEAL_KEY_") or k == "VAULT_ROOT_TOKEN"},
        "secret id": decrypt_file(creds_file)["VAULT_SECRET_ID"],
        "canary": CANARY,
        "rotated canary": ROTATED,
    }
    tally.check("every secret collected", None if len(secrets) == 7 else f"{len(secrets)} found")
    for case, result in runs:
        texts = {**result.channels()}
        for i, exc in enumerate(result.exceptions):
            texts[f"exception {i}"] = "\n".join(exception_texts(exc))
        for what, secret in secrets.items():
            hits = [channel for channel, text in texts.items() if secret in text]
            tally.check(f"{case}: {what}", f"in {', '.join(hits)}" if hits else None)
    # Every file of the test: the encrypted ones hold ciphertext only, the raft node's data
    # dir, config and log, TMPDIR.
    for what, secret in secrets.items():
        found = files_containing(tmp_path, secret)
        tally.check(f"files: {what}", f"in {[p.name for p in found]}" if found else None)
