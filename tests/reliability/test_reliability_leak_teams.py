"""Leak suite, teams (issue 16): ``update_values`` (the minimal-churn write behind ``set``,
``unset``, ``edit``, ``generate --into`` and the git merge driver), ``updatekeys`` (plan, dry
run, success and every all-or-none failure), ``recipients add``, ``ls``, ``set --create`` and
the ``sops-recipient-drift`` audit rule: the canary, held in the files' values, never reaches
stdout, stderr, logs, exceptions (whole chain), reprs, reports or a stray file."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from reliability_support import (
    CANARY,
    Tally,
    exception_texts,
    files_containing,
    one_error_line,
    private_tmpdir,
    run_cli,
)

from secretsafe import envfile
from secretsafe.errors import SecretsafeError

pytestmark = pytest.mark.reliability


def _leak(texts: list[str]) -> str | None:
    return "the canary is in the output" if any(CANARY in t for t in texts) else None


def _exc_leak(call: Any) -> str | None:
    try:
        result = call()
    except SecretsafeError as exc:
        return _leak(list(exception_texts(exc)))
    return _leak([repr(result), str(result)])


def _rule(root: Path, *recipients: str) -> None:
    (root / ".sops.yaml").write_text(
        f"creation_rules:\n  - path_regex: .*\n    age: {','.join(recipients)}\n"
    )


@pytest.fixture
def repo(tmp_path: Path, age_key: Any, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    private_tmpdir(tmp_path / "tmp", monkeypatch)
    _rule(root, age_key.recipient)
    for rel in (".env.enc", "cfg/app.enc.yaml", "web/s.enc.json"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        envfile.update_values(root / rel, {"APP__TOKEN": CANARY, "APP__N": "1"}, create=True)
    monkeypatch.chdir(root)
    return root


def test_update_values_errors(repo: Path, tally: Tally) -> None:
    from secretsafe.sops import update

    cases: dict[str, Any] = {
        "typed value as a new name": lambda: envfile.update_values(
            ".env.enc", {f"X={CANARY}": "v"}
        ),
        "canary as a new name": lambda: envfile.update_values(".env.enc", {CANARY: "v"}),
        "unset a missing canary name": lambda: envfile.update_values(".env.enc", {CANARY: None}),
        "nested name through a value": lambda: envfile.update_values(
            "cfg/app.enc.yaml", {"APP__TOKEN__X": CANARY}
        ),
        "value with a line break": lambda: envfile.update_values(
            ".env.enc", {"APP__TOKEN": f"{CANARY}\\n"}
        ),
        "create with a canary name": lambda: envfile.update_values(
            "new.env.enc", {CANARY: CANARY}, create=True
        ),
        "Opened repr": lambda: repr(
            update.open_text(
                Path(".env.enc").read_text(),
                [_identity()],
                path=".env.enc",
                store="dotenv",
            )
        ),
    }
    for case, call in cases.items():
        tally.check(case, _exc_leak(call))
    # Review of issue 16: a file that appears between the check and the write of `set
    # --create` is left alone (FileError), the canary in neither the message nor a stray file.
    import secretsafe.sops as sops_pkg

    real = sops_pkg.encrypt_items

    def racing(*args: Any, **kwargs: Any) -> str:
        text = real(*args, **kwargs)
        (repo / "raced.env.enc").write_text("OTHER=1\n")
        return text

    sops_pkg.encrypt_items = racing  # type: ignore[assignment]
    try:
        tally.check(
            "create raced by another writer",
            _exc_leak(lambda: envfile.update_values("raced.env.enc", {"A": CANARY}, create=True)),
        )
    finally:
        sops_pkg.encrypt_items = real  # type: ignore[assignment]
    tampered = repo / "t.env.enc"
    tampered.write_text((repo / ".env.enc").read_text().replace("sops_mac=", "sops_mac=x"))
    tally.check("tampered file", _exc_leak(lambda: envfile.set_value(tampered, "A", CANARY)))
    tally.check("no stray file", _leak([str(files_containing(repo.parent, CANARY))]))


def _identity() -> Any:
    import pyrage

    return pyrage.x25519.Identity.from_str(
        Path(os.environ["SOPS_AGE_KEY_FILE"]).read_text().split()[-1]
    )


def test_updatekeys_cli(repo: Path, age_key: Any, tally: Tally, tmp_path: Path) -> None:
    import pyrage

    member = str(pyrage.x25519.Identity.generate().to_public())
    _rule(repo, age_key.recipient, member)
    for args in (["updatekeys", "--dry-run"], ["updatekeys"], ["audit", "--format", "json"]):
        res = run_cli(args)
        tally.check(" ".join(args), _leak([*res.channels().values()]))
    # A failure half-way: a file only someone else can read.
    other = str(pyrage.x25519.Identity.generate().to_public())
    from secretsafe.sops import encrypt_values

    encrypt_values({"T": CANARY}, repo / "z.env.enc", recipients=[other])
    _rule(repo, age_key.recipient)
    res = run_cli(["updatekeys"])
    tally.check("updatekeys failure: no canary", _leak([*res.channels().values()]))
    tally.check("updatekeys failure: one line", one_error_line(res))
    res = run_cli(["audit"])
    tally.check("audit drift", _leak([*res.channels().values()]))
    tally.check("no stray file", _leak([str(files_containing(tmp_path / "tmp", CANARY))]))


def test_ls_and_recipients(repo: Path, age_key: Any, tally: Tally) -> None:
    for args in (
        ["ls", ".env.enc"],
        ["ls", "--json", "cfg/app.enc.yaml"],
        ["ls", "web/s.enc.json"],
        ["recipients", "add", ".env.enc", age_key.recipient],
        ["set", "--create", "fresh.enc.yaml", "DB__PASSWORD"],
        ["generate", "--into", "fresh.env.enc", "A", "B"],
    ):
        res = run_cli(args, stdin=CANARY)
        tally.check(" ".join(args), _leak([*res.channels().values()]))
        tally.check(f"{args[0]} exit 0", None if res.code == 0 else f"exit {res.code}: {res.err}")
    # ls of a plaintext file: refused without quoting it
    (repo / "plain.env").write_text(f"TOKEN={CANARY}\n")
    res = run_cli(["ls", "plain.env"])
    tally.check("ls plaintext refused", _leak([*res.channels().values()]))
    tally.check("ls plaintext: one line", one_error_line(res))
