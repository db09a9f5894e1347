"""`secretsafe vault bootstrap | unseal` against one real OpenBao raft node: fresh bootstrap,
idempotent re-run, dry run, restart + unseal from the encrypted file, AppRole least privilege,
--force, and the bad states (no damage, clear errors). Every CLI output is checked for the
unseal keys, the root token, the secret id and the app's canary value."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import hvac
import hvac.exceptions
import pytest
from bootstrap_helpers import APP_VALUES, CANARY, Outputs, Workdir, created_secrets

from secretsafe.sops import decrypt_file, encrypt_values
from secretsafe.testing.raft import RaftCluster
from secretsafe.vault import kv
from secretsafe.vault.client import AppRole, connect
from secretsafe.vault.cluster import node_status

pytestmark = pytest.mark.vault


def _root(workdir: Workdir) -> str:
    return decrypt_file(workdir.keys_file)["VAULT_ROOT_TOKEN"]


def _restart(cluster: RaftCluster) -> None:
    for node in cluster:
        node.kill()
        node.start()
    assert all(node_status(a).sealed for a in cluster.addrs)


def _bootstrapped(
    wd: Workdir, raft: RaftCluster, capfd: pytest.CaptureFixture[str]
) -> tuple[Path, Outputs]:
    """Write the config and bootstrap once (it must succeed); the config and the recorder."""
    config = wd.write_config(raft.addrs)
    outs = Outputs()
    code, out, err = outs.run(capfd, "bootstrap", "--config", str(config))
    assert code == 0, out + err
    return config, outs


def test_fresh_bootstrap_then_rerun_is_noop(
    raft1: RaftCluster, workdir: Workdir, capfd: pytest.CaptureFixture[str]
) -> None:
    wd = workdir
    config = wd.write_config(raft1.addrs)
    outs = Outputs()

    code, out, _ = outs.run(capfd, "bootstrap", "--config", str(config))
    assert code == 0, out
    for step in ("init", "keys-file", "unseal", "mount secret/", "policy app-api", "role api"):
        assert f"done  {step}" in out, out
    assert "credentials" in out
    assert "secrets secret/apps/api/prod" in out
    st = node_status(raft1.addrs[0])
    assert st.initialized
    assert not st.sealed
    assert (st.shares, st.threshold) == (3, 2)

    # The keys file and the credentials file are SOPS files, 0600, with no plaintext.
    for f in (wd.keys_file, wd.creds_file):
        assert stat.S_IMODE(f.stat().st_mode) == 0o600
    secrets = created_secrets(wd.keys_file, wd.creds_file)
    for f in (wd.keys_file, wd.creds_file):
        text = f.read_text()
        assert "sops_mac=" in text
        assert not any(s in text for s in secrets)
    keys = decrypt_file(wd.keys_file)
    assert sorted(k for k in keys if k.startswith("UNSEAL_KEY_")) == [
        "UNSEAL_KEY_1",
        "UNSEAL_KEY_2",
        "UNSEAL_KEY_3",
    ]

    # Initial secrets were loaded from the encrypted env file.
    with connect(addr=raft1.addrs[0], token=_root(wd)) as client:
        assert kv.read_secret(client, "apps/api/prod").data.reveal() == APP_VALUES

    # Re-run: every step unchanged, the credentials file untouched.
    before = wd.creds_file.read_bytes()
    code, out, _ = outs.run(capfd, "bootstrap", "--config", str(config))
    assert code == 0, out
    assert "already up to date" in out
    assert " done " not in out
    assert "  done  " not in out
    assert wd.creds_file.read_bytes() == before

    outs.assert_free_of(secrets)


def test_dry_run_on_a_fresh_server_changes_nothing(
    raft1: RaftCluster, workdir: Workdir, capfd: pytest.CaptureFixture[str]
) -> None:
    config = workdir.write_config(raft1.addrs)
    outs = Outputs()
    code, out, _ = outs.run(capfd, "bootstrap", "--config", str(config), "--dry-run")
    assert code == 0, out
    assert "planned  init" in out
    assert "planned  role api" in out
    assert "nothing was changed" in out
    assert not node_status(raft1.addrs[0]).initialized
    assert not workdir.keys_file.exists()


def test_restart_then_unseal_from_the_encrypted_file(
    raft1: RaftCluster, workdir: Workdir, capfd: pytest.CaptureFixture[str]
) -> None:
    wd = workdir
    config, outs = _bootstrapped(wd, raft1, capfd)
    _restart(raft1)

    code, out, _ = outs.run(capfd, "unseal", "--config", str(config))
    assert code == 0, out
    assert f"done  unseal {raft1.addrs[0]}: unsealed" in out
    assert not node_status(raft1.addrs[0]).sealed
    # Unsealing an unsealed node is a no-op.
    code, out, _ = outs.run(
        capfd, "unseal", "--keys-file", str(wd.keys_file), "--addr", raft1.addrs[0]
    )
    assert code == 0
    assert "already unsealed" in out
    # The data survived the restart.
    with connect(addr=raft1.addrs[0], token=_root(wd)) as client:
        assert kv.read_secret(client, "apps/api/prod").data["DATABASE__PASSWORD"] == CANARY
    outs.assert_free_of(created_secrets(wd.keys_file, wd.creds_file))


def test_app_logs_in_with_its_approle_and_can_read_but_not_write(
    raft1: RaftCluster, workdir: Workdir, capfd: pytest.CaptureFixture[str]
) -> None:
    wd = workdir
    config = wd.write_config(raft1.addrs)
    assert Outputs().run(capfd, "bootstrap", "--config", str(config))[0] == 0
    creds = decrypt_file(wd.creds_file)
    assert set(creds) == {"VAULT_ADDR", "VAULT_ROLE_ID", "VAULT_SECRET_ID"}

    # The app's environment is exactly the decrypted credentials file.
    with connect(environ=dict(creds)) as app:
        assert app.token_source.startswith("AppRole")
        assert kv.read_secret(app, "apps/api/prod").data.reveal() == APP_VALUES
        with pytest.raises(hvac.exceptions.Forbidden):
            app.hvac.secrets.kv.v2.create_or_update_secret("apps/api/prod", secret={"X": "1"})
        with pytest.raises(hvac.exceptions.Forbidden):
            app.hvac.secrets.kv.v2.read_secret_version(
                "apps/other/prod", raise_on_deleted_version=True
            )
        with pytest.raises(hvac.exceptions.Forbidden):
            app.hvac.secrets.kv.v2.list_secrets("apps/api")
    # Same through an explicit AppRole object.
    role = AppRole(role_id=creds["VAULT_ROLE_ID"], secret_id=creds["VAULT_SECRET_ID"])
    with connect(addr=raft1.addrs[0], approle=role) as app:
        assert kv.read_secret(app, "apps/api/prod").exists


def test_differing_policy_is_reported_and_changed_only_with_force(
    raft1: RaftCluster, workdir: Workdir, capfd: pytest.CaptureFixture[str]
) -> None:
    wd = workdir
    config, outs = _bootstrapped(wd, raft1, capfd)
    root = _root(wd)
    h = hvac.Client(url=raft1.addrs[0], token=root)
    wide = 'path "secret/*" {\n  capabilities = ["read", "create", "update", "list"]\n}\n'
    h.sys.create_or_update_policy("app-api", wide)
    h.secrets.kv.v2.configure(max_versions=9, mount_point="secret")

    code, out, err = outs.run(capfd, "bootstrap", "--config", str(config))
    assert code == 4, out + err
    assert "differs  policy app-api" in out
    assert '-path "secret/*" {' in out  # the diff is shown (policies hold no secrets)
    assert "differs  mount secret/: max_versions 9 -> 5" in out
    assert "--force" in err
    untouched = h.sys.read_policy("app-api")["data"]["rules"]  # type: ignore[no-untyped-call]
    assert untouched == wide

    code, out, _ = outs.run(capfd, "bootstrap", "--config", str(config), "--force")
    assert code == 0, out
    assert "done  policy app-api: replaced" in out
    rules = h.sys.read_policy("app-api")["data"]["rules"]  # type: ignore[no-untyped-call]
    assert 'path "secret/data/apps/api/prod"' in rules
    assert h.secrets.kv.v2.read_configuration("secret")["data"]["max_versions"] == 5
    assert outs.run(capfd, "bootstrap", "--config", str(config))[0] == 0
    outs.assert_free_of(created_secrets(wd.keys_file, wd.creds_file))


def test_changed_secrets_are_not_overwritten_without_force(
    raft1: RaftCluster, workdir: Workdir, capfd: pytest.CaptureFixture[str]
) -> None:
    wd = workdir
    config, outs = _bootstrapped(wd, raft1, capfd)
    encrypt_values(
        {**APP_VALUES, "JWT_SECRET": CANARY + "-rotated"},
        wd.env_file,
        recipients=[wd.key.recipient],
    )
    code, out, _ = outs.run(capfd, "bootstrap", "--config", str(config))
    assert code == 4
    assert "differs  secrets secret/apps/api/prod" in out
    assert "~ JWT_SECRET" in out
    code, out, _ = outs.run(capfd, "bootstrap", "--config", str(config), "--force")
    assert code == 0, out
    with connect(addr=raft1.addrs[0], token=_root(wd)) as client:
        got = kv.read_secret(client, "apps/api/prod").data["JWT_SECRET"]
    assert got == CANARY + "-rotated"
    outs.assert_free_of(created_secrets(wd.keys_file, wd.creds_file))


def test_revoke_root_removes_it_from_the_keys_file(
    raft1: RaftCluster, workdir: Workdir, capfd: pytest.CaptureFixture[str]
) -> None:
    wd = workdir
    config = wd.write_config(raft1.addrs, revoke_root=True)
    outs = Outputs()
    code, out, _ = outs.run(capfd, "bootstrap", "--config", str(config))
    assert code == 0, out
    assert "done  root-token: revoked" in out
    keys = decrypt_file(wd.keys_file)
    assert "VAULT_ROOT_TOKEN" not in keys
    assert "UNSEAL_KEY_1" in keys
    # Without a token a re-run explains what to do.
    code, _, err = outs.run(capfd, "bootstrap", "--config", str(config))
    assert code == 36
    assert "VAULT_TOKEN" in err
    outs.assert_free_of(created_secrets(wd.keys_file, wd.creds_file))


# --- bad states: clear errors, nothing changed ----------------------------------------------


def test_initialised_but_keys_file_missing_or_undecryptable(
    raft1: RaftCluster,
    workdir: Workdir,
    other_age_key: Any,
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    wd = workdir
    config, outs = _bootstrapped(wd, raft1, capfd)
    secrets = created_secrets(wd.keys_file, wd.creds_file)
    _restart(raft1)

    # Undecryptable: the user's identity is not a recipient.
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(other_age_key.key_file))
    for cmd in ("bootstrap", "unseal"):
        code, _, err = outs.run(capfd, cmd, "--config", str(config))
        assert code == 36, err
        assert "cannot be decrypted with your age identities" in err
        assert "Traceback" not in err
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(wd.key.key_file))

    # Missing.
    moved = wd.keys_file.with_name("keys.bak")
    os.replace(wd.keys_file, moved)
    code, _, err = outs.run(capfd, "bootstrap", "--config", str(config))
    assert code == 36
    assert "does not exist" in err
    assert node_status(raft1.addrs[0]).sealed
    # As JSON: the steps finished so far, then the error (its exit code is kept).
    code, out, err = outs.run(capfd, "bootstrap", "--config", str(config), "--format", "json")
    assert code == 36
    doc = json.loads(out)
    assert (doc["ok"], doc["error"]["type"], doc["error"]["exit_code"]) == (
        False,
        "BootstrapError",
        36,
    )
    assert "does not exist" in doc["error"]["message"]
    assert [s["step"] for s in doc["steps"]] == ["check"]
    assert "does not exist" in err
    os.replace(moved, wd.keys_file)
    assert outs.run(capfd, "unseal", "--config", str(config))[0] == 0
    outs.assert_free_of(secrets)


def test_fresh_server_with_an_existing_keys_file_is_refused(
    raft1: RaftCluster, workdir: Workdir, capfd: pytest.CaptureFixture[str]
) -> None:
    wd = workdir
    config = wd.write_config(raft1.addrs)
    encrypt_values({"UNSEAL_KEY_1": "old"}, wd.keys_file, recipients=[wd.key.recipient])
    before = wd.keys_file.read_bytes()
    code, _, err = Outputs().run(capfd, "bootstrap", "--config", str(config))
    assert code == 36
    assert "refusing to overwrite" in err
    assert wd.keys_file.read_bytes() == before
    assert not node_status(raft1.addrs[0]).initialized


def test_too_few_keys_and_wrong_key_share(
    raft1: RaftCluster, workdir: Workdir, capfd: pytest.CaptureFixture[str]
) -> None:
    wd = workdir
    config, outs = _bootstrapped(wd, raft1, capfd)
    secrets = created_secrets(wd.keys_file, wd.creds_file)
    keys = decrypt_file(wd.keys_file)
    _restart(raft1)
    addr = raft1.addrs[0]

    few = wd.path / "few.enc.env"
    encrypt_values({"UNSEAL_KEY_1": keys["UNSEAL_KEY_1"]}, few, recipients=[wd.key.recipient])
    code, _, err = outs.run(capfd, "unseal", "--keys-file", str(few), "--addr", addr)
    assert code == 36
    assert "needs 2 unseal keys" in err
    assert "holds 1" in err
    assert node_status(addr).progress == 0  # nothing was submitted

    # A wrong share (a valid share of another cluster would look the same): 33 random bytes.
    wrong = wd.path / "wrong.enc.env"
    encrypt_values(
        {"UNSEAL_KEY_1": keys["UNSEAL_KEY_1"], "UNSEAL_KEY_2": "ab" * 33},
        wrong,
        recipients=[wd.key.recipient],
    )
    code, _, err = outs.run(capfd, "unseal", "--keys-file", str(wrong), "--addr", addr)
    assert code == 36, err
    assert "accepted 2 share(s), then reset its progress to 0" in err
    assert "ab" * 33 not in err
    st = node_status(addr)
    assert st.sealed
    assert st.progress == 0

    # A half-done attempt left by someone else is reset, then the right keys unseal.
    hvac.Client(url=addr).sys.submit_unseal_key("cd" * 33)
    assert node_status(addr).progress == 1
    assert outs.run(capfd, "unseal", "--config", str(config))[0] == 0
    assert not node_status(addr).sealed
    outs.assert_free_of([*secrets, "cd" * 33])


def test_unreachable_node_stops_before_any_change(
    raft1: RaftCluster, workdir: Workdir, capfd: pytest.CaptureFixture[str]
) -> None:
    from secretsafe.vault.dev import free_port

    dead = f"http://127.0.0.1:{free_port()}"
    config = workdir.write_config([*raft1.addrs, dead])
    code, _, err = Outputs().run(capfd, "bootstrap", "--config", str(config))
    assert code == 30
    assert dead in err
    assert "nothing was changed" in err
    assert not node_status(raft1.addrs[0]).initialized
    code, _, err = Outputs().run(capfd, "unseal", "--keys-file", "x.enc", "--addr", dead)
    assert code == 36  # no keys file: checked before contacting anything


def test_server_argv_holds_no_secret(raft1: RaftCluster, workdir: Workdir) -> None:
    from secretsafe.vault.bootstrap import bootstrap, load_config

    wd = workdir
    bootstrap(load_config(wd.write_config(raft1.addrs)))
    secrets = created_secrets(wd.keys_file, wd.creds_file)
    for node in raft1:
        argv = node.argv()
        cmdline = Path(f"/proc/{node.pid}/cmdline").read_bytes().decode().split("\0")
        config_text = node.config_path.read_text()
        log = node.log.read_text()
        for s in secrets:
            assert not any(s in a for a in argv + cmdline)
            assert s not in config_text
            assert s not in log
