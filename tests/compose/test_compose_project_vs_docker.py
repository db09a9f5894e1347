"""Differential, project semantics: for every case (a project on disk, the files and flags
given, the environment), the services and the environment of each equal what
``docker compose config`` prints, or both refuse. ``extends: {file:}`` paths, ``include:``,
profiles and ``COMPOSE_PROFILES``, ``COMPOSE_FILE``/``COMPOSE_PROJECT_NAME``, ``env_file``
long form (``required``, ``format: raw``), ``--env-file`` in place of ``.env``, overlays in
other directories."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from composeoracle import compose_config, their_env

from secretsafe.compose import load_project, service_environment
from secretsafe.errors import SecretsafeError


@dataclass
class Case:
    files: dict[str, str]
    compose: list[str] = field(default_factory=lambda: ["compose.yml"])
    environ: dict[str, str] = field(default_factory=dict)
    profiles: list[str] | None = None
    env_files: list[str] | None = None  # --env-file
    name: str | None = "proj"  # -p


SVC = "services:\n  app:\n    image: x\n"

CASES: dict[str, Case] = {
    "extends env_file relative to sub/": Case(
        {
            "compose.yml": "services:\n  app:\n    extends: {file: sub/x.yml, service: base}\n",
            "x.env": "FROM=project\n",
            "sub/x.env": "FROM=sub\nREL=${FROM}\n",
            "sub/x.yml": "services:\n  base:\n    image: x\n    env_file: x.env\n",
        }
    ),
    "extends chain across directories": Case(
        {
            "compose.yml": "services:\n  app:\n    extends: {file: a/a.yml, service: a}\n"
            "    env_file: top.env\n",
            "top.env": "TOP=1\n",
            "a/a.yml": "services:\n  a:\n    extends: {file: b/b.yml, service: b}\n"
            "    env_file: a.env\n",
            "a/a.env": "A=a\n",
            "a/b/b.yml": "services:\n  b:\n    image: x\n    env_file: [b.env]\n",
            "a/b/b.env": "B=b\nA=from-b\n",
        }
    ),
    "include with its own .env": Case(
        {
            "compose.yml": "include:\n  - sub/compose.yml\n" + SVC + "    environment: [P=${V}]\n",
            ".env": "V=parent\nSHARED=parent\n",
            "sub/compose.yml": "services:\n  inc:\n    image: x\n    env_file: inc.env\n"
            "    environment:\n      W: ${W}\n      S: ${SHARED}\n      V: ${V}\n",
            "sub/.env": "W=sub\nSHARED=sub\n",
            "sub/inc.env": "INC=${W}\n",
        }
    ),
    "include long form": Case(
        {
            "compose.yml": "include:\n  - path: [sub/base.yml, sub/over.yml]\n"
            "    project_directory: other\n    env_file: vars.env\n" + SVC,
            "vars.env": "X=from-vars\n",
            "other/e.env": "E=other\n",
            "sub/base.yml": "services:\n  inc:\n    image: x\n    environment: [X=${X}, B=1]\n",
            "sub/over.yml": "services:\n  inc:\n    environment: [B=2]\n    env_file: e.env\n",
        }
    ),
    "include conflict": Case(
        {
            "compose.yml": "include: [sub/compose.yml]\n" + SVC,
            "sub/compose.yml": "services:\n  app:\n    image: y\n",
        }
    ),
    "profiles, none enabled": Case(
        {"compose.yml": SVC + "  dbg:\n    image: x\n    profiles: [debug]\n"}
    ),
    "profiles from COMPOSE_PROFILES in .env": Case(
        {
            "compose.yml": SVC + "  dbg:\n    image: x\n    profiles: [debug]\n"
            "  t:\n    image: x\n    profiles: [tools]\n",
            ".env": "COMPOSE_PROFILES=debug\n",
        }
    ),
    "profiles from the environment, spaces": Case(
        {
            "compose.yml": SVC + "  dbg:\n    image: x\n    profiles: [debug]\n"
            "  t:\n    image: x\n    profiles: [tools, other]\n",
        },
        environ={"COMPOSE_PROFILES": "debug, other"},
    ),
    "profiles star": Case(
        {"compose.yml": SVC + "  dbg:\n    image: x\n    profiles: [debug]\n"},
        environ={"COMPOSE_PROFILES": "*"},
    ),
    "profiles flag": Case(
        {"compose.yml": SVC + "  dbg:\n    image: x\n    profiles: [debug]\n"},
        profiles=["debug"],
    ),
    "depends on a disabled service": Case(
        {
            "compose.yml": SVC + "    depends_on: [dbg]\n  dbg:\n    image: x\n"
            "    profiles: [debug]\n"
        }
    ),
    "env_file long form": Case(
        {
            "compose.yml": SVC + "    env_file:\n      - path: raw.env\n        format: raw\n"
            "      - path: missing.env\n        required: false\n      - a.env\n",
            "raw.env": 'A=1\nB="quoted"\nC=${A}x\n# c\n  I=lead\nJ= sp\nNOEQ\n',
            "a.env": "D=${A}\n",
        }
    ),
    "env_file required missing": Case({"compose.yml": SVC + "    env_file: [missing.env]\n"}),
    "--env-file replaces .env": Case(
        {
            "compose.yml": SVC + "    environment: [A=${A}, B=${B}, C=${C}]\n",
            ".env": "A=dotenv\n",
            "one.env": "B=one\nC=${B}-c\n",
            "two.env": "C=two-${B}\n",
        },
        env_files=["one.env", "two.env"],
    ),
    "COMPOSE_FILE from .env": Case(
        {
            ".env": "COMPOSE_FILE=a.yml:b.yml\n",
            "a.yml": SVC + "    environment: [A=1, N=${COMPOSE_PROJECT_NAME}]\n",
            "b.yml": "services:\n  app:\n    environment: [A=2]\n",
        },
        compose=[],
        name=None,
    ),
    "default files with override": Case(
        {
            "compose.yaml": SVC + "    environment: [A=1]\n",
            "compose.override.yml": "services:\n  app:\n    environment: [A=over]\n",
        },
        compose=[],
        name=None,
    ),
    "COMPOSE_PROJECT_NAME from .env": Case(
        {
            "compose.yml": SVC + "    environment: [N=${COMPOSE_PROJECT_NAME}]\n",
            ".env": "COMPOSE_PROJECT_NAME=fromenv\n",
        },
        name=None,
    ),
    "project name from name:": Case(
        {
            "compose.yml": "name: my-${N:-app}\n"
            + SVC
            + "    environment: [N=${COMPOSE_PROJECT_NAME}]\n"
        },
        name=None,
    ),
    "project name from the directory": Case(
        {"compose.yml": SVC + "    environment: [N=${COMPOSE_PROJECT_NAME}]\n"}, name=None
    ),
    "overlay in another directory": Case(
        {
            "base/compose.yml": SVC + "    env_file: a.env\n",
            "base/a.env": "WHERE=base\n",
            "over/over.yml": "services:\n  app:\n    env_file: b.env\n",
            "over/b.env": "WHERE=over-dir\n",
            "base/b.env": "WHERE=base-dir\n",
        },
        compose=["base/compose.yml", "over/over.yml"],
    ),
}


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def _ours(root: Path, case: Case) -> dict[str, dict[str, str]] | None:
    try:
        project = load_project(
            [root / f for f in case.compose] or [root],
            environ=case.environ,
            profiles=case.profiles,
            dotenv=[root / f for f in case.env_files] if case.env_files else True,
            project_name=case.name,
        )
        out = {}
        for name in project.services:
            env = service_environment(project, name)
            if any(ref.required for ref in env.missing_files):
                return None  # a missing-env-file error finding: compose refuses
            out[name] = {k: v.value for k, v in env.variables.items()}
    except SecretsafeError:
        return None
    return out


def _theirs(root: Path, case: Case) -> dict[str, dict[str, str]] | None:
    args: list[str] = []
    for p in case.profiles or ():
        args += ["--profile", p]
    for e in case.env_files or ():
        args += ["--env-file", e]
    proc = compose_config(root, case.compose, case.environ, args=args, project=case.name)
    if proc.returncode != 0:
        return None
    return their_env(json.loads(proc.stdout))


@pytest.mark.parametrize("name", list(CASES))
def test_project_matches_docker_compose(tmp_path: Path, name: str) -> None:
    case = CASES[name]
    root = tmp_path / "proj"
    _write(root, case.files)
    assert _ours(root, case) == _theirs(root, case)
