"""Issue 15 item 1 / done-when: every Vault request in the package goes through the one
transport (``secretsafe/vault/transport.py``), and a missing ``vault`` extra is a UsageError
naming it."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

import secretsafe
from secretsafe.errors import UsageError

PACKAGE = Path(secretsafe.__file__).parent
TRANSPORT = "vault/transport.py"

#: Modules that make network requests (or wrap a library that does).
NETWORK = {"urllib.request", "http.client", "requests", "httpx", "socket", "urllib3", "aiohttp"}

#: Where else a network module may be imported, and why (not for a request to Vault).
ALLOWED: dict[tuple[str, str], str] = {
    ("vault/dev.py", "socket"): "free_port(): binds 127.0.0.1:0 to pick a port; no request",
}

#: hvac (which sends through the transport's requests adapter) earns its import here only:
#: the client's lazily built ``client.hvac`` (bootstrap's sys/auth/policy calls) and the
#: unseal module's anonymous client.
HVAC_ALLOWED = {"vault/client.py", "vault/unseal.py"}


def _imports(tree: ast.AST) -> set[str]:
    """Every module imported anywhere in the module (functions included)."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def _network_imports() -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        imported = _imports(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
        hits = {
            net
            for net in (*NETWORK, "hvac")
            for name in imported
            if name == net or name.startswith(net + ".")
        }
        if hits:
            out[rel] = hits
    return out


def test_only_the_transport_imports_network_modules() -> None:
    found = _network_imports()
    offenders = [
        f"{rel}: {name}"
        for rel, names in found.items()
        for name in sorted(names - {"hvac"})
        if rel != TRANSPORT and (rel, name) not in ALLOWED
    ]
    assert not offenders, "network imports outside vault/transport.py:\n" + "\n".join(offenders)
    # The check is live: the transport itself is found.
    assert {"http.client", "socket"} <= found[TRANSPORT]


def test_hvac_only_where_it_earns_its_place() -> None:
    found = _network_imports()
    users = {rel for rel, names in found.items() if "hvac" in names}
    # bootstrap (being split into steps) reaches hvac through client.hvac only.
    assert users <= HVAC_ALLOWED, sorted(users - HVAC_ALLOWED)


def test_missing_vault_extra_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without hvac, the paths that need it say which extra to install -- also with a proxy
    set (before: "internal error (ModuleNotFoundError)")."""
    from secretsafe.vault.client import VaultClient, require_hvac
    from secretsafe.vault.transport import Transport

    monkeypatch.setitem(sys.modules, "hvac", None)
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    with pytest.raises(UsageError, match=r"pip install 'secretsafe\[vault\]'"):
        require_hvac()
    client = VaultClient.anonymous("https://127.0.0.1:1")
    with pytest.raises(UsageError, match=r"pip install 'secretsafe\[vault\]'"):
        _ = client.hvac
    # The unauthenticated node calls (unseal, bootstrap's init) need hvac too.
    from secretsafe.secret import Secret
    from secretsafe.vault.unseal import KeysFile, unseal_node

    keys = KeysFile(path=Path("keys.enc.env"), keys=(Secret("00"),), threshold=1)
    with pytest.raises(UsageError, match=r"pip install 'secretsafe\[vault\]'"):
        unseal_node("https://127.0.0.1:1", keys)
    monkeypatch.setitem(sys.modules, "requests", None)
    transport = Transport(timeout=1, deadline=1)
    with pytest.raises(UsageError, match=r"pip install 'secretsafe\[vault\]'"):
        transport.session()
    with pytest.raises(UsageError, match=r"pip install 'secretsafe\[vault\]'"):
        transport.adapter()


def test_push_pull_diff_need_no_hvac(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, age_key: object, bao_server: object
) -> None:
    """The KV commands run on the transport alone: no hvac, a proxy variable set (bypassed
    for 127.0.0.1), and they still work."""
    from secretsafe.cli import main
    from secretsafe.sops import encrypt_values

    env_file = tmp_path / "app.env.enc"
    encrypt_values({"A": "1"}, env_file, recipients=[age_key.recipient])  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "hvac", None)
    monkeypatch.setitem(sys.modules, "requests", None)
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    monkeypatch.setenv("VAULT_ADDR", bao_server.addr)  # type: ignore[attr-defined]
    monkeypatch.setenv("VAULT_TOKEN", bao_server.token)  # type: ignore[attr-defined]
    path = f"hvacless/{tmp_path.name}"
    assert main(["vault", "push", str(env_file), "--path", path]) == 0
    assert main(["vault", "diff", str(env_file), "--path", path]) == 0
    out = tmp_path / "pulled.env.enc"
    recipient = age_key.recipient  # type: ignore[attr-defined]
    assert main(["vault", "pull", "--path", path, "-o", str(out), "--recipient", recipient]) == 0
