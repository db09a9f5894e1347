"""`run`'s supervisor options as click parses them (no process started)."""

from __future__ import annotations

import click
import pytest

from secretsafe.cli import run as run_cli


def test_redact_takes_an_optional_value_and_keeps_the_source_order() -> None:
    command = run_cli.run
    args = ["--redact", "-f", "a.enc", "--vault", "apps/x", "-f", "b.enc", "--", "true"]
    ctx = command.make_context("run", list(args))
    assert ctx.params["redact"] == "values"
    # The option order of -f / --vault (their precedence) survives an optional-value option.
    assert ctx.meta["secretsafe.run.sources"] == ["f", "vault", "f"]
    ctx = command.make_context("run", ["--redact=names", "--watch", "--", "app"])
    assert (ctx.params["redact"], ctx.params["watch"], ctx.params["stop_timeout"]) == (
        "names",
        True,
        10.0,
    )


def test_a_word_after_redact_is_refused_without_being_echoed() -> None:
    with pytest.raises(click.BadParameter) as info:
        run_cli.run.make_context("run", ["--redact", "my-app-secret-word", "arg"])
    assert "my-app-secret-word" not in info.value.format_message()
    assert "put -- before the command" in info.value.format_message()
