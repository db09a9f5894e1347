"""`secretsafe run --vault PATH` end to end against a real OpenBao dev server: token and AppRole
auth (from the environment or an encrypted credentials file given with -f), flat and sections
layouts, one precedence list with -f files, a node list whose first address is dead, --schema,
and one clear line with a documented exit code for every failure."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Mapping
from pathlib import Path

import pytest

from secretsafe.sops import encrypt_values
from secretsafe.vault import sync
from secretsafe.vault.client import VaultClient, connect
from secretsafe.vault.dev import DevServer
from tests.conftest import AgeKey

REPO = Path(__file__).resolve().parents[2]
# The child prints its environment as JSON: what the app would see.
SHOW_ENV = [sys.executable, "-c", "import json, os; print(json.dumps(dict(os.environ)))"]


def secretsafe(
    *args: str, env: Mapping[str, str], cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "secretsafe", "run", *args],
        env=dict(env),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def child_env(*args: str, env: Mapping[str, str]) -> dict[str, str]:
    proc = secretsafe(*args, "--", *SHOW_ENV, env=env)
    assert proc.returncode == 0, proc.stderr
    shown: dict[str, str] = json.loads(proc.stdout)
    return shown


def closed_port() -> int:
    """A port on 127.0.0.1 with nothing listening (bound then released: refused at once)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


@pytest.fixture
def base_env(bao_server: DevServer, age_key: AgeKey) -> dict[str, str]:
    """The environment of a secretsafe process: PATH, HOME, the age key; Vault vars added
    per test."""
    keep = ("PATH", "HOME", "SOPS_AGE_KEY_FILE", "XDG_CONFIG_HOME", "LANG")
    return {k: os.environ[k] for k in keep if k in os.environ}


@pytest.fixture
def token_env(base_env: dict[str, str], bao_server: DevServer) -> dict[str, str]:
    return {**base_env, "VAULT_ADDR": bao_server.addr, "VAULT_TOKEN": bao_server.token}


def push(client: VaultClient, path: str, values: dict[str, str], layout: str = "flat") -> None:
    sync.push(client, values, path=path, layout=layout)  # type: ignore[arg-type]


def test_flat_layout_with_a_token(
    vault_client: VaultClient, token_env: dict[str, str], kv_path: str
) -> None:
    push(vault_client, kv_path, {"API_KEY": "k-1", "MULTI": "a\nb", "EMPTY": ""})
    env = child_env("--vault", kv_path, env=token_env)
    assert (env["API_KEY"], env["MULTI"], env["EMPTY"]) == ("k-1", "a\nb", "")


def test_sections_layout_maps_to_section__field(
    vault_client: VaultClient, token_env: dict[str, str], kv_path: str
) -> None:
    values = {"APP": "x", "DATABASE__HOST": "db", "DATABASE__PASSWORD": "pw", "CACHE__URL": "r"}
    push(vault_client, kv_path, values, layout="sections")
    env = child_env("--vault", kv_path, env=token_env)
    assert {k: env[k] for k in values} == values


def test_mount_option_and_several_paths(
    vault_client: VaultClient, token_env: dict[str, str], kv_path: str
) -> None:
    push(vault_client, f"{kv_path}/a", {"A": "1", "SHARED": "from-a"})
    push(vault_client, f"{kv_path}/b", {"B": "2", "SHARED": "from-b"})
    env = child_env(
        "--vault-mount", "secret", "--vault", f"{kv_path}/a", f"--vault={kv_path}/b", env=token_env
    )
    assert (env["A"], env["B"], env["SHARED"]) == ("1", "2", "from-b")


@pytest.fixture
def layered(
    vault_client: VaultClient, kv_path: str, tmp_path: Path, age_key: AgeKey
) -> tuple[str, Path, Path]:
    """Vault and two files all setting X (and one name each of their own)."""
    push(vault_client, kv_path, {"X": "vault", "ONLY_VAULT": "v"})
    first, last = tmp_path / "first.enc.env", tmp_path / "last.enc.env"
    encrypt_values({"X": "first", "ONLY_FIRST": "f"}, first, recipients=[age_key.recipient])
    encrypt_values({"X": "last", "ONLY_LAST": "l"}, last, recipients=[age_key.recipient])
    return kv_path, first, last


