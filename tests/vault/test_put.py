"""`secretsafe vault put PATH KEY` (issue 15, item 7): one value from stdin, written with
check-and-set next to the other keys, honest outcomes, a JSON report without the value --
against a real OpenBao dev server."""

from __future__ import annotations

import io
import json
import sys

import pytest

from secretsafe.cli import main
from secretsafe.errors import VaultUnreachable
from secretsafe.secret import Secret
from secretsafe.vault import kv, put, sync
from secretsafe.vault.client import VaultClient
from secretsafe.vault.dev import DevServer
from secretsafe.vault.reader import Session, read_values

CANARY = "Put-canary-93e1-NEVER-PRINT"


def put_cli(
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    *args: str,
    stdin: bytes = CANARY.encode() + b"\n",
) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8"))
    code = main(["vault", "put", *args])
    out, err = capfd.readouterr()
    assert CANARY not in out + err, (out, err)
    return code, out, err


def test_put_sets_one_key_and_keeps_the_others(
    vault_env: DevServer,
    vault_client: VaultClient,
    kv_path: str,
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    kv.write_secret(vault_client, kv_path, {"A": "1", "B": "2"}, cas=0)
    code, out, _ = put_cli(capfd, monkeypatch, kv_path, "B")
    assert code == 0
    assert f"secret/{kv_path}: B written (version 2, was version 1)" in out
    now = kv.read_secret(vault_client, kv_path)
    # The trailing line break of `echo` is dropped; the other key is untouched.
    assert now.data.reveal() == {"A": "1", "B": CANARY}
    # The same value again: nothing written (how an unknown outcome is checked).
    code, out, _ = put_cli(capfd, monkeypatch, kv_path, "B")
    assert code == 0
    assert "B up to date (version 2)" in out
    assert kv.read_secret(vault_client, kv_path).version == 2


def test_put_creates_the_path_and_reports_json(
    vault_env: DevServer,
    vault_client: VaultClient,
    kv_path: str,
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    code, out, _ = put_cli(capfd, monkeypatch, kv_path, "NEW_KEY", "--format", "json")
    assert code == 0
    doc = json.loads(out)
    assert doc == {
        "mount": "secret",
        "path": kv_path,
        "key": "NEW_KEY",
        "field": "NEW_KEY",
        "outcome": "written",
        "version": 1,
        "previous_version": 0,
        "created": True,
        "error": None,
    }
    assert kv.read_secret(vault_client, kv_path).data.reveal() == {"NEW_KEY": CANARY}


def test_a_concurrent_change_is_a_clear_conflict(
    vault_env: DevServer,
    vault_client: VaultClient,
    kv_path: str,
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Another writer between put's read and its write: exit 34, nothing of ours written,
    their change kept."""
    kv.write_secret(vault_client, kv_path, {"A": "1"}, cas=0)
    original = put._target

    def read_then_someone_writes(*args: object, **kwargs: object) -> object:
        got = original(*args, **kwargs)  # type: ignore[arg-type]
        kv.write_secret(vault_client, kv_path, {"A": "theirs"}, cas=1)
        return got

    monkeypatch.setattr(put, "_target", read_then_someone_writes)
    code, out, err = put_cli(capfd, monkeypatch, kv_path, "A", "--format", "json")
    assert code == 34
    assert "changed since version 1 was read" in err
    assert "A was not written" in err
    doc = json.loads(out)
    assert doc["outcome"] == "not written"
    assert doc["error"]["kind"] == "VaultConflict"
    now = kv.read_secret(vault_client, kv_path)
    assert (now.version, now.data.reveal()) == (2, {"A": "theirs"})


def test_cas_option_pins_the_reviewed_version(
    vault_env: DevServer,
    vault_client: VaultClient,
    kv_path: str,
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    kv.write_secret(vault_client, kv_path, {"A": "1"}, cas=0)
    kv.write_secret(vault_client, kv_path, {"A": "2"}, cas=1)
    code, _, err = put_cli(capfd, monkeypatch, kv_path, "A", "--cas", "1")
    assert code == 34
    assert "at version 2, not 1 (--cas)" in err
    assert kv.read_secret(vault_client, kv_path).version == 2
    code, _, _ = put_cli(capfd, monkeypatch, kv_path, "A", "--cas", "2")
    assert code == 0
    assert kv.read_secret(vault_client, kv_path).data["A"] == CANARY


def test_sections_layout_key_goes_to_its_section(
    vault_env: DevServer,
    vault_client: VaultClient,
    kv_path: str,
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """SECTION__FIELD of a path pushed with the sections layout is set at PATH/section, so
    `run --vault` (and pull) show the new value under the same name."""
    values = {"APP": "x", "DB__HOST": "db", "DB__PASSWORD": "old"}
    sync.push(vault_client, values, path=kv_path, layout="sections")
    code, out, _ = put_cli(capfd, monkeypatch, kv_path, "DB__PASSWORD")
    assert code == 0
    assert f"secret/{kv_path}/db: DB__PASSWORD written" in out
    with Session(environ={"VAULT_ADDR": vault_env.addr, "VAULT_TOKEN": vault_env.token}) as s:
        assert read_values(s, kv_path) == {**values, "DB__PASSWORD": CANARY}


@pytest.mark.parametrize(
    ("stdin", "args", "words"),
    [
        (b"", ["K"], "no value on stdin"),
        (b"\n", ["K"], "no value on stdin"),
        (b"\xff\xfe", ["K"], "not UTF-8"),
        (b"x" * (1024 * 1024 + 1), ["K"], "larger than"),
        (CANARY.encode(), ["K=v"], "not a valid variable name"),
        (CANARY.encode(), ["hvs.CAESIJlWvW5Kq3gKM0D7Z7oX9m3hNcq2eB1y"], "looks like a secret"),
    ],
)
def test_bad_input_is_a_usage_error(  # noqa: PLR0917 - fixtures and parameters
    vault_env: DevServer,
    kv_path: str,
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    stdin: bytes,
    args: list[str],
    words: str,
) -> None:
    code, _, err = put_cli(capfd, monkeypatch, kv_path, *args, stdin=stdin)
    assert code == 2
    assert words in err
    assert "hvs.CAES" not in err


def test_unknown_outcome_is_reported_as_such(
    vault_env: DevServer,
    kv_path: str,
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A write whose read-back failed too: the class of the failure (30) and "unknown"."""

    def lost(*_a: object, **_k: object) -> int:
        raise kv.unknown_outcome(VaultUnreachable("cannot reach x"), "m", "h")

    monkeypatch.setattr(kv, "apply", lost)
    code, out, err = put_cli(capfd, monkeypatch, kv_path, "K", "--format", "json")
    assert code == 30
    assert json.loads(out)["outcome"] == "unknown"
    assert "the outcome is unknown" in err
    assert "run the same put again" in err


def test_node_list_with_a_dead_node_first(
    bao_server: DevServer,
    vault_client: VaultClient,
    kv_path: str,
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from secretsafe.vault.dev import free_port

    monkeypatch.setenv("VAULT_TOKEN", bao_server.token)
    monkeypatch.delenv("VAULT_ADDR", raising=False)
    dead = f"http://127.0.0.1:{free_port()}"
    code, _, err = put_cli(
        capfd, monkeypatch, kv_path, "K", "--addr", dead, "--addr", bao_server.addr
    )
    assert code == 0, err
    assert kv.read_secret(vault_client, kv_path).data["K"] == CANARY


def test_library_call_takes_a_secret(vault_client: VaultClient, kv_path: str) -> None:
    result = put.put_value(vault_client, kv_path, "K", Secret(CANARY))
    assert (result.outcome, result.version, result.created) == ("written", 1, True)
    assert CANARY not in repr(result)


def test_value_is_never_an_argument() -> None:
    """The command takes PATH and KEY only: a third argument is refused, not written."""
    code = main(["vault", "put", "p", "K", "value"])
    assert code == 2
