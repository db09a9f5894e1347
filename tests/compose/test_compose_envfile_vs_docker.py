"""Differential, env files: every case is an ``env_file`` of its own service, and the
environment secretsafe computes equals ``docker compose config`` (v2, the real binary), or
both refuse the file. Hand-written cases cover what compose-go's ``dotenv`` tests exercise
(quoting, escapes, comments, ``export``, inherited names, YAML-style ``KEY: VALUE``, odd names,
BOM, CRLF, interpolation with its precedence: shell, project ``.env``, the service's
``environment:``, earlier lines and earlier files); hypothesis adds generated files. Cases run
in a few compose calls (one per batch; a case we refuse runs alone, expecting compose to fail).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from composeoracle import compose_config, their_env
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from secretsafe.errors import SecretsafeError

#: The process environment compose runs in, and the project .env.
ENVIRON = {"SHELLV": "shell", "SHARED": "from-shell", "EMPTY": ""}
DOTENV = "SHARED=from-dotenv\nDOTV=dot\nDOT_REF=\"${SHELLV}-x\"\nDOT_SQ='$SHELLV'\n"
SERVICE_ENV = {"SVC": "svcval", "OVER": "from-service"}

CASES: list[str] = [
    # plain, spaces, comments
    "A=1\nB=two words\n",
    "A = 1\n  B  =  spaced  \n",
    "A=1 # comment\nB=2# not a comment\nC=3\t# tab\n",
    "# comment\n\n   # indented comment\nA=1\n",
    "A=\nB=  \nC=''\nD=\"\"\n",
    "A=#x\nB= #x\nC=a #b #c\n",
    "A=value with = sign\nB==start\n",
    # export
    "export A=1\nexport  B=2\nexport\tC=3\n",
    "exportA=1\n",
    # quotes
    "A='single'\nB=\"double\"\nC='a # b'\nD=\"a # b\"\n",
    'A=\'it\\\'s\'\nB="say \\"hi\\""\n',
    "A=\"line1\\nline2\"\nB='line1\\nline2'\nC=line1\\nline2\n",
    "A=\"multi\nline\"\nB='multi\nline'\nC=after\n",
    'A="\\t\\r\\a\\b\\f\\v"\nB="\\\\"\nC="\\x"\nD="\\0101\\0\\012\\0777"\n',
    "A='x' # comment\nB=\"y\"   # comment\n",
    'A="q" junk\nB=after\n',
    "A='q'B=2\n",
    'A="unterminated\n',
    "A='unterminated\nB=2\n",
    'A="a" "b"\n',
    # interpolation and precedence
    "A=${SHELLV}\nB=$SHELLV\nC=${SHARED}\nD=${DOTV}\nE=${DOT_REF}\nF=${DOT_SQ}\n",
    "A=${SVC}\nB=${OVER}\nOVER=from-file\nC=${OVER}\n",
    "A=first\nB=${A}\nC=$A-$B\n",
    "B=${LATER}\nLATER=late\n",
    "SHELLV=file\nA=${SHELLV}\n",
    "A=${UNSET}\nB=pre${UNSET}post\n",
    "A=${UNSET:-default}\nB=${EMPTY:-default}\nC=${EMPTY-default}\nD=${SHELLV:+alt}\n",
    "A=${UNSET:-${SHELLV}}\nB=${UNSET:-${ALSO:-deep}}\n",
    'A=$$\nB=$${SHELLV}\nC=\\$SHELLV\nD="\\$SHELLV"\nE=\'$SHELLV\'\nF="$$SHELLV"\n',
    "A=\"${SHELLV} and $SHELLV\"\nB='${SHELLV}'\n",
    "A=cost 5$\nB=a $ b\nC=$1\n",
    "A=${UNSET:-{a}b}\nB=${SHELLV:-{a}b}\n",
    'A=ok ${JSON:-{"json":1}}\n',
    "A=${SHELLV:?must be set}\nB=${SVC?x}\n",
    "A=${UNSET:?is required}\n",
    "A=${UNSET?is required}\n",
    "A=${EMPTY:?is required}\n",
    "A=${SHELLV-${UNSET:?x}}\n",
    "A=${}\n",
    "A=${UNCLOSED\n",
    "A=${1A}\n",
    # inherited and odd forms compose accepts
    "SHELLV\nSVC\nNOT_SET_ANYWHERE\nA=1\n",
    "  SHELLV  \nA=1\n",
    'A: yaml\nB:   spaced\nC:"quoted"\n',
    "456=n\na[1]=x\na.b=y\na-b=z\n_u=1\n",
    "\u00e9t\u00e9=summer\n\u540d\u524d=name\n",
    "\ufeffA=bom\nB=2\n",
    'A=1\r\nB=two\r\nC="q"\r\n',
    "A=1\nA=2\n",
    "A=1\nA\n",
    "A\tB=tab\n",
    "A B=space\n",
    "A$B=1\n",
    "A/B=1\n",
    "=novalue\n",
    "A=1\nnewline-at-end",
    "export\n",
    "A=1\n\n\n\nB=2",
]


def _write_project(root: Path, texts: list[str]) -> list[str]:
    root.mkdir(parents=True, exist_ok=True)
    (root / ".env").write_text(DOTENV, encoding="utf-8")
    lines = ["services:"]
    names = []
    for i, text in enumerate(texts):
        (root / f"e{i}.env").write_bytes(text.encode("utf-8"))
        names.append(f"s{i}")
        env = "".join(f"\n      {k}: {v}" for k, v in SERVICE_ENV.items())
        lines.append(f"  s{i}:\n    image: x\n    env_file: e{i}.env\n    environment:{env}")
    (root / "compose.yml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return names


def _ours(root: Path, texts: list[str]) -> dict[int, dict[str, str] | None]:
    """Per case: the service's environment, or None when secretsafe refuses it."""
    _write_project(root, texts)
    from secretsafe.compose import load_project, service_environment

    project = load_project([root / "compose.yml"], environ=ENVIRON)
    out: dict[int, dict[str, str] | None] = {}
    for i in range(len(texts)):
        try:
            env = service_environment(project, f"s{i}")
        except SecretsafeError:
            out[i] = None
            continue
        # An unmet ${VAR:?} is a required-variable finding (an error): compose refuses.
        failed = any(ref.failed for _, ref in env.env_file_refs)
        out[i] = None if failed else {k: v.value for k, v in env.variables.items()}
    return out