# (arguments, environment X, expected X): later sources win; the environment wins unless
# --override. The same table runs through the fast path and through click (--no-expand
# sends the arguments to click).
PRECEDENCE = [
    (["-f", "{first}", "--vault", "{path}"], None, "vault"),
    (["--vault", "{path}", "-f", "{first}"], None, "first"),
    (["-f", "{first}", "--vault", "{path}", "-f", "{last}"], None, "last"),
    (["--vault", "{path}", "-f{first}", "--file={last}"], None, "last"),
    (["-f", "{last}", "--vault={path}"], None, "vault"),
    (["--vault", "{path}"], "env", "env"),
    (["--override", "--vault", "{path}"], "env", "vault"),
    (["-f", "{first}", "--vault", "{path}", "--override"], "env", "vault"),
    (["--vault", "{path}", "--override", "-f", "{first}"], "env", "first"),
]


@pytest.mark.parametrize("via_click", [False, True], ids=["fast", "click"])
@pytest.mark.parametrize(("args", "env_x", "expected"), PRECEDENCE)
def test_one_precedence_list_in_command_line_order(  # noqa: PLR0917 - fixtures and parameters
    layered: tuple[str, Path, Path],
    token_env: dict[str, str],
    args: list[str],
    env_x: str | None,
    expected: str,
    via_click: bool,
) -> None:
    path, first, last = layered
    argv = [a.format(path=path, first=first, last=last) for a in args]
    if via_click:
        argv.insert(0, "--no-expand")  # not handled by the fast path: click parses
    env = dict(token_env)
    if env_x is not None:
        env["X"] = env_x
    shown = child_env(*argv, env=env)
    assert shown["X"] == expected
    assert shown["ONLY_VAULT"] == "v"


def test_click_path_is_taken_for_no_expand() -> None:
    from secretsafe.cli.run import fast_main

    assert fast_main(["--no-expand", "--vault", "p", "--", "true"]) is None


# --- AppRole -------------------------------------------------------------------------------


@pytest.fixture
def approle(vault_client: VaultClient, kv_path: str) -> tuple[str, str]:
    """A role whose token may read ``kv_path`` only: (role id, secret id)."""
    _status, doc = vault_client.request("GET", "sys/auth")
    if "approle/" not in (doc.get("data") or doc):
        vault_client.request("POST", "sys/auth/approle", body={"type": "approle"})
    name = f"r{uuid.uuid4().hex[:10]}"
    policy = f'path "secret/data/{kv_path}" {{ capabilities = ["read"] }}\n'
    policy += f'path "secret/metadata/{kv_path}" {{ capabilities = ["read"] }}\n'
    vault_client.request("PUT", f"sys/policies/acl/{name}", body={"policy": policy})
    vault_client.request("POST", f"auth/approle/role/{name}", body={"token_policies": [name]})
    _, doc = vault_client.request("GET", f"auth/approle/role/{name}/role-id")
    role_id = doc["data"]["role_id"]
    _, doc = vault_client.request("POST", f"auth/approle/role/{name}/secret-id", body={})
    return role_id, doc["data"]["secret_id"]


def test_approle_from_the_environment(
    vault_client: VaultClient,
    base_env: dict[str, str],
    bao_server: DevServer,
    kv_path: str,
    approle: tuple[str, str],
) -> None:
    push(vault_client, kv_path, {"API_KEY": "k-approle"})
    role_id, secret_id = approle
    env = {
        **base_env,
        "VAULT_ADDR": bao_server.addr,
        "VAULT_ROLE_ID": role_id,
        "VAULT_SECRET_ID": secret_id,
    }
    assert child_env("--vault", kv_path, env=env)["API_KEY"] == "k-approle"


