"""Benchmark: secretsafe.dotenv against python-dotenv (the parser pydantic-settings uses).

Parses the same 300-line real-world-shaped .env text (comments, blank lines, export, quoted
and multi-line values, inline comments) with ``secretsafe.dotenv.loads`` and
``dotenv.dotenv_values(stream=...)``, and serializes it back with ``secretsafe.dotenv.dumps``.
Prints the median per call and the ratio against python-dotenv measured in the same run.
Target: parsing 300 lines well under 1 ms.

Run: ``.venv/bin/python benchmarks/bench_dotenv.py [--runs N]``.
"""

from __future__ import annotations

import argparse
import io
import statistics
import time
from collections.abc import Callable

from secretsafe import dotenv as ours


def sample(lines: int = 300) -> str:
    out = []
    for i in range(lines):
        kind = i % 8
        if kind == 0:
            out.append(f"# section {i}: settings for the worker")
        elif kind == 1:
            out.append(f"SERVICE_{i}__HOST=db-{i}.internal")
        elif kind == 2:
            out.append(f'SERVICE_{i}__PASSWORD="p@ss \\"{i}\\" \\$x" # rotated')
        elif kind == 3:
            out.append(f"export SERVICE_{i}__TOKEN='tok-{i}#keep'")
        elif kind == 4:
            out.append("")
        elif kind == 5:
            out.append(f"SERVICE_{i}__NAME = value with spaces # trailing comment")
        elif kind == 6:
            out.append(f'SERVICE_{i}__CERT="-----BEGIN-----\nline {i}\n-----END-----"')
        else:
            out.append(f"SERVICE_{i}__URL=postgres://u:p@db:5432/app{i}")
    return "\n".join(out) + "\n"


def median_ms(fn: Callable[[], object], runs: int) -> float:
    fn()
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=500)
    args = ap.parse_args()
    text = sample()
    values = ours.loads(text)

    from dotenv import dotenv_values

    peer_values = dotenv_values(stream=io.StringIO(text), interpolate=False)
    same = sum(1 for k, v in values.items() if peer_values.get(k) == v)

    rows = [
        ("secretsafe.dotenv.loads", median_ms(lambda: ours.loads(text), args.runs)),
        (
            "python-dotenv dotenv_values",
            median_ms(
                lambda: dotenv_values(stream=io.StringIO(text), interpolate=False), args.runs
            ),
        ),
        ("secretsafe.dotenv.dumps", median_ms(lambda: ours.dumps(values), args.runs)),
    ]
    peer = rows[1][1]
    print(f"300-line .env, {len(values)} variables, median of {args.runs} runs")
    print(f"{'case':32} {'median':>10} {'vs python-dotenv':>18}")
    for name, ms in rows:
        print(f"{name:32} {ms:8.3f} ms {peer / ms:16.1f}x")
    print(f"values identical to python-dotenv: {same}/{len(values)}")


if __name__ == "__main__":
    main()
