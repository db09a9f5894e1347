"""load() vs pydantic-settings at application start-up, as ratios measured in the same run.

1. First call on a class never seen before (what an app does once at start-up): a fresh
   class for every sample, ``Schema()`` (pydantic-settings reading ``os.environ``) vs
   ``secretsafe.load(Schema2, environ=env)`` on an identical fresh class, unknown-name check
   on; for 10, 100 and 1,000 fields (sections of 10 fields) with 200 unrelated variables.
2. Repeated calls on the same class.
3. The whole process: ``python -c 'import app; app.Settings()'`` vs
   ``python -c 'import app, secretsafe; secretsafe.load(app.Settings)'`` (100 fields).

A ratio above 1.00 means load() is faster. Run: ``.venv/bin/python benchmarks/bench_load.py``
(``--quick`` for fewer samples).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, SecretStr, create_model
from pydantic_settings import BaseSettings, SettingsConfigDict

import secretsafe

UNRELATED = 200
_TYPES: list[Any] = [str, int, bool, SecretStr, float]
_SAMPLES = {str: "value", int: "42", bool: "true", SecretStr: "k" * 40, float: "1.5"}


def make_schema(fields: int, tag: str = "") -> tuple[type[BaseSettings], dict[str, str]]:
    """A settings class with ``fields`` fields in sections of 10, and a matching environment."""
    sections: dict[str, Any] = {}
    env: dict[str, str] = {}
    for s in range(max(1, fields // 10)):
        members: dict[str, Any] = {}
        for f in range(min(10, fields)):
            t = _TYPES[f % len(_TYPES)]
            members[f"field_{f}"] = (t, ...)
            env[f"SECTION_{s}__FIELD_{f}"] = _SAMPLES[t]
        model = create_model(f"Section{s}{tag}", __base__=BaseModel, **members)
        sections[f"section_{s}"] = (model, ...)
    schema = create_model(f"BenchSettings{tag}", __base__=BaseSettings, **sections)
    schema.model_config = SettingsConfigDict(env_nested_delimiter="__")
    schema.model_rebuild(force=True)
    for i in range(UNRELATED):
        env[f"UNRELATED_APP_{i}_SETTING"] = f"v{i}"
    return schema, env


def _timed(fn: Callable[[], Any]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def first_call_ratio(fields: int, samples: int) -> tuple[float, float]:
    """Median ms of the first ``Schema()`` and of the first ``load()`` on fresh classes."""
    ps: list[float] = []
    ss: list[float] = []
    saved = dict(os.environ)
    try:
        for i in range(samples):
            a, env = make_schema(fields, f"a{i}")
            b, _ = make_schema(fields, f"b{i}")
            os.environ.clear()
            os.environ.update(env)
            # Alternate the order so that neither side profits from warm caches.
            if i % 2:
                ps.append(_timed(a))
                ss.append(_timed(lambda b=b, env=env: secretsafe.load(b, environ=env)))
            else:
                ss.append(_timed(lambda b=b, env=env: secretsafe.load(b, environ=env)))
                ps.append(_timed(a))
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return statistics.median(ps) * 1000, statistics.median(ss) * 1000


def repeated_ratio(fields: int, samples: int) -> tuple[float, float]:
    schema, env = make_schema(fields, "r")
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        assert secretsafe.load(schema, environ=env) == schema()
        ps = statistics.median(_timed(schema) for _ in range(samples)) * 1000
        ss = (
            statistics.median(
                _timed(lambda: secretsafe.load(schema, environ=env)) for _ in range(samples)
            )
            * 1000
        )
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return ps, ss


APP = """
from pydantic import BaseModel
from pydantic_settings import BaseSettings, SettingsConfigDict
{sections}

class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_nested_delimiter="__")
{fields}
"""


def process_ratio(samples: int) -> tuple[float, float]:
    """Median ms of a whole interpreter: import the app and build its settings."""
    sections = []
    fields = []
    env = dict(os.environ)
    for s in range(10):
        body = "\n".join(f"    field_{f}: {'int' if f % 2 else 'str'}" for f in range(10))
        sections.append(f"class Section{s}(BaseModel):\n{body}\n")
        fields.append(f"    section_{s}: Section{s}")
        for f in range(10):
            env[f"SECTION_{s}__FIELD_{f}"] = "42" if f % 2 else "value"
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "bench_app.py").write_text(
            APP.format(sections="\n".join(sections), fields="\n".join(fields))
        )
        env["PYTHONPATH"] = tmp
        # Measured as an installed app runs: bytecode compiled (by the warm-up runs below).
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        plain = "import bench_app; bench_app.Settings()"
        ours = "import bench_app, secretsafe; secretsafe.load(bench_app.Settings)"

        def run(code: str) -> float:
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], env=env, check=True)
            return time.perf_counter() - t0

        run(plain)
        run(ours)
        ps: list[float] = []
        ss: list[float] = []
        for i in range(samples):
            order = [(plain, ps), (ours, ss)] if i % 2 else [(ours, ss), (plain, ps)]
            for code, out in order:
                out.append(run(code))
    return statistics.median(ps) * 1000, statistics.median(ss) * 1000


def main() -> None:
    quick = "--quick" in sys.argv
    print(f"{'case':<44} {'Model() ms':>10} {'load() ms':>10}  ratio (>1: load faster)")
    for n in (10, 100, 1000):
        samples = (5 if n == 1000 else 15) if quick else (15 if n == 1000 else 61)
        ps, ss = first_call_ratio(n, samples)
        print(f"{f'first call, {n} fields':<44} {ps:>10.2f} {ss:>10.2f}  {ps / ss:.2f}x")
    for n in (10, 100, 1000):
        ps, ss = repeated_ratio(n, 30 if quick else 200)
        print(f"{f'repeated, {n} fields':<44} {ps:>10.3f} {ss:>10.3f}  {ps / ss:.2f}x")
    ps, ss = process_ratio(5 if quick else 21)
    print(f"{'whole process, 100 fields':<44} {ps:>10.1f} {ss:>10.1f}  {ps / ss:.2f}x")


if __name__ == "__main__":
    main()