def _compare(tmp_path: Path, texts: list[str]) -> tuple[int, int, list[str]]:
    """(agreements, refusals both ways, disagreements described) for ``texts``."""
    ours = _ours(tmp_path / "ours", texts)
    accepted = [i for i in range(len(texts)) if ours[i] is not None]
    problems: list[str] = []
    agree = 0
    if accepted:
        root = tmp_path / "batch"
        _write_project(root, [texts[i] for i in accepted])
        proc = compose_config(root, ["compose.yml"], ENVIRON)
        if proc.returncode != 0:
            problems.append(f"compose refused a batch we accept: {proc.stderr[-300:]}")
        else:
            import json

            theirs = their_env(json.loads(proc.stdout))
            for j, i in enumerate(accepted):
                if theirs[f"s{j}"] == ours[i]:
                    agree += 1
                else:
                    problems.append(
                        f"case {texts[i]!r}: ours {ours[i]!r} compose {theirs[f's{j}']!r}"
                    )
    refused = 0
    for i in range(len(texts)):
        if ours[i] is not None:
            continue
        root = tmp_path / f"alone{i}"
        _write_project(root, [texts[i]])
        proc = compose_config(root, ["compose.yml"], ENVIRON)
        if proc.returncode != 0:
            refused += 1
        else:
            problems.append(f"case {texts[i]!r}: we refuse, compose accepts")
    return agree, refused, problems


def test_env_files_match_docker_compose(tmp_path: Path) -> None:
    agree, refused, problems = _compare(tmp_path, CASES)
    assert not problems, "\n".join(problems)
    assert agree + refused == len(CASES)
    print(f"env files, hand-written: {agree} agree, {refused} refused by both, 0 differ")


_KEYS = st.sampled_from(["A", "B", "SHELLV", "SVC", "OVER", "a.b", "x_1", "9z", "A B", "k[0]"])
_PIECES = st.sampled_from(
    [
        "v", "two words", " ", "  ", "#", " #c", "=", ":", "'", '"', "\\", "\\n", "\\$", "$",
        "$$", "$A", "${A}", "${B}", "$SHELLV", "${SHARED}", "${SVC}", "${UNSET}",
        "${UNSET:-d}", "${A:-x}", "${UNSET-d}", "${A:+alt}", "${EMPTY:-e}", "{", "}", "\u00e9",
        "\t", "\\'", '\\"',
    ]
)  # fmt: skip
_VALUE = st.lists(_PIECES, max_size=5).map("".join)
_LINE = st.one_of(
    st.tuples(_KEYS, st.sampled_from(["=", " = ", ": ", "="]), _VALUE).map("".join),
    st.tuples(_KEYS, st.just("='"), _VALUE, st.just("'")).map("".join),
    st.tuples(_KEYS, st.just('="'), _VALUE, st.just('"')).map("".join),
    st.tuples(st.just("export "), _KEYS, st.just("="), _VALUE).map("".join),
    _KEYS,
    st.just("# comment"),
    st.just(""),
)
_FILE = st.tuples(st.lists(_LINE, min_size=1, max_size=6), st.sampled_from(["\n", "\r\n"])).map(
    lambda t: t[1].join(t[0]) + t[1]
)


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@settings(
    max_examples=4,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(texts=st.lists(_FILE, min_size=40, max_size=40))
def test_generated_env_files_match_docker_compose(tmp_path: Path, texts: list[str]) -> None:
    import shutil

    for child in tmp_path.iterdir():
        shutil.rmtree(child)
    agree, refused, problems = _compare(tmp_path, texts)
    assert not problems, "\n".join(problems)
    assert agree + refused == len(texts)
