"""Leak suite, schema channels: validator messages and settings reprs.

A hypothesis fuzz (derandomized) builds settings models with random validators -- field
before/after/wrap/plain, model before/after, on secret and plain fields, at the top, in a
section, in lists and dicts -- whose errors quote transformations of the input (strip,
upper, reversed, slices, base64, hex, repr, JSON, f-strings, 6-character prefixes and
suffixes) through ValueError, AssertionError and PydanticCustomError (also spoofing built-in
error types with the value in ``ctx``). Every derived string is searched in every output:
``check`` (text, JSON, repr), ``load()``'s exception chain, the log, and ``secretsafe check``
(text and JSON). A table over secret-like names at every nesting level searches
``repr``/``str`` of ``secretsafe.Settings`` instances and of the building blocks.
"""

from __future__ import annotations

import base64
import json
import logging
import sys
import types
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr, create_model, field_validator, model_validator
from pydantic_core import PydanticCustomError
from pydantic_settings import BaseSettings, SettingsConfigDict
from reliability_support import CANARY, Tally, exception_texts, run_cli

import secretsafe
from secretsafe.schemas import SchemaValidationError, check

pytestmark = pytest.mark.reliability

#: The planted value: padded (so strip() changes it) and with distinctive ends (so a
#: 6-character prefix or suffix is never a coincidence).
VALUE = f"  qV7-{CANARY}-w9Z  "

TRANSFORMS: dict[str, Callable[[str], str]] = {
    "identity": lambda s: s,
    "strip": str.strip,
    "upper": lambda s: s.strip().upper(),
    "lower": lambda s: s.strip().lower(),
    "swapcase": lambda s: s.strip().swapcase(),
    "reversed": lambda s: s.strip()[::-1],
    "inner": lambda s: s.strip()[1:-1],
    "prefix6": lambda s: s.strip()[:6],
    "suffix6": lambda s: s.strip()[-6:],
    "middle": lambda s: s.strip()[8:20],
    "base64": lambda s: base64.b64encode(s.strip().encode()).decode(),
    "hex": lambda s: s.strip().encode().hex(),
    "repr": repr,
    "json": json.dumps,
    "fstring": lambda s: f"<<{s.strip()}>>",
}


def derived_strings() -> set[str]:
    """Every string a transformation can make of the value (raw and as a dotenv parser may
    have stripped it), 6 characters or more."""
    out: set[str] = set()
    for raw in (VALUE, VALUE.strip()):
        for fn in TRANSFORMS.values():
            d = fn(raw)
            for s in (d, d.strip()):
                if len(s) >= 6:
                    out.add(s)
    return out


DERIVED = sorted(derived_strings(), key=len)


def leaks(text: str) -> str | None:
    for d in DERIVED:
        if d in text:
            return f"derived value {d[:3]}... in output"
    return None


def reveal(v: Any) -> str:
    if isinstance(v, SecretStr):
        return v.get_secret_value()
    if isinstance(v, list):
        return reveal(v[0])
    if isinstance(v, dict):
        return reveal(next(iter(v.values())))
    return str(v)


RAISES = (
    "value_error",
    "assertion",
    "custom",
    "custom_ctx",
    "spoof_literal",
    "spoof_gt",
    "spoof_min_length",
    "spoof_url_scheme",
    "spoof_pattern",
    "spoof_int_parsing",
)


def fail(how: str, d: str) -> None:
    """Raise the error a careless validator would, quoting ``d``."""
    spoof = {
        "spoof_literal": ("literal_error", "expected"),
        "spoof_gt": ("greater_than", "gt"),
        "spoof_min_length": ("string_too_short", "min_length"),
        "spoof_url_scheme": ("url_scheme", "schemes"),
        "spoof_pattern": ("string_pattern_mismatch", "pattern"),
        "spoof_int_parsing": ("int_parsing", "error"),
    }
    if how == "value_error":
        raise ValueError(f"bad value {d}")
    if how == "assertion":
        raise AssertionError(f"expected something else than {d}")
    if how == "custom":
        raise PydanticCustomError("not_allowed", f"{d} is not allowed")
    if how == "custom_ctx":
        raise PydanticCustomError("not_allowed", "{v} is not allowed", {"v": d})
    etype, key = spoof[how]
    raise PydanticCustomError(etype, "{%s} spoofed %s" % (key, d), {key: d})  # noqa: UP031


@dataclass(frozen=True)
class Case:
    base: str  # "secretsafe" | "pydantic"
    placement: str  # "top" | "section" | "list" | "dict"
    field: str
    secret: bool
    validator: str  # before | after | wrap | plain | model_before | model_after
    transform: str
    raises: str

    def __str__(self) -> str:
        return "/".join(
            [self.base, self.placement, self.field, "secret" if self.secret else "plain",
             self.validator, self.transform, self.raises]
        )  # fmt: skip


