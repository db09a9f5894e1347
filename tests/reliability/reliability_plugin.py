"""Pytest plugin that collects the reliability suites' figures and prints one table.

Registered from ``tests/conftest.py`` (an initial conftest, so the pytest-xdist controller loads
it too; ``tests/reliability/conftest.py`` is only loaded by the workers that run the tests).
Workers send their counters to the controller in ``workeroutput``; the controller merges them,
prints the table at the end of the run and, when ``$SECRETSAFE_RELIABILITY_JSON`` names a
file, writes the figures there as JSON. ``scripts/reliability`` runs just these suites.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from reliability_support import FIGURES as _FIGURES
from reliability_support import SUITES as SUITE_ORDER
from reliability_support import SuiteFigures, suite_of

_IN_WORKER = False


def pytest_configure(config: pytest.Config) -> None:
    global _IN_WORKER  # noqa: PLW0603 - one flag per process
    _IN_WORKER = hasattr(config, "workerinput")


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    # A test that crashed before recording (or outside tally) still counts as a failed case.
    # Counted where reports end up (the controller, or the only process), never twice.
    if _IN_WORKER:
        return
    if report.when == "call" and report.failed and "tests/reliability/" in report.nodeid:
        suite = suite_of(Path(report.nodeid.split("::")[0]))
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
    suites = sorted(_FIGURES, key=lambda s: ((*SUITE_ORDER, s)).index(s))
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
