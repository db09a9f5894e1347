"""Benchmark: secretsafe vault push/pull against the `bao` CLI people use today.

Against a local OpenBao dev server (started here, HOME in a temp dir, stopped at the end):

1. push of a 50-variable SOPS file: ``secretsafe vault push F --path P`` (one process: decrypt
   in memory, read, one CAS write, metadata) vs ``bao kv put P K1=V1 ... K50=V50`` (one call,
   values in argv) vs 50 x ``bao kv put P/Ki value=Vi`` (one call per variable);
2. pull of the same: ``secretsafe vault pull --path P -o F.enc`` (read + encrypt to SOPS) vs
   ``bao kv get -format=json P`` vs 50 x ``bao kv get``;
3. syncing 200 env files: ``secretsafe vault push --mapping M`` (one process, one connection,
   8 concurrent requests) vs a loop of 200 ``bao kv put`` (one per file, all its values).
   Target: at least 30x faster.

Also the in-process API (``sync.push_file`` / ``sync.pull``) for the 50-variable case.
Prints a table of medians over N runs and the ratio against the peer measured in the same run.

Run: ``.venv/bin/python benchmarks/bench_vault.py [--runs N]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pyrage

from secretsafe.sops import encrypt_values
from secretsafe.vault import sync
from secretsafe.vault.client import connect
from secretsafe.vault.dev import bao_binary, start_dev_server

VENV_BIN = Path(sys.executable).parent


def timed(fn: Callable[[], object], runs: int) -> float:
    samples = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t)
    return statistics.median(samples)


def sh(argv: list[str], env: dict[str, str]) -> None:
    subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--files", type=int, default=200)
    args = parser.parse_args()
    runs = args.runs

    with tempfile.TemporaryDirectory(prefix="bench-vault-") as tmp, start_dev_server() as server:
        work = Path(tmp)
        home = work / "home"
        home.mkdir()
        ident = pyrage.x25519.Identity.generate()
        key_file = work / "keys.txt"
        key_file.write_text(f"{ident}\n", encoding="utf-8")
        key_file.chmod(0o600)
        recipient = str(ident.to_public())
        env = {
            "PATH": f"{VENV_BIN}:{os.environ.get('PATH', '/usr/bin:/bin')}",
            "HOME": str(home),
            "SOPS_AGE_KEY_FILE": str(key_file),
            **server.env(),
        }
        os.environ.update({"SOPS_AGE_KEY_FILE": str(key_file), **server.env()})
        bao = str(bao_binary())
        ss = str(VENV_BIN / "secretsafe")

        values = {f"VAR_{i:02d}": f"value-{i}-{'x' * 24}" for i in range(50)}
        f50 = work / "app.env.enc"
        encrypt_values(values, f50, recipients=[recipient])

        rows: list[tuple[str, float, str, float]] = []

        # 1. push 50 variables
        n = [0]

        def ss_push() -> None:
            n[0] += 1
            sh([ss, "vault", "push", str(f50), "--path", f"bench/ss{n[0]}"], env)

        def bao_put_one() -> None:
            n[0] += 1
            sh(
                [
                    bao,
                    "kv",
                    "put",
                    "-mount=secret",
                    f"bench/one{n[0]}",
                    *(f"{k}={v}" for k, v in values.items()),
                ],
                env,
            )

        def bao_put_each() -> None:
            n[0] += 1
            for k, v in values.items():
                sh([bao, "kv", "put", "-mount=secret", f"bench/each{n[0]}/{k}", f"value={v}"], env)

        t_ss = timed(ss_push, runs)
        t_one = timed(bao_put_one, runs)
        t_each = timed(bao_put_each, max(1, runs // 2))
        rows.append(("push 50 vars: secretsafe vault push", t_ss, "bao kv put (1 call)", t_one))
        rows.append(("push 50 vars: secretsafe vault push", t_ss, "bao kv put x50", t_each))

        client = connect()

        def api_push() -> None:
            n[0] += 1
            sync.push_file(client, f50, path=f"bench/api{n[0]}")

        rows.append(
            (
                "push 50 vars: sync.push_file (API)",
                timed(api_push, runs),
                "bao kv put (1 call)",
                t_one,
            )
        )

        # 2. pull 50 variables
        sync.push_file(client, f50, path="bench/pull")
        for k, v in values.items():
            sh([bao, "kv", "put", "-mount=secret", f"bench/pulleach/{k}", f"value={v}"], env)
        out = work / "pulled.env.enc"

        def ss_pull() -> None:
            sh(
                [
                    ss,
                    "vault",
                    "pull",
                    "--path",
                    "bench/pull",
                    "-o",
                    str(out),
                    "--recipient",
                    recipient,
                ],
                env,
            )

        def bao_get_one() -> None:
            sh([bao, "kv", "get", "-mount=secret", "-format=json", "bench/pull"], env)

        def bao_get_each() -> None:
            for k in values:
                sh([bao, "kv", "get", "-mount=secret", "-format=json", f"bench/pulleach/{k}"], env)

        t_ss = timed(ss_pull, runs)
        t_one = timed(bao_get_one, runs)
        t_each = timed(bao_get_each, max(1, runs // 2))
        rows.append(("pull 50 vars: secretsafe vault pull", t_ss, "bao kv get (1 call)", t_one))
        rows.append(("pull 50 vars: secretsafe vault pull", t_ss, "bao kv get x50", t_each))

        def api_pull() -> None:
            sync.pull(client, path="bench/pull")

        rows.append(
            ("pull 50 vars: sync.pull (API)", timed(api_pull, runs), "bao kv get (1 call)", t_one)
        )

        # 3. sync many files
        apps = work / "apps"
        apps.mkdir()
        lines = ["[files]"]
        file_values = []
        for i in range(args.files):
            vals = {f"APP_{j}": f"app{i}-secret-{j}-{'y' * 16}" for j in range(10)}
            file_values.append(vals)
            encrypt_values(vals, apps / f"app{i:03d}.env.enc", recipients=[recipient])
            lines.append(f'"apps/app{i:03d}.env.enc" = "many/ss/app{i:03d}"')
        # One mapping per run so that every timed run writes fresh paths.
        mappings = []
        for r in range(runs + 1):
            m = work / f"vault-map-{r}.toml"
            m.write_text("\n".join(lines).replace("many/ss/", f"many/ss{r}/") + "\n", "utf-8")
            mappings.append(m)
        it = iter(mappings)

        def ss_many() -> None:
            sh([ss, "vault", "push", "--mapping", str(next(it))], env)

        t_first = timed(ss_many, runs)

        def ss_again() -> None:
            # Unchanged files: every path is still read and compared, nothing written.
            sh([ss, "vault", "push", "--mapping", str(mappings[0])], env)

        t_again = timed(ss_again, max(1, runs // 2))

        def bao_loop() -> None:
            n[0] += 1
            for i, vals in enumerate(file_values):
                sh(
                    [
                        bao,
                        "kv",
                        "put",
                        "-mount=secret",
                        f"many/bao{n[0]}/app{i:03d}",
                        *(f"{k}={v}" for k, v in vals.items()),
                    ],
                    env,
                )

        t_bao = timed(bao_loop, 1)
        rows.append(
            (
                f"sync {args.files} files: push --mapping (writes)",
                t_first,
                f"bao kv put loop x{args.files}",
                t_bao,
            )
        )
        rows.append(
            (
                f"sync {args.files} files: push --mapping (no change)",
                t_again,
                f"bao kv put loop x{args.files}",
                t_bao,
            )
        )
        client.close()

    print(f"\nmedian wall time, {runs} runs (bao x50 / loops: fewer runs)\n")
    print(f"{'secretsafe':<48} {'time':>9}   {'peer':<26} {'time':>9}  {'speed-up':>8}")
    for name, t, peer, tp in rows:
        print(f"{name:<48} {t * 1000:>7.1f}ms   {peer:<26} {tp * 1000:>7.1f}ms  {tp / t:>7.1f}x")


if __name__ == "__main__":
    main()
