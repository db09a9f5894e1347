"""Reading and merging compose files as docker compose does, with file and line kept."""

from __future__ import annotations

from pathlib import Path

import pytest

from secretsafe.compose import load_project, service_environment
from secretsafe.compose.loader import Loc
from secretsafe.errors import ComposeError


def write(root: Path, name: str, text: str) -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def env_of(project, service: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {k: v.value for k, v in service_environment(project, service).variables.items()}


def test_anchors_and_merge_keys_keep_the_anchor_line(tmp_path: Path) -> None:
    f = write(
        tmp_path,
        "compose.yml",
        """\
x-env: &env
  A: from-anchor
  B: from-anchor
x-more: &more
  B: from-more
  C: from-more
services:
  app:
    image: x
    environment:
      <<: [*env, *more]
      C: explicit
""",
    )
    p = load_project([f], environ={})
    env = service_environment(p, "app").variables
    # In a list of merged maps the first wins; explicit keys win over all of them.
    assert {k: v.value for k, v in env.items()} == {
        "A": "from-anchor",
        "B": "from-anchor",
        "C": "explicit",
    }
    assert env["A"].loc == Loc(str(f), 2)
    assert env["B"].loc == Loc(str(f), 3)
    assert env["C"].loc == Loc(str(f), 12)


def test_service_level_merge_key_and_alias_reuse(tmp_path: Path) -> None:
    f = write(
        tmp_path,
        "compose.yml",
        """\
x-logging: &default-logging
  driver: json-file
x-svc: &svc
  image: base
  logging: *default-logging
  environment: {SHARED: "1"}
services:
  a:
    <<: *svc
  b:
    <<: *svc
    image: other
    environment: {OWN: "2"}
""",
    )
    p = load_project([f], environ={})
    assert p.services["a"].config["logging"]["driver"] == "json-file"
    assert p.services["b"].config["image"] == "other"
    assert env_of(p, "a") == {"SHARED": "1"}
    # An explicit key replaces the merged one (a merge key is not a deep merge).
    assert env_of(p, "b") == {"OWN": "2"}


def test_overlay_merges_list_and_mapping_environment_with_history(tmp_path: Path) -> None:
    base = write(
        tmp_path,
        "base.yml",
        """\
services:
  api:
    image: api
    environment:
      - LOG_LEVEL=info
      - KEEP=yes
      - PASSTHROUGH
""",
    )
    over = write(
        tmp_path,
        "prod.yml",
        """\
services:
  api:
    environment:
      LOG_LEVEL: warning
      NEW: "1"
""",
    )
    p = load_project([base, over], environ={"PASSTHROUGH": "from-shell"})
    env = service_environment(p, "api").variables
    assert {k: v.value for k, v in env.items()} == {
        "LOG_LEVEL": "warning",
        "KEEP": "yes",
        "PASSTHROUGH": "from-shell",
        "NEW": "1",
    }
    assert env["LOG_LEVEL"].loc == Loc(str(over), 4)
    assert env["LOG_LEVEL"].overridden == (Loc(str(base), 5),)
    assert env["PASSTHROUGH"].kind == "shell"
    # A bare name with nothing in the environment is not set at all.
    p2 = load_project([base, over], environ={})
    assert "PASSTHROUGH" not in env_of(p2, "api")


def test_env_file_forms_order_and_project_relative_paths(tmp_path: Path) -> None:
    write(tmp_path, "a.env", "X=from-a\nY=from-a\n")
    write(tmp_path, "b.env", "X=from-b\n")
    write(tmp_path, "c.env", "Z=from-c\n")
    base = write(
        tmp_path,
        "compose.yml",
        """\
services:
  app:
    image: x
    env_file:
      - a.env
      - path: ./b.env
        required: true
      - path: optional.env
        required: false
    environment:
      Y: from-environment
""",
    )
    # The overlay lives in a subdirectory: its paths are still relative to the project.
    over = write(tmp_path, "deploy/prod.yml", "services:\n  app:\n    env_file: [c.env, a.env]\n")
    p = load_project([base, over], environ={})
    env = service_environment(p, "app")
    assert {k: v.value for k, v in env.variables.items()} == {
        "X": "from-b",  # a.env listed again keeps its first position, so b.env still wins
        "Y": "from-environment",
        "Z": "from-c",
    }
    assert env.variables["X"].loc == Loc(str(tmp_path / "b.env"), 1)
    assert env.variables["X"].overridden == (Loc(str(tmp_path / "a.env"), 1),)
    assert [r.path for r in env.missing_files] == ["optional.env"]
    assert not env.missing_files[0].required


def test_env_file_as_a_single_string(tmp_path: Path) -> None:
    write(tmp_path, "app.env", "A=1\n")
    f = write(tmp_path, "compose.yml", "services:\n  app:\n    env_file: app.env\n")
    assert env_of(load_project([f], environ={}), "app") == {"A": "1"}


def test_sequence_rules(tmp_path: Path) -> None:
    base = write(
        tmp_path,
        "base.yml",
        """\
services:
  app:
    image: x
    command: [serve, --debug]
    ports: ["80:80"]
    dns: [1.1.1.1]
    volumes:
      - ./data:/data
      - logs:/logs
""",
    )
    over = write(
        tmp_path,
        "over.yml",
        """\
services:
  app:
    command: [serve]
    ports: ["80:80", "443:443"]
    dns: [8.8.8.8]
    volumes:
      - /srv/data:/data
""",
    )
    p = load_project([base, over], environ={})
    cfg = p.services["app"].config
    assert list(cfg["command"]) == ["serve"]
    assert list(cfg["ports"]) == ["80:80", "443:443"]
    assert list(cfg["dns"]) == ["1.1.1.1", "8.8.8.8"]
    mounts = {m.target: m.source for m in p.services["app"].volumes}
    assert mounts == {"/logs": "logs", "/data": "/srv/data"}


def test_reset_and_override_tags(tmp_path: Path) -> None:
    base = write(
        tmp_path,
        "base.yml",
        """\
services:
  app:
    image: x
    ports: ["80:80"]
    environment: {A: "1", B: "2"}
  gone:
    image: y
""",
    )
    over = write(
        tmp_path,
        "over.yml",
        """\
services:
  app:
    ports: !reset []
    environment: !override {C: "3"}
  gone: !reset
""",
    )
    p = load_project([base, over], environ={})
    assert "ports" not in p.services["app"].config
    assert env_of(p, "app") == {"C": "3"}
    assert "gone" not in p.services


def test_extends_same_file_and_other_file(tmp_path: Path) -> None:
    write(
        tmp_path,
        "common/base.yml",
        "services:\n  base:\n    image: base\n    environment: {FROM_FILE: '1', SHARED: file}\n",
    )
    f = write(
        tmp_path,
        "compose.yml",
        """\
services:
  tmpl:
    image: tmpl
    environment: {FROM_TMPL: "1"}
  app:
    extends: tmpl
    environment: {OWN: "1"}
  other:
    extends:
      file: common/base.yml
      service: base
    environment: {SHARED: own}
""",
    )
    p = load_project([f], environ={})
    assert env_of(p, "app") == {"FROM_TMPL": "1", "OWN": "1"}
    assert p.services["app"].config["image"] == "tmpl"
    assert env_of(p, "other") == {"FROM_FILE": "1", "SHARED": "own"}


def test_dotenv_then_env_files_then_process_environment(tmp_path: Path) -> None:
    write(tmp_path, ".env", "TAG=from-dotenv\nONLY_DOTENV=d\nLEVEL=dotenv\n")
    f = write(
        tmp_path,
        "compose.yml",
        """\
services:
  app:
    image: "app:${TAG}"
    environment:
      A: ${ONLY_DOTENV}
      B: ${LEVEL}
      C: ${FROM_FILE:-none}
""",
    )
    p = load_project([f], environ={"LEVEL": "process"}, env_values=[("x.env", {"FROM_FILE": "f"})])
    assert p.services["app"].config["image"] == "app:from-dotenv"
    assert env_of(p, "app") == {"A": "d", "B": "process", "C": "f"}
    assert p.env_sources["LEVEL"] == "environment"
    assert p.env_sources["FROM_FILE"] == "x.env"
    # dotenv=False: no .env
    p2 = load_project([f], environ={}, dotenv=False)
    assert env_of(p2, "app")["A"] == ""


def test_scalars_print_as_compose_prints_them(tmp_path: Path) -> None:
    f = write(
        tmp_path,
        "compose.yml",
        """\
services:
  app:
    image: x
    environment:
      BOOL: True
      YES_IS_TEXT: yes
      FLOAT: 1.0
      EXP: 1e3
      HEX: 0x10
      OCTAL: 012
      VERSION: 1.2.3
      PORTS: 22:22
      QUOTED: "1.0"
      EMPTY: ""
      NULL_IS_BARE: null
""",
    )
    assert env_of(load_project([f], environ={}), "app") == {
        "BOOL": "true",
        "YES_IS_TEXT": "yes",
        "FLOAT": "1",
        "EXP": "1000",
        "HEX": "16",
        "OCTAL": "10",
        "VERSION": "1.2.3",
        "PORTS": "22:22",
        "QUOTED": "1.0",
        "EMPTY": "",
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "services:\n  app:\n    image: x\n    image: y\n",
            "compose.yml:4: key 'image' is set twice",
        ),
        ("services: [a]\n", "services must be a mapping"),
        ("- a\n", "a compose file is a mapping"),
        ("services:\n  app: [x]\n", "service 'app' must be a mapping"),
        ("include: 3\nservices: {}\n", "include must be a list"),
        ("services:\n  app:\n    environment: 3\n", "environment must be a mapping or a list"),
        ("services:\n  app:\n    extends: nope\n", "no service 'nope' to extend"),
        ("x: &a [*a]\n", "recursive alias"),
    ],
)
def test_bad_files_are_compose_errors(tmp_path: Path, text: str, message: str) -> None:
    f = write(tmp_path, "compose.yml", text)
    with pytest.raises(ComposeError, match=message.replace("[", r"\[")):
        load_project([f], environ={})


