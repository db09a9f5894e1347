"""Every supported pydantic-settings version: private helpers only through
secretsafe.schemas._compat, and a floor that is tested (scripts/test-compat runs tests/schemas
against it)."""

from __future__ import annotations

import ast
import importlib
import re
import tomllib
from pathlib import Path

import pytest
from pydantic import BaseModel
from pydantic_settings import BaseSettings, SettingsConfigDict

import secretsafe
from secretsafe.schemas import _compat as compat
from secretsafe.schemas import check

ROOT = Path(__file__).resolve().parents[2]


def _private_imports(path: Path) -> list[str]:
    """Private pydantic / pydantic-settings names a module imports."""
    out: list[str] = []
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except SyntaxError:  # another area's work in progress; its own checks report it
        return out
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            top = node.module.split(".")[0]
            if top not in ("pydantic", "pydantic_settings", "pydantic_core"):
                continue
            if any(part.startswith("_") for part in node.module.split(".")):
                out.append(node.module)
            out.extend(f"{node.module}.{a.name}" for a in node.names if a.name.startswith("_"))
            # Modules of pydantic-settings' private layout (moved between versions).
            if node.module.startswith("pydantic_settings.sources."):
                out.append(node.module)
    return out


def test_private_helpers_only_through_the_compat_module() -> None:
    found = {
        str(p.relative_to(ROOT)): names
        for p in sorted((ROOT / "secretsafe").rglob("*.py"))
        if p.name != "_compat.py" and (names := _private_imports(p))
    }
    assert found == {}


def test_floor_in_pyproject_is_the_tested_one() -> None:
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"][
        "dependencies"
    ]
    (req,) = [d for d in deps if d.startswith("pydantic-settings")]
    floor = re.fullmatch(r"pydantic-settings>=([\d.]+)", req)
    assert floor is not None
    parts = tuple(int(x) for x in floor.group(1).split("."))
    assert (*parts, 0, 0)[:3] == compat.FLOOR
    assert "pydantic-settings==$floor" in (ROOT / "scripts" / "test-compat").read_text()


# Private helpers of pydantic-settings 2.16 that 2.15.0 lacks (load() raised ImportError there).
_MISSING_ON_OLD = {
    "pydantic_settings.sources.utils": (
        "_validate_by_name_enabled",
        "_validate_by_alias_enabled",
        "_get_model_config",
        "_get_field_annotation_and_metadata",
    ),
    "pydantic_settings.sources.base": ("_is_model_or_dataclass",),
}


def test_load_works_without_the_newest_private_helpers(monkeypatch: pytest.MonkeyPatch) -> None:
    for module, names in _MISSING_ON_OLD.items():
        try:
            mod = importlib.import_module(module)
        except ImportError:  # an older layout: nothing there to remove
            continue
        for name in names:
            monkeypatch.delattr(mod, name, raising=False)

    class Section(BaseModel):
        x: int = 0

    class S(BaseSettings):
        model_config = SettingsConfigDict(env_nested_delimiter="__", populate_by_name=True)
        section: Section = Section()

    got = secretsafe.load(S, environ={"SECTION__X": "3"})
    assert got.section.x == 3
    assert [p.variable for p in check(S, {"SECTION__Y": "1"}).problems] == ["SECTION__Y"]


def test_version_parsing() -> None:
    assert compat._version("2.16.3") == (2, 16, 3)
    assert compat._version("2.6") == (2, 6, 0)
    assert compat._version("2.17.0rc1") == (2, 17, 0)
