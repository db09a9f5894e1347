"""The reliability harness: per-suite counters of cases tried, passed and failed.

Each test asks for ``tally`` and records every case it tries (``tally.ok`` / ``tally.fail`` /
``tally.check``) plus named counters (``tally.note("rejected")``). A test fails if any of its
cases failed, listing them. Counters from pytest-xdist workers travel to the controller in
``workeroutput``; at the end the controller prints one table and, when
``$SECRETSAFE_RELIABILITY_JSON`` names a file, writes the figures there as JSON.
``scripts/reliability`` runs the suites and shows the table.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from reliability_support import FIGURES as _FIGURES
from reliability_support import SuiteFigures, Tally

#: Suite name for each test module (file name without ``test_reliability_``).
SUITE_ORDER = ("leak", "tamper", "crash", "bad_input", "permissions")


@pytest.fixture(scope="session")
def bao_server() -> Iterator[Any]:
    """A real OpenBao dev server (127.0.0.1, random port and root token, private HOME) for
    this test process, stopped by pid at the end."""
    from secretsafe.vault.dev import start_dev_server

    server = start_dev_server()
    try:
        yield server
    finally:
        server.stop()


def _suite_of(path: Path) -> str:
    return path.stem.removeprefix("test_reliability_")


@pytest.fixture
def tally(request: pytest.FixtureRequest) -> Iterator[Tally]:
    t = Tally(_suite_of(Path(str(request.node.path))), request.node.nodeid)
    yield t
    t.assert_clean()


# ---------------------------------------------------------------------------------------------
# Collecting figures across xdist workers and printing the table


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    # A test that crashed before recording (or outside tally) still counts as a failed case.
    if report.when == "call" and report.failed and "tests/reliability/" in report.nodeid:
        suite = _suite_of(Path(report.nodeid.split("::")[0]))
        figures = _FIGURES.setdefault(suite, SuiteFigures())
        figures.tried += 1
        figures.failed += 1
        figures.notes["test errors"] += 1


def pytest_sessionfinish(session: pytest.Session) -> None:
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:  # an xdist worker: hand the figures to the controller
        workeroutput["reliability"] = json.dumps({k: v.as_dict() for k, v in _FIGURES.items()})


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    data = getattr(node, "workeroutput", {}).get("reliability")
    if data:
        for suite, figures in json.loads(data).items():
            _FIGURES.setdefault(suite, SuiteFigures()).merge(figures)


def figures_table() -> str:
    suites = sorted(_FIGURES, key=lambda s: (SUITE_ORDER + (s,)).index(s))
    rows = [("suite", "cases tried", "passed", "failed", "details")]
    for suite in suites:
        f = _FIGURES[suite]
        details = ", ".join(f"{k} {v}" for k, v in sorted(f.notes.items()))
        rows.append((suite, str(f.tried), str(f.passed), str(f.failed), details))
    total = SuiteFigures()
    for f in _FIGURES.values():
        total.merge(f.as_dict())
    rows.append(("total", str(total.tried), str(total.passed), str(total.failed), ""))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = []
    for i, r in enumerate(rows):
        cells = [r[0].ljust(widths[0])] + [r[c].rjust(widths[c]) for c in (1, 2, 3)]
        lines.append("| " + " | ".join(cells) + f" | {r[4]} |")
        if i == 0:
            lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|---|")
    return "\n".join(lines)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _FIGURES or hasattr(terminalreporter.config, "workeroutput"):
        return
    terminalreporter.write_sep("=", "secretsafe reliability figures")
    terminalreporter.write_line(figures_table())
    target = os.environ.get("SECRETSAFE_RELIABILITY_JSON")
    if target:
        Path(target).write_text(
            json.dumps({k: v.as_dict() for k, v in _FIGURES.items()}, indent=2) + "\n",
            encoding="utf-8",
        )
