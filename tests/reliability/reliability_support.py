"""Helpers shared by the reliability suites: the canary, an in-process CLI runner that
captures every output channel, a subprocess runner, and scanners for leaked values.

Kept outside ``conftest.py`` so test modules can import plain functions from it.
"""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys
import tempfile
import traceback
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

#: The value planted in every input. Distinctive, so a hit is never a coincidence.
CANARY = "cAnArY-7f3a9c21-Pr0dSecret"

REPO = Path(__file__).resolve().parents[2]
VENV_PYTHON = REPO / ".venv" / "bin" / "python"

#: Every line a failing command prints starts with this.
ERROR_PREFIX = "secretsafe: error:"


@dataclass
class CliResult:
    code: int
    out: str
    err: str
    logs: str = ""
    exceptions: list[BaseException] = field(default_factory=list)

    def channels(self) -> dict[str, str]:
        return {"stdout": self.out, "stderr": self.err, "logs": self.logs}


class _Capture(logging.Handler):
    """Collects every log record (formatted with its arguments and exception text)."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.exc_info:
            text += "\n" + "".join(traceback.format_exception(*record.exc_info))
        self.lines.append(f"{record.name}:{record.levelname}:{text}")


def run_cli(args: Sequence[str], *, stdin: str | bytes | None = None) -> CliResult:
    """Run ``secretsafe ARGS`` in this process through :func:`secretsafe.cli.main`, the real
    entry point, capturing stdout, stderr (text and binary layers) and every log record."""
    from secretsafe.cli import main

    raw_in = stdin.encode() if isinstance(stdin, str) else (stdin or b"")
    fake_in = io.TextIOWrapper(io.BytesIO(raw_in), encoding="utf-8")
    out_b, err_b = io.BytesIO(), io.BytesIO()
    fake_out = io.TextIOWrapper(out_b, encoding="utf-8", write_through=True)
    fake_err = io.TextIOWrapper(err_b, encoding="utf-8", write_through=True)
    handler = _Capture()
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    saved = sys.stdin, sys.stdout, sys.stderr
    sys.stdin, sys.stdout, sys.stderr = fake_in, fake_out, fake_err
    exceptions: list[BaseException] = []
    try:
        try:
            code = main(list(args))
        except SystemExit as exc:  # click may still exit on --help and the like
            code = exc.code if isinstance(exc.code, int) else 1
        except BaseException as exc:
            # main() must never let an exception out; record it as a failure of the case.
            exceptions.append(exc)
            code = -1
        fake_out.flush()
        fake_err.flush()
    finally:
        sys.stdin, sys.stdout, sys.stderr = saved
        root.removeHandler(handler)
        root.setLevel(old_level)
    return CliResult(
        code=code,
        out=out_b.getvalue().decode("utf-8", "replace"),
        err=err_b.getvalue().decode("utf-8", "replace"),
        logs="\n".join(handler.lines),
        exceptions=exceptions,
    )


def run_cli_proc(
    args: Sequence[str],
    *,
    stdin: str | bytes | None = None,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    timeout: float = 60,
) -> CliResult:
    """Run ``python -m secretsafe ARGS`` as a real child process."""
    data = stdin.encode() if isinstance(stdin, str) else stdin
    proc = subprocess.run(
        [sys.executable, "-m", "secretsafe", *args],
        input=data if data is not None else b"",
        capture_output=True,
        env=dict(env) if env is not None else None,
        cwd=cwd,
        timeout=timeout,
        check=False,
    )
    return CliResult(
        code=proc.returncode,
        out=proc.stdout.decode("utf-8", "replace"),
        err=proc.stderr.decode("utf-8", "replace"),
    )


def exception_texts(exc: BaseException) -> Iterator[str]:
    """Every text an exception chain could show: str, repr, args, hint, and the formatted
    traceback, for the exception and each ``__cause__`` / ``__context__`` recursively."""
    seen: set[int] = set()
    stack = [exc]
    yield "".join(traceback.format_exception(exc))
    while stack:
        e = stack.pop()
        if id(e) in seen:
            continue
        seen.add(id(e))
        yield str(e)
        yield repr(e)
        yield repr(e.args)
        for attr in ("hint", "message", "stderr", "stdout", "output", "doc"):
            value = getattr(e, attr, None)
            if value is not None:
                yield value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
        for nxt in (e.__cause__, e.__context__):
            if nxt is not None:
                stack.append(nxt)


def files_containing(
    root: str | os.PathLike[str],
    needle: str,
    *,
    allow: Iterable[str | os.PathLike[str]] = (),
) -> list[Path]:
    """Files under ``root`` whose bytes contain ``needle``, except the ``allow``-ed ones."""
    allowed = {Path(a).resolve() for a in allow}
    token = needle.encode()
    hits: list[Path] = []
    for dirpath, _dirs, names in os.walk(root):
        for name in names:
            p = Path(dirpath) / name
            if p.resolve() in allowed or p.is_symlink() or not p.is_file():
                continue
            try:
                if token in p.read_bytes():
                    hits.append(p)
            except OSError:
                continue
    return hits


def private_tmpdir(path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point TMPDIR (and :mod:`tempfile`'s cached default) at ``path`` for this test."""
    path.mkdir(parents=True, exist_ok=True)
    monkeypatch.setenv("TMPDIR", str(path))
    monkeypatch.setattr(tempfile, "tempdir", str(path))
    return path


