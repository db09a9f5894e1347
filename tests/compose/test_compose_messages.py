"""The building blocks of the message rule (a message quotes the template, never an
interpolated value): Templated formatting, display twins of derived paths, errors of files
reached through an interpolated path. The whole-CLI canary sweep is in
tests/reliability/test_reliability_leak_compose.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from secretsafe.compose import load_project, service_environment
from secretsafe.compose.envfiles import reading_as
from secretsafe.compose.findings import compose_findings
from secretsafe.compose.loader import Templated, shown
from secretsafe.errors import ComposeError, FileError

VALUE = "s3cr3t-vAlUe"
ENV = {"X": VALUE}


def test_templated_formats_as_its_template() -> None:
    t = Templated(VALUE, "${X}", ())
    assert t == VALUE
    assert f"{t}" == "${X}"
    assert f"{t:>6}" == "  ${X}"
    assert shown(t) == "${X}"
    assert shown("plain") == "plain"
    assert VALUE not in repr(t)


@pytest.mark.parametrize(
    ("path", "display", "message", "expected"),
    [
        # The file layer names the path: swapped for the template.
        ("/p/s3cr3t.env", "/p/${X}.env", "/p/s3cr3t.env: no such file", "/p/${X}.env: no such"),
        # A part made by interpolation survives the swap: the message is replaced whole.
        ("/p/s3cr3t/a.env", "/p/${X}/a.env", "s3cr3t: denied", "/p/${X}/a.env: cannot be read"),
        # A literal part of the template may stay.
        ("/p/s3cr3t/a.env", "/p/${X}/a.env", "a.env is odd", "a.env is odd"),
    ],
)
def test_reading_as_renames_the_file(path: str, display: str, message: str, expected: str) -> None:
    def fail() -> None:
        raise FileError(message, hint=f"see {path}")

    with pytest.raises(FileError) as info:
        reading_as(path, display, fail)
    assert str(info.value).startswith(expected)
    assert "s3cr3t" not in str(info.value)
    assert info.value.__context__ is None
    assert info.value.__cause__ is None


def test_derived_paths_carry_their_template(tmp_path: Path) -> None:
    (tmp_path / "c.yml").write_text(
        "services:\n  app:\n    image: x\n    env_file: ./env/${X}.env\n"
        "    volumes: ['${SOCK}:/x']\n",
        encoding="utf-8",
    )
    project = load_project([tmp_path / "c.yml"], environ={**ENV, "SOCK": "/run/docker.sock"})
    (ref,) = project.services["app"].env_files
    assert VALUE in ref.resolved
    assert (ref.shown, ref.display) == ("./env/${X}.env", str(tmp_path / "env" / "${X}.env"))
    assert project.services["app"].volumes[0].shown_source == "${SOCK}:/x"
    messages = " ".join(f.message for f in compose_findings(project))
    assert "env_file ./env/${X}.env does not exist" in messages
    assert "mounts the Docker socket ${SOCK}:/x" in messages
    assert VALUE not in messages


def test_env_file_entries_are_located_by_template(tmp_path: Path) -> None:
    (tmp_path / f"{VALUE}.env").write_text("NODE_TLS_REJECT_UNAUTHORIZED=0\n", encoding="utf-8")
    (tmp_path / "c.yml").write_text(
        "services:\n  app:\n    image: x\n    env_file: ${X}.env\n", encoding="utf-8"
    )
    project = load_project([tmp_path / "c.yml"], environ=ENV)
    var = service_environment(project, "app").variables["NODE_TLS_REJECT_UNAUTHORIZED"]
    assert var.loc.file == str(tmp_path / "${X}.env")
    (finding,) = compose_findings(project)
    assert finding.file == str(tmp_path / "${X}.env")


def test_interpolated_variable_names_are_refused(tmp_path: Path) -> None:
    (tmp_path / "c.yml").write_text(
        "services:\n  app:\n    image: x\n    environment:\n      - ${X}=1\n", encoding="utf-8"
    )
    with pytest.raises(ComposeError, match=r"c\.yml:5: the name of this environment entry") as e:
        load_project([tmp_path / "c.yml"], environ=ENV)
    assert VALUE not in str(e.value)


def test_extends_names_are_shown_as_written(tmp_path: Path) -> None:
    (tmp_path / "c.yml").write_text(
        "services:\n  app:\n    image: x\n    extends: ${X}\n", encoding="utf-8"
    )
    with pytest.raises(ComposeError, match=r"no service '\$\{X\}' to extend") as e:
        load_project([tmp_path / "c.yml"], environ=ENV)
    assert VALUE not in str(e.value)