def test_approle_from_an_encrypted_credentials_file_given_first(  # noqa: PLR0917 - fixtures
    vault_client: VaultClient,
    base_env: dict[str, str],
    bao_server: DevServer,
    kv_path: str,
    approle: tuple[str, str],
    tmp_path: Path,
    age_key: AgeKey,
) -> None:
    push(vault_client, kv_path, {"API_KEY": "k-file"})
    role_id, secret_id = approle
    creds = tmp_path / "api-approle.enc.env"
    # What `vault bootstrap` writes, with a node list whose first node is down.
    nodes = f"http://127.0.0.1:{closed_port()},{bao_server.addr}"
    encrypt_values(
        {"VAULT_ADDR": nodes, "VAULT_ROLE_ID": role_id, "VAULT_SECRET_ID": secret_id},
        creds,
        recipients=[age_key.recipient],
    )
    env = child_env("-f", str(creds), "--vault", kv_path, env=base_env)
    assert env["API_KEY"] == "k-file"
    # The credentials are passed on like every other value of the file (documented).
    assert env["VAULT_ROLE_ID"] == role_id
    # Given after --vault, the file is not there yet when Vault is read: no credentials.
    proc = secretsafe("--vault", kv_path, "-f", str(creds), "--", "true", env=base_env)
    assert proc.returncode == 2, proc.stderr  # "no Vault address" (UsageError)


# --- nodes ---------------------------------------------------------------------------------


def test_node_list_with_the_first_node_dead(
    vault_client: VaultClient, token_env: dict[str, str], kv_path: str, bao_server: DevServer
) -> None:
    push(vault_client, kv_path, {"API_KEY": "k-nodes"})
    dead = f"http://127.0.0.1:{closed_port()}"
    for addrs in (f"{dead},{bao_server.addr}", f"{bao_server.addr}, {dead}"):
        env = {**token_env, "VAULT_ADDR": addrs}
        assert child_env("--vault", kv_path, env=env)["API_KEY"] == "k-nodes"


# --- --schema ------------------------------------------------------------------------------

SCHEMA = """
[fields.api_key]
type = "secret"
min_length = 8

[fields.port]
type = "port"
"""


def test_schema_validates_the_merged_result(
    vault_client: VaultClient, token_env: dict[str, str], kv_path: str, tmp_path: Path
) -> None:
    schema = tmp_path / "schema.toml"
    schema.write_text(SCHEMA)
    push(vault_client, kv_path, {"API_KEY": "long-enough-key", "PORT": "not-a-port"})
    proc = secretsafe("--vault", kv_path, "--schema", str(schema), "--", "true", env=token_env)
    assert proc.returncode == 3, proc.stderr
    assert "PORT" in proc.stderr
    assert "not-a-port" not in proc.stderr
    assert "long-enough-key" not in proc.stderr
    # The environment completes what Vault lacks: the merged result is what is checked.
    env = {**token_env, "PORT": "8080"}
    proc = secretsafe(
        "--override", "--vault", kv_path, "--schema", str(schema), "--", "true", env=env
    )
    assert proc.returncode == 3  # --override: Vault's bad PORT wins
    proc = secretsafe("--vault", kv_path, "--schema", str(schema), "--", "true", env=env)
    assert proc.returncode == 0, proc.stderr


# --- failures: one line, a documented exit code ---------------------------------------------


def one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("secretsafe: error:"), lines[0]
    assert "Traceback" not in proc.stderr
    return lines[0]


def test_failures_are_one_line_with_their_exit_code(
    token_env: dict[str, str], kv_path: str, bao_server: DevServer
) -> None:
    dead = [f"http://127.0.0.1:{closed_port()}", f"http://127.0.0.1:{closed_port()}"]
    cases = [
        ({"VAULT_ADDR": dead[0]}, 30, "cannot reach"),
        ({"VAULT_ADDR": ",".join(dead)}, 30, "cannot reach any of the 2"),
        ({"VAULT_TOKEN": "s.not-a-real-token-0123"}, 32, "token"),
        ({}, 33, "nothing stored"),
        ({"VAULT_ADDR": "vault.example:8200"}, 2, "scheme"),
    ]
    for extra, code, words in cases:
        proc = secretsafe("--vault", kv_path, "--", "true", env={**token_env, **extra})
        assert proc.returncode == code, (extra, proc.stderr)
        line = one_line_error(proc)
        assert words in line, line
        assert "s.not-a-real-token" not in line


