"""Run the vault-sync README flow end to end (throwaway server, HOME and keys)."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pyrage

from secretsafe.sops import decrypt_file, encrypt_values
from secretsafe.vault import VaultSource
from secretsafe.vault.dev import start_dev_server

VALUES = {
    "DATABASE__HOST": "db.internal",
    "DATABASE__PASSWORD": 's3cret=with "quotes" and ünïcode',
    "JWT_SECRET": "line one\nline two",
    "EMPTY": "",
}


def secretsafe(
    *args: str, env: dict[str, str], check: bool = True
) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "secretsafe", "vault", *args]
    print("$ secretsafe vault", " ".join(args))
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    print(proc.stdout + proc.stderr, end="")
    if check and proc.returncode != 0:
        raise SystemExit(f"failed with exit code {proc.returncode}")
    return proc


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="vault-sync-") as tmp, start_dev_server() as server:
        work = Path(tmp)
        ident = pyrage.x25519.Identity.generate()
        key_file = work / "keys.txt"
        key_file.write_text(f"{ident}\n", encoding="utf-8")
        key_file.chmod(0o600)
        env = {**os.environ, "HOME": str(work), "SOPS_AGE_KEY_FILE": str(key_file)}
        env |= {"VAULT_ADDR": server.addr, "VAULT_TOKEN": server.token}
        os.environ.update({"SOPS_AGE_KEY_FILE": str(key_file), **server.env()})

        enc = work / ".env.prod.enc"
        encrypt_values(VALUES, enc, recipients=[str(ident.to_public())])
        secretsafe("push", str(enc), "--path", "apps/api/prod", "--dry-run", env=env)
        secretsafe("push", str(enc), "--path", "apps/api/prod", env=env)
        secretsafe("diff", str(enc), "--path", "apps/api/prod", env=env)
        pulled = work / ".env.pulled.enc"
        secretsafe("pull", "--path", "apps/api/prod", "-o", str(pulled), env=env)
        assert decrypt_file(pulled).reveal() == VALUES, "round trip changed a value"

        secretsafe("push", str(enc), "--path", "apps/api", "--layout", "sections", env=env)
        from_vault = VaultSource(path="apps/api").read()
        assert dict(from_vault) == VALUES

        encrypt_values(
            {**VALUES, "JWT_SECRET": "rotated"}, enc, recipients=[str(ident.to_public())]
        )
        drift = secretsafe("diff", str(enc), "--path", "apps/api/prod", env=env, check=False)
        assert drift.returncode == 4, "drift must exit 4"
        print("ok: round trip exact, drift detected by name")


if __name__ == "__main__":
    main()
