"""The declarative (TOML) schema file is validated itself: every wrong type, unknown key or
option that does not fit a field's type is one ConfigError line (exit 14) naming the file
and the key -- never a TypeError, a traceback or "internal error" (exit 1)."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import math
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from secretsafe.cli import main
from secretsafe.errors import ConfigError, SecretsafeError
from secretsafe.schemas import check
from secretsafe.schemas.declarative import (
    FieldSpec,
    RuleSpec,
    SchemaMeta,
    load_toml_schema,
    schema_from_mapping,
)


def toml_value(v: Any) -> str:
    """``v`` as a TOML value (inline), for the types tomllib produces."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)  # JSON string escapes are valid TOML basic-string escapes
    if isinstance(v, (dt.datetime, dt.date, dt.time)):
        return v.isoformat()
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{json.dumps(k)} = {toml_value(x)}" for k, x in v.items()) + "}"
    raise TypeError(type(v))


@pytest.mark.parametrize("kind", ["secret", "str"])
def test_min_length_string_is_a_config_error(
    kind: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reported case: ``min_length = "x"`` was a TypeError -> internal error, exit 1 (for
    a secret, once a value is set) or a multi-line pydantic SchemaError dump (for a str)."""
    monkeypatch.setenv("TOKEN", "abcdefgh-value")
    schema = tmp_path / "env.schema.toml"
    schema.write_text(f'[fields.token]\ntype = "{kind}"\nmin_length = "x"\n', encoding="utf-8")
    assert main(["check", "--schema", str(schema)]) == ConfigError.exit_code == 14
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert f"{schema}: fields.token.min_length: must be a valid integer" in lines[0]
    assert "internal error" not in err
    assert "Traceback" not in err


# Every key of the format, with values of a wrong type (and the expected message part).
WRONG: list[tuple[dict[str, Any], str]] = [
    ({"schema": {"name": 3}}, "schema.name: must be a valid string"),
    ({"schema": {"env_prefix": []}}, "schema.env_prefix: must be a valid string"),
    ({"schema": {"case_sensitive": "yes"}}, "schema.case_sensitive: must be a valid boolean"),
    ({"schema": {"environment_field": 1.5}}, "schema.environment_field: must be a valid string"),
    ({"schema": {"default_rules": 1}}, "schema.default_rules: must be a valid boolean"),
    ({"schema": {"colour": "red"}}, "schema.colour: unknown key"),
    ({"schema": "x"}, "schema: must be a table"),
    ({"fields": []}, "fields: must be a table"),
    ({"fields": {"x": 1}}, "fields.x: must be a table"),
    ({"fields": {"x": {"type": 1}}}, "fields.x.type: unknown type"),
    ({"fields": {"x": {"type": "nope"}}}, "fields.x.type: unknown type"),
    ({"fields": {"x": {"required": "no"}}}, "fields.x.required: must be a valid boolean"),
    ({"fields": {"x": {"default": {"a": 1}}}}, "fields.x.default: must be a string"),
    ({"fields": {"x": {"description": 1}}}, "fields.x.description: must be a valid string"),
    ({"fields": {"x": {"secret": "true"}}}, "fields.x.secret: must be a valid boolean"),
    ({"fields": {"x": {"min_length": "x"}}}, "fields.x.min_length: must be a valid integer"),
    ({"fields": {"x": {"max_length": 1.5}}}, "fields.x.max_length: must be a valid integer"),
    ({"fields": {"x": {"min_length": -1}}}, "fields.x.min_length: must be greater than or"),
    ({"fields": {"x": {"type": "int", "min": "1"}}}, "fields.x.min: must be a number"),
    ({"fields": {"x": {"type": "int", "max": True}}}, "fields.x.max: must be a number"),
    ({"fields": {"x": {"choices": "a"}}}, "fields.x.choices: must be a non-empty list"),
    ({"fields": {"x": {"choices": []}}}, "fields.x.choices: must be a non-empty list"),
    ({"fields": {"x": {"choices": [{}]}}}, "fields.x.choices: must be a string, number"),
    ({"fields": {"x": {"type": "url", "schemes": "pg"}}}, "fields.x.schemes: must be a list"),
    ({"fields": {"x": {"pattern": 5}}}, "fields.x.pattern: must be a string"),
    ({"fields": {"x": {"pattern": "(open"}}}, "fields.x.pattern: is not a valid regular"),
    ({"fields": {"x": {"type": "secret", "min_entropy": "hi"}}}, "min_entropy: must be a valid"),
    ({"fields": {"x": {"type": "secret", "reject_weak": 0}}}, "reject_weak: must be a valid"),
    ({"fields": {"x": {"colour": 1}}}, "fields.x.colour: unknown key"),
    ({"fields": {"x": {"type": "int", "min_length": 3}}}, "fields.x: min_length does not apply"),
    ({"fields": {"x": {"type": "bool", "pattern": "a"}}}, "fields.x: pattern does not apply"),
    ({"fields": {"x": {"type": "secret", "pattern": "a"}}}, "fields.x: pattern does not apply"),
    ({"fields": {"x": {"type": "choice"}}}, "fields.x: type choice needs choices"),
    ({"fields": {"x": {"type": "int", "min": 5, "max": 1}}}, "fields.x: min is greater than max"),
    ({"fields": {"x": {"required": True, "default": "a"}}}, "fields.x: required = true and a"),
    ({"fields": {"a b": {}}}, 'fields."a b": not a valid field name'),
    ({"sections": []}, "sections: must be a table"),
    ({"sections": {"db": 1}}, "sections.db: must be a table"),
    ({"sections": {"db": {"url": 1}}}, "sections.db.url: must be a table"),
    ({"sections": {"db": {"url": {"type": 2}}}}, "sections.db.url.type: unknown type"),
    ({"sections": {"db": {"url": {"colour": 2}}}}, "sections.db.url.colour: unknown key"),
    ({"rules": {}}, "rules: must be a valid list"),
    ({"rules": [1]}, "rules[0]: must be a table"),
    ({"rules": [{"environment": 3}]}, "rules[0].environment: must be a name or a list"),
    ({"rules": [{"require": []}]}, "rules[0].require: must be a table"),
    ({"rules": [{"require": {"a": {}}}]}, "rules[0].require: must be a string, number"),
    ({"rules": [{"no_default_secrets": "y"}]}, "rules[0].no_default_secrets: must be a valid"),
    ({"rules": [{"message": 1}]}, "rules[0].message: must be a valid string"),
    ({"rules": [{"when": 1}]}, "rules[0].when: unknown key"),
    ({"colour": {}}, "colour: unknown key"),
]
BASE_FIELD = {"x": {}}


@pytest.mark.parametrize(("doc", "want"), WRONG, ids=[w for _, w in WRONG])
def test_every_key_with_a_wrong_type(doc: dict[str, Any], want: str) -> None:
    doc = {"fields": BASE_FIELD, **doc} if "fields" not in doc and "sections" not in doc else doc
    with pytest.raises(ConfigError) as info:
        schema_from_mapping(doc, where="s.toml", default_name="S")
    text = str(info.value)
    assert text.startswith("s.toml: ")
    assert want in text
    assert "\n" not in text
    assert info.value.__cause__ is None
    assert info.value.__context__ is None or info.value.__suppress_context__


def test_a_default_is_never_quoted() -> None:
    secret = "s3cr3t-default-Value-99"
    bad = {"fields": {"x": {"required": True, "default": secret}}}
    with pytest.raises(ConfigError) as info:
        schema_from_mapping(bad, where="s.toml", default_name="S")
    assert secret not in str(info.value) + repr(info.value)


def test_the_example_schema_still_loads() -> None:
    example = Path(__file__).parents[2] / "examples" / "node-service" / "env.schema.toml"
    cls = load_toml_schema(example)
    assert set(cls.model_fields) >= {"node_env", "port", "database", "session"}


# --- fuzz: random TOML values for every key ------------------------------------------------
toml_scalars = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.dates(),
    st.datetimes(),
)
toml_values = st.recursive(
    toml_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)
FIELD_KEYS = sorted(FieldSpec.model_fields)
TYPES = ["str", "int", "float", "bool", "port", "url", "secret", "choice", "list"]


@st.composite
def schema_docs(draw: Any) -> dict[str, Any]:
    """A schema document where one random key of each table gets a random TOML value and
    the rest are plausible."""
    spec: dict[str, Any] = {"type": draw(st.sampled_from(TYPES))}
    for key in draw(st.lists(st.sampled_from(FIELD_KEYS), max_size=4, unique=True)):
        spec[key] = draw(toml_values)
    doc: dict[str, Any] = {"fields": {"x": spec}}
    if draw(st.booleans()):
        key = draw(st.sampled_from(sorted(SchemaMeta.model_fields)))
        doc["schema"] = {key: draw(toml_values)}
    if draw(st.booleans()):
        key = draw(st.sampled_from(sorted(RuleSpec.model_fields)))
        doc["rules"] = [{key: draw(toml_values)}]
    if draw(st.booleans()):
        doc["sections"] = {"db": {"pw": dict(spec)}}
    if draw(st.booleans()):
        doc[draw(st.sampled_from(["fields", "sections", "rules", "schema"]))] = draw(toml_values)
    return doc


def build_or_error(doc: dict[str, Any]) -> type[Any] | ConfigError:
    try:
        return schema_from_mapping(doc, where="s.toml", default_name="S")
    except ConfigError as exc:
        return exc


@settings(
    derandomize=True,
    max_examples=400,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(doc=schema_docs())
def test_random_values_give_a_schema_or_one_config_error(doc: dict[str, Any]) -> None:
    built = build_or_error(doc)
    if isinstance(built, ConfigError):
        assert "\n" not in str(built)
        assert str(built).startswith("s.toml: ")
        return
    # A schema that loads must also check an environment without an internal error.
    for env in ({}, {"X": "1"}, {"X": "abc", "DB__PW": "zz"}):
        with contextlib.suppress(SecretsafeError):
            check(built, env, unknown="off")


@settings(derandomize=True, max_examples=40, deadline=None, database=None)
@given(doc=schema_docs())
def test_cli_never_exits_1_on_a_schema_file(doc: dict[str, Any]) -> None:
    """Through the real TOML parser and ``secretsafe check``: exit 0, 3 or 14, and a 14 is
    one ``secretsafe: error:`` line."""
    text = "".join(f"{table} = {toml_value(body)}\n" for table, body in doc.items())
    err = io.StringIO()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fuzz.schema.toml"
        path.write_text(text, encoding="utf-8")
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
            code = main(["check", "--schema", str(path)])
    assert code in (0, 3, 14), (code, err.getvalue())
    if code == 14:
        lines = [ln for ln in err.getvalue().splitlines() if ln.strip()]
        assert len(lines) == 1, err.getvalue()
        assert lines[0].startswith("secretsafe: error: "), lines[0]


VALID_OPTION = {
    "min_length": 3,
    "max_length": 10,
    "min": 1,
    "max": 5,
    "choices": ["a", "b"],
    "schemes": ["http"],
    "pattern": "^a",
    "min_entropy": 10.0,
    "reject_weak": False,
}


@pytest.mark.parametrize("kind", TYPES)
@pytest.mark.parametrize("secret", [None, True, False])
@pytest.mark.parametrize("option", sorted(VALID_OPTION))
def test_every_type_option_pair_builds_or_is_refused(
    kind: str, secret: bool | None, option: str
) -> None:
    """Each option with a well-typed value on each type: the schema is refused with a
    ConfigError, or it builds and checks any environment without an internal error."""
    spec: dict[str, Any] = {"type": kind, option: VALID_OPTION[option]}
    if kind == "choice" and option != "choices":
        spec["choices"] = ["a"]
    if secret is not None:
        spec["secret"] = secret
    for default in (None, "x", 3):
        if default is not None:
            spec["default"] = default
        built = build_or_error({"fields": {"x": spec}})
        if isinstance(built, ConfigError):
            assert "\n" not in str(built)
            continue
        for env in ({}, {"X": "abc"}, {"X": "4"}):
            with contextlib.suppress(SecretsafeError):
                check(built, env, unknown="off")