def test_sealed_server(fresh_bao_server: DevServer, base_env: dict[str, str]) -> None:
    with connect(addr=fresh_bao_server.addr, token=fresh_bao_server.token) as client:
        client.request("PUT", "sys/seal")
    env = {**base_env, **fresh_bao_server.env()}
    proc = secretsafe("--vault", "apps/x", "--", "true", env=env)
    assert proc.returncode == 31, proc.stderr
    assert "sealed" in one_line_error(proc)
    # A node list whose only live node is sealed: the same class, one line.
    env["VAULT_ADDR"] = f"http://127.0.0.1:{closed_port()},{fresh_bao_server.addr}"
    proc = secretsafe("--vault", "apps/x", "--", "true", env=env)
    assert proc.returncode == 31, proc.stderr
    assert "sealed" in one_line_error(proc)


def test_permission_denied_names_the_path(
    vault_client: VaultClient,
    base_env: dict[str, str],
    bao_server: DevServer,
    kv_path: str,
    approle: tuple[str, str],
) -> None:
    push(vault_client, f"{kv_path}-other", {"A": "1"})
    role_id, secret_id = approle
    env = {
        **base_env,
        "VAULT_ADDR": bao_server.addr,
        "VAULT_ROLE_ID": role_id,
        "VAULT_SECRET_ID": secret_id,
    }
    proc = secretsafe("--vault", f"{kv_path}-other", "--", "true", env=env)
    assert proc.returncode == 32, proc.stderr
    line = one_line_error(proc)
    assert "permission denied" in line
    assert f"{kv_path}-other" in line
    assert secret_id not in proc.stderr
    assert role_id not in proc.stderr


# --- the fast path stays light ----------------------------------------------------------------


