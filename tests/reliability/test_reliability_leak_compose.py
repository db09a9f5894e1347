"""Leak suite, compose channel: a value that ``check --compose`` interpolates into a compose
file (from a decrypted ``-f`` file or the process environment, a CI ``VAULT_TOKEN`` included)
never appears in its output (text, JSON, SARIF), its error line, its logs or any exception.

The rule under test (:mod:`secretsafe.compose.loader`): a message may quote the template the
user wrote, never an interpolated result or anything derived from one.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from reliability_support import CANARY, Tally, exception_texts, run_cli

pytestmark = pytest.mark.reliability

FORMATS = ("text", "json", "sarif")

#: Templates put where a scalar goes: the plain reference and the shapes that build a value
#: around it (a path, a default, a required reference, a nested default).
TEMPLATES = (
    "${CANARY_VAR}",
    "${CANARY_VAR}.yml",
    "${CANARY_VAR}-bad.yml",
    "./sub/${CANARY_VAR}/x.env",
    "${UNSET_VAR:-${CANARY_VAR}}",
    "${CANARY_VAR:?set it}",
    "${UNSET_VAR:?no ${CANARY_VAR} here}",
    "pre-$CANARY_VAR-post",
    "${VAULT_TOKEN}",
)

#: Every scalar position the loader reads, as compose YAML under ``services: app:`` (or at
#: the top when it starts with ``^``). ``{v}`` is replaced by a (quoted) template.
POSITIONS = {
    "image": "image: {v}",
    "container_name": "image: x\n    container_name: {v}",
    "env_file": "image: x\n    env_file: {v}",
    "env_file list": "image: x\n    env_file:\n      - {v}",
    "env_file long": "image: x\n    env_file:\n      - path: {v}\n        required: true",
    "env_file required": "image: x\n    env_file:\n      - path: a.env\n        required: {v}",
    "env_file format": "image: x\n    env_file:\n      - path: a.env\n        format: {v}",
    "extends": "image: x\n    extends: {v}",
    "extends service": "image: x\n    extends:\n      service: {v}",
    "extends file": "image: x\n    extends:\n      file: {v}\n      service: app",
    "label map": "image: x\n    labels:\n      secretsafe.schema: {v}",
    "label environment": (
        "image: x\n    labels:\n      secretsafe.schema: schema.toml\n"
        "      secretsafe.environment: {v}"
    ),
    "label list": "image: x\n    labels:\n      - secretsafe.schema={v}",
    "label other": "image: x\n    labels:\n      com.example.x: {v}",
    "environment map": "image: x\n    environment:\n      DB_PASSWORD: {v}",
    "environment tls": "image: x\n    environment:\n      NODE_TLS_REJECT_UNAUTHORIZED: {v}",
    "environment list": "image: x\n    environment:\n      - API_KEY={v}",
    "environment name": "image: x\n    environment:\n      - {v}",
    "environment name=": "image: x\n    environment:\n      - ${CANARY_VAR}=1",
    "volume short": "image: x\n    volumes:\n      - {v}:/var/run/docker.sock",
    "volume target": "image: x\n    volumes:\n      - /var/run/docker.sock:{v}",
    "volume long": (
        "image: x\n    volumes:\n      - type: bind\n        source: {v}\n"
        "        target: /var/run/docker.sock"
    ),
    "volume type": (
        "image: x\n    volumes:\n      - type: {v}\n        source: /a\n        target: /b"
    ),
    "ports": "image: x\n    ports:\n      - {v}",
    "profiles": "image: x\n    profiles:\n      - {v}",
    "command": "image: x\n    command: {v}",
    "entrypoint": "image: x\n    entrypoint: [{v}]",
    "healthcheck": "image: x\n    healthcheck:\n      test: [CMD, {v}]",
    "depends_on": "image: x\n    depends_on:\n      - {v}",
    "secrets": "image: x\n    secrets:\n      - {v}",
    "networks": "image: x\n    networks:\n      - {v}",
    "x-extension": "image: x\n    x-custom: {v}",
    "^name": "name: {v}",
    "^x-top": "x-top:\n  k: {v}",
    "^volumes": "volumes:\n  data:\n    name: {v}",
    "^secrets": "secrets:\n  s:\n    file: {v}",
    "^include": "include:\n  - {v}",
}

SCHEMA_TOML = """
[variables.DB_PASSWORD]
secret = true
min_length = 64
"""


def _compose(position: str, template: str) -> str:
    snippet = POSITIONS[position].replace("{v}", '"' + template + '"')
    if position.startswith("^"):
        return f"{snippet}\nservices:\n  app:\n    image: x\n"
    return f"services:\n  app:\n    {snippet}\n  other:\n    image: y\n"


@pytest.fixture
def project(tmp_path: Path, age_key, monkeypatch: pytest.MonkeyPatch) -> Path:  # type: ignore[no-untyped-def]
    """A project dir with the canary in an encrypted env file (made by ``secretsafe
    encrypt``), the process environment holding it too, and files named after it (so that a
    path built from it exists: messages about reading it must not name it either)."""
    root = tmp_path / "proj"
    (root / "sub" / CANARY).mkdir(parents=True)
    (root / "sub" / CANARY / "x.env").write_text(f"BROKEN_LINE_{CANARY}\n", encoding="utf-8")
    (root / f"{CANARY}.yml").write_text("services: [not, a, mapping]\n", encoding="utf-8")
    (root / f"{CANARY}-bad.yml").write_text("services:\n  s: [unclosed\n", encoding="utf-8")
    (root / "schema.toml").write_text(SCHEMA_TOML, encoding="utf-8")
    plain = root / "secrets.env"
    plain.write_text(f"CANARY_VAR={CANARY}\nOTHER=1\n", encoding="utf-8")
    result = run_cli(["encrypt", str(plain)])
    assert result.code == 0, result.err
    plain.unlink()
    assert CANARY not in (root / "secrets.env.enc").read_text(encoding="utf-8")
    monkeypatch.chdir(root)
    monkeypatch.setenv("VAULT_TOKEN", CANARY)
    return root


def _leak(args: list[str]) -> tuple[str | None, int]:
    """Where CANARY shows up when running ``secretsafe ARGS``, if anywhere; and the exit."""
    result = run_cli(args)
    for name, text in result.channels().items():
        if CANARY in text:
            return f"{name}: {text[:300]!r}", result.code
    for exc in result.exceptions:
        if any(CANARY in t for t in exception_texts(exc)):
            return f"exception {type(exc).__name__}", result.code
        return f"exception escaped main(): {type(exc).__name__}", result.code
    if "internal error" in result.err or "Traceback" in result.err:
        return f"not a clean failure: {result.err[:200]!r}", result.code
    return None, result.code


@pytest.mark.parametrize(
    ("position", "args"),
    [
        ("env_file", []),
        ("extends file", []),
        ("label map", ["--all"]),
    ],
)
def test_reported_repros(
    project: Path, monkeypatch: pytest.MonkeyPatch, position: str, args: list[str]
) -> None:
    """The three cases of the report: the password came back in the env_file message, the
    extends file error, and the schema label error, in every format."""
    monkeypatch.delenv("CANARY_VAR", raising=False)
    (project / "compose.yml").write_text(_compose(position, "${CANARY_VAR}"), encoding="utf-8")
    for fmt in FORMATS:
        argv = ["check", "--compose", "compose.yml", "-f", "secrets.env.enc", "--format", fmt]
        problem, code = _leak([*argv, *args])
        assert problem is None, (position, fmt, problem)
        assert code in (3, 10, 14), (position, fmt, code)
        # The message still says which entry: by its template.
        result = run_cli([*argv, *args])
        assert "${CANARY_VAR}" in result.out + result.err, (position, fmt)


def test_every_scalar_position_every_format(
    project: Path, monkeypatch: pytest.MonkeyPatch, tally: Tally
) -> None:
    """Class test: the canary, supplied through a real encrypted -f file and through the
    environment (CANARY_VAR, VAULT_TOKEN), interpolated into every scalar position the loader
    reads, in every template shape, checked in every format with and without a service
    selection: it is in no output and no exception text."""
    compose = project / "compose.yml"
    sources = {
        "encrypted -f": (["-f", "secrets.env.enc"], False),
        "environment": ([], True),
    }
    runs = 0
    for (position, template), (source, (extra, via_env)) in itertools.product(
        itertools.product(POSITIONS, TEMPLATES), sources.items()
    ):
        if via_env:
            monkeypatch.setenv("CANARY_VAR", CANARY)
        else:
            monkeypatch.delenv("CANARY_VAR", raising=False)
        compose.write_text(_compose(position, template), encoding="utf-8")
        for fmt, selection in itertools.product(FORMATS, ([], ["--service", "app"], ["--all"])):
            args = ["check", "--compose", "compose.yml", *extra, "--format", fmt, *selection]
            problem, _ = _leak(args)
            runs += 1
            tally.check(f"{position} | {template} | {source} | {fmt} {selection}", problem)
    tally.note("check runs", runs)
    assert runs == len(POSITIONS) * len(TEMPLATES) * len(sources) * len(FORMATS) * 3


def test_api_exceptions_hold_no_interpolated_value(project: Path, tally: Tally) -> None:
    """The same positions through the Python API (load_project + check_compose): every
    exception's whole chain is searched."""
    from secretsafe.compose import check_compose, load_project
    from secretsafe.errors import SecretsafeError

    compose = project / "compose.yml"
    for position, template in itertools.product(POSITIONS, TEMPLATES):
        compose.write_text(_compose(position, template), encoding="utf-8")
        problem = None
        try:
            proj = load_project([compose], environ={"CANARY_VAR": CANARY})
            report = check_compose(proj, services=list(proj.services))
            if CANARY in repr(report.to_dict()):
                problem = "in the report"
        except SecretsafeError as exc:
            if any(CANARY in t for t in exception_texts(exc)):
                problem = f"in {type(exc).__name__}"
        tally.check(f"{position} | {template}", problem)


