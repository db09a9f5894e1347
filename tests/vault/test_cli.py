"""`secretsafe vault push | pull | diff | dev` end to end: real sops files, real OpenBao, and a
canary value that must never appear in any output."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from secretsafe.cli import main
from secretsafe.sops import decrypt_file, encrypt_values
from secretsafe.vault import kv, sync
from secretsafe.vault.client import connect
from secretsafe.vault.dev import DevServer

CANARY = "Canary-7c1e-NEVER-PRINT"
VALUES = {
    "API_KEY": CANARY,
    "UNICODE": f"ü {CANARY} ✓",
    "MULTI": f"line1\n{CANARY}\nline3",
    "EQ": f"{CANARY}=x=",
    "QUOTES": f"'\"{CANARY}\"'",
    "EMPTY": "",
    "DATABASE__HOST": "db",
    "DATABASE__PASSWORD": CANARY + "-db",
}


def run(capfd: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["vault", *args])
    out, err = capfd.readouterr()
    assert CANARY not in out, out
    assert CANARY not in err, err
    return code, out, err


@pytest.fixture
def env_file(tmp_path: Path, age_key: object) -> Path:
    path = tmp_path / ".env.prod.enc"
    encrypt_values(VALUES, path, recipients=[age_key.recipient])  # type: ignore[attr-defined]
    return path


def test_push_pull_diff_round_trip(
    vault_env: DevServer,
    env_file: Path,
    tmp_path: Path,
    kv_path: str,
    capfd: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(capfd, "push", str(env_file), "--path", kv_path, "--dry-run")
    assert code == 0
    assert "+ API_KEY" in out
    assert "dry run" in out
    code, out, _ = run(capfd, "diff", str(env_file), "--path", kv_path)
    assert code == 4
    code, out, _ = run(capfd, "push", str(env_file), "--path", kv_path)
    assert code == 0, out
    assert f"{kv_path} v1" in out
    code, out, _ = run(capfd, "diff", str(env_file), "--path", kv_path)
    assert code == 0
    assert "no drift" in out
    pulled = tmp_path / "pulled.env.enc"
    code, out, _ = run(capfd, "pull", "--path", kv_path, "-o", str(pulled))
    assert code == 0
    assert pulled.stat().st_mode & 0o777 == 0o600
    assert CANARY not in pulled.read_text(encoding="utf-8")
    assert decrypt_file(pulled).reveal() == VALUES
    with connect() as client:
        meta = kv.read_secret(client, kv_path).custom_metadata
    assert meta["secretsafe_source"] == ".env.prod.enc"
    assert meta["secretsafe_fingerprint"] == sync.file_fingerprint(env_file)


def test_sections_layout_cli(
    vault_env: DevServer,
    env_file: Path,
    tmp_path: Path,
    kv_path: str,
    capfd: pytest.CaptureFixture[str],
) -> None:
    code, _, _ = run(capfd, "push", str(env_file), "--path", kv_path, "--layout", "sections")
    assert code == 0
    pulled = tmp_path / "s.env.enc"
    assert run(capfd, "pull", "--path", kv_path, "-o", str(pulled))[0] == 0
    assert decrypt_file(pulled).reveal() == VALUES
    assert run(capfd, "diff", str(env_file), "--path", kv_path, "--layout", "sections")[0] == 0


def test_drift_is_named_not_shown(
    vault_env: DevServer, env_file: Path, kv_path: str, capfd: pytest.CaptureFixture[str]
) -> None:
    assert run(capfd, "push", str(env_file), "--path", kv_path)[0] == 0
    with connect() as client:
        sync.push(client, {"API_KEY": CANARY + "-rotated", "EXTRA": CANARY}, path=kv_path)
    code, out, err = run(capfd, "diff", str(env_file), "--path", kv_path)
    assert code == 4
    assert "~ API_KEY" in out
    assert "- EXTRA (only in Vault)" in out
    assert "drift" in err
    code, out, _ = run(capfd, "diff", str(env_file), "--path", kv_path, "--format", "json")
    assert code == 4
    assert '"API_KEY"' in out


def test_pull_older_version(
    vault_env: DevServer,
    tmp_path: Path,
    kv_path: str,
    capfd: pytest.CaptureFixture[str],
    age_key: object,
) -> None:
    with connect() as client:
        sync.push(client, {"A": "v1-" + CANARY}, path=kv_path)
        sync.push(client, {"A": "v2-" + CANARY}, path=kv_path)
    out_file = tmp_path / "old.env.enc"
    code, _, _ = run(capfd, "pull", "--path", kv_path, "--version", "1", "-o", str(out_file))
    assert code == 0
    assert decrypt_file(out_file).reveal() == {"A": "v1-" + CANARY}


def test_failures_are_one_line_with_exit_codes(
    *,
    vault_env: DevServer,
    bao_server: DevServer,
    env_file: Path,
    tmp_path: Path,
    kv_path: str,
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    code, _, err = run(capfd, "pull", "--path", kv_path, "-o", str(tmp_path / "x.env.enc"))
    assert code == 33
    assert err.count("\n") == 1
    assert not (tmp_path / "x.env.enc").exists()
    code, _, err = run(capfd, "push", str(env_file), "--path", kv_path, "--mount", "nope")
    assert code == 33
    assert "no secrets engine mounted" in err
    code, _, err = run(capfd, "push", str(tmp_path / "missing.enc"), "--path", kv_path)
    assert code == 10
    code, _, err = run(capfd, "push", "--path", kv_path)
    assert code == 2
    # read-only token: push fails with 32 and changes nothing
    assert run(capfd, "push", str(env_file), "--path", kv_path)[0] == 0
    with connect() as client:
        client.hvac.sys.create_or_update_policy(
            "cli-ro", 'path "secret/data/*" { capabilities = ["read"] }'
        )
        token = client.hvac.auth.token.create(policies=["cli-ro"], ttl="5m")["auth"]["client_token"]
        sync.push(client, {"API_KEY": "other"}, path=kv_path)
    monkeypatch.setenv("VAULT_TOKEN", token)
    code, _, err = run(capfd, "push", str(env_file), "--path", kv_path)
    assert code == 32
    assert f"secret/{kv_path}" in err
    monkeypatch.setenv("VAULT_TOKEN", bao_server.token)
    with connect() as client:
        assert kv.read_secret(client, kv_path).version == 2
    # unreachable
    monkeypatch.setenv("VAULT_ADDR", "http://127.0.0.1:9")
    code, _, err = run(capfd, "diff", str(env_file), "--path", kv_path, "--retries", "0")
    assert code == 30


def test_mapping_push_pull_diff(
    vault_env: DevServer,
    tmp_path: Path,
    age_key: object,
    capfd: pytest.CaptureFixture[str],
    kv_path: str,
) -> None:
    apps = tmp_path / "apps"
    apps.mkdir()
    lines = ["[files]"]
    for i in range(5):
        encrypt_values(
            {"TOKEN": f"{CANARY}-{i}", "N": str(i)},
            apps / f"app{i}.env.enc",
            recipients=[age_key.recipient],  # type: ignore[attr-defined]
        )
        lines.append(f'"apps/app{i}.env.enc" = "{kv_path}/app{i}"')
    mapping = tmp_path / "vault-map.toml"
    mapping.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert run(capfd, "diff", "--mapping", str(mapping))[0] == 4
    code, out, _ = run(capfd, "push", "--mapping", str(mapping))
    assert code == 0
    assert out.count("pushed to secret") == 5
    assert run(capfd, "diff", "--mapping", str(mapping))[0] == 0
    for f in apps.iterdir():
        f.unlink()
    code, out, _ = run(capfd, "pull", "--mapping", str(mapping), "--recipient", age_key.recipient)  # type: ignore[attr-defined]
    assert code == 0
    assert decrypt_file(apps / "app3.env.enc").reveal() == {"TOKEN": f"{CANARY}-3", "N": "3"}


def _ctrl_c_reaches_python() -> None:
    # A job started in the background by a non-interactive shell (as CI may run the suite)
    # inherits SIGINT ignored, and Python then leaves it ignored: give the child the default.
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_dev_server_command_prints_exports_and_stops(isolated_env: Path, sig: int) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "secretsafe", "vault", "dev"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "HOME": str(isolated_env)},
        preexec_fn=_ctrl_c_reaches_python,  # noqa: PLW1509 - sets one signal disposition
    )
    try:
        assert proc.stdout is not None
        addr_line = proc.stdout.readline().strip()
        token_line = proc.stdout.readline().strip()
        assert addr_line.startswith("export VAULT_ADDR=http://127.0.0.1:")
        assert token_line.startswith("export VAULT_TOKEN=")
        addr = addr_line.split("=", 1)[1]
        with urllib.request.urlopen(f"{addr}/v1/sys/health", timeout=5) as resp:  # noqa: S310
            assert resp.status == 200
        assert not (isolated_env / ".vault-token").exists()
        proc.send_signal(sig)
        # The command gives bao 5 s to exit on SIGTERM, then kills it and waits 5 s more: a
        # bound of 30 s proves it stops without racing a loaded machine's scheduler.
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    with pytest.raises(OSError):
        urllib.request.urlopen(f"{addr}/v1/sys/health", timeout=2)  # noqa: S310


def test_dev_server_dies_with_a_killed_command(isolated_env: Path) -> None:
    """kill -9 of `secretsafe vault dev` used to leave bao running as an orphan, listening
    with a root token nobody would stop; the kernel now stops it with its parent."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "secretsafe", "vault", "dev"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "HOME": str(isolated_env)},
    )
    try:
        assert proc.stdout is not None
        addr = proc.stdout.readline().strip().split("=", 1)[1]
        with urllib.request.urlopen(f"{addr}/v1/sys/health", timeout=5) as resp:  # noqa: S310
            assert resp.status == 200
        proc.kill()
        proc.wait(timeout=10)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"{addr}/v1/sys/health", timeout=1).close()  # noqa: S310
            except OSError:
                break
            time.sleep(0.1)
        else:
            pytest.fail("the dev server outlived the killed command")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