def test_run_vault_imports_no_heavy_module(
    vault_client: VaultClient, token_env: dict[str, str], kv_path: str, tmp_path: Path
) -> None:
    push(vault_client, kv_path, {"A": "1"})
    probe = tmp_path / "probe.py"
    # Runs the real entry point up to the exec, then reports the modules loaded.
    probe.write_text(
        "import os, sys\n"
        "def fake_exec(*a, **k):\n"
        "    heavy = {'hvac', 'requests', 'click', 'pydantic', 'pydantic_settings', 'yaml',"
        " 'keyring', 'asyncio', 'urllib3'}\n"
        "    print(sorted(heavy & set(sys.modules)))\n"
        "    sys.stdout.flush()\n"
        "    os._exit(0)\n"
        "os.execvpe = fake_exec\n"
        "from secretsafe.cli import main\n"
        "main(sys.argv[1:])\n"
    )
    for extra in ([], ["--schema", str(tmp_path / "s.toml")]):
        (tmp_path / "s.toml").write_text('[fields.a]\ntype = "str"\n')
        proc = subprocess.run(
            [sys.executable, str(probe), "run", "--vault", kv_path, *extra, "--", "true"],
            env=token_env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr
        loaded = json.loads(proc.stdout.replace("'", '"'))
        if extra:
            assert "hvac" not in loaded
            assert "requests" not in loaded
            assert "click" not in loaded
        else:
            assert loaded == []


def test_the_active_node_is_found_past_a_standby_listed_first(
    vault_client: VaultClient, bao_server: DevServer, kv_path: str
) -> None:
    """A standby listed first (not active in ``sys/health``): the session's client sends its
    requests to the active node (the standby here answers nothing else, so a read sent to it
    fails)."""
    sys.path.insert(0, str(Path(__file__).parent))
    from vault_hostile import RawServer, respond

    push(vault_client, kv_path, {"A": "from-active"})

    def standby(_srv: object, conn: socket.socket, request: bytes) -> None:
        if b"/v1/sys/health" in request.split(b"\r\n", 1)[0]:
            doc = {"initialized": True, "sealed": False, "standby": True}
            respond(conn, 429, json.dumps(doc).encode(), Content_Type="application/json")
        else:
            respond(conn, 500, b'{"errors": ["standby"]}')

    with RawServer(standby) as srv:
        env = {"VAULT_ADDR": f"{srv.addr},{bao_server.addr}", "VAULT_TOKEN": bao_server.token}
        from secretsafe.vault.reader import Session, read_values

        with Session(environ=env, retries=0) as session:
            assert read_values(session, kv_path) == {"A": "from-active"}
        # The token went to the active node only: the standby got the probe alone.
        assert all(bao_server.token.encode() not in r for r in srv.received)
        assert len(srv.received) == 1


def test_a_node_that_goes_away_after_the_probe_is_failed_over(
    vault_client: VaultClient, bao_server: DevServer, kv_path: str
) -> None:
    """The first node answers the probe as active, then drops every connection (killed
    between the probe and the read): the client looks for the active node again and sends
    the read there."""
    sys.path.insert(0, str(Path(__file__).parent))
    from vault_hostile import RawServer, respond

    push(vault_client, kv_path, {"A": "after-failover"})
    seen: list[bytes] = []

    def dying(_srv: object, conn: socket.socket, request: bytes) -> None:
        seen.append(request)
        if len(seen) == 1:
            doc = {"initialized": True, "sealed": False, "standby": False}
            respond(conn, 200, json.dumps(doc).encode(), Content_Type="application/json")
        else:
            conn.close()

    with RawServer(dying) as srv:
        env = {"VAULT_ADDR": f"{srv.addr},{bao_server.addr}", "VAULT_TOKEN": bao_server.token}
        from secretsafe.vault.reader import Session, read_values

        with Session(environ=env, retries=0) as session:
            assert read_values(session, kv_path) == {"A": "after-failover"}
            assert session.client(check=False).addr == bao_server.addr
    assert len(seen) >= 2  # the probe, then the read it dropped


# -- review: what a hostile server can put in an answer -----------------------------------

_DEEP = "[" * 100_000 + "]" * 100_000


def _kv(data: str) -> str:
    return '{"data": {"data": ' + data + ', "metadata": {"version": 1}}}'


HOSTILE_ANSWERS = {
    # (KV read body, the exit code: a Vault error 30-35, or 13 for a value the OS refuses)
    "json nested 100,000 deep": ('{"data": {"data": {"E": ' + _DEEP + "}}}", range(30, 36)),
    "an empty variable name": (_kv('{"": "v-7f3a9c21"}'), (13,)),
    "a NUL in a value": (_kv('{"A": "x\\u0000v-7f3a9c21"}'), (13,)),
    "'=' in a name": (_kv('{"B=v-7f3a9c21": "v"}'), (13,)),
    # A 200 that is not a KV v2 read (a proxy's login page, an empty answer): not "no
    # values" (the app would start without its secrets), an error.
    "an html page with 200": ("<html>please log in</html>", range(30, 36)),
    "an empty body with 200": ("", range(30, 36)),
    "json without data": ('{"request_id": "x"}', range(30, 36)),
}


@pytest.mark.parametrize("case", sorted(HOSTILE_ANSWERS))
def test_a_hostile_answer_is_one_error_line(case: str) -> None:
    """Whatever a server answers, `run --vault` ends with one clear line and an exit code of
    the error tree, never an internal error or a traceback; nothing of the value shown."""
    sys.path.insert(0, str(Path(__file__).parent))
    from vault_hostile import json_server

    body, codes = HOSTILE_ANSWERS[case]
    with json_server(lambda _request: (200, body.encode())) as srv:
        env = {**os.environ, "VAULT_ADDR": srv.addr, "VAULT_TOKEN": "hvs.x"}
        proc = secretsafe("--vault", "app", "--", "true", env=env)
    assert proc.returncode in codes, proc.stderr
    assert "internal error" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "v-7f3a9c21" not in proc.stderr + proc.stdout
