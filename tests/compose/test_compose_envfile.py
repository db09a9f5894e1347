"""``${VAR}`` inside env files (the project ``.env`` and ``env_file:`` entries, plaintext and
encrypted): interpolated as docker compose does, unresolved and ``:?`` references reported
as findings with the env file's line; the compose dotenv dialect's leniency."""

from __future__ import annotations

from pathlib import Path

import pytest

from secretsafe.cli import main
from secretsafe.compose import compose_findings, load_project, service_environment
from secretsafe.compose.envparse import EnvLine, expand, expand_values, parse
from secretsafe.errors import DotenvSyntaxError


def _project(root: Path, files: dict[str, str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (root / name).write_text(text, encoding="utf-8")
    return root / "compose.yml"


COMPOSE = "services:\n  api:\n    image: x\n    env_file: app.env\n"


def test_issue_repro_unset_host_is_a_finding_not_a_silent_pass(tmp_path: Path) -> None:
    compose = _project(
        tmp_path,
        {"compose.yml": COMPOSE, "app.env": "DATABASE__URL=postgres://${DB_HOST}:5432/app\n"},
    )
    project = load_project([compose], environ={})
    env = service_environment(project, "api")
    assert env.variables["DATABASE__URL"].value == "postgres://:5432/app"  # what compose gives
    found = {
        (f.rule, Path(f.file or "").name, f.line, f.variable) for f in compose_findings(project)
    }
    assert ("undefined-variable", "app.env", 1, "DB_HOST") in found
    project = load_project([compose], environ={"DB_HOST": "db"})
    assert service_environment(project, "api").variables["DATABASE__URL"].value == (
        "postgres://db:5432/app"
    )
    assert not compose_findings(project)


def test_required_reference_in_env_file_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _project(
        tmp_path,
        {"compose.yml": COMPOSE, "app.env": "# c\nTOKEN=${API_TOKEN:?set the token}\n"},
    )
    monkeypatch.chdir(tmp_path)
    rc = main(["check", "--compose", "compose.yml", "--no-environ"])
    out, _ = capsys.readouterr()
    assert rc == 3
    assert "app.env:2" in out
    assert "required-variable" in out
    assert "API_TOKEN" in out


def test_sources_and_precedence_as_compose(tmp_path: Path) -> None:
    compose = _project(
        tmp_path,
        {
            "compose.yml": (
                "services:\n  api:\n    image: x\n    env_file: [a.env, b.env]\n"
                "    environment:\n      SVC: s\n      OVER: svc\n"
            ),
            ".env": "DOT=dot\nDOT_REF=${SHELL_V}+\nSHARED=dot\n",
            "a.env": (
                "A=${DOT}/${DOT_REF}/${SVC}/${SHELL_V}\nOVER=file\nO=${OVER}\nSHARED=${SHARED}\n"
            ),
            "b.env": "B=${A}\nSHELL_V\nNOPE\n",
        },
    )
    project = load_project([compose], environ={"SHELL_V": "sh", "SHARED": "shell"})
    got = {k: v.value for k, v in service_environment(project, "api").variables.items()}
    assert got == {
        "A": "dot/sh+/s/sh",
        "OVER": "svc",  # environment: wins
        "O": "svc",  # the service's environment comes before the file's own lines
        "SHARED": "shell",
        "B": "dot/sh+/s/sh",
        "SHELL_V": "sh",  # bare name: inherited; NOPE: not set anywhere, left out
        "SVC": "s",
    }


def test_encrypted_env_file_values_are_interpolated(tmp_path: Path, age_key) -> None:  # type: ignore[no-untyped-def]
    from secretsafe import envfile

    compose = _project(tmp_path, {"compose.yml": COMPOSE.replace("app.env", "app.env.enc")})
    plain = tmp_path / "app.env"
    plain.write_text("HOST=db\nURL=pg://${HOST}/${MISSING}\n", encoding="utf-8")
    envfile.encrypt_file(plain)
    plain.unlink()
    project = load_project([compose], environ={})
    env = service_environment(project, "api", decrypt=True)
    assert env.variables["URL"].value == "pg://db/"
    found = {(f.rule, f.variable) for f in compose_findings(project, decrypt=True)}
    assert ("undefined-variable", "MISSING") in found


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("KEY\n", []),  # inherited, not set
        ("KEY: VALUE\n", [("KEY", "VALUE")]),
        (
            "456=n\na[1]=x\na.b=y\n\u00e9=z\n",
            [("456", "n"), ("a[1]", "x"), ("a.b", "y"), ("\u00e9", "z")],
        ),
        ("\ufeffA=1\n", [("A", "1")]),
        ('A="x" B=2\n', [("A", "x"), ("B", "2")]),
        ("A=1\nA=2\n", [("A", "2")]),
        ("A=a #c\nB=b#c\n", [("A", "a"), ("B", "b#c")]),
    ],
)
def test_lenient_as_compose(text: str, expected: list[tuple[str, str]]) -> None:
    got = expand(parse(text), lookup={})
    values: dict[str, str] = {}
    for e in got:
        if e.value is not None:
            values[e.name] = e.value
    assert list(values.items()) == expected


@pytest.mark.parametrize("text", ["A B=1\n", "A$=1\n", "A='open\n", 'A="open\n'])
def test_refused_as_compose_refuses_without_quoting(text: str) -> None:
    with pytest.raises(DotenvSyntaxError) as info:
        parse(text + "SECRET=hunter2-value\n", path="x.env")
    assert "hunter2" not in str(info.value)
    assert "x.env:1" in str(info.value)


def test_expand_values_is_one_rule_for_every_source() -> None:
    got = expand_values(
        [("A", "${ENV_V}-x", 1), ("B", "${A}${A:+!}", 2), ("C", "$$", 3)], lookup={"ENV_V": "e"}
    )
    assert [(e.name, e.value) for e in got] == [("A", "e-x"), ("B", "e-x!"), ("C", "$")]
    # Single-quoted lines stay literal.
    assert expand([EnvLine("A", "$B", 1, "literal")], lookup={"B": "b"})[0].value == "$B"
