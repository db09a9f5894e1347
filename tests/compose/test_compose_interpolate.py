"""Interpolation: every compose form, nesting, escapes, and errors that quote no value."""

from __future__ import annotations

import pytest

from secretsafe.compose.interpolate import Ref, interpolate, references
from secretsafe.errors import ComposeError

ENV = {"SET": "value", "EMPTY": "", "OTHER": "x"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("plain", "plain"),
        ("$SET", "value"),
        ("${SET}", "value"),
        ("a-${SET}-b", "a-value-b"),
        ("$SET.suffix", "value.suffix"),
        ("${UNSET}", ""),
        ("${UNSET:-dflt}", "dflt"),
        ("${EMPTY:-dflt}", "dflt"),
        ("${SET:-dflt}", "value"),
        ("${UNSET-dflt}", "dflt"),
        ("${EMPTY-dflt}", ""),
        ("${SET:+alt}", "alt"),
        ("${EMPTY:+alt}", ""),
        ("${EMPTY+alt}", "alt"),
        ("${UNSET+alt}", ""),
        ("${SET:?must be set}", "value"),
        ("${EMPTY?may be empty}", ""),
        ("$$", "$"),
        ("$${SET}", "${SET}"),
        ("$$SET", "$SET"),
        ("cost: 5$", "cost: 5$"),
        ("a $ b", "a $ b"),
        ("${UNSET:-${OTHER}}", "x"),
        ("${UNSET:-${ALSO_UNSET:-deep}}", "deep"),
        ("${SET:-${NEVER}}", "value"),
        ("${UNSET:-a}{b}", "a{b}"),
        ("${UNSET:-with space and: colon}", "with space and: colon"),
    ],
)
def test_forms(text: str, expected: str) -> None:
    assert interpolate(text, ENV).value == expected


def test_refs_record_what_was_met() -> None:
    result = interpolate("${A} ${SET:-d} ${B:?msg} ${EMPTY:?msg} $$C", ENV)
    assert result.refs == (
        Ref("A", "", False),
        Ref("SET", ":-", True),
        Ref("B", ":?", False, failed=True),
        Ref("EMPTY", ":?", True, failed=True),
    )
    assert [r.name for r in result.refs if r.undefined] == ["A"]


def test_branch_not_taken_is_still_evaluated_as_compose_does() -> None:
    # docker compose evaluates every branch: it warns about NEVER here, and refuses
    # ${SET-${MISSING:?m}} although SET is set (checked against the real binary).
    result = interpolate("${SET:-${NEVER}}", ENV)
    assert result.value == "value"
    assert [r.name for r in result.refs] == ["NEVER", "SET"]
    failed = interpolate("${SET-${MISSING:?m}}", ENV)
    assert failed.value == "value"
    assert [r.name for r in failed.refs if r.failed] == ["MISSING"]


def test_references_lists_every_branch() -> None:
    assert references("${A:-${B}} $C $$D ${E:+${F}}") == ("B", "A", "C", "F", "E")


@pytest.mark.parametrize("bad", ["${}", "${1A}", "${A", "${A:-x", "${A!}", "${A:-${B}"])
def test_malformed_is_a_compose_error(bad: str) -> None:
    with pytest.raises(ComposeError, match="invalid interpolation"):
        interpolate(bad, ENV, where="f.yml:3")


def test_error_names_place_not_text() -> None:
    with pytest.raises(ComposeError) as info:
        interpolate("cAnArY-in-text ${A:-x", {}, where="f.yml:3")
    assert "f.yml:3" in str(info.value)
    assert "cAnArY" not in str(info.value)
