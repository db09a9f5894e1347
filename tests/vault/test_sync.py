"""push / pull / diff plans, layouts, splitting, conflicts and rollback on a real server."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from secretsafe.errors import (
    ConfigError,
    UsageError,
    VaultConflict,
    VaultPermissionDenied,
)
from secretsafe.vault import kv, sync
from secretsafe.vault.client import VaultClient, connect
from secretsafe.vault.dev import DevServer

TRICKY = {
    "PLAIN": "value",
    "UNICODE": "päss wörd ✓ 秘密 🔑",
    "NEWLINES": "line1\nline2\n\nline4\n",
    "CRLF": "a\r\nb",
    "EQUALS": "a=b==c=",
    "QUOTES": "'single' \"double\" `back`",
    "EMPTY": "",
    "SPACES": "  leading and trailing  ",
    "BACKSLASH": "C:\\path\\n not a newline",
    "HASH": "#not-a-comment",
    "DATABASE__HOST": "db.internal",
    "DATABASE__PASSWORD": "pa$$w0rd;DROP",
}


def test_flat_round_trip_preserves_every_value(vault_client: VaultClient, kv_path: str) -> None:
    result = sync.push(vault_client, TRICKY, path=kv_path)
    assert result.versions == {kv_path: 1}
    pulled = sync.pull(vault_client, path=kv_path)
    assert pulled.reveal() == TRICKY


def test_sections_round_trip(vault_client: VaultClient, kv_path: str) -> None:
    sync.push(vault_client, TRICKY, path=kv_path, layout="sections")
    db = kv.read_secret(vault_client, f"{kv_path}/database")
    assert db.data.reveal() == {"host": "db.internal", "password": "pa$$w0rd;DROP"}
    base = kv.read_secret(vault_client, kv_path)
    assert "DATABASE__HOST" not in base.data
    assert base.custom_metadata["secretsafe_sections"] == "database"
    # layout is recorded: pull needs no option, and no list capability
    assert sync.pull(vault_client, path=kv_path).reveal() == TRICKY


def test_sections_refuses_names_that_cannot_round_trip(
    vault_client: VaultClient, kv_path: str
) -> None:
    with pytest.raises(UsageError, match="upper-case"):
        sync.push(vault_client, {"Db__host": "x"}, path=kv_path, layout="sections")


def test_plan_by_name_and_dry_run_changes_nothing(vault_client: VaultClient, kv_path: str) -> None:
    sync.push(vault_client, {"A": "1", "B": "2", "C": "3"}, path=kv_path)
    result = sync.push(
        vault_client, {"A": "1", "B": "changed", "D": "4"}, path=kv_path, dry_run=True
    )
    p = result.plan
    assert (p.added, p.changed, p.removed, p.unchanged) == (("D",), ("B",), ("C",), ("A",))
    assert result.versions == {}
    lines = p.lines()
    assert "+ D" in lines
    assert "~ B" in lines
    assert any(line.strip().startswith("C (only in Vault; kept") for line in lines)
    assert not any("changed" in line or "4" in line for line in lines)
    assert kv.read_secret(vault_client, kv_path).version == 1


def test_without_prune_vault_only_keys_are_kept(vault_client: VaultClient, kv_path: str) -> None:
    sync.push(vault_client, {"A": "1", "C": "3"}, path=kv_path)
    sync.push(vault_client, {"A": "2"}, path=kv_path)
    assert sync.pull(vault_client, path=kv_path).reveal() == {"A": "2", "C": "3"}
    sync.push(vault_client, {"A": "2"}, path=kv_path, prune=True)
    assert sync.pull(vault_client, path=kv_path).reveal() == {"A": "2"}


def test_unchanged_push_writes_no_new_version(vault_client: VaultClient, kv_path: str) -> None:
    sync.push(vault_client, {"A": "1"}, path=kv_path)
    again = sync.push(vault_client, {"A": "1"}, path=kv_path)
    assert again.versions == {}
    assert kv.read_secret(vault_client, kv_path).version == 1


def test_custom_metadata_records_the_source(vault_client: VaultClient, kv_path: str) -> None:
    sync.push(vault_client, {"A": "1"}, path=kv_path, source={"source": "api.env.enc"})
    meta = kv.read_secret(vault_client, kv_path).custom_metadata
    assert meta["secretsafe_source"] == "api.env.enc"
    assert meta["secretsafe_layout"] == "flat"
    assert meta["secretsafe_version"]
    assert meta["secretsafe_pushed_at"].endswith("Z")


def test_pull_older_version(vault_client: VaultClient, kv_path: str) -> None:
    sync.push(vault_client, {"A": "old"}, path=kv_path)
    sync.push(vault_client, {"A": "new"}, path=kv_path)
    assert sync.pull(vault_client, path=kv_path, version=1).reveal() == {"A": "old"}
    assert sync.pull(vault_client, path=kv_path).reveal() == {"A": "new"}


def test_diff_reports_drift_by_name(vault_client: VaultClient, kv_path: str) -> None:
    sync.push(vault_client, {"A": "1", "B": "2"}, path=kv_path)
    assert not sync.diff(vault_client, {"A": "1", "B": "2"}, path=kv_path).drift
    d = sync.diff(vault_client, {"A": "1", "B": "x", "N": "n"}, path=kv_path)
    assert d.drift
    assert (d.added, d.changed, d.removed) == (("N",), ("B",), ())


def test_large_secret_is_split_and_round_trips(vault_client: VaultClient, kv_path: str) -> None:
    values = {f"K{i:04d}": f"v{i}" for i in range(1200)}
    result = sync.push(vault_client, values, path=kv_path)
    assert result.versions[kv_path] >= 3  # created from one chunk, then patched
    assert sync.pull(vault_client, path=kv_path).reveal() == values
    # a small change to a large secret is one atomic patch
    values["K0005"] = "changed"
    del values["K0006"]
    before = kv.read_secret(vault_client, kv_path).version
    sync.push(vault_client, values, path=kv_path, prune=True)
    assert kv.read_secret(vault_client, kv_path).version == before + 1
    assert sync.pull(vault_client, path=kv_path).reveal() == values


def test_split_write_failure_is_rolled_back(vault_client: VaultClient, kv_path: str) -> None:
    old = {f"K{i}": f"old{i}" for i in range(10)}
    sync.push(vault_client, old, path=kv_path)
    current = kv.read_secret(vault_client, kv_path)
    new = {f"K{i}": f"new{i}" for i in range(10)}
    real_patch = kv.patch_secret
    calls = []

    def failing_patch(*args: object, **kwargs: object) -> int:
        calls.append(1)
        if len(calls) == 3:  # the third chunk: someone else wrote in between
            raise VaultConflict("check-and-set conflict (simulated)")
        return real_patch(*args, **kwargs)  # type: ignore[arg-type]

    mp = pytest.MonkeyPatch()
    mp.setattr(kv, "patch_secret", failing_patch)
    try:
        with pytest.raises(VaultConflict):
            kv.apply(vault_client, current, new, max_pairs=3)
    finally:
        mp.undo()
    assert sync.pull(vault_client, path=kv_path).reveal() == old


def test_two_concurrent_pushers_never_lose_an_update(bao_server: DevServer, kv_path: str) -> None:
    with connect(addr=bao_server.addr, token=bao_server.token) as c0:
        sync.push(c0, {"A": "base"}, path=kv_path)
        plan_a = sync.plan(c0, {"A": "from-a"}, path=kv_path)
        plan_b = sync.plan(c0, {"A": "from-b", "B": "b"}, path=kv_path)
    # Both read version 1, then race to write with cas=1.
    barrier = threading.Barrier(2)
    outcomes: dict[str, BaseException | int] = {}

    def writer(name: str, p: sync.Plan) -> None:
        with connect(addr=bao_server.addr, token=bao_server.token) as c:
            barrier.wait()
            try:
                outcomes[name] = kv.apply(c, p.paths[0].current, p.paths[0].desired)
            except VaultConflict as exc:
                outcomes[name] = exc

    threads = [
        threading.Thread(target=writer, args=("a", plan_a)),
        threading.Thread(target=writer, args=("b", plan_b)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [n for n, o in outcomes.items() if o == 2]
    losers = [n for n, o in outcomes.items() if isinstance(o, VaultConflict)]
    assert len(winners) == 1
    assert len(losers) == 1
    with connect(addr=bao_server.addr, token=bao_server.token) as c:
        final = sync.pull(c, path=kv_path).reveal()
    assert final["A"] == f"from-{winners[0]}"


def test_push_after_concurrent_change_conflicts(vault_client: VaultClient, kv_path: str) -> None:
    sync.push(vault_client, {"A": "1"}, path=kv_path)
    stale = kv.read_secret(vault_client, kv_path)
    sync.push(vault_client, {"A": "2"}, path=kv_path)
    with pytest.raises(VaultConflict):
        kv.apply(vault_client, stale, {"A": "3"})
    assert sync.pull(vault_client, path=kv_path).reveal() == {"A": "2"}


def test_read_only_token_push_fails_and_changes_nothing(
    vault_client: VaultClient, bao_server: DevServer, kv_path: str
) -> None:
    sync.push(vault_client, {"A": "1"}, path=kv_path, layout="sections")
    name = "ro-" + kv_path.replace("/", "-")
    vault_client.hvac.sys.create_or_update_policy(
        name,
        f'path "secret/data/{kv_path}" {{ capabilities = ["read"] }}\n'
        f'path "secret/data/{kv_path}/*" {{ capabilities = ["read"] }}\n',
    )
    token = vault_client.hvac.auth.token.create(policies=[name], ttl="5m")["auth"]["client_token"]
    with connect(addr=bao_server.addr, token=token) as ro:
        assert sync.pull(ro, path=kv_path).reveal() == {"A": "1"}
        with pytest.raises(VaultPermissionDenied) as info:
            sync.push(ro, {"A": "2", "DB__HOST": "h"}, path=kv_path, layout="sections")
    assert info.value.exit_code == 32
    assert not kv.read_secret(vault_client, f"{kv_path}/db").exists
    assert kv.read_secret(vault_client, kv_path).version == 1


def test_failed_multi_path_push_is_rolled_back(
    vault_client: VaultClient, bao_server: DevServer, kv_path: str
) -> None:
    """Sections are written first; if the base path is denied, they are undone."""
    sync.push(vault_client, {"A": "1", "DB__HOST": "old"}, path=kv_path, layout="sections")
    name = "part-" + kv_path.replace("/", "-")
    vault_client.hvac.sys.create_or_update_policy(
        name,
        f'path "secret/data/{kv_path}" {{ capabilities = ["read"] }}\n'
        f'path "secret/data/{kv_path}/*" {{ capabilities = ["create", "read", "update"] }}\n'
        f'path "secret/metadata/{kv_path}/*" {{ capabilities = ["delete"] }}\n',
    )
    token = vault_client.hvac.auth.token.create(policies=[name], ttl="5m")["auth"]["client_token"]
    with connect(addr=bao_server.addr, token=token) as c, pytest.raises(VaultPermissionDenied):
        sync.push(
            c, {"A": "2", "DB__HOST": "new", "CACHE__URL": "u"}, path=kv_path, layout="sections"
        )
    after = sync.pull(vault_client, path=kv_path).reveal()
    assert after == {"A": "1", "DB__HOST": "old"}
    assert not kv.read_secret(vault_client, f"{kv_path}/cache").exists


def test_mapping_file(tmp_path: Path) -> None:
    (tmp_path / "m.toml").write_text(
        'layout = "flat"\n[files]\n"a.env.enc" = "apps/a"\n'
        '"b/b.env.enc" = { path = "apps/b", layout = "sections", mount = "kv" }\n',
        encoding="utf-8",
    )
    entries = sync.load_mapping(tmp_path / "m.toml")
    assert [(e.file, e.path, e.mount, e.layout) for e in entries] == [
        (tmp_path / "a.env.enc", "apps/a", "secret", "flat"),
        (tmp_path / "b/b.env.enc", "apps/b", "kv", "sections"),
    ]
    (tmp_path / "bad.toml").write_text('[files]\n"a" = { path = "x", oops = 1 }\n', "utf-8")
    with pytest.raises(ConfigError, match="unknown option"):
        sync.load_mapping(tmp_path / "bad.toml")
    (tmp_path / "dup.toml").write_text('[files]\n"a" = "x"\n"b" = "x"\n', "utf-8")
    with pytest.raises(ConfigError, match="also used"):
        sync.load_mapping(tmp_path / "dup.toml")


def test_values_never_in_reprs(vault_client: VaultClient, kv_path: str) -> None:
    canary = "canary-plan-4411"
    sync.push(vault_client, {"A": "old"}, path=kv_path)
    result = sync.push(vault_client, {"A": canary}, path=kv_path)
    assert canary not in repr(result)
    assert canary not in repr(sync.pull(vault_client, path=kv_path))
    assert canary not in repr(kv.read_secret(vault_client, kv_path))


def test_conflict_says_what_changed(vault_client: VaultClient, kv_path: str) -> None:
    sync.push(vault_client, {"A": "1", "B": "1"}, path=kv_path)
    stale = sync.plan(vault_client, {"A": "mine"}, path=kv_path)
    sync.push(vault_client, {"A": "1", "B": "theirs"}, path=kv_path)
    mp = pytest.MonkeyPatch()
    mp.setattr(sync, "plan", lambda *a, **k: stale)
    try:
        with pytest.raises(VaultConflict, match=r"version 1 to 2 .*changed there: B\)") as info:
            sync.push(vault_client, {"A": "mine"}, path=kv_path)
    finally:
        mp.undo()
    assert "theirs" not in str(info.value)
    assert sync.pull(vault_client, path=kv_path).reveal() == {"A": "1", "B": "theirs"}
