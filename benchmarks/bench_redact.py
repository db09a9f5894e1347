"""The cost of ``secretsafe run --redact`` against the bare command, as ratios in one run.

1. Throughput: ``cat`` of a 100 MB log-like text file (a secret on one line in 10,000) read
   through a pipe, bare vs ``secretsafe run -f F -- cat`` (exec, no supervisor) vs
   ``secretsafe run -f F --redact -- cat`` (10 values of the file, each in the 18 forms the
   redactor looks for). Whole-process wall time, median of N runs.
2. Latency: a child prints a line every 10 ms with its CLOCK_MONOTONIC time; the reader
   timestamps each line on arrival. Bare child vs the same child through ``run --redact``
   (pipes) and through ``run --redact`` on a pty; the added latency per line is the
   difference of the medians.

Run: ``.venv/bin/python benchmarks/bench_redact.py`` (``--runs N``, ``--size-mb M``,
``--lines L``).
"""

from __future__ import annotations

import argparse
import os
import random
import select
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SECRETSAFE = str(Path(sys.executable).parent / "secretsafe")

LINE_CHILD = r"""
import sys, time
n = int(sys.argv[1])
for i in range(n):
    sys.stdout.write(f"{time.monotonic_ns()} line {i} status=ok latency_ms=12\n")
    sys.stdout.flush()
    time.sleep(0.01)
"""


def make_inputs(work: Path, size_mb: int) -> tuple[Path, Path, dict[str, str]]:
    import pyrage

    from secretsafe import envfile

    ident = pyrage.x25519.Identity.generate()
    key = work / "keys.txt"
    key.write_text(f"{ident}\n")
    key.chmod(0o600)
    os.environ["SOPS_AGE_KEY_FILE"] = str(key)
    rnd = random.Random(7)
    secrets = {f"SECRET_{i}": f"s3cr3t-{rnd.getrandbits(64):016x}" for i in range(10)}
    src = work / ".env"
    src.write_text("".join(f"{k}={v}\n" for k, v in secrets.items()))
    enc = envfile.encrypt_file(src)
    src.unlink()
    words = [
        "GET",
        "POST",
        "/api/v1/items",
        "user=42",
        "status=200",
        "latency_ms=12",
        "INFO",
        "WARN",
        "request",
        "id",
    ]
    lines = []
    for i in range(10_000):
        words_line = " ".join(rnd.choice(words) for _ in range(12))
        if i == 5_000:
            words_line += " token=" + secrets["SECRET_3"]
        lines.append(words_line + "\n")
    block = "".join(lines).encode()
    data = work / "big.log"
    with data.open("wb") as f:
        written = 0
        while written < size_mb * 1_000_000:
            f.write(block)
            written += len(block)
    return enc, data, secrets


def timed(argv: list[str], runs: int) -> list[float]:
    """Wall seconds of ``argv`` with its stdout read (and dropped) through a pipe, as a
    pipeline or a log collector reads it (``cat`` to /dev/null would not even copy)."""
    times = []
    for _ in range(runs + 1):  # the first run warms the page cache
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE)
        assert proc.stdout is not None
        fd = proc.stdout.fileno()
        while os.read(fd, 1 << 20):
            pass
        proc.wait()
        times.append(time.perf_counter() - t0)
    return times[1:]


def line_latency(argv: list[str], lines: int, *, pty: bool) -> list[float]:
    """Per-line delay (ms) between the child's write and the line's arrival here."""
    if pty:
        import pty as ptymod

        master, slave = ptymod.openpty()
        proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave)
        os.close(slave)
        fd = master
    else:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE)
        assert proc.stdout is not None
        fd = proc.stdout.fileno()
    delays: list[float] = []
    buf = b""
    while True:
        ready, _, _ = select.select([fd], [], [], 30)
        if not ready:
            break
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            chunk = b""
        now = time.monotonic_ns()
        if not chunk:
            break
        buf += chunk
        *complete, buf = buf.split(b"\n")
        for line in complete:
            head = line.strip().split(b" ", 1)[0]
            if head.isdigit():
                delays.append((now - int(head)) / 1e6)
    proc.wait(timeout=60)
    if pty:
        os.close(fd)
    return delays


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--size-mb", type=int, default=100)
    parser.add_argument("--lines", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        enc, data, _ = make_inputs(work, args.size_mb)
        size = data.stat().st_size / 1e6
        cases = {
            "cat (bare)": ["cat", str(data)],
            "run -f F -- cat (exec)": [SECRETSAFE, "run", "-f", str(enc), "--", "cat", str(data)],
            "run -f F --redact -- cat": [
                *(SECRETSAFE, "run", "-f", str(enc), "--redact", "--"),
                *("cat", str(data)),
            ],
        }
        results = {name: timed(argv, args.runs) for name, argv in cases.items()}
        base = statistics.median(results["cat (bare)"])
        plain = statistics.median(results["run -f F -- cat (exec)"])
        print(f"Throughput: cat of a {size:.0f} MB file read through a pipe, {args.runs} runs")
        print("| case | median s | min | max | MB/s | vs bare cat | vs run (exec) |")
        print("| --- | --- | --- | --- | --- | --- | --- |")
        for name, times in results.items():
            med = statistics.median(times)
            print(
                f"| {name} | {med:.3f} | {min(times):.3f} | {max(times):.3f} "
                f"| {size / med:.0f} | {med / base:.1f}x | {med / plain:.1f}x |"
            )
        child = [sys.executable, "-c", LINE_CHILD, str(args.lines)]
        redacted = [SECRETSAFE, "run", "-f", str(enc), "--redact", "--", *child]
        lat = {
            "bare child (pipe)": line_latency(child, args.lines, pty=False),
            "run --redact (pipes)": line_latency(redacted, args.lines, pty=False),
            "bare child (pty)": line_latency(child, args.lines, pty=True),
            "run --redact (pty)": line_latency(redacted, args.lines, pty=True),
        }
        print(f"\nLatency: {args.lines} lines, one every 10 ms; ms from write to arrival")
        print("| case | median ms | min | max | added vs bare (median) |")
        print("| --- | --- | --- | --- | --- |")
        for name, values in lat.items():
            bare = lat["bare child (pty)" if "pty" in name else "bare child (pipe)"]
            added = statistics.median(values) - statistics.median(bare)
            print(
                f"| {name} | {statistics.median(values):.3f} | {min(values):.3f} "
                f"| {max(values):.3f} | {added:+.3f} |"
            )


if __name__ == "__main__":
    main()