def _validators(case: Case) -> dict[str, Any]:
    fn = TRANSFORMS[case.transform]
    name = case.field

    def quote(v: Any) -> None:
        fail(case.raises, fn(reveal(v)))

    if case.validator == "model_before":

        def mb(cls: Any, data: Any) -> Any:
            quote(next(v for k, v in data.items() if k.lower() == name))
            return data

        return {"mb": model_validator(mode="before")(mb)}
    if case.validator == "model_after":

        def ma(self: Any) -> Any:
            quote(getattr(self, name))
            return self

        return {"ma": model_validator(mode="after")(ma)}
    if case.validator == "wrap":

        def w(cls: Any, v: Any, handler: Any) -> Any:
            quote(v)
            return handler(v)

        return {"w": field_validator(name, mode="wrap")(w)}

    def f(cls: Any, v: Any) -> Any:
        quote(v)
        return v

    return {"f": field_validator(name, mode=case.validator)(f)}  # type: ignore[call-overload]


def build(case: Case) -> tuple[type[Any], dict[str, str]]:
    """The schema for ``case`` and an environment that reaches its validator."""
    scalar: Any = SecretStr if case.secret else str
    ann: Any = {"list": list[scalar], "dict": dict[str, scalar]}.get(case.placement, scalar)
    validators = _validators(case)
    config = SettingsConfigDict(env_prefix="SSFZ_", env_nested_delimiter="__", extra="ignore")
    parent: type[BaseSettings] = secretsafe.Settings if case.base == "secretsafe" else BaseSettings
    base = type("Base", (parent,), {"model_config": {**parent.model_config, **config}})
    var = f"SSFZ_{case.field.upper()}"
    raw = VALUE
    if case.placement == "list":
        raw = json.dumps([VALUE, "second-item"])
    elif case.placement == "dict":
        raw = json.dumps({"first": VALUE})
    if case.placement == "section":
        section = create_model("Section", __validators__=validators, **{case.field: (ann, ...)})
        schema = create_model("Fuzzed", __base__=base, sec=(section, ...))
        var = f"SSFZ_SEC__{case.field.upper()}"
    else:
        schema = create_model(
            "Fuzzed", __base__=base, __validators__=validators, **{case.field: (ann, ...)}
        )
    return schema, {var: raw}


cases = st.builds(
    Case,
    base=st.sampled_from(["secretsafe", "pydantic"]),
    placement=st.sampled_from(["top", "section", "list", "dict"]),
    field=st.sampled_from(["api_key", "password", "label", "note", "jwt_secret_key"]),
    secret=st.booleans(),
    validator=st.sampled_from(["before", "after", "wrap", "plain", "model_before", "model_after"]),
    transform=st.sampled_from(sorted(TRANSFORMS)),
    raises=st.sampled_from(RAISES),
)


def channels(
    schema: type[Any], env: dict[str, str], tmp: Path
) -> dict[str, tuple[str, str | None]]:
    """Every output the value could reach: name -> (text, why the channel is not the clean
    failure it should be, or None)."""
    out: dict[str, tuple[str, str | None]] = {}
    report = check(schema, env)
    out["report"] = (report.to_text() + report.to_json() + repr(report), None)
    records: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda r: records.append(r.getMessage())  # type: ignore[method-assign]
    logger = logging.getLogger("secretsafe")
    logger.addHandler(handler)
    try:
        secretsafe.load(schema, environ=env)
        out["load"] = ("", "load() did not raise")
    except SchemaValidationError as exc:
        out["load"] = ("\n".join(exception_texts(exc)), None)
    finally:
        logger.removeHandler(handler)
    out["log"] = ("\n".join(records), None)
    mod = types.ModuleType("ss_fuzz_schema")
    mod.Fuzzed = schema  # type: ignore[attr-defined]
    sys.modules["ss_fuzz_schema"] = mod
    try:
        env_file = tmp / "fuzz.env"
        env_file.write_text("".join(f"{k}={v}\n" for k, v in env.items()), encoding="utf-8")
        for fmt in ("text", "json"):
            args = ["check", "--schema", "ss_fuzz_schema:Fuzzed", "-f", str(env_file)]
            res = run_cli([*args, "--format", fmt])
            text = res.out + res.err + res.logs + "".join(map(repr, res.exceptions))
            out[f"cli-{fmt}"] = (text, None if res.code == 3 else f"exit {res.code}, want 3")
    finally:
        del sys.modules["ss_fuzz_schema"]
    return out


def test_derived_strings_are_distinctive() -> None:
    """The search terms cannot match what a clean report says anyway."""
    assert len(DERIVED) >= len(TRANSFORMS)
    clean = check(
        build(Case("secretsafe", "top", "note", False, "after", "strip", "value_error"))[0], {}
    )
    assert leaks(clean.to_text() + clean.to_json()) is None


@settings(
    derandomize=True,
    max_examples=200,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=cases)
def test_validator_messages_never_show_derived_values(
    case: Case, tally: Tally, tmp_path: Path
) -> None:
    schema, env = build(case)
    report = check(schema, env)
    # The validator must have run and failed, or the case proves nothing.
    if report.ok:
        tally.fail(str(case), "the fuzzed validator did not reject the value")
        return
    for name, (text, wrong) in channels(schema, env, tmp_path).items():
        tally.check(f"{case} [{name}]", wrong or leaks(text), note=f"validator:{case.validator}")


