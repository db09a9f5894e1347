"""Real OpenBao raft servers on 127.0.0.1 for the bootstrap tests.

``raft1``: one fresh raft node (uninitialised, sealed) per test, stopped by pid afterwards.
``workdir``: a directory with an age key (exported as SOPS_AGE_KEY_FILE), an encrypted env
file for app ``api`` holding a canary value, and :func:`write_config` to write bootstrap.toml.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from bootstrap_helpers import APP_VALUES, Workdir

from secretsafe.sops import encrypt_values
from secretsafe.testing.raft import RaftCluster, start_cluster


@pytest.fixture
def raft1(tmp_path: Path) -> Iterator[RaftCluster]:
    with start_cluster(1, base=tmp_path / "raft") as cluster:
        yield cluster


@pytest.fixture
def workdir(tmp_path: Path, age_key: Any) -> Workdir:
    d = tmp_path / "ops"
    d.mkdir()
    env_file = d / "api.env.enc"
    encrypt_values(APP_VALUES, env_file, recipients=[age_key.recipient])
    return Workdir(path=d, key=age_key, env_file=env_file)