#: Lines of an env file (the project .env, or an env_file of the service) holding a template:
#: quoted and unquoted values, malformed ones, and a value pasted with no name.
ENV_LINES = (
    "DB_PASSWORD={t}",
    'DB_PASSWORD="{t}"',
    "DB_PASSWORD='{t}'",
    "export API_KEY={t} # comment",
    "NODE_TLS_REJECT_UNAUTHORIZED={t}",
    "URL=postgres://u:{t}@db/x",
    "BROKEN=${{{t}",
    "BROKEN=${{}}{t}",
    'BROKEN="{t}',
    "{t}",
    "${{CANARY_VAR}} KEY={t}",
)
ENV_COMPOSE = "services:\n  app:\n    image: x\n    env_file: [app.env]\n  other:\n    image: y\n"


def test_env_file_interpolation_channel(
    project: Path, monkeypatch: pytest.MonkeyPatch, tally: Tally
) -> None:
    """Class test: the canary reaches env-file values through ${VAR} interpolation (from a
    decrypted -f file or the environment) or is written in them, in the project .env and in
    an env_file, every line shape (malformed ones too) and every format: it is in no output
    and no exception text."""
    (project / "compose.yml").write_text(ENV_COMPOSE, encoding="utf-8")
    runs = 0
    for line, template, where, via_env in itertools.product(
        ENV_LINES,
        (*TEMPLATES, CANARY),
        ("app.env", ".env"),
        (False, True),
    ):
        if via_env:
            monkeypatch.setenv("CANARY_VAR", CANARY)
        else:
            monkeypatch.delenv("CANARY_VAR", raising=False)
        text = line.format(t=template) + "\nOTHER=1\n"
        (project / "app.env").write_text(text if where == "app.env" else "A=1\n", encoding="utf-8")
        (project / ".env").write_text(text if where == ".env" else "B=1\n", encoding="utf-8")
        extra = [] if via_env else ["-f", "secrets.env.enc"]
        for fmt in FORMATS:
            args = ["check", "--compose", "compose.yml", *extra, "--format", fmt]
            problem, _ = _leak(args)
            runs += 1
            tally.check(f"{where} | {line} | {template} | env={via_env} | {fmt}", problem)
    tally.note("env-file check runs", runs)
