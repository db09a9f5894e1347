"""``sops-recipient-drift`` (issue 16, item 2): adding a key to ``.sops.yaml`` makes ``audit``
report every sops file (dotenv, JSON, YAML) until ``updatekeys`` ran; removing one reports
the extra recipient. Before this rule ``audit`` said ok while no file listed the new key."""

from __future__ import annotations

from pathlib import Path

import pytest

from secretsafe import envfile
from secretsafe.audit import audit
from secretsafe.sops.updatekeys import apply, plan
from tests.conftest import AgeKey, make_age_key

FILES = ("app/.env.enc", "config/db.enc.yaml", "web/secrets.enc.json")


def rule(root: Path, *recipients: str) -> None:
    (root / ".sops.yaml").write_text(
        f"creation_rules:\n  - path_regex: .*\n    age: {','.join(recipients)}\n"
    )


@pytest.fixture
def tree(tmp_path: Path, age_key: AgeKey) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    rule(root, age_key.recipient)
    for rel in FILES:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        envfile.update_values(root / rel, {"SECTION__TOKEN": "cAnArY-drift-1"}, create=True)
    return root


def drift_findings(root: Path) -> dict[str, str]:
    report = audit(root, history=False)
    return {f.file or "": f.message for f in report.findings if f.rule == "sops-recipient-drift"}


def test_no_drift_when_files_match(tree: Path) -> None:
    assert drift_findings(tree) == {}


def test_added_key_reported_for_every_file_until_updatekeys(
    tree: Path, age_key: AgeKey, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    new = make_age_key(tmp_path / "new")
    rule(tree, age_key.recipient, new.recipient)
    found = drift_findings(tree)
    assert set(found) == set(FILES)
    short = new.recipient[:12]
    assert all("missing" in m and short in m for m in found.values())
    report = audit(tree, history=False)
    assert report.failing("warning")  # no longer "ok"
    monkeypatch.chdir(tree)
    apply(plan())
    assert drift_findings(tree) == {}


def test_removed_key_reported_as_extra(
    tree: Path, age_key: AgeKey, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = make_age_key(tmp_path / "other")
    rule(tree, age_key.recipient, other.recipient)
    monkeypatch.chdir(tree)
    apply(plan())
    rule(tree, age_key.recipient)
    found = drift_findings(tree)
    # The dotenv file's extra recipient is reported by unknown-recipient (once is enough).
    assert set(found) == set(FILES) - {"app/.env.enc"}
    assert all("extra" in m and other.recipient[:12] in m for m in found.values())
    report = audit(tree, history=False)
    assert [f.file for f in report.findings if f.rule == "unknown-recipient"] == ["app/.env.enc"]