def test_yaml_syntax_error_names_the_line_never_the_text(tmp_path: Path) -> None:
    f = write(
        tmp_path,
        "compose.yml",
        'services:\n  app:\n    environment:\n      PW: "cAnArY-unterminated\n',
    )
    with pytest.raises(ComposeError) as info:
        load_project([f], environ={})
    text = str(info.value)
    assert "compose.yml:" in text
    assert "cAnArY" not in text


def test_unknown_service_lists_the_known_ones(tmp_path: Path) -> None:
    f = write(tmp_path, "compose.yml", "services:\n  api: {image: x}\n  db: {image: y}\n")
    with pytest.raises(ComposeError, match=r"no service 'web'.*services: api, db"):
        service_environment(load_project([f], environ={}), "web")


def test_encrypted_env_file_names_without_a_key(tmp_path: Path, age_key) -> None:  # type: ignore[no-untyped-def]
    from secretsafe.sops import encrypt_values

    encrypt_values(
        {"DB_PASSWORD": "cAnArY-enc-1", "LEVEL": "x"},
        tmp_path / ".env.app.enc",
        recipients=[age_key.recipient],
    )
    f = write(tmp_path, "compose.yml", "services:\n  app:\n    env_file: .env.app.enc\n")
    p = load_project([f], environ={})
    decrypted = service_environment(p, "app")
    assert {k: v.value for k, v in decrypted.variables.items()} == {
        "DB_PASSWORD": "cAnArY-enc-1",
        "LEVEL": "x",
    }
    assert decrypted.variables["LEVEL"].loc.line == 2
    names_only = service_environment(p, "app", decrypt=False)
    assert set(names_only.variables) == {"DB_PASSWORD", "LEVEL"}
    assert all(v.value == "" for v in names_only.variables.values())
