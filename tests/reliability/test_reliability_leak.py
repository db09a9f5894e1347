"""Leak suite: one canary value planted in every kind of input, every command run on its
success path and on each failure path, and every place a value could escape searched.

Inputs holding the canary: a plaintext ``.env``, an encrypted ``.env.enc``, a compose file, a
Vault/OpenBao secret (a real ``bao server -dev``), stdin, and the process environment.
Channels searched after each case: stdout (unless the command's job is to print the value),
stderr, every log record, exceptions escaping ``main()``, files left in the working directory
and in a private TMPDIR, and the argv of every sops child (``SECRETSAFE_SOPS`` points at a
wrapper that records its ``/proc/self/cmdline`` before exec'ing the real binary). A second
part calls the API directly on each failure path and searches the whole exception chain
(``str``, ``repr``, ``args``, hints, ``__cause__``/``__context__``, formatted traceback).
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from reliability_support import (
    CANARY,
    Tally,
    exception_texts,
    files_containing,
    private_tmpdir,
    run_cli,
    run_cli_proc,
)

from secretsafe.errors import SecretsafeError

pytestmark = pytest.mark.reliability

PLAIN = f"# leak test\nDB__HOST=db.internal\nAPI_KEY={CANARY}\nPORT=5432\n"

SCHEMA_MODULE = """
from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_nested_delimiter="__", extra="ignore")

    port: int
    api_key: SecretStr
    strict_number: int = 0


class WithDefault(BaseSettings):
    model_config = SettingsConfigDict(env_nested_delimiter="__", extra="ignore")

    api_key: SecretStr = SecretStr("__CANARY__")
    port: int = 5432


class Strict(BaseSettings):
    model_config = SettingsConfigDict(env_nested_delimiter="__", extra="ignore")

    api_key: int
"""

COMPOSE = f"""
services:
  app:
    image: example/app:1
    environment:
      DB_PASSWORD: {CANARY}
      API_KEY: "{CANARY}"
      PORT: "5432"