def one_error_line(result: CliResult) -> str | None:
    """Why ``result`` is not a clean failure (one ``secretsafe: error:`` line, no traceback,
    no internal error), or None if it is."""
    if result.exceptions:
        return f"exception escaped main(): {type(result.exceptions[0]).__name__}"
    err = result.err
    if "Traceback" in err:
        return "traceback on stderr"
    if "internal error" in err:
        return "internal error (a bug)"
    lines = [ln for ln in err.splitlines() if ln.strip()]
    if len(lines) != 1:
        return f"stderr has {len(lines)} lines, want 1"
    if not lines[0].startswith(ERROR_PREFIX):
        return f"stderr does not start with {ERROR_PREFIX!r}"
    return None


# ---------------------------------------------------------------------------------------------
# Per-suite figures (the conftest prints them as one table)


@dataclass
class SuiteFigures:
    tried: int = 0
    passed: int = 0
    failed: int = 0
    notes: Counter[str] = field(default_factory=Counter)

    def merge(self, other: dict[str, Any]) -> None:
        self.tried += other["tried"]
        self.passed += other["passed"]
        self.failed += other["failed"]
        self.notes.update(other["notes"])

    def as_dict(self) -> dict[str, Any]:
        return {
            "tried": self.tried,
            "passed": self.passed,
            "failed": self.failed,
            "notes": dict(sorted(self.notes.items())),
        }


FIGURES: dict[str, SuiteFigures] = {}


class Tally:
    """The cases one test tries, counted into its suite's figures."""

    def __init__(self, suite: str, test: str) -> None:
        self.suite = suite
        self.test = test
        self.failures: list[str] = []
        self.cases = 0
        self._figures = FIGURES.setdefault(suite, SuiteFigures())

    def ok(self, case: str = "", note: str | None = None) -> None:
        self.cases += 1
        self._figures.tried += 1
        self._figures.passed += 1
        if note:
            self.note(note)

    def fail(self, case: str, why: str, note: str | None = None) -> None:
        self.cases += 1
        self._figures.tried += 1
        self._figures.failed += 1
        if note:
            self.note(note)
        self.failures.append(f"{case}: {why}")

    def check(self, case: str, problem: str | None, note: str | None = None) -> bool:
        """Record ``case`` as passed when ``problem`` is None, else failed with it."""
        if problem is None:
            self.ok(case, note)
            return True
        self.fail(case, problem, note)
        return False

    def note(self, name: str, n: int = 1) -> None:
        self._figures.notes[name] += n

    def assert_clean(self) -> None:
        if self.failures:
            shown = "\n  ".join(self.failures[:30])
            more = f"\n  ... and {len(self.failures) - 30} more" if len(self.failures) > 30 else ""
            pytest.fail(
                f"{len(self.failures)} of {self.cases} {self.suite} cases failed:\n  {shown}{more}",
                pytrace=False,
            )


#: The suites, in table order. A module may add to one: ``test_reliability_leak_vault.py``
#: counts into ``leak``.
SUITES = ("leak", "tamper", "crash", "bad_input", "permissions")


def suite_of(path: Path) -> str:
    """The suite a test module belongs to: ``test_reliability_leak.py`` and
    ``test_reliability_leak_compose.py`` -> ``leak``."""
    name = path.stem.removeprefix("test_reliability_")
    for suite in SUITES:
        if name == suite or name.startswith(suite + "_"):
            return suite
    return name
