"""Benchmark: start-up time of ``secretsafe run --vault P -- true`` next to ``secretsafe run -f F
-- true`` (the same 50 variables in Vault and in a SOPS file).

Against a local OpenBao dev server on 127.0.0.1 (started here, HOME in a temp dir, stopped at
the end). Each round runs every command once, in turn (A B C A B C ...), so a drift of the
machine's speed affects them alike; the ratio to ``run -f`` is taken round by round and its
median printed with the min and max. Cases:

- ``run -f F -- true``: the peer (decrypt in process, exec);
- ``run --vault P -- true``: token from ``VAULT_TOKEN``, one KV read;
- ``run --vault P -- true`` with ``VAULT_ADDR`` listing a dead node first (connection refused
  on 127.0.0.1) then the live one: the client looks for the active node (``sys/health`` of
  each node in turn), then the read;
- ``run -f F --vault P -- true``: both sources.

Run: ``.venv/bin/python benchmarks/bench_run_vault.py [--runs N]``.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyrage

from secretsafe.sops import encrypt_values
from secretsafe.vault import sync
from secretsafe.vault.client import connect
from secretsafe.vault.dev import start_dev_server


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def once(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=21)
    args = parser.parse_args()
    values = {f"VAR_{i:02d}": f"value-{i:02d}-" + "x" * 24 for i in range(50)}
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        ident = pyrage.x25519.Identity.generate()
        keys = home / "keys.txt"
        keys.write_text(f"{ident}\n")
        keys.chmod(0o600)
        enc = home / "app.env.enc"
        encrypt_values(values, enc, recipients=[str(ident.to_public())])
        server = start_dev_server()
        try:
            with connect(addr=server.addr, token=server.token) as client:
                sync.push(client, values, path="bench/app")
            env = {
                "PATH": os.environ.get("PATH", ""),
                "HOME": str(home),
                "SOPS_AGE_KEY_FILE": str(keys),
                "VAULT_ADDR": server.addr,
                "VAULT_TOKEN": server.token,
            }
            run = [sys.executable, "-m", "secretsafe", "run"]
            dead = f"http://127.0.0.1:{closed_port()}"
            cases: list[tuple[str, list[str], dict[str, str]]] = [
                ("run -f F -- true", [*run, "-f", str(enc), "--", "true"], env),
                ("run --vault P -- true", [*run, "--vault", "bench/app", "--", "true"], env),
                (
                    "run --vault P (dead node first)",
                    [*run, "--vault", "bench/app", "--", "true"],
                    {**env, "VAULT_ADDR": f"{dead},{server.addr}"},
                ),
                (
                    "run -f F --vault P -- true",
                    [*run, "-f", str(enc), "--vault", "bench/app", "--", "true"],
                    env,
                ),
            ]
            for _, argv, case_env in cases:  # warm-up: page cache, .pyc files
                once(argv, case_env)
            times: dict[str, list[float]] = {name: [] for name, _, _ in cases}
            for _ in range(args.runs):
                for name, argv, case_env in cases:
                    times[name].append(once(argv, case_env))
        finally:
            server.stop()
    peer = times["run -f F -- true"]
    print(f"{args.runs} rounds, 50 variables; ratio = case / `run -f F` in the same round")
    print("| case | median | min | max | ratio median (min-max) |")
    print("| --- | --- | --- | --- | --- |")
    for name, samples in times.items():
        ratios = [a / b for a, b in zip(samples, peer, strict=True)]
        print(
            f"| `{name}` | {statistics.median(samples) * 1000:.1f} ms "
            f"| {min(samples) * 1000:.1f} ms | {max(samples) * 1000:.1f} ms "
            f"| {statistics.median(ratios):.2f}x ({min(ratios):.2f}-{max(ratios):.2f}) |"
        )


if __name__ == "__main__":
    main()
