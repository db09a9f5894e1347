"""The pages under docs/ cannot drift from the code: their TOML blocks load, the complete
schema example passes and fails `secretsafe check` exactly as shown, every key the schema
loader accepts (the pydantic models of secretsafe.schemas.declarative) is documented, and the
shell-completion page names the commands that tests/test_completion.py runs."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from secretsafe.errors import ConfigError
from secretsafe.schemas import declarative
from secretsafe.schemas.declarative import load_toml_schema

ROOT = Path(__file__).resolve().parents[1]
SCHEMA_DOC = ROOT / "docs" / "schema-format.md"
COMPLETION_DOC = ROOT / "docs" / "shell-completion.md"
SECRETSAFE = str(Path(sys.executable).parent / "secretsafe")


def blocks(path: Path, lang: str) -> list[str]:
    """The fenced ```lang blocks of a Markdown page, in order."""
    text = path.read_text(encoding="utf-8")
    return re.findall(rf"^```{re.escape(lang)}\n(.*?)^```$", text, re.MULTILINE | re.DOTALL)


def tables(section: str) -> dict[str, dict[str, list[str]]]:
    """The Markdown tables of ``section``, by their header line (cells joined with ``|``):
    each maps the `key` of its first cell to the other cells."""
    found: dict[str, dict[str, list[str]]] = {}
    rows: dict[str, list[str]] | None = None
    for line in [*section.splitlines(), ""]:
        if not line.startswith("|"):
            rows = None
            continue
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if rows is None:
            rows = found.setdefault("|".join(cells), {})
        m = re.fullmatch(r"`([a-z_]+)`", cells[0])
        if m:
            rows[m.group(1)] = cells[1:]
    return found


def doc_section(title: str) -> str:
    """The text of the ``###`` or ``##`` section called ``title`` of the schema page."""
    text = SCHEMA_DOC.read_text(encoding="utf-8")
    m = re.search(rf"^#+ {re.escape(title)}\n(.*?)(?=^#+ |\Z)", text, re.MULTILINE | re.DOTALL)
    assert m is not None, f"docs/schema-format.md has no section {title!r}"
    return m.group(1)


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SECRETSAFE, *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )


@pytest.fixture
def example(tmp_path: Path) -> Path:
    """The page's complete example as env.schema.toml, and its dotenv block as .env."""
    (tmp_path / "env.schema.toml").write_text(blocks(SCHEMA_DOC, "toml")[0], encoding="utf-8")
    (tmp_path / ".env").write_text(blocks(SCHEMA_DOC, "dotenv")[0], encoding="utf-8")
    return tmp_path


def test_every_toml_block_loads(tmp_path: Path) -> None:
    found = blocks(SCHEMA_DOC, "toml")
    assert found, "docs/schema-format.md has no ```toml block"
    for i, text in enumerate(found):
        path = tmp_path / f"block{i}.toml"
        path.write_text(text, encoding="utf-8")
        load_toml_schema(path)  # raises ConfigError on any problem in the block


def test_complete_example_lists_the_documented_variables(example: Path) -> None:
    result = run("schema", "--schema", "env.schema.toml", "--format", "names", cwd=example)
    assert result.returncode == 0, result.stderr
    names = result.stdout.splitlines()
    assert names[0] == "APP_ENV"
    assert [b for b in blocks(SCHEMA_DOC, "text") if b.startswith("APP_ENV\n")] == [
        result.stdout
    ], "the variable list on the page differs from `secretsafe schema --format names`"


def test_complete_example_passes_check_as_documented(example: Path) -> None:
    result = run("check", "--no-environ", "--schema", "env.schema.toml", "-f", ".env", cwd=example)
    assert result.returncode == 0, result.stderr
    line = result.stdout.strip()
    assert line == "ok: Shop: 4 variables valid"
    assert f"`{line}`" in SCHEMA_DOC.read_text(encoding="utf-8")


def test_complete_example_fails_in_production_as_documented(example: Path) -> None:
    args = ("check", "--no-environ", "--schema", "env.schema.toml", "-f", ".env")
    result = run(*args, "-e", "production", cwd=example)
    assert result.returncode == 3
    shown = [b for b in blocks(SCHEMA_DOC, "text") if b.startswith("secretsafe: error: Shop:")]
    assert shown == [result.stderr], "the production output on the page differs from the CLI's"


# Each error line of the "Errors in the file" section, and a file that produces it.
BROKEN = (
    '[fields.port]\ntype = "port"\nmin = "1"\n',
    '[fields.port]\ntype = "port"\npattern = "x"\n',
    '[fields.port]\ntype = "prot"\n',
    '[fields.port]\nkind = "port"\n',
)


def test_documented_file_errors_are_the_real_messages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    shown = [b for b in blocks(SCHEMA_DOC, "text") if "fields.port" in b]
    assert len(shown) == 1
    actual = []
    for text in BROKEN:
        (tmp_path / "env.schema.toml").write_text(text, encoding="utf-8")
        with pytest.raises(ConfigError) as info:
            load_toml_schema("env.schema.toml")
        assert info.value.exit_code == 14
        actual.append(f"secretsafe: error: {info.value}")
    assert shown[0].splitlines() == actual


KEYS = "key|type|default|meaning"
FIELDS = "Fields: `[fields.NAME]` and the keys of `[sections.NAME]`"


def test_every_key_the_loader_accepts_is_documented() -> None:
    top = tables(doc_section("The file"))["key|TOML|what it holds"]
    # SchemaFile reads [schema] through an alias; its other keys are field names.
    assert set(top) == {f.alias or n for n, f in declarative.SchemaFile.model_fields.items()}
    meta = tables(doc_section("`[schema]`"))[KEYS]
    assert set(meta) == set(declarative.SchemaMeta.model_fields)
    rules = tables(doc_section("Rules: `[[rules]]`"))[KEYS]
    assert set(rules) == set(declarative.RuleSpec.model_fields)
    field_tables = tables(doc_section(FIELDS))
    common, specific = field_tables[KEYS], field_tables["key|type|applies to|meaning"]
    assert set(common) | set(specific) == set(declarative.FieldSpec.model_fields)
    assert set(specific) == set(declarative._SPECIFIC)
    # A section's own key (its other keys are fields).
    assert "`description`" in doc_section("Sections: `[sections.NAME]`")


def test_types_and_the_options_of_each_type_match_the_loader() -> None:
    field_tables = tables(doc_section(FIELDS))
    types = field_tables["`type`|the variable holds|options of that type"]
    specific = field_tables["key|type|applies to|meaning"]
    assert set(types) - {"type"} == set(declarative._TYPES)
    for kind, options in declarative._OPTIONS_BY_TYPE.items():
        # The options column up to the first ";" (what follows is a remark).
        listed = set(re.findall(r"`([a-z_]+)`", types[kind][1].split(";")[0]))
        assert listed == options, f"type {kind}: the page lists {listed}, the loader {options}"
    for option, cells in specific.items():
        applies = set(re.findall(r"`([a-z]+)`", cells[1]))
        kinds = {k for k, opts in declarative._OPTIONS_BY_TYPE.items() if option in opts}
        assert applies == kinds, f"{option}: the page says {applies}, the loader {kinds}"


def test_completion_page_names_the_three_shells() -> None:
    text = COMPLETION_DOC.read_text(encoding="utf-8")
    for shell in ("bash", "zsh", "fish"):
        assert f"_SECRETSAFE_COMPLETE={shell}_source secretsafe" in text
