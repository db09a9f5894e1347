"""Fixtures for the compose tests: the shop stack, its clean twin and the generated
50-service stack (helpers in stackdata.py and stackgen.py, uniquely named so that other test
directories' conftest modules never shadow them)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from stackdata import Stack, make_stack
from stackgen import BigStack, write_big_stack


@pytest.fixture
def stack(tmp_path: Path, age_key) -> Stack:  # type: ignore[no-untyped-def]
    return make_stack("stack", tmp_path, age_key.recipient)


@pytest.fixture
def clean_stack(tmp_path: Path, age_key) -> Stack:  # type: ignore[no-untyped-def]
    return make_stack("clean", tmp_path, age_key.recipient)


@pytest.fixture
def big_stack(tmp_path: Path) -> BigStack:
    return write_big_stack(tmp_path / "lab")
