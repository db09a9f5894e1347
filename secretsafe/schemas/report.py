"""Validation reports: one :class:`Problem` per wrong variable, never holding a value.

JSON report (``CheckReport.to_json()``, ``secretsafe check --format json``), version 1::

    {
      "version": 1,
      "ok": false,                      # true when there is no problem of severity "error"
      "schema": "Settings",             # the class (or declarative schema) name
      "environment": "production",      # the environment rules ran for, or null
      "counts": {"error": 2, "warning": 1},
      "problems": [
        {
          "variable": "AUTH__JWT_SECRET_KEY",   # environment variable name, or null
          "field": "auth.jwt_secret_key",       # attribute path in the model, or null
          "kind": "too_short",                  # see KINDS
          "severity": "error",                  # "error" | "warning"
          "message": "must be at least 32 bytes long",
          "hint": "set AUTH__JWT_SECRET_KEY to a random value of 32 bytes or more",
          "suggestions": [],                    # did-you-mean names (kind "unknown")
          "source": ".env.enc"                  # where the variable came from, or null
        }
      ]
    }

Problems are sorted by variable name, then field. New keys may be added; existing keys keep
their meaning.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import IO, Any, Literal

from secretsafe.errors import ValidationFailed

__all__ = [
    "KINDS",
    "CheckReport",
    "Problem",
    "SchemaValidationError",
    "finish",
]

Severity = Literal["error", "warning"]

#: Every problem kind, with what it means.
KINDS: dict[str, str] = {
    "missing": "a required variable is not set",
    "type": "the value does not parse as the field's type (integer, boolean, JSON, ...)",
    "too_short": "shorter than the minimum length",
    "too_long": "longer than the maximum length",
    "range": "a number outside its allowed range",
    "url": "not a valid URL, or a scheme that is not allowed",
    "choice": "not one of the allowed values",
    "pattern": "does not match the required pattern",
    "weak": "a placeholder, a well-known weak value, or too little entropy",
    "unknown": "a variable in the schema's namespace that maps to no field",
    "file": "a NAME_FILE variable whose file cannot be read, or set together with NAME",
    "rule": "a cross-field or environment rule is violated",
    "invalid": "rejected by a validator",
}


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with the environment. Holds names, never values."""

    variable: str | None
    field: str | None
    kind: str
    message: str
    hint: str | None = None
    severity: Severity = "error"
    suggestions: tuple[str, ...] = ()
    source: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "variable": self.variable,
            "field": self.field,
            "kind": self.kind,
            "severity": self.severity,
            "message": self.message,
            "hint": self.hint,
            "suggestions": list(self.suggestions),
            "source": self.source,
        }

    def line(self) -> str:
        who = self.variable or self.field or "<schema>"
        where = f" ({self.field})" if self.variable and self.field else ""
        src = f" [{self.source}]" if self.source else ""
        text = f"{who}{where}{src}: {self.kind.replace('_', ' ')}: {self.message}"
        if self.suggestions:
            text += f"; did you mean {', '.join(self.suggestions)}?"
        if self.hint:
            text += f" ({self.hint})"
        return text


class SchemaValidationError(ValidationFailed):
    """The environment does not satisfy the schema (exit 3). ``report`` lists every problem;
    ``str()`` shows them one per line."""

    def __init__(self, report: CheckReport) -> None:
        errors = report.errors
        lines = "\n".join(f"  - {p.line()}" for p in errors)
        noun = "problem" if len(errors) == 1 else "problems"
        super().__init__(
            f"{report.schema}: {len(errors)} {noun} in the environment:\n{lines}",
            hint=None,
        )
        self.report = report


@dataclass(frozen=True)
class CheckReport:
    """The outcome of validating one environment against one schema."""

    schema: str
    problems: tuple[Problem, ...] = ()
    environment: str | None = None
    variables: int = 0  # how many of the schema's variables were set
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not any(p.severity == "error" for p in self.problems)

    @property
    def errors(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.severity == "error")

    @property
    def warnings(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.severity == "warning")

    def raise_for_problems(self) -> None:
        """Raise :class:`SchemaValidationError` listing every error; warnings do not raise."""
        if not self.ok:
            raise SchemaValidationError(self)

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": 1,
            "ok": self.ok,
            "schema": self.schema,
            "environment": self.environment,
            "counts": {"error": len(self.errors), "warning": len(self.warnings)},
            "problems": [p.to_dict() for p in self.problems],
        }

    def to_json(self, *, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, sort_keys=False)

    def to_text(self) -> str:
        if not self.problems:
            return f"ok: {self.schema}: {self.variables} variables valid"
        out = []
        for p in self.problems:
            out.append(f"{p.severity}: {p.line()}")
        status = "ok" if self.ok else "failed"
        out.append(
            f"{status}: {self.schema}: {len(self.errors)} errors, {len(self.warnings)} warnings"
        )
        return "\n".join(out)

    def __repr__(self) -> str:
        return (
            f"CheckReport(schema={self.schema!r}, ok={self.ok}, "
            f"errors={len(self.errors)}, warnings={len(self.warnings)})"
        )


def sort_problems(problems: Iterable[Problem]) -> tuple[Problem, ...]:
    return tuple(
        sorted(problems, key=lambda p: (p.variable or "~", p.field or "", p.kind, p.message))
    )


def finish(report: CheckReport, *, fmt: str = "text", out: IO[str] | None = None) -> None:
    """Print ``report`` for a CLI command and raise if it has errors.

    ``fmt="json"``: the JSON report on ``out`` (stdout), always. ``fmt="text"``: on success a
    one-line summary (and any warnings) on ``out``; on failure nothing is printed here and the
    raised :class:`SchemaValidationError` lists every problem (the CLI prints it on stderr and
    exits 3). Used by ``secretsafe check`` and reusable by other commands.
    """
    stream = out if out is not None else sys.stdout
    if fmt == "json":
        stream.write(report.to_json() + "\n")
    elif report.ok:
        stream.write(report.to_text() + "\n")
    else:
        for p in report.warnings:
            sys.stderr.write(f"secretsafe: warning: {p.line()}\n")
    report.raise_for_problems()
