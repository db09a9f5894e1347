"""load() vs pydantic-settings, and import cost.

1. ``secretsafe.load(Schema, environ=env)`` vs ``Schema()`` (pydantic-settings reading the
   same variables from ``os.environ``) for a 10-section, 100-field schema in a 300-variable
   environment (100 of the schema's variables, 200 unrelated ones). Both build the same model.
2. ``import secretsafe`` vs ``import pydantic_settings`` in fresh interpreters.

Prints a table of medians and ratios. Run: ``.venv/bin/python benchmarks/bench_load.py``.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from typing import Any

from pydantic import BaseModel, SecretStr, create_model
from pydantic_settings import BaseSettings, SettingsConfigDict

import secretsafe

SECTIONS = 10
FIELDS = 10
UNRELATED = 200


def make_schema() -> tuple[type[BaseSettings], dict[str, str]]:
    types: list[Any] = [str, int, bool, SecretStr, float]
    samples = {str: "value", int: "42", bool: "true", SecretStr: "k" * 40, float: "1.5"}
    sections: dict[str, Any] = {}
    env: dict[str, str] = {}
    for s in range(SECTIONS):
        fields: dict[str, Any] = {}
        for f in range(FIELDS):
            t = types[f % len(types)]
            fields[f"field_{f}"] = (t, ...)
            env[f"SECTION_{s}__FIELD_{f}"] = samples[t]
        sections[f"section_{s}"] = (create_model(f"Section{s}", __base__=BaseModel, **fields), ...)
    schema = create_model(
        "BenchSettings",
        __base__=BaseSettings,
        __config__=None,
        **sections,
    )
    schema.model_config = SettingsConfigDict(env_nested_delimiter="__")
    schema.model_rebuild(force=True)
    for i in range(UNRELATED):
        env[f"UNRELATED_APP_{i}_SETTING"] = f"v{i}"
    return schema, env


def median_ms(fn: Any, n: int) -> float:
    fn()  # warm-up (plans, validators, caches are per process, as in an app)
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


def import_ms(module: str, n: int) -> float:
    code = f"import time; t=time.perf_counter(); import {module}; print(time.perf_counter()-t)"
    times = []
    for _ in range(n):
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout
        times.append(float(out) * 1000)
    return statistics.median(times)


def main() -> None:
    schema, env = make_schema()
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        assert secretsafe.load(schema, environ=env) == schema()
        ps = median_ms(schema, 300)
        ss = median_ms(lambda: secretsafe.load(schema, environ=env), 300)
        ss_off = median_ms(lambda: secretsafe.load(schema, environ=env, unknown="off"), 300)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    imp_ss = import_ms("secretsafe", 31)
    imp_ps = import_ms("pydantic_settings", 31)
    rows = [
        ("pydantic-settings BaseSettings()", ps, "1.00x"),
        ("secretsafe.load() (unknown-name check on)", ss, f"{ps / ss:.2f}x faster"),
        ("secretsafe.load(unknown='off')", ss_off, f"{ps / ss_off:.2f}x faster"),
        ("import pydantic_settings (fresh process)", imp_ps, ""),
        ("import secretsafe (fresh process)", imp_ss, f"{imp_ss - imp_ps:+.1f} ms"),
    ]
    print(f"{SECTIONS} sections x {FIELDS} fields, {len(env)} variables in the environment")
    print(f"{'case':<46} {'median ms':>10}  ratio")
    for name, ms, ratio in rows:
        print(f"{name:<46} {ms:>10.3f}  {ratio}")


if __name__ == "__main__":
    main()
