"""Fixtures shared by the git tests: one age key and a git environment isolated from the
user's configuration (HOME, GIT_CONFIG_GLOBAL, no system config) that finds that key."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.git.git_support import Key, git_env, new_key


@pytest.fixture
def key(tmp_path: Path) -> Key:
    return new_key(tmp_path / "age")


@pytest.fixture
def env(tmp_path: Path, key: Key) -> dict[str, str]:
    return git_env(tmp_path, key)
