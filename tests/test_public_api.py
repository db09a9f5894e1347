"""The public surface stays small and honest, and `import secretsafe` stays cheap."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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
    code = (
        "import sys, secretsafe\n"
        "heavy = {'hvac', 'requests', 'keyring', 'asyncio', 'pydantic', 'pydantic_settings',"
        " 'click', 'yaml', 're2'}\n"
        "print(sorted(heavy & set(sys.modules)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


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
