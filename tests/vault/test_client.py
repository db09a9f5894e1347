"""connect(), token/address resolution and error translation against a real OpenBao server."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from secretsafe.errors import (
    ConfigError,
    InsecurePermissions,
    UsageError,
    VaultConflict,
    VaultError,
    VaultNotFound,
    VaultPermissionDenied,
    VaultSealed,
    VaultUnreachable,
)
from secretsafe.vault import kv
from secretsafe.vault.client import AppRole, VaultClient, connect, translate_errors
from secretsafe.vault.dev import DevServer, bao_binary, free_port

CANARY = "canary-9f2d-do-not-print"


def _write(client: VaultClient, path: str, data: dict[str, str]) -> int:
    current = kv.read_secret(client, path)
    return kv.write_secret(client, path, data, cas=current.version)


def test_connect_reads_bao_addr_and_bao_token(
    bao_server: DevServer, monkeypatch: pytest.MonkeyPatch, kv_path: str
) -> None:
    monkeypatch.setenv("BAO_ADDR", bao_server.addr)
    monkeypatch.setenv("BAO_TOKEN", bao_server.token)
    with connect() as client:
        assert client.token_source == "BAO_TOKEN"
        assert _write(client, kv_path, {"A": "1"}) == 1


def test_vault_vars_win_over_bao_vars(
    bao_server: DevServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BAO_ADDR", "http://127.0.0.1:1")
    monkeypatch.setenv("VAULT_ADDR", bao_server.addr)
    monkeypatch.setenv("BAO_TOKEN", "wrong")
    monkeypatch.setenv("VAULT_TOKEN", bao_server.token)
    with connect() as client:
        assert client.addr == bao_server.addr
        assert client.token_source == "VAULT_TOKEN"


def test_token_file_in_home(
    bao_server: DevServer, monkeypatch: pytest.MonkeyPatch, isolated_env: Path, kv_path: str
) -> None:
    monkeypatch.setenv("VAULT_ADDR", bao_server.addr)
    (isolated_env / ".vault-token").write_text(bao_server.token + "\n", encoding="utf-8")
    with connect() as client:
        assert client.token_source == "~/.vault-token"
        assert _write(client, kv_path, {"A": "1"}) == 1


def test_token_file_that_is_a_pipe_is_refused_without_blocking(
    monkeypatch: pytest.MonkeyPatch, isolated_env: Path
) -> None:
    """A named pipe at ~/.vault-token used to block start-up in open() forever."""
    import threading

    from secretsafe.errors import FileError

    monkeypatch.setenv("VAULT_ADDR", "http://127.0.0.1:9")
    os.mkfifo(isolated_env / ".vault-token")
    outcome: list[BaseException | None] = []

    def attempt() -> None:
        try:
            connect(retries=0, timeout=1)
        except BaseException as exc:
            outcome.append(exc)
        else:
            outcome.append(None)

    worker = threading.Thread(target=attempt, daemon=True)
    worker.start()
    worker.join(30)
    assert outcome, "connect() blocked on a named pipe"
    assert isinstance(outcome[0], FileError)
    assert "not a regular file" in str(outcome[0])


def test_no_address_and_no_token_are_clear_errors(
    bao_server: DevServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(UsageError, match="VAULT_ADDR"):
        connect()
    monkeypatch.setenv("VAULT_ADDR", bao_server.addr)
    with pytest.raises(VaultPermissionDenied, match="no Vault token") as info:
        connect()
    assert info.value.exit_code == 32


def test_skip_verify_is_refused_not_ignored(
    bao_server: DevServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VAULT_SKIP_VERIFY", "true")
    with pytest.raises(ConfigError, match="never disables TLS verification"):
        connect(addr=bao_server.addr, token=bao_server.token)


def test_missing_ca_bundle(bao_server: DevServer, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="CA bundle"):
        connect(addr=bao_server.addr, token=bao_server.token, ca_cert=tmp_path / "nope.pem")


def test_repr_hides_token(bao_server: DevServer) -> None:
    client = connect(addr=bao_server.addr, token=bao_server.token)
    assert bao_server.token not in repr(client)
    assert bao_server.token not in repr(bao_server)
    role = AppRole(role_id="r", secret_id=CANARY)
    assert CANARY not in repr(role)


def test_approle_login_from_env_files(
    vault_client: VaultClient,
    bao_server: DevServer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    kv_path: str,
) -> None:
    sys_ = vault_client.hvac.sys
    if "approle/" not in sys_.list_auth_methods()["data"]:
        sys_.enable_auth_method("approle")
    name = kv_path.replace("/", "-")
    vault_client.hvac.sys.create_or_update_policy(
        name, f'path "secret/data/{kv_path}" {{ capabilities = ["create", "read", "update"] }}'
    )
    approle = vault_client.hvac.auth.approle
    approle.create_or_update_approle(name, token_policies=[name])
    role_id = approle.read_role_id(name)["data"]["role_id"]
    secret_id = approle.generate_secret_id(name)["data"]["secret_id"]
    (tmp_path / "role").write_text(role_id, encoding="utf-8")
    secret_file = tmp_path / "secret"
    secret_file.write_text(secret_id, encoding="utf-8")
    secret_file.chmod(0o644)
    monkeypatch.setenv("VAULT_ADDR", bao_server.addr)
    monkeypatch.setenv("VAULT_ROLE_ID_FILE", str(tmp_path / "role"))
    monkeypatch.setenv("VAULT_SECRET_ID_FILE", str(secret_file))
    with pytest.raises(InsecurePermissions, match="chmod 600"):
        connect()
    secret_file.chmod(0o600)
    with connect() as client:
        assert client.token_source.startswith("AppRole")
        assert _write(client, kv_path, {"A": "1"}) == 1
        with pytest.raises(VaultPermissionDenied, match="permission denied at secret/other"):
            kv.read_secret(client, "other")


def test_half_an_approle_is_a_usage_error(
    bao_server: DevServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VAULT_ROLE_ID", "x")
    with pytest.raises(UsageError, match="both a role id and a secret id"):
        connect(addr=bao_server.addr)


def test_not_found_and_missing_mount(vault_client: VaultClient, kv_path: str) -> None:
    assert not kv.read_secret(vault_client, kv_path).exists
    with pytest.raises(VaultNotFound, match="no secrets engine mounted") as info:
        kv.read_secret(vault_client, kv_path, mount="no-such-mount")
    assert info.value.exit_code == 33
    _write(vault_client, kv_path, {"A": "1"})
    with pytest.raises(VaultNotFound, match="no version 7"):
        kv.read_secret(vault_client, kv_path, version=7)


def test_cas_conflict(vault_client: VaultClient, kv_path: str) -> None:
    kv.write_secret(vault_client, kv_path, {"A": "1"}, cas=0)
    with pytest.raises(VaultConflict, match="check-and-set conflict") as info:
        kv.write_secret(vault_client, kv_path, {"A": CANARY}, cas=0)
    assert info.value.exit_code == 34
    assert info.value.__cause__ is None
    assert info.value.__context__ is None  # not even a suppressed one
    assert CANARY not in str(info.value)


def test_policy_denial_names_path_and_policy(
    vault_client: VaultClient, bao_server: DevServer, kv_path: str
) -> None:
    token = vault_client.hvac.auth.token.create(policies=["default"], ttl="5m")["auth"][
        "client_token"
    ]
    with (
        connect(addr=bao_server.addr, token=token, retries=0) as client,
        pytest.raises(VaultPermissionDenied) as info,
    ):
        kv.read_secret(client, kv_path)
    text = str(info.value)
    assert f"secret/{kv_path}" in text
    assert "policies" in text
    assert "expired" not in text.split("(", maxsplit=1)[0]


def test_expired_token(vault_client: VaultClient, bao_server: DevServer, kv_path: str) -> None:
    token = vault_client.hvac.auth.token.create(policies=["default"], ttl="1s")["auth"][
        "client_token"
    ]
    time.sleep(2)
    with (
        connect(addr=bao_server.addr, token=token, retries=0) as client,
        pytest.raises(VaultPermissionDenied, match="expired, revoked or invalid") as info,
    ):
        kv.read_secret(client, kv_path)
    assert info.value.exit_code == 32


def test_sealed_server(fresh_bao_server: DevServer) -> None:
    env = {"HOME": str(fresh_bao_server.home), "PATH": "/usr/bin:/bin"}
    env |= {"VAULT_ADDR": fresh_bao_server.addr, "BAO_ADDR": fresh_bao_server.addr}
    env["BAO_TOKEN"] = fresh_bao_server.token
    subprocess.run(
        [str(bao_binary()), "operator", "seal"], env=env, check=True, capture_output=True
    )
    with (
        connect(addr=fresh_bao_server.addr, token=fresh_bao_server.token, retries=1) as client,
        pytest.raises(VaultSealed, match="is sealed") as info,
    ):
        kv.read_secret(client, "anything")
    assert info.value.exit_code == 31


def test_stopped_server(fresh_bao_server: DevServer) -> None:
    client = connect(addr=fresh_bao_server.addr, token=fresh_bao_server.token, retries=1)
    fresh_bao_server.stop()
    with pytest.raises(VaultUnreachable, match="cannot reach") as info:
        kv.read_secret(client, "anything")
    assert info.value.exit_code == 30
    assert info.value.__cause__ is None


def test_connection_refused_is_retried_a_bounded_number_of_times() -> None:
    port = free_port()  # nothing listens there
    client = connect(addr=f"http://127.0.0.1:{port}", token="t", retries=2)
    calls = []

    def attempt() -> None:
        calls.append(1)
        client.hvac.sys.read_health_status(method="GET")

    with pytest.raises(VaultUnreachable):
        client.call(attempt)
    assert len(calls) == 3


def test_policy_denial_is_not_retried(vault_client: VaultClient, bao_server: DevServer) -> None:
    token = vault_client.hvac.auth.token.create(policies=["default"], ttl="5m")["auth"][
        "client_token"
    ]
    client = connect(addr=bao_server.addr, token=token, retries=3)
    calls = []

    def attempt() -> None:
        calls.append(1)
        client.hvac.secrets.kv.v2.read_secret_version("x", raise_on_deleted_version=True)

    with pytest.raises(VaultPermissionDenied):
        client.call(attempt, path="secret/x")
    assert len(calls) == 1


def test_translate_errors_context_manager(bao_server: DevServer) -> None:
    import hvac

    raw = hvac.Client(url=bao_server.addr, token="not-a-token")
    with pytest.raises(VaultPermissionDenied, match="at secret/p"), translate_errors("secret/p"):
        raw.secrets.kv.v2.read_secret_version("p", raise_on_deleted_version=True)


def test_import_is_cheap() -> None:
    code = (
        "import sys, secretsafe, secretsafe.vault, secretsafe.cli.vault;"
        "bad = [m for m in ('hvac', 'requests', 'keyring', 'asyncio', 'pydantic') "
        "if m in sys.modules]; print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_token_from_os_keyring(bao_server: DevServer, isolated_env: Path, kv_path: str) -> None:
    """A real Secret Service (gnome-keyring in its own D-Bus session) holds the token."""
    code = (
        "import keyring, sys\n"
        "from secretsafe.vault import kv\n"
        "from secretsafe.vault.client import connect, keyring_username\n"
        "addr, token, path = sys.argv[1:4]\n"
        "keyring.set_password('secretsafe', keyring_username(addr), token)\n"
        "with connect(addr=addr) as c:\n"
        "    print(c.token_source, kv.read_secret(c, path).exists)\n"
    )
    script = (
        "eval \"$(printf 'pw\\n' | gnome-keyring-daemon --unlock --components=secrets)\" "
        '>/dev/null; exec "$0" "$@"'
    )
    env = {"HOME": str(isolated_env), "PATH": os.environ["PATH"]}
    proc = subprocess.run(
        [
            "dbus-run-session",
            "--",
            "bash",
            "-c",
            script,
            sys.executable,
            "-c",
            code,
            bao_server.addr,
            bao_server.token,
            kv_path,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "OS keyring False"


def test_standby_redirect_is_followed(
    vault_client: VaultClient, bao_server: DevServer, kv_path: str
) -> None:
    """A node that answers 307 to the active one (as a standby does) is transparent."""
    import http.server
    import threading

    kv.write_secret(vault_client, kv_path, {"A": "1"}, cas=0)

    class Standby(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(307)
            self.send_header("Location", bao_server.addr + self.path)
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_POST = do_GET  # noqa: N815 - http.server's method naming

        def log_message(self, *args: object) -> None:
            pass

    standby = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Standby)
    thread = threading.Thread(target=standby.serve_forever, daemon=True)
    thread.start()
    try:
        addr = f"http://127.0.0.1:{standby.server_address[1]}"
        nodes = [bao_server.addr]
        with connect(addr=addr, token=bao_server.token, retries=0, nodes=nodes) as client:
            secret = kv.read_secret(client, kv_path)
            assert secret.data.reveal() == {"A": "1"}
            assert kv.write_secret(client, kv_path, {"A": "2"}, cas=secret.version) == 2
        # The active node is not one of the configured nodes: the redirect is refused.
        with (
            connect(addr=addr, token=bao_server.token, retries=0) as client,
            pytest.raises(VaultError, match="not one of the configured nodes"),
        ):
            kv.read_secret(client, kv_path)
    finally:
        standby.shutdown()
        standby.server_close()


def test_proxy_environment_is_honoured(
    bao_server: DevServer, monkeypatch: pytest.MonkeyPatch, kv_path: str
) -> None:
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{free_port()}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    with (
        connect(addr=bao_server.addr, token=bao_server.token, retries=0) as client,
        pytest.raises(VaultUnreachable),
    ):
        kv.read_secret(client, kv_path)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    with connect(addr=bao_server.addr, token=bao_server.token, retries=0) as client:
        assert not kv.read_secret(client, kv_path).exists


def test_push_pull_do_not_import_hvac(bao_server: DevServer, kv_path: str) -> None:
    code = (
        "import sys\n"
        "from secretsafe.vault import sync\n"
        "from secretsafe.vault.client import connect\n"
        "with connect(addr=sys.argv[1], token=sys.argv[2]) as c:\n"
        "    sync.push(c, {'A': '1'}, path=sys.argv[3])\n"
        "    assert sync.pull(c, path=sys.argv[3]).reveal() == {'A': '1'}\n"
        "print([m for m in ('hvac', 'requests') if m in sys.modules])\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, bao_server.addr, bao_server.token, kv_path],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "[]"


def test_tls_needs_the_ca_and_never_skips_verification(
    monkeypatch: pytest.MonkeyPatch, kv_path: str
) -> None:
    from secretsafe.vault.dev import start_dev_server

    with start_dev_server(tls=True) as server:
        assert server.ca_cert is not None
        with (
            connect(addr=server.addr, token=server.token, retries=0) as client,
            pytest.raises(VaultUnreachable, match=r"TLS verification failed.*--ca-cert"),
        ):
            kv.read_secret(client, kv_path)
        with connect(addr=server.addr, token=server.token, ca_cert=server.ca_cert) as client:
            assert kv.write_secret(client, kv_path, {"A": "1"}, cas=0) == 1
        monkeypatch.setenv("VAULT_CACERT", str(server.ca_cert))
        with connect(addr=server.addr, token=server.token) as client:
            assert kv.read_secret(client, kv_path).data.reveal() == {"A": "1"}
            # the hvac path gets the same trust settings
            assert client.hvac.sys.read_health_status(method="GET")["sealed"] is False
