"""Issue 15 item 3: after a failed or interrupted write, the outcome reported is the true one
(written with its version / not written / unknown), checked by reading back; never a wrong
claim. A proxy in front of a real OpenBao dev server loses answers on purpose."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from vault_hostile import lossy_proxy

from secretsafe.cli import main
from secretsafe.errors import SecretsafeError, VaultConflict, VaultError
from secretsafe.sops import encrypt_values
from secretsafe.vault import kv, sync
from secretsafe.vault.client import VaultClient, connect
from secretsafe.vault.dev import DevServer

CANARY = "Outcome-canary-5b2e-NEVER-SHOW"


def _data_path(kv_path: str) -> str:
    return f"/v1/secret/data/{kv_path}"


class Fates:
    """Per-request fates for :func:`lossy_proxy`: the first write to the data path gets
    ``first``, later writes ``later``; reads ``reads`` once ``after_write`` happened."""

    def __init__(self, kv_path: str, first: str, *, later: str = "pass", reads: str = "pass"):
        self.path = _data_path(kv_path)
        self.first, self.later, self.reads = first, later, reads
        self.writes = 0
        self.lock = threading.Lock()

    def __call__(self, method: str, path: str) -> str:
        with self.lock:
            if method in ("POST", "PATCH") and path == self.path:
                self.writes += 1
                return self.first if self.writes == 1 else self.later
            if self.writes and path.startswith("/v1/secret/"):
                return self.reads
            return "pass"


@contextlib.contextmanager
def _via_proxy(
    server: DevServer, fate: Callable[[str, str], str], **kw: Any
) -> Iterator[VaultClient]:
    """A client talking to ``server`` through a :func:`lossy_proxy` deciding by ``fate``."""
    with (
        lossy_proxy(server.addr, fate) as proxy,
        connect(addr=proxy.addr, token=server.token, environ={}, **kw) as client,
    ):
        yield client


def _seed(client: VaultClient, kv_path: str) -> None:
    kv.write_secret(client, kv_path, {"SEQ": "0"}, cas=0)


def test_a_lost_answer_is_reported_written_with_its_version(
    vault_client: VaultClient, bao_server: DevServer, kv_path: str
) -> None:
    """The issue's case: the write was applied, its answer lost (502), the retry met a
    check-and-set conflict with itself. Before: "changed from version 1 to 2 ... nothing was
    written" although version 2 held the pushed value. Now: written, version 2."""
    _seed(vault_client, kv_path)
    with _via_proxy(bao_server, Fates(kv_path, "lost"), retries=2) as client:
        result = sync.push(client, {"SEQ": CANARY}, path=kv_path)
    assert result.versions == {kv_path: 2}
    now = kv.read_secret(vault_client, kv_path)
    assert now.version == 2  # applied once, never twice
    assert now.data["SEQ"] == CANARY


def test_a_write_that_never_arrived_is_sent_again_once(
    vault_client: VaultClient, bao_server: DevServer, kv_path: str
) -> None:
    _seed(vault_client, kv_path)
    with _via_proxy(bao_server, Fates(kv_path, "refuse"), retries=0) as client:
        assert kv.write_secret(client, kv_path, {"SEQ": "1"}, cas=1) == 2
    assert kv.read_secret(vault_client, kv_path).version == 2


def test_not_written_is_said_only_when_reading_back_shows_it(
    vault_client: VaultClient, bao_server: DevServer, kv_path: str
) -> None:
    _seed(vault_client, kv_path)
    fates = Fates(kv_path, "refuse", later="refuse")
    with (
        _via_proxy(bao_server, fates, retries=0, deadline=1.0) as client,
        pytest.raises(VaultError) as info,
    ):
        sync.push(client, {"SEQ": CANARY}, path=kv_path)
    failure = sync.failure_of(info.value)
    assert failure is not None
    assert failure.outcome == "not written"
    assert "nothing was written" in str(info.value)
    assert kv.read_secret(vault_client, kv_path).version == 1
    assert CANARY not in str(info.value)


def test_unknown_when_the_result_cannot_be_read_back(
    vault_client: VaultClient, bao_server: DevServer, kv_path: str
) -> None:
    """Applied, answer lost, and the server unreachable afterwards: the only true report is
    "unknown", with how to check."""
    _seed(vault_client, kv_path)
    fates = Fates(kv_path, "lost", later="drop", reads="drop")
    with (
        _via_proxy(bao_server, fates, retries=0, deadline=1.0) as client,
        pytest.raises(SecretsafeError) as info,
    ):
        sync.push(client, {"SEQ": CANARY}, path=kv_path)
    assert kv.outcome_unknown(info.value)
    failure = sync.failure_of(info.value)
    assert failure is not None
    assert failure.outcome == "unknown"
    message = str(info.value)
    assert "nothing was written" not in message
    assert "vault diff" in message
    assert CANARY not in message
    assert kv.read_secret(vault_client, kv_path).version == 2  # it was in fact written


