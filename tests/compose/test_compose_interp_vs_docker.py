"""Differential, interpolation in compose files: for every template, the value secretsafe
computes equals ``docker compose config`` (the real binary), or both refuse it (an unmet
``:?`` is a required-variable finding here, a refusal there; malformed syntax a
ComposeError here). Hand-written cases cover what compose-go's ``template`` and
``interpolation`` tests exercise, the brace quirks included; hypothesis adds templates built
from the same pieces. One compose call per batch; a refused case runs alone."""

from __future__ import annotations

import json
from pathlib import Path

from composeoracle import compose_config, their_env
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from secretsafe.compose.interpolate import interpolate
from secretsafe.errors import ComposeError

ENVIRON = {"SET": "v", "EMPTY": "", "JSON": "", "lower": "l", "N1": "1"}

CASES = [
    "plain", "$SET", "${SET}", "a${SET}b", "$SET.x", "$SETX", "${SET}X", "$lower", "${lower}",
    "${UNSET}", "${UNSET:-d}", "${EMPTY:-d}", "${EMPTY-d}", "${UNSET-d}", "${SET:+a}",
    "${EMPTY:+a}", "${EMPTY+a}", "${UNSET+a}", "${SET:?m}", "${EMPTY?m}", "$$", "$$SET",
    "$${SET}", "5$", "a $ b", "$1", "$-", "${UNSET:-${SET}}", "${UNSET:-${UNSET2:-deep}}",
    "${UNSET:-{a}b}", "${SET:-{a}b}", 'ok ${JSON:-{"json":1}}', "${UNSET:-a}b}",
    "${UNSET:-a}${UNSET:-b}", "${SET:-a}}}", "${UNSET:-{}", "${UNSET:-{{x}}}", "${UNSET:-}}",
    "${UNSET:-$$}", "${UNSET:-$${SET}}", "${UNSET:-a:-b}", "${UNSET-a-b}", "${SET:+x:+y}",
    "${UNSET:-${SET}x}y", "{${SET}}", "}${SET}{", "${SET}}", "$${", "${UNSET:-x}${SET:+y}z",
    "${UNSET:-a b c}", "${UNSET:- lead}", "${UNSET:-tail }", "${N1}${N1}", "$SET$SET",
    "${SET:-${UNSET:-${SET}}}", "${UNSET:-\\}", "a\\$SET", "${SET-}", "${UNSET:-}",
    "${UNSET:?}", "${UNSET:?msg}", "${UNSET?msg}", "${EMPTY:?m}", "${SET-${UNSET:?x}}",
    "${SET:+${UNSET:?x}}", "${}", "${", "${SET", "${1A}", "${A B}", "${SET:x}", "${SET!}",
    "${SET:-${}}", "$$$", "$$$SET", "${UNSET:-$}", "${UNSET:-$1}",
]  # fmt: skip


def _ours(text: str) -> str | None:
    try:
        result = interpolate(text, ENVIRON)
    except ComposeError:
        return None
    return None if any(r.failed for r in result.refs) else result.value


def _compose_yml(values: list[str]) -> str:
    return "services:\n  s:\n    image: x\n    environment:\n" + "".join(
        f"      K{i}: {json.dumps(v)}\n" for i, v in enumerate(values)
    )


def _compare(tmp_path: Path, texts: list[str]) -> tuple[int, int, list[str]]:
    ours = [_ours(t) for t in texts]
    accepted = [i for i, o in enumerate(ours) if o is not None]
    root = tmp_path / "batch"
    root.mkdir(parents=True, exist_ok=True)
    (root / "compose.yml").write_text(_compose_yml([texts[i] for i in accepted]))
    proc = compose_config(root, ["compose.yml"], ENVIRON)
    problems: list[str] = []
    agree = 0
    if proc.returncode != 0:
        problems.append(f"compose refused a batch we accept: {proc.stderr[-300:]}")
    else:
        theirs = their_env(json.loads(proc.stdout))["s"]
        for j, i in enumerate(accepted):
            if theirs.get(f"K{j}", "") == ours[i]:
                agree += 1
            else:
                problems.append(f"{texts[i]!r}: ours {ours[i]!r} compose {theirs.get(f'K{j}')!r}")
    refused = 0
    for i, o in enumerate(ours):
        if o is not None:
            continue
        alone = tmp_path / f"alone{i}"
        alone.mkdir(parents=True, exist_ok=True)
        (alone / "compose.yml").write_text(_compose_yml([texts[i]]))
        if compose_config(alone, ["compose.yml"], ENVIRON).returncode != 0:
            refused += 1
        else:
            problems.append(f"{texts[i]!r}: we refuse, compose accepts")
    return agree, refused, problems


def test_templates_match_docker_compose(tmp_path: Path) -> None:
    agree, refused, problems = _compare(tmp_path, CASES)
    assert problems == []
    assert agree + refused == len(CASES)
    print(f"interpolation, hand-written: {agree} agree, {refused} refused by both")


_PIECE = st.sampled_from(
    ["$", "$$", "{", "}", "${", "SET", "UNSET", "EMPTY", ":-", "-", ":+", "+", ":?", "?", "x",
     " ", "a}", "${SET}", "${UNSET:-", "${SET:-", "${EMPTY:+", "\"", ":"]
)  # fmt: skip
_TEMPLATE = st.lists(_PIECE, min_size=1, max_size=8).map("".join)


@settings(
    max_examples=4,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(texts=st.lists(_TEMPLATE, min_size=60, max_size=60))
def test_generated_templates_match_docker_compose(tmp_path: Path, texts: list[str]) -> None:
    import shutil

    for child in tmp_path.iterdir():
        shutil.rmtree(child)
    _, _, problems = _compare(tmp_path, texts)
    assert problems == []