"""


@dataclass
class Workspace:
    work: Path
    tmp: Path
    argv_log: Path
    recipient: str
    other: str

    def p(self, name: str) -> str:
        return str(self.work / name)


@pytest.fixture
def ws(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    age_key: Any,
    other_age_key: Any,
    sops_bin: Path,
) -> Iterator[Workspace]:
    from secretsafe import envfile

    work = tmp_path / "work"
    work.mkdir()
    tmp = private_tmpdir(tmp_path / "tmpdir", monkeypatch)
    monkeypatch.chdir(work)
    monkeypatch.syspath_prepend(str(work))
    # The schema module holds the canary; its bytecode cache would too.
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
    argv_log = tmp_path / "sops-argv.log"
    wrapper = tmp_path / "sops-wrapper.sh"
    wrapper.write_text(
        "#!/bin/sh\n"
        f"tr '\\0' ' ' < /proc/$$/cmdline >> '{argv_log}'\n"
        f"echo >> '{argv_log}'\n"
        f"exec '{sops_bin}' \"$@\"\n",
        encoding="utf-8",
    )
    wrapper.chmod(0o700)
    monkeypatch.setenv("SECRETSAFE_SOPS", str(wrapper))
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")
    (work / ".env").write_text(PLAIN, encoding="utf-8")
    envfile.encrypt_file(work / ".env", work / ".env.enc", recipients=[age_key.recipient])
    envfile.encrypt_file(
        work / ".env", work / "foreign.env.enc", recipients=[other_age_key.recipient]
    )
    envfile.encrypt_file(
        work / ".env",
        work / "two.env.enc",
        recipients=[age_key.recipient, other_age_key.recipient],
    )
    text = (work / ".env.enc").read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    for i, line in enumerate(lines):
        if line.startswith("API_KEY=ENC[AES256_GCM,data:"):
            pos = len("API_KEY=ENC[AES256_GCM,data:")
            flipped = "B" if line[pos] != "B" else "C"
            lines[i] = line[:pos] + flipped + line[pos + 1 :]
    (work / "tampered.env.enc").write_text("".join(lines), encoding="utf-8")
    (work / "bad.env").write_text(
        f"API_KEY={CANARY}\nBROKEN {CANARY} no equals\n", encoding="utf-8"
    )
    (work / "badquote.env").write_text(f'API_KEY="{CANARY}\n', encoding="utf-8")
    (work / "dup.env").write_text(f"API_KEY={CANARY}\nAPI_KEY={CANARY}2\n", encoding="utf-8")
    (work / "yaml.env").write_text(f"API_KEY: {CANARY}\n", encoding="utf-8")
    (work / "backslash.env").write_text(f"API_KEY='{CANARY}\\n'\n", encoding="utf-8")
    (work / "nul.env").write_bytes(f"API_KEY={CANARY}\x00x\n".encode())
    (work / "latin1.env").write_bytes(f"API_KEY={CANARY}\xe9\n".encode("latin-1"))
    (work / "settings_leak.py").write_text(
        SCHEMA_MODULE.replace("__CANARY__", CANARY), encoding="utf-8"
    )
    (work / "docker-compose.yml").write_text(COMPOSE, encoding="utf-8")
    (work / "broken-compose.yml").write_text(
        f"services:\n  app:\n    environment:\n      API_KEY: {CANARY}\n     bad: [{CANARY}\n",
        encoding="utf-8",
    )
    (work / "envfile-compose.yml").write_text(
        "services:\n  app:\n    image: x\n    env_file: [.env.enc, .env]\n"
        f"    command: ['run', '--password={CANARY}']\n",
        encoding="utf-8",
    )
    readable = work / "readable-keys.txt"
    shutil.copy(age_key.key_file, readable)
    readable.chmod(0o644)
    return Workspace(work, tmp, argv_log, age_key.recipient, other_age_key.recipient)


#: Inputs that hold the plaintext canary on purpose (plus outputs the user asked for).
PLAINTEXT_INPUTS = (
    ".env",
    "bad.env",
    "badquote.env",
    "dup.env",
    "yaml.env",
    "backslash.env",
    "nul.env",
    "latin1.env",
    "docker-compose.yml",
    "broken-compose.yml",
    "envfile-compose.yml",
    "settings_leak.py",  # a secret default in code (the `example`/`schema` cases)
)


@dataclass(frozen=True)
class Case:
    label: str
    argv: tuple[str, ...]
    stdin: str | None = None
    prints_value: bool = False  # stdout is the decrypted value: the command's job
    writes_plaintext: str | None = None  # a file the user asked to hold plaintext
    env: tuple[tuple[str, str], ...] = ()
    expect: int | None = None  # exit code; None: any


def _cases(ws: Workspace) -> list[Case]:
    rec, other = ws.recipient, ws.other
    c = Case
    return [
        # encrypt
        c("encrypt ok", ("encrypt", ".env", "-o", "out.env.enc"), expect=0),
        c(
            "encrypt ok sops",
            ("encrypt", ".env", "-o", "o2.env.enc", "--backend", "sops"),
            expect=0,
        ),
        c("encrypt dst exists", ("encrypt", ".env", "-o", ".env.enc"), expect=10),
        c("encrypt already encrypted", ("encrypt", ".env.enc", "-o", "x.enc"), expect=13),
        c("encrypt syntax error", ("encrypt", "bad.env", "-o", "x.enc"), expect=12),
        c("encrypt open quote", ("encrypt", "badquote.env", "-o", "x.enc"), expect=12),
        c("encrypt duplicate", ("encrypt", "dup.env", "-o", "x.enc"), expect=12),
        c("encrypt yaml style", ("encrypt", "yaml.env", "-o", "x.enc"), expect=12),
        c("encrypt backslash-n", ("encrypt", "backslash.env", "-o", "x.enc"), expect=13),
        c(
            "encrypt backslash-n sops",
            ("encrypt", "backslash.env", "-o", "x.enc", "--backend", "sops"),
        ),
        c("encrypt NUL", ("encrypt", "nul.env", "-o", "x.enc"), expect=10),
        c("encrypt latin-1", ("encrypt", "latin1.env", "-o", "x.enc"), expect=10),
        c("encrypt bad recipient", ("encrypt", ".env", "-o", "x.enc", "-r", "age1nope")),
        c("encrypt missing", ("encrypt", "missing.env", "-o", "x.enc"), expect=10),
        # decrypt
        c("decrypt stdout", ("decrypt", ".env.enc"), prints_value=True, expect=0),
        c("decrypt json", ("decrypt", ".env.enc", "--format", "json"), prints_value=True),
        c("decrypt sops", ("decrypt", ".env.enc", "--backend", "sops"), prints_value=True),
        c("decrypt -o", ("decrypt", ".env.enc", "-o", "plain.out"), writes_plaintext="plain.out"),
        c("decrypt wrong key", ("decrypt", "foreign.env.enc"), expect=21),
        c("decrypt wrong key sops", ("decrypt", "foreign.env.enc", "--backend", "sops")),
        c("decrypt tampered", ("decrypt", "tampered.env.enc"), expect=22),
        c("decrypt tampered sops", ("decrypt", "tampered.env.enc", "--backend", "sops")),
        c("decrypt plaintext file", ("decrypt", ".env"), expect=13),
        c("decrypt plaintext sops", ("decrypt", ".env", "--backend", "sops")),
        c("decrypt compose file", ("decrypt", "docker-compose.yml"), expect=13),
        c("decrypt NUL file", ("decrypt", "nul.env")),
        c("decrypt no key", ("decrypt", ".env.enc"), env=(("SOPS_AGE_KEY_FILE", "/nonexistent"),)),
        c(
            "decrypt readable key file",
            ("decrypt", ".env.enc"),
            env=(("SOPS_AGE_KEY_FILE", "readable-keys.txt"),),
            expect=11,
        ),
        # set / unset (the value comes from stdin)
        c("set ok", ("set", ".env.enc", "NEW_KEY"), stdin=CANARY, expect=0),
        c("set ok sops", ("set", ".env.enc", "NEW2", "--backend", "sops"), stdin=CANARY),
        c("set bad name", ("set", ".env.enc", "1BAD"), stdin=CANARY, expect=2),
        c("set sops_ name", ("set", ".env.enc", "sops_x"), stdin=CANARY),
        c("set backslash-n", ("set", ".env.enc", "K"), stdin=CANARY + "\\n", expect=13),
        c("set wrong key", ("set", "foreign.env.enc", "K"), stdin=CANARY, expect=21),
        c("set tampered", ("set", "tampered.env.enc", "K"), stdin=CANARY, expect=22),
        c("set plaintext file", ("set", ".env", "K"), stdin=CANARY, expect=13),
        c("set invalid utf-8", ("set", ".env.enc", "K"), stdin=None, expect=None),
        c("unset ok", ("unset", ".env.enc", "PORT"), expect=0),
        c("unset missing key", ("unset", ".env.enc", "NOPE"), expect=2),
        c("unset wrong key", ("unset", "foreign.env.enc", "API_KEY"), expect=21),
        # rotate / recipients
        c("rotate ok", ("rotate", ".env.enc"), expect=0),
        c("rotate ok sops", ("rotate", ".env.enc", "--backend", "sops"), expect=0),
        c("rotate wrong key", ("rotate", "foreign.env.enc"), expect=21),
        c("rotate tampered", ("rotate", "tampered.env.enc"), expect=22),
        c("recipients list", ("recipients", "list", ".env.enc"), expect=0),
        c("recipients add", ("recipients", "add", ".env.enc", other), expect=0),
        c("recipients add bad", ("recipients", "add", ".env.enc", "age1bad")),
        c("recipients remove ok", ("recipients", "remove", "two.env.enc", other), expect=0),
        c("recipients remove stranger", ("recipients", "remove", ".env.enc", other), expect=2),
        c("recipients remove last", ("recipients", "remove", ".env.enc", rec), expect=2),
        c("recipients add tampered", ("recipients", "add", "tampered.env.enc", other), expect=22),
        # edit
        c("edit ok", ("edit", ".env.enc", "--editor", "sed -i s/^PORT=.*/PORT=1/"), expect=0),
        c("edit no change", ("edit", ".env.enc", "--editor", "true")),
        c("edit editor fails", ("edit", ".env.enc", "--editor", "false")),
        c(
            "edit introduces syntax error",
            ("edit", ".env.enc", "--editor", "sed -i s/^PORT=.*/PORT_BROKEN/"),
        ),
        c("edit missing editor", ("edit", ".env.enc", "--editor", "no-such-editor-xyz")),
        c("edit wrong key", ("edit", "foreign.env.enc", "--editor", "true"), expect=21),
        # check (schema validation): the canary in files and in the environment
        c("check ok", ("check", "--schema", "settings_leak:Settings", "-f", ".env.enc")),
        c(
            "check invalid int",
            ("check", "--schema", "settings_leak:Strict", "-f", ".env.enc"),
            expect=3,
        ),
        c(
            "check invalid json",
            ("check", "--schema", "settings_leak:Strict", "-f", ".env.enc", "--format", "json"),
            expect=3,
        ),
        c(
            "check invalid from environ",
            ("check", "--schema", "settings_leak:Settings"),
            env=(("PORT", CANARY), ("API_KEY", CANARY), ("STRICT_NUMBER", CANARY)),
            expect=3,
        ),
        c(
            "check plaintext env file",
            ("check", "--schema", "settings_leak:Strict", "-f", ".env"),
            expect=3,
        ),
        c("check bad env file", ("check", "--schema", "settings_leak:Settings", "-f", "bad.env")),
        c(
            "check tampered",
            ("check", "--schema", "settings_leak:Settings", "-f", "tampered.env.enc"),
        ),
        c("check unknown spec", ("check", "--schema", "nomodule_xyz:Settings", "-f", ".env.enc")),
        # example / schema: a secret default in the model is never printed
        c("example secret default", ("example", "--schema", "settings_leak:WithDefault"), expect=0),
        c(
            "example -o",
            ("example", "--schema", "settings_leak:WithDefault", "-o", "env.example"),
            expect=0,
        ),
        *[
            c(
                f"schema --format {fmt}",
                ("schema", "--schema", "settings_leak:WithDefault", "--format", fmt),
                expect=0,
            )
            for fmt in ("json-schema", "names", "json", "markdown")
        ],
        # generate: the new secret goes into the file, not to the terminal (checked below too)
        c("generate --into", ("generate", "--into", ".env.enc", "GENERATED"), expect=0),
        c("generate --into foreign", ("generate", "--into", "foreign.env.enc", "G"), expect=21),
        c("generate --into plaintext", ("generate", "--into", ".env", "G"), expect=13),
        # compose: hardcoded secrets, env_file entries, broken YAML
        *[
            c(
                f"check --compose {fmt}",
                (
                    "check",
                    "--compose",
                    "docker-compose.yml",
                    "--service",
                    "app",
                    "--schema",
                    "settings_leak:Strict",
                    "--format",
                    fmt,
                ),
            )
            for fmt in ("text", "json", "sarif")
        ],
        c(
            "check --compose env_file",
            (
                "check",
                "--compose",
                "envfile-compose.yml",
                "--service",
                "app",
                "--schema",
                "settings_leak:Strict",
                "--format",
                "json",
            ),
        ),
        c(
            "check --compose unknown service",
            ("check", "--compose", "docker-compose.yml", "--service", "nope"),
            expect=40,
        ),
        c(
            "check --compose broken YAML",
            ("check", "--compose", "broken-compose.yml", "--service", "app"),
            expect=40,
        ),
        # audit: plaintext .env, readable key file, hardcoded secrets in compose
        *[
            c(f"audit {fmt}", ("audit", ".", "--no-history", "--format", fmt), expect=5)
            for fmt in ("text", "json", "sarif")
        ],
        c("audit -o sarif", ("audit", ".", "--no-history", "--format", "sarif", "-o", "r.sarif")),
        c("audit --fix", ("audit", ".", "--no-history", "--fix")),
        # keys
        c("keys show", ("keys", "show"), expect=0),
        c("keys import junk", ("keys", "import", "--store", "file"), stdin=f"{CANARY}\n"),
        c(
            "keys show readable key file",
            ("keys", "show"),
            env=(("SOPS_AGE_KEY_FILE", "readable-keys.txt"),),
        ),
        c("keys show SOPS_AGE_KEY junk", ("keys", "show"), env=(("SOPS_AGE_KEY", CANARY),)),
    ]


def _channel_leaks(result: Any, case: Case) -> list[str]:
    found = []
    for name, text in result.channels().items():
        if name == "stdout" and case.prints_value:
            continue
        if CANARY in text:
            found.append(name)
    for exc in result.exceptions:
        if any(CANARY in t for t in exception_texts(exc)):
            found.append(f"escaped {type(exc).__name__}")
    return found


def _disk_leaks(ws: Workspace, case: Case) -> list[str]:
    allow = [ws.work / n for n in PLAINTEXT_INPUTS]
    if case.writes_plaintext:
        allow.append(ws.work / case.writes_plaintext)
    hits = files_containing(ws.work, CANARY, allow=allow) + files_containing(ws.tmp, CANARY)
    if ws.argv_log.exists() and CANARY in ws.argv_log.read_text(encoding="utf-8"):
        hits.append(ws.argv_log)
    return [f"file {p.name}" for p in hits]


def test_every_command_and_failure_path(
    ws: Workspace, tally: Tally, monkeypatch: pytest.MonkeyPatch
) -> None:
    tally.note("leaks found", 0)
    pristine = {p.name: p.read_bytes() for p in ws.work.iterdir() if p.is_file()}
    for case in _cases(ws):
        # Each case starts from the same files.
        for p in ws.work.iterdir():
            if p.is_file() and p.name not in pristine:
                p.unlink()
        for name, data in pristine.items():
            (ws.work / name).write_bytes(data)
        (ws.work / "readable-keys.txt").chmod(0o644)
        with monkeypatch.context() as m:
            for k, v in case.env:
                m.setenv(k, v)
            stdin: str | bytes | None = case.stdin
            if case.label == "set invalid utf-8":
                stdin = CANARY.encode() + b"\xff\xfe"
            result = run_cli(case.argv, stdin=stdin)
        if os.environ.get("SECRETSAFE_RELIABILITY_DEBUG") == "1":  # what each case did
            print(f"{case.label}: exit {result.code}: {result.err.strip()[:150]}", file=sys.stderr)
        leaks = _channel_leaks(result, case) + _disk_leaks(ws, case)
        problem = f"canary found in: {', '.join(leaks)}" if leaks else None
        if problem is None and result.exceptions:
            problem = f"exception escaped main(): {type(result.exceptions[0]).__name__}"
        if problem is None and "internal error" in result.err:
            problem = "internal error (unexpected exception)"
        if problem is None and case.expect is not None and result.code != case.expect:
            problem = f"exit {result.code}, want {case.expect}: {result.err.strip()[:200]}"
        tally.check(
            case.label, problem, note="success paths" if result.code == 0 else "failure paths"
        )
        if leaks:
            tally.note("leaks found", len(leaks))


def test_generated_secret_is_not_printed(ws: Workspace, tally: Tally) -> None:
    """``generate --into`` and ``set`` make values no test planted: search for those."""
    from secretsafe.sops import decrypt_file

    result = run_cli(["generate", "--into", ".env.enc", "GENERATED", "--bytes", "32"])
    value = decrypt_file(ws.work / ".env.enc")["GENERATED"]
    leaked = [n for n, t in result.channels().items() if value in t]
    leaked += [p.name for p in files_containing(ws.work, value) + files_containing(ws.tmp, value)]
    tally.check(
        "generate --into hides the new secret",
        f"new secret found in {leaked}" if leaked else None,
        note="success paths",
    )


# ---------------------------------------------------------------------------------------------
# The API: exception chains on every failure path


def _api_failures(ws: Workspace) -> list[tuple[str, Callable[[], object]]]:
    from secretsafe import dotenv, envfile
    from secretsafe.sops import decrypt_file, decrypt_text

    w = ws.p
    tampered = (ws.work / "tampered.env.enc").read_text(encoding="utf-8")
    calls: list[tuple[str, Callable[[], object]]] = [
        ("dotenv.parse bad line", lambda: dotenv.parse((ws.work / "bad.env").read_text())),
        ("dotenv.parse open quote", lambda: dotenv.parse(f'A="{CANARY}\n')),
        ("dotenv.parse duplicate", lambda: dotenv.parse(f"A={CANARY}\nA=x\n")),
        ("dotenv.parse yaml", lambda: dotenv.parse(f"A: {CANARY}\n")),
        ("dotenv.parse after quote", lambda: dotenv.parse(f'A="x" {CANARY}\n')),
        ("encrypt_file bad", lambda: envfile.encrypt_file(w("bad.env"), w("x.enc"))),
        ("encrypt_file backslash", lambda: envfile.encrypt_file(w("backslash.env"), w("y.enc"))),
        ("set_value backslash", lambda: envfile.set_value(w(".env.enc"), "K", CANARY + "\\n")),
        ("set_value bad key", lambda: envfile.set_value(w(".env.enc"), "1BAD", CANARY)),
        ("set_value sops_", lambda: envfile.set_value(w(".env.enc"), "sops_k", CANARY)),
        ("set_value foreign", lambda: envfile.set_value(w("foreign.env.enc"), "K", CANARY)),
    ]
    for backend in ("native", "sops"):
        calls += [
            (
                f"decrypt_text tampered {backend}",
                lambda b=backend: decrypt_text(tampered, backend=b),
            ),
            (
                f"decrypt_file foreign {backend}",
                lambda b=backend: decrypt_file(w("foreign.env.enc"), backend=b),
            ),
            (
                f"decrypt_file plaintext {backend}",
                lambda b=backend: decrypt_file(w(".env"), backend=b),
            ),
            (
                f"decrypt_text truncated {backend}",
                lambda b=backend: decrypt_text(tampered[: len(tampered) // 2], backend=b),
            ),
            (
                f"rotate tampered {backend}",
                lambda b=backend: envfile.rotate(w("tampered.env.enc"), backend=b),
            ),
        ]
    return calls


def test_api_exception_chains(ws: Workspace, tally: Tally) -> None:
    for label, call in _api_failures(ws):
        try:
            call()
        except SecretsafeError as exc:
            leaked = [t for t in exception_texts(exc) if CANARY in t]
            tally.check(
                label, "canary in the exception chain" if leaked else None, note="api failure paths"
            )
            if leaked:
                tally.note("leaks found")
        except Exception as exc:
            leaked = any(CANARY in t for t in exception_texts(exc))
            tally.fail(label, f"not a SecretsafeError: {type(exc).__name__}, leak={leaked}")
        else:
            tally.fail(label, "expected a failure, got success")
        hits = files_containing(ws.tmp, CANARY)
        tally.check(f"{label} tmpdir", f"plaintext in TMPDIR: {hits}" if hits else None)


def test_schema_errors_hide_inputs(ws: Workspace, tally: Tally) -> None:
    """``secretsafe.load`` with invalid values from files and the environment."""
    import secretsafe

    module = __import__("settings_leak")
    for label, schema, environ in (
        ("load strict from file", module.Strict, {}),
        ("load int from environ", module.Settings, {"PORT": CANARY, "API_KEY": CANARY}),
        ("load nested junk", module.Settings, {"PORT": CANARY, "STRICT_NUMBER": CANARY}),
    ):
        try:
            secretsafe.load(schema, env_files=[ws.p(".env.enc")], environ=environ)
        except SecretsafeError as exc:
            leaked = any(CANARY in t for t in exception_texts(exc))
            tally.check(
                label,
                "canary in the validation error" if leaked else None,
                note="api failure paths",
            )
        except Exception as exc:
            tally.fail(label, f"not a SecretsafeError: {type(exc).__name__}")
        else:
            tally.fail(label, "expected a validation failure")


# ---------------------------------------------------------------------------------------------
# Subprocesses: `run` (exec), the child's argv, real process output


def test_run_and_child_processes(ws: Workspace, tally: Tally) -> None:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ws.work)
    show_cmdline = "cat /proc/$$/cmdline; echo; exit 7"
    cases = [
        ("run passes exit code", ["run", "-f", ".env.enc", "--", "sh", "-c", show_cmdline], 7),
        ("run command not found", ["run", "-f", ".env.enc", "--", "no-such-command-xyz"], 127),
        ("run not executable", ["run", "-f", ".env.enc", "--", str(ws.work / ".env")], 126),
        ("run wrong key", ["run", "-f", "foreign.env.enc", "--", "true"], 21),
        ("run tampered", ["run", "-f", "tampered.env.enc", "--", "true"], 22),
        ("run plaintext file", ["run", "-f", ".env", "--", "true"], None),
        (
            "run schema invalid",
            ["run", "-f", ".env.enc", "--schema", "settings_leak:Strict", "--", "true"],
            3,
        ),
        ("run sops backend", ["run", "-f", ".env.enc", "--backend", "sops", "--", "true"], 0),
        ("decrypt wrong key (process)", ["decrypt", "foreign.env.enc"], 21),
        ("set (process)", ["set", ".env.enc", "PROC_KEY"], 0),
    ]
    for label, argv, expect in cases:
        stdin = CANARY if argv[0] == "set" else None
        result = run_cli_proc(argv, env=env, cwd=ws.work, stdin=stdin)
        leaks = [n for n, t in (("stdout", result.out), ("stderr", result.err)) if CANARY in t]
        leaks += [p.name for p in files_containing(ws.tmp, CANARY)]
        problem = f"canary found in {leaks}" if leaks else None
        if problem is None and expect is not None and result.code != expect:
            problem = f"exit {result.code}, want {expect}: {result.err.strip()[:200]}"
        if problem is None and "Traceback" in result.err:
            problem = "traceback"
        tally.check(label, problem, note="process paths")
        if leaks:
            tally.note("leaks found", len(leaks))
    if ws.argv_log.exists():
        tally.check(
            "sops child argv",
            "canary in a sops child's argv" if CANARY in ws.argv_log.read_text() else None,
            note="sops argv records",
        )


# ---------------------------------------------------------------------------------------------
# Vault: the canary stored in a real OpenBao dev server


def test_vault_commands(
    ws: Workspace, tally: Tally, bao_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VAULT_ADDR", bao_server.addr)
    monkeypatch.setenv("VAULT_TOKEN", bao_server.token)
    path = f"reliability/leak-{os.getpid()}-{id(ws)}"
    drift = path + "-drift"
    from secretsafe.vault.client import connect
    from secretsafe.vault.sync import push

    # A value that exists only in Vault: the canary in another form.
    with connect(addr=bao_server.addr, token=bao_server.token, retries=1) as client:
        push(client, {"API_KEY": CANARY + "-remote", "ONLY_REMOTE": CANARY}, path=drift)
    cases: list[tuple[str, list[str], dict[str, str], int | None]] = [
        ("vault push", ["vault", "push", ".env.enc", "--path", path], {}, 0),
        ("vault diff same", ["vault", "diff", ".env.enc", "--path", path], {}, 0),
        (
            "vault pull",
            ["vault", "pull", "--path", path, "-o", "pulled.env.enc", "--recipient", ws.recipient],
            {},
            0,
        ),
        (
            "vault diff tampered file",
            ["vault", "diff", "tampered.env.enc", "--path", path],
            {},
            22,
        ),
        ("vault diff drift", ["vault", "diff", ".env.enc", "--path", drift], {}, 4),
        (
            "vault pull missing path",
            ["vault", "pull", "--path", path + "-nope", "-o", "p2.env.enc"],
            {},
            33,
        ),
        (
            "vault push bad token",
            ["vault", "push", ".env.enc", "--path", path],
            {"VAULT_TOKEN": "bad-" + CANARY[:4]},
            32,
        ),
        (
            "vault pull bad token",
            ["vault", "pull", "--path", path, "-o", "p3.env.enc"],
            {"VAULT_TOKEN": "nope"},
            32,
        ),
        (
            "vault push unreachable",
            ["vault", "push", ".env.enc", "--path", path, "--retries", "0"],
            {"VAULT_ADDR": "http://127.0.0.1:9"},
            30,
        ),
        (
            "vault pull unreachable",
            ["vault", "pull", "--path", path, "-o", "p4.env.enc", "--retries", "0"],
            {"VAULT_ADDR": "http://127.0.0.1:9"},
            30,
        ),
        ("vault push foreign", ["vault", "push", "foreign.env.enc", "--path", path], {}, 21),
        ("vault push plaintext", ["vault", "push", ".env", "--path", path], {}, 13),
        (
            "vault push dry-run drift",
            ["vault", "push", ".env.enc", "--path", drift, "--dry-run"],
            {},
            0,
        ),
        (
            "vault push sections",
            ["vault", "push", ".env.enc", "--path", path + "-s", "--layout", "sections"],
            {},
            0,
        ),
        ("vault push prune", ["vault", "push", ".env.enc", "--path", drift, "--prune"], {}, 0),
        (
            "vault pull sections",
            ["vault", "pull", "--path", path + "-s", "-o", "sec.env.enc"],
            {},
            0,
        ),
        ("vault pull no -o", ["vault", "pull", "--path", path], {}, None),
    ]
    for label, argv, env, expect in cases:
        with monkeypatch.context() as m:
            for k, v in env.items():
                m.setenv(k, v)
            result = run_cli(argv)
        case = Case(label, tuple(argv))
        leaks = _channel_leaks(result, case) + _disk_leaks(ws, case)
        problem = f"canary found in: {', '.join(leaks)}" if leaks else None
        if problem is None and (result.exceptions or "internal error" in result.err):
            problem = f"unexpected error: {result.err.strip()[:200]}"
        if problem is None and expect is not None and result.code != expect:
            problem = f"exit {result.code}, want {expect}: {result.err.strip()[:200]}"
        tally.check(label, problem, note="success paths" if result.code == 0 else "failure paths")
        if leaks:
            tally.note("leaks found", len(leaks))
    # Validation of values that come from Vault: the error names the variable, not the value.
    import secretsafe
    from secretsafe.vault.source import VaultSource

    module = __import__("settings_leak")
    try:
        secretsafe.load(module.Strict, environ={}, vault=VaultSource(path=path))
    except SecretsafeError as exc:
        leaked = any(CANARY in t for t in exception_texts(exc))
        tally.check("load from Vault, invalid", "canary in the error" if leaked else None)
    else:
        tally.fail("load from Vault, invalid", "expected a validation failure")
    # The pulled file holds the canary encrypted, never in plaintext.
    pulled = ws.work / "pulled.env.enc"
    tally.check(
        "vault pull output encrypted",
        None if pulled.exists() and CANARY not in pulled.read_text() else "missing or plaintext",
    )