def test_a_real_conflict_is_still_a_conflict(
    vault_client: VaultClient, bao_server: DevServer, kv_path: str
) -> None:
    """Another writer got version 2 in between: a conflict, and the message names it."""
    _seed(vault_client, kv_path)

    def other_writer_first(method: str, path: str) -> str:
        if method == "POST" and path == _data_path(kv_path) and not done:
            done.append(1)
            kv.write_secret(vault_client, kv_path, {"SEQ": "other"}, cas=1)
        return "pass"

    done: list[int] = []
    with (
        _via_proxy(bao_server, other_writer_first, retries=0) as client,
        pytest.raises(VaultConflict) as info,
    ):
        sync.push(client, {"SEQ": CANARY}, path=kv_path)
    message = str(info.value)
    assert "from version 1 to 2" in message
    assert "SEQ" in message
    assert sync.failure_of(info.value).outcome == "not written"  # type: ignore[union-attr]
    assert kv.read_secret(vault_client, kv_path).data["SEQ"] == "other"


def test_a_multi_path_push_rolls_back_and_says_so(
    vault_client: VaultClient, bao_server: DevServer, kv_path: str
) -> None:
    """sections layout: the section is written first, then the base fails for good: the
    section is rolled back and the message says what is true."""
    values = {"A": "base", "DB__PASSWORD": CANARY}
    sync.push(vault_client, {"A": "0", "DB__PASSWORD": "0"}, path=kv_path, layout="sections")

    def fail_base(method: str, path: str) -> str:
        return "refuse" if method == "POST" and path == _data_path(kv_path) else "pass"

    with (
        _via_proxy(bao_server, fail_base, retries=0, deadline=1.0) as client,
        pytest.raises(VaultError) as info,
    ):
        sync.push(client, values, path=kv_path, layout="sections")
    failure = sync.failure_of(info.value)
    assert failure is not None
    assert failure.outcome == "not written"
    assert failure.rolled_back == (f"{kv_path}/db",)
    assert "rolled back" in str(info.value)
    pulled = sync.pull(vault_client, path=kv_path)
    assert pulled["DB__PASSWORD"] == "0"


@pytest.mark.parametrize(
    ("fate", "later", "code", "outcome"),
    [("lost", "pass", 0, "written"), ("refuse", "refuse", 35, "not written")],
)
def test_cli_push_json_reports_the_outcome(
    *,
    vault_client: VaultClient,
    bao_server: DevServer,
    kv_path: str,
    tmp_path: Path,
    age_key: Any,
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    fate: str,
    later: str,
    code: int,
    outcome: str,
) -> None:
    _seed(vault_client, kv_path)
    env_file = tmp_path / "app.env.enc"
    encrypt_values({"SEQ": CANARY}, env_file, recipients=[age_key.recipient])
    monkeypatch.setenv("VAULT_TOKEN", bao_server.token)
    with lossy_proxy(bao_server.addr, Fates(kv_path, fate, later=later)) as proxy:
        args = ["vault", "push", str(env_file), "--path", kv_path, "--format", "json"]
        got = main([*args, "--addr", proxy.addr, "--retries", "0", "--deadline", "1"])
    out, err = capfd.readouterr()
    assert CANARY not in out + err
    assert got == code, err
    doc = json.loads(out)
    assert doc["outcome"] == outcome
    if outcome == "written":
        assert doc["versions"] == {kv_path: 2}
        assert doc["changed"] == ["SEQ"]
    else:
        assert doc["error"]["exit_code"] == code


def _fates_table() -> list[tuple[str, str, str, Callable[[VaultClient, str], bool]]]:
    """(first write, later requests, reads) -> the outcome reported is true."""
    return [
        ("pass", "pass", "pass", lambda c, p: kv.read_secret(c, p).version == 2),
        ("lost", "pass", "pass", lambda c, p: kv.read_secret(c, p).version == 2),
        ("refuse", "pass", "pass", lambda c, p: kv.read_secret(c, p).version == 2),
        ("drop", "pass", "pass", lambda c, p: kv.read_secret(c, p).version == 2),
        ("lost", "refuse", "pass", lambda c, p: kv.read_secret(c, p).version == 2),
        ("refuse", "refuse", "pass", lambda c, p: kv.read_secret(c, p).version == 1),
        ("drop", "drop", "pass", lambda c, p: kv.read_secret(c, p).version == 1),
        ("lost", "drop", "drop", lambda c, p: kv.read_secret(c, p).version == 2),
        ("refuse", "drop", "drop", lambda c, p: kv.read_secret(c, p).version == 1),
    ]


@pytest.mark.parametrize(("first", "later", "reads", "_check"), _fates_table())
def test_every_reported_outcome_is_true(
    *,
    vault_client: VaultClient,
    bao_server: DevServer,
    kv_path: str,
    first: str,
    later: str,
    reads: str,
    _check: Callable[[VaultClient, str], bool],
) -> None:
    """A table over the ways a write can go wrong: whatever is reported matches Vault."""
    _seed(vault_client, kv_path)
    fates = Fates(kv_path, first, later=later, reads=reads)
    with _via_proxy(bao_server, fates, retries=1, deadline=1.5) as client:
        try:
            result = sync.push(client, {"SEQ": "new"}, path=kv_path)
        except SecretsafeError as exc:
            failure = sync.failure_of(exc)
            assert failure is not None
            reported: str = failure.outcome
        else:
            reported = "written"
            assert result.versions == {kv_path: 2}
    now = kv.read_secret(vault_client, kv_path)
    assert _check(vault_client, kv_path)
    if reported == "written":
        assert now.version == 2
        assert now.data["SEQ"] == "new"
    elif reported == "not written":
        assert now.version == 1
        assert now.data["SEQ"] == "0"
    else:
        assert reported == "unknown"
