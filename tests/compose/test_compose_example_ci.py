"""examples/ci-check: ci.sh passes on the example as shipped, and fails with the right
file and line when the production overlay or the repository is broken."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from secretsafe import envfile

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "ci-check"
GIT = shutil.which("git") or "git"


def git(repo: Path, *args: str) -> None:
    subprocess.run([GIT, "-C", str(repo), *args], check=True, capture_output=True, timeout=60)


@pytest.fixture
def repo(tmp_path: Path, age_key) -> Path:  # type: ignore[no-untyped-def]
    app = tmp_path / "repo"
    shutil.copytree(EXAMPLE, app)
    envfile.encrypt_file(app / "secrets.env.sample", app / "secrets.env.enc")
    (app / ".sops.yaml").write_text(
        f"creation_rules:\n  - path_regex: \\.enc$\n    age: {age_key.recipient}\n",
        encoding="utf-8",
    )
    git(app, "init", "-q", "-b", "main")
    git(app, "config", "user.email", "ci@example.com")
    git(app, "config", "user.name", "CI")
    git(app, "add", "-A")
    git(app, "commit", "-q", "-m", "example")
    return app


def run_ci(app: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    return subprocess.run(
        ["bash", str(app / "ci.sh")],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def test_example_passes(repo: Path) -> None:
    r = run_ci(repo)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "ok: 4 services, schema: app (settings:Settings): 0 errors, 0 warnings" in r.stdout
    check = json.loads((repo / "secretsafe-check.json").read_text(encoding="utf-8"))
    assert check["ok"] is True
    assert [s["name"] for s in check["services"]] == ["app", "worker"]
    sarif = json.loads((repo / "secretsafe.sarif").read_text(encoding="utf-8"))
    assert sarif["version"] == "2.1.0"
    assert sarif["runs"][0]["results"] == []
    assert "example-pg-" not in r.stdout + r.stderr


def test_broken_overlay_fails_with_file_and_line(repo: Path) -> None:
    overlay = repo / "docker-compose.production.yml"
    text = overlay.read_text(encoding="utf-8")
    text = text.replace(
        '      VAULT__ENABLED: "true"\n      VAULT__ADDR: https://bao.internal:8200\n'
        "      VAULT__PATH: apps/app/production\n  worker:",
        "      DATABASE__NAME: app_prod\n      ADMIN_PASSWORD: n0t-in-compose-please\n  worker:",
        1,
    )
    overlay.write_text(text, encoding="utf-8")
    lines = text.splitlines()
    r = run_ci(repo)
    assert r.returncode == 3
    name_line = lines.index("      DATABASE__NAME: app_prod") + 1
    admin_line = lines.index("      ADMIN_PASSWORD: n0t-in-compose-please") + 1
    app_line = lines.index("  app:") + 1
    out = r.stdout
    assert (
        f"docker-compose.production.yml:{name_line}: error: schema.unknown: [service app] "
        "DATABASE__NAME:" in out
    )
    assert "did you mean: DATABASE__DATABASE?" in out
    assert (
        f"docker-compose.production.yml:{app_line}: error: schema.rule: [service app] "
        "VAULT__ENABLED:" in out
    )
    assert f"docker-compose.production.yml:{admin_line}: error: hardcoded-secret:" in out
    assert "n0t-in-compose-please" not in out + r.stderr


def test_plaintext_env_in_git_fails_the_audit(repo: Path) -> None:
    shutil.copy(repo / "secrets.env.sample", repo / ".env.production")
    git(repo, "add", "-f", ".env.production")
    git(repo, "commit", "-q", "-m", "oops")
    r = run_ci(repo)
    assert r.returncode == 5
    sarif = json.loads((repo / "secretsafe.sarif").read_text(encoding="utf-8"))
    got = {
        (res["ruleId"], res["locations"][0]["physicalLocation"]["artifactLocation"]["uri"])
        for res in sarif["runs"][0]["results"]
    }
    assert got == {
        ("env-tracked", ".env.production"),
        ("insecure-permissions", ".env.production"),
    }
    assert "example-pg-" not in r.stdout + r.stderr
