"""The public surface stays small and honest, and `import secretsafe` stays cheap."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import secretsafe
from tests.conftest import AgeKey


def test_all_names_resolve() -> None:
    for name in secretsafe.__all__:
        assert getattr(secretsafe, name) is not None, name


def test_all_is_sorted_and_unique() -> None:
    names = [n for n in secretsafe.__all__ if n != "__version__"]
    assert names == sorted(set(names), key=names.index)
    assert len(set(secretsafe.__all__)) == len(secretsafe.__all__)


def test_error_classes_are_exported_with_distinct_exit_codes() -> None:
    from secretsafe import errors

    classes = [getattr(errors, n) for n in errors.__all__]
    assert all(issubclass(c, secretsafe.SecretsafeError) for c in classes)
    assert set(errors.__all__) <= set(secretsafe.__all__)
    codes = [c.exit_code for c in classes]
    assert len(codes) == len(set(codes)), "each failure domain has its own exit code"


def test_import_is_cheap() -> None:
    # An app that imports secretsafe pays for nothing it does not use: the package imports no
    # module at all (each public name is loaded on first access).
    code = (
        "import sys\n"
        "before = set(sys.modules)\n"
        "import secretsafe\n"
        "print(sorted(set(sys.modules) - before))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "['secretsafe']"


def test_public_names_load_lazily_and_are_listed() -> None:
    code = (
        "import sys, secretsafe\n"
        "assert set(dir(secretsafe)) == set(secretsafe.__all__)\n"
        "error = secretsafe.IntegrityError\n"
        "assert error.__module__ == 'secretsafe.errors'\n"
        "assert 'secretsafe.schemas' not in sys.modules\n"
        "print(sorted(m for m in sys.modules if m.startswith('secretsafe')))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "['secretsafe', 'secretsafe.errors']"


#: Every module `secretsafe run -f F -- CMD` imports before it execs CMD (a one-group age
#: sops dotenv file, native backend, no keyring session), beyond what `python -c pass`
#: imports. A change here is a start-up cost on every container start: measure it with
#: benchmarks/bench_startup.py before adding to the list.
RUN_PATH_SECRETSAFE = {
    "secretsafe",
    "secretsafe._namedtuple",
    "secretsafe.cli",
    "secretsafe.cli.run",
    "secretsafe.errors",
    "secretsafe.files",
    "secretsafe.keys",
    "secretsafe.run",
    "secretsafe.sops",
    "secretsafe.sops.aead",
    "secretsafe.sops.backends",
    "secretsafe.sops.crypto",
    "secretsafe.sops.metadata",
    "secretsafe.sops.model",
    "secretsafe.sops.native",
    "secretsafe.sops.stores",
    "secretsafe.sops.stores.dotenv",
}
#: Third-party: pyrage only (AES-GCM decryption goes through the interpreter's libcrypto,
#: secretsafe/sops/aead.py; cryptography is not imported).
RUN_PATH_THIRD_PARTY = {"pyrage", "pyrage.pyrage"}
#: The standard library, as CPython 3.11 splits it: no ``re``, ``enum``, ``collections`` or
#: ``functools`` (milliseconds of start-up; pip >= 25.2's console script imports none of them),
#: no ``hashlib``/``hmac`` (their functions come from ``_hashlib``, which ctypes binds for
#: libcrypto's AES-GCM anyway).
RUN_PATH_STDLIB_311 = {
    "__future__",
    "_collections",
    "_ctypes",
    "_hashlib",
    "_struct",
    "binascii",
    "ctypes",
    "ctypes._endian",
    "errno",
    "gc",
    "struct",
    "types",
    "warnings",  # os.execvpe's PATH search (os.get_exec_path) imports it
}


def _imported(argv: list[str], env: dict[str, str]) -> set[str]:
    """The modules ``python -X importtime ARGV`` imports (its stderr lists each one)."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", *argv],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=60,
    )
    return {
        line.rsplit("|", 1)[1].strip()
        for line in proc.stderr.splitlines()
        if line.startswith("import time:") and not line.endswith("imported package")
    }


