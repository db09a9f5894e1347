"""Differential, YAML scalars and list-form entries in ``environment:``: what secretsafe reads
equals ``docker compose config`` (the real binary), or both refuse. Numbers as go-yaml v3
resolves them (underscores, ``0b``/``0o``/``0x``, old octals, ``.inf``/``.nan``, floats printed
as Go prints them, integers past int64/uint64), dates (refused by compose), and list entries
with odd names. Hand-written cases plus hypothesis, a few compose calls in all."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from composeoracle import compose_config, their_env
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from secretsafe.compose import load_project, service_environment
from secretsafe.errors import ComposeError

SCALARS = [
    ".inf", "-.inf", ".Inf", "+.INF", ".NaN", ".nan", ".Nan", ".inf.", "1_000", "1_0.5", "1__0",
    "1_", "_1", "0b101", "0b2", "-0b11", "0o17", "0o8", "-0o7", "0x1F", "0X1f", "0x_1F", "-0x10",
    "012", "-012", "089", "0777", "00", "0", "-0", "+1", "1e3", "1E3", "1e+3", "1e6", "1e20",
    "1e21", "1.0e21", "1e400", "-1e400", "0.000001", "1e-7", "1.5e-7", "0.0001", "0.00001",
    "123456.7", "1234567.0", "12345678.9", "0.1", "3.14159265358979", "1.0", "-0.0", "+0.5",
    "0.", "-.5", ".5E2", "0.1e1", "1.e2", "123e-2", "5e-324", "1.0e+300",
    "9007199254740993", "9223372036854775807", "9223372036854775808", "18446744073709551615",
    "18446744073709551616", "-9223372036854775808", "-9223372036854775809",
    "123456789012345678901234567890", "100000000000000000000000", "1.2.3", "22:22", "12:30:00",
    "1e1_0", "+", ".", "1-2", "2001-12-14 21:59:43.10 -5", "2024-13-01", "2023-02-29",
    "true", "True", "FALSE", "yes", "on", "No", "y", "~", "null", "NULL",
]  # fmt: skip
DATES = ["2024-01-01", "2024-2-29", "2001-12-14t21:59:43.10-05:00", "2001-12-14T21:59:43Z",
         "2001-12-14 21:59:43.10", "2024-1-2 3:4:5"]  # fmt: skip
LIST_ENTRIES = [
    "DEBUG= true", " DEBUG=true", "DE BUG=1", "A=b=c", "A=", "A\tB=1", "\u00e9=1", "a.b=1",
    "1A=1", "A-B=1", "A:B=1", "A$$B=1", "SHELL_V", "NOT_SET", "X=${SHELL_V}",
]  # fmt: skip
LIST_REFUSED = ["DEBUG = true", "DEBUG =true", "=x"]
ENVIRON = {"SHELL_V": "sh"}


def _map_compose(values: list[str]) -> str:
    return "services:\n  s:\n    image: x\n    environment:\n" + "".join(
        f"      K{i}: {v}\n" for i, v in enumerate(values)
    )


def _list_compose(entries: list[str]) -> str:
    return "services:\n  s:\n    image: x\n    environment:\n" + "".join(
        f"      - {json.dumps(e)}\n" for e in entries
    )


def _both(root: Path, text: str) -> tuple[dict[str, str] | None, dict[str, str] | None]:
    root.mkdir(parents=True, exist_ok=True)
    (root / "compose.yml").write_text(text, encoding="utf-8")
    try:
        project = load_project([root / "compose.yml"], environ=ENVIRON)
        ours: dict[str, str] | None = {
            k: v.value for k, v in service_environment(project, "s").variables.items()
        }
    except ComposeError:
        ours = None
    proc = compose_config(root, ["compose.yml"], ENVIRON)
    theirs = their_env(json.loads(proc.stdout))["s"] if proc.returncode == 0 else None
    return ours, theirs


def test_scalars_match_docker_compose(tmp_path: Path) -> None:
    ours, theirs = _both(tmp_path / "map", _map_compose(SCALARS))
    assert theirs is not None
    assert ours is not None
    diffs = [(v, ours.get(f"K{i}"), theirs.get(f"K{i}")) for i, v in enumerate(SCALARS)]
    assert [d for d in diffs if d[1] != d[2]] == []
    print(f"yaml scalars: {len(SCALARS)} agree")


@pytest.mark.parametrize("value", DATES)
def test_dates_refused_like_docker_compose(tmp_path: Path, value: str) -> None:
    ours, theirs = _both(tmp_path, _map_compose([value]))
    assert (ours, theirs) == (None, None)


def test_list_entries_match_docker_compose(tmp_path: Path) -> None:
    ours, theirs = _both(tmp_path / "list", _list_compose(LIST_ENTRIES))
    assert theirs is not None
    assert ours == theirs
    for i, entry in enumerate(LIST_REFUSED):
        ours, theirs = _both(tmp_path / f"bad{i}", _list_compose([entry]))
        assert ours is None, entry
        if entry != "=x":  # compose accepts an empty name; no container can have one
            assert theirs is None, entry


_NUMERIC = st.tuples(
    st.sampled_from(list("0123456789+-.")),
    st.text(alphabet="0123456789_.eE+-xXoObB", min_size=1, max_size=7),
).map("".join)


@settings(
    max_examples=3,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(values=st.lists(_NUMERIC, min_size=80, max_size=80))
def test_generated_scalars_match_docker_compose(tmp_path: Path, values: list[str]) -> None:
    ours, theirs = _both(tmp_path / "gen", _map_compose(values))
    assert theirs is not None
    assert ours is not None
    assert [(v, ours.get(f"K{i}"), theirs.get(f"K{i}")) for i, v in enumerate(values)] == [
        (v, theirs.get(f"K{i}"), theirs.get(f"K{i}")) for i, v in enumerate(values)
    ]
