"""Fixtures of the reliability suites: ``tally`` (per-suite case counters) and a real OpenBao
dev server. The table of figures is printed by ``reliability_plugin`` (registered from
``tests/conftest.py`` so that the xdist controller of any run loads it).

Each test asks for ``tally`` and records every case it tries (``tally.ok`` / ``tally.fail`` /
``tally.check``) plus named counters (``tally.note("rejected")``). A test fails if any of its
cases failed, listing them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from reliability_support import Tally, suite_of


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


@pytest.fixture
def tally(request: pytest.FixtureRequest) -> Iterator[Tally]:
    t = Tally(suite_of(Path(str(request.node.path))), request.node.nodeid)
    yield t
    t.assert_clean()