# --- Settings repr/str: a table over secret-like names at every nesting level ---------------
SECRET_NAMES = (
    "secret_key",
    "jwt_secret_key",
    "aws_secret_access_key",
    "password",
    "db_pass",
    "client_secret",
    "refresh_token",
    "api_key",
    "private_key",
    "sentry_dsn",
    "hmac_key",
    "unseal_keys",
)
LEVELS = (
    "top",
    "section",
    "section_in_section",
    "dataclass_section",
    "list_of_sections",
    "dict_of_sections",
    "dict_key",
    "blocks_section",
)


def repr_schema(name: str, level: str) -> tuple[type[Any], Any]:
    """A ``secretsafe.Settings`` class holding CANARY under ``name`` at ``level``, and an
    instance of it."""
    import dataclasses

    from secretsafe.schemas.masking import MaskedRepr

    leaf = create_model("Leaf", **{name: (str, CANARY), "host": (str, "db.internal")})
    ann: Any
    value: Any
    if level == "top":
        return create_model("S", __base__=secretsafe.Settings, **{name: (str, CANARY)}), None
    if level == "section":
        ann, value = leaf, leaf()
    elif level == "section_in_section":
        outer = create_model("Outer", inner=(leaf, leaf()))
        ann, value = outer, outer()
    elif level == "dataclass_section":
        dc = dataclasses.make_dataclass("Dc", [(name, str, dataclasses.field(default=CANARY))])
        ann, value = dc, dc()
    elif level == "list_of_sections":
        ann, value = list[leaf], [leaf(), leaf()]  # type: ignore[valid-type]
    elif level == "dict_of_sections":
        ann, value = dict[str, leaf], {"primary": leaf()}  # type: ignore[valid-type]
    elif level == "dict_key":
        ann, value = dict[str, str], {name.upper(): CANARY, "HOST": "db.internal"}
    else:  # a user's section built on the blocks' base
        own = create_model("Own", __base__=MaskedRepr, **{name: (str, CANARY)})
        ann, value = own, own()
    return create_model("S", __base__=secretsafe.Settings, sec=(ann, value)), value


@pytest.mark.parametrize("level", LEVELS)
def test_settings_repr_masks_secret_names_at_every_level(level: str, tally: Tally) -> None:
    for name in SECRET_NAMES:
        schema, section = repr_schema(name, level)
        s = schema()
        texts = [repr(s), str(s), f"{s}", f"{s!r}"]
        if level == "blocks_section":
            texts += [repr(section), str(section)]  # the section masks on its own too
        hit = next((t for t in texts if CANARY in t), None)
        tally.check(f"{level}/{name}", None if hit is None else "value in repr/str", "repr cases")


@pytest.mark.parametrize("level", ["top", "section", "list", "dict"])
def test_settings_repr_masks_url_passwords(level: str, tally: Tally) -> None:
    """A URL holding a password, under a name that says nothing about secrets."""
    for scheme in ("redis", "postgres", "https", "amqp"):
        url = f"{scheme}://user:{CANARY}@host:1234/x"
        value: Any = {"top": url, "list": [url], "dict": {"primary": url}}.get(level)
        if level == "section":
            value = create_model("Conn", url=(str, url))()
        schema = create_model("S", __base__=secretsafe.Settings, conn=(type(value), value))
        text = repr(schema()) + str(schema())
        problem = "password in repr" if CANARY in text else None
        tally.check(f"{level}/{scheme}", problem, "repr cases")


DECLARATIVE = """
[fields.api_token]
type = "secret"
min_length = 64
min_entropy = 200
[fields.port]
type = "port"
[fields.mode]
choices = ["a", "b"]
[fields.code]
pattern = "^[a-z]+$"
max_length = 4
[sections.database]
url = { type = "url", schemes = ["postgres"], secret = true }
password = { type = "str", secret = true, min_length = 80 }
"""


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_declarative_schema_reports_hold_no_value(fmt: str, tally: Tally, tmp_path: Path) -> None:
    """The TOML schema path goes through the same messages: every planted value fails one
    check, and none appears in ``secretsafe check``'s output."""
    schema = tmp_path / "env.schema.toml"
    schema.write_text(DECLARATIVE, encoding="utf-8")
    planted = {
        "API_TOKEN": f"{CANARY}-tok",
        "PORT": f"{CANARY}-port",
        "MODE": f"{CANARY}-mode",
        "CODE": f"{CANARY}-code",
        "DATABASE__URL": f"mysql://u:{CANARY}@h/db",
        "DATABASE__PASSWORD": f"{CANARY}-pw",
    }
    env_file = tmp_path / "app.env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in planted.items()), encoding="utf-8")
    res = run_cli(["check", "--schema", str(schema), "-f", str(env_file), "--format", fmt])
    text = res.out + res.err + res.logs
    tally.check(f"declarative/{fmt}/exit", None if res.code == 3 else f"exit {res.code}")
    for name in planted:
        tally.check(f"declarative/{fmt}/{name} reported", None if name in text else "not reported")
    tally.check(f"declarative/{fmt}", "canary in output" if CANARY in text else None)
