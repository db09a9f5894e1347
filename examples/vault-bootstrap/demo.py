"""Bootstrap a local 3-node OpenBao raft cluster with `secretsafe vault bootstrap`, end to end.

    python examples/vault-bootstrap/demo.py [WORKDIR]

Uses your age identity from SOPS_AGE_KEY_FILE, or makes a throwaway one in WORKDIR. Starts
three `bao server` processes on free 127.0.0.1 ports (stopped at the end), then: plan (dry
run), bootstrap, re-run (no-op), restart every node and unseal from the encrypted keys file
(with a JSON report), and log in as the app with its AppRole. No value, key or token is
printed -- only names.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def secretsafe(*args: str, expect: int = 0) -> str:
    # argv holds paths and flags only; secrets stay in encrypted files.
    proc = subprocess.run(
        [sys.executable, "-m", "secretsafe", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=180,
    )
    print(f"$ secretsafe {' '.join(args)}")
    print(proc.stdout + proc.stderr, end="")
    if proc.returncode != expect:
        raise SystemExit(f"demo: exit {proc.returncode}, expected {expect}")
    return proc.stdout


def main() -> None:
    import pyrage

    from secretsafe.sops import decrypt_file, encrypt_values
    from secretsafe.testing.raft import start_cluster
    from secretsafe.vault import kv
    from secretsafe.vault.client import connect

    work = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="bootstrap-"))
    work.mkdir(parents=True, exist_ok=True)
    key_file = os.environ.get("SOPS_AGE_KEY_FILE")
    if key_file:
        text = Path(key_file).read_text()
        ident = pyrage.x25519.Identity.from_str(
            next(line for line in text.splitlines() if line.startswith("AGE-SECRET-KEY-"))
        )
    else:
        ident = pyrage.x25519.Identity.generate()
        key_path = work / "keys.txt"
        key_path.write_text(f"{ident}\n")
        key_path.chmod(0o600)
        os.environ["SOPS_AGE_KEY_FILE"] = str(key_path)
    recipient = str(ident.to_public())

    # Demo values (in a real setup: `secretsafe encrypt .env`).
    encrypt_values(
        {"DATABASE_URL": "postgres://api:demo-pw@db/api", "JWT_SECRET": "demo-jwt-" + "x" * 32},
        work / "api.env.enc",
        recipients=[recipient],
    )
    encrypt_values(
        {"DATABASE__HOST": "db", "DATABASE__PASSWORD": "demo-worker-pw"},
        work / "worker.env.enc",
        recipients=[recipient],
    )

    with start_cluster(3, base=work / "raft") as cluster:
        config = work / "bootstrap.toml"
        template = (HERE / "bootstrap.toml").read_text()
        nodes = ", ".join(f'"{a}"' for a in cluster.addrs)
        config.write_text(
            template.replace("AGE_RECIPIENT", recipient).replace(
                'nodes = ["http://127.0.0.1:8200", "http://127.0.0.1:8210", '
                '"http://127.0.0.1:8220"]',
                f"nodes = [{nodes}]",
            )
        )

        secretsafe("vault", "bootstrap", "--config", str(config), "--print-policies")
        secretsafe("vault", "bootstrap", "--config", str(config), "--dry-run")
        secretsafe("vault", "bootstrap", "--config", str(config))
        out = secretsafe("vault", "bootstrap", "--config", str(config))
        assert "already up to date" in out

        print("# restarting every node: they come back sealed")
        for node in cluster:
            node.kill()
            node.start()
        # --format json: a machine report (nodes, statuses, the active node; never a key).
        report = json.loads(
            secretsafe("vault", "unseal", "--config", str(config), "--format", "json")
        )
        unsealed = sum(1 for n in report["nodes"] if n["status"] == "done")
        print(f"# unsealed {unsealed} node(s); active: {report['active']}")

        # The app: its environment is the decrypted credentials file, nothing else. Its
        # VAULT_ADDR lists every node, so it starts while any one node is down.
        creds = decrypt_file(work / "api-approle.enc.env")
        print(f"app api credentials list {len(creds['VAULT_ADDR'].split(','))} nodes")
        with connect(environ=dict(creds)) as app:
            secret = kv.read_secret(app, "apps/api/prod")
            print(f"app api read {sorted(secret.data)} with its AppRole ({app.token_source})")
        print("ok: bootstrapped, idempotent, unsealed after restart, app reads its secrets")


if __name__ == "__main__":
    main()