def test_run_path_imports_exactly_the_allowed_modules(tmp_path: Path, age_key: AgeKey) -> None:
    (tmp_path / ".env").write_text("A=1\nB=two\n")
    from secretsafe.envfile import encrypt_file

    encrypt_file(tmp_path / ".env", recipients=[age_key.recipient])
    env = {k: v for k, v in os.environ.items() if k != "DBUS_SESSION_BUS_ADDRESS"}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # irrelevant to the list, but as users run it
    # The console script pip >= 25.2 writes (older pips' template adds `import re`).
    script = (
        "import sys\nfrom secretsafe.cli import main\nif __name__ == '__main__':\n"
        "    if sys.argv[0].endswith('.exe'):\n        sys.argv[0] = sys.argv[0][:-4]\n"
        "    sys.exit(main())\n"
    )
    got = _imported(
        ["-c", script, "run", "-f", str(tmp_path / ".env.enc"), "--", "true"], env
    ) - _imported(["-c", "pass"], env)
    ours = {m for m in got if m.split(".")[0] == "secretsafe"}
    assert ours == RUN_PATH_SECRETSAFE
    stdlib_names = sys.stdlib_module_names
    third_party = {m for m in got - ours if m.split(".")[0] not in stdlib_names}
    assert third_party == RUN_PATH_THIRD_PARTY
    if sys.version_info[:2] == (3, 11):  # how the stdlib splits into modules differs by version
        assert got - ours - third_party == RUN_PATH_STDLIB_311


def test_run_fast_path_imports_no_heavy_module(tmp_path: Path, age_key: AgeKey) -> None:
    # `secretsafe run` is on every container start: the work it does before exec (parse,
    # discover keys, decrypt natively, merge) must not pay for click, pydantic, yaml, hvac,
    # keyring or the slower stdlib modules.
    (tmp_path / ".env").write_text("A=1\nB=two\n")
    from secretsafe.envfile import encrypt_file

    encrypt_file(tmp_path / ".env", recipients=[age_key.recipient])
    code = (
        "import sys\n"
        "before = set(sys.modules)  # what site already loaded is not ours to count\n"
        "from secretsafe.cli.run import fast_main\n"
        "from secretsafe.run import build_environment\n"
        f"env = build_environment([{str(tmp_path / '.env.enc')!r}], base_env={{}})\n"
        "assert env == {'A': '1', 'B': 'two'}, sorted(env)\n"
        "heavy = {'hvac', 'requests', 'keyring', 'asyncio', 'pydantic', 'click', 'yaml',"
        " 'dataclasses', 'inspect', 'tempfile', 'subprocess', 'pathlib', 'datetime', 'shutil',"
        " 'random', 're2', 'secretsafe.sops.shamir'}\n"
        "print(sorted(heavy & (set(sys.modules) - before)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_no_private_module_of_a_dependency() -> None:
    """Private helpers of cryptography, pydantic and pydantic-settings break on their next
    release: none is imported anywhere but the one compat module (secretsafe/schemas/_compat.py),
    whose version floor has its own test."""
    import ast

    package = Path(__file__).resolve().parents[1] / "secretsafe"
    guarded = ("cryptography", "pydantic", "pydantic_settings", "pydantic_core")
    found = []
    for path in sorted(package.rglob("*.py")):
        if path.name == "_compat.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            for name in names:
                parts = name.split(".")
                if parts[0] in guarded and any(p.startswith("_") for p in parts[1:]):
                    found.append(f"{path.relative_to(package)}:{node.lineno}: {name}")
    assert found == []


def test_run_fast_path_turns_the_collector_back_on_when_it_returns(tmp_path: Path) -> None:
    # fast_main turns the cyclic GC off for the milliseconds before exec; a caller that gets
    # control back (an error) must find it on again.
    import gc

    from secretsafe.cli.run import fast_main
    from secretsafe.errors import SecretsafeError

    assert gc.isenabled()
    with pytest.raises(SecretsafeError):
        fast_main(["-f", str(tmp_path / "missing.env.enc"), "--", "true"])
    assert gc.isenabled()
