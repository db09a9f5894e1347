"""`secretsafe audit` on real git repositories made in temp dirs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from secretsafe.audit import audit
from secretsafe.cli import main
from secretsafe.sops import encrypt_values

GIT = shutil.which("git") or "git"
PROD_PW = "cAnArY-prod-db-Lq93xZ7vT1"
HIST_PW = "cAnArY-history-Vb02nM8kR4"
LOCAL_TOKEN = "cAnArY-local-Jt61wP3sQ9"
COMPOSE_PW = "cAnArY-compose-Hy47cX2mN8"
ENC_PW = "cAnArY-enc-Ud58fA1zK6"
CANARIES = [PROD_PW, HIST_PW, LOCAL_TOKEN, COMPOSE_PW, ENC_PW]


def git(repo: Path, *args: str) -> None:
    subprocess.run([GIT, "-C", str(repo), *args], check=True, capture_output=True, timeout=60)


def init(repo: Path) -> Path:
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.email", "dev@example.com")
    git(repo, "config", "user.name", "Dev")
    git(repo, "config", "commit.gpgsign", "false")
    return repo


def write(repo: Path, name: str, text: str, mode: int = 0o644) -> Path:
    path = repo / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)
    return path


def commit(repo: Path, message: str, *paths: str) -> None:
    git(repo, "add", "-f", *paths)
    git(repo, "commit", "-q", "-m", message)


COMPOSE = f"""\
services:
  api:
    image: api
    environment:
      DATABASE__PASSWORD: ${{DB_PASSWORD}}
      ADMIN_PASSWORD: {COMPOSE_PW}
      NODE_TLS_REJECT_UNAUTHORIZED: "0"
  dashboard:
    image: portainer/portainer-ce
    volumes:
      - /var/run/docker.sock:/var/run/docker.sock
"""


@pytest.fixture
def messy(tmp_path: Path, age_key, other_age_key) -> Path:  # type: ignore[no-untyped-def]
    repo = init(tmp_path / "repo")
    write(repo, ".gitignore", ".env.staging\n")
    # A .env committed, then removed: gone from the tree, still in history.
    write(repo, ".env", f"DB_PASSWORD={HIST_PW}\n")
    commit(repo, "initial", ".gitignore", ".env")
    git(repo, "rm", "-q", ".env")
    git(repo, "commit", "-q", "-m", "remove .env")
    # Production credentials committed with mode 644.
    write(repo, ".env.production", f"DATABASE__PASSWORD={PROD_PW}\nLOG_LEVEL=info\n")
    write(repo, ".env.example", "DATABASE__PASSWORD=\n")
    write(repo, "docker-compose.yml", COMPOSE)
    write(repo, "deploy/keys.txt", f"# public key: {age_key.recipient}\n{age_key.identity}\n")
    write(
        repo,
        ".sops.yaml",
        f"creation_rules:\n  - path_regex: .*\n    age: {age_key.recipient}\n",
    )
    encrypt_values({"DB_PASSWORD": ENC_PW}, repo / "ok.env.enc", recipients=[age_key.recipient])
    encrypt_values(
        {"DB_PASSWORD": ENC_PW},
        repo / "stale.env.enc",
        recipients=[age_key.recipient, other_age_key.recipient],
    )
    commit(
        repo,
        "app",
        ".env.production",
        ".env.example",
        "docker-compose.yml",
        ".sops.yaml",
        "ok.env.enc",
        "stale.env.enc",
    )
    # Untracked: one ignored (but readable by others), one not ignored.
    write(repo, ".env.staging", "LOG_LEVEL=debug\nGIT_SSL_NO_VERIFY=1\n", mode=0o640)
    write(repo, ".env.local", f"API_TOKEN={LOCAL_TOKEN}\n", mode=0o600)
    return repo


def findings_of(report):  # type: ignore[no-untyped-def]
    return {(f.rule, f.severity, f.file, f.line) for f in report.findings}


def line_of(path: Path, needle: str) -> int:
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if needle in line:
            return i
    raise AssertionError(needle)


def test_every_rule_on_a_messy_repository(messy: Path, other_age_key) -> None:  # type: ignore[no-untyped-def]
    report = audit(messy)
    compose = messy / "docker-compose.yml"
    stale = messy / "stale.env.enc"
    assert report.git
    assert findings_of(report) == {
        ("env-in-history", "error", ".env", None),
        ("env-tracked", "error", ".env.production", None),
        ("insecure-permissions", "error", ".env.production", None),
        ("insecure-permissions", "error", ".env.staging", None),
        ("insecure-permissions", "error", "deploy/keys.txt", None),
        ("env-not-ignored", "error", ".env.local", None),
        ("tls-verify-disabled", "error", ".env.staging", 2),
        ("hardcoded-secret", "error", "docker-compose.yml", line_of(compose, "ADMIN_PASSWORD")),
        (
            "tls-verify-disabled",
            "error",
            "docker-compose.yml",
            line_of(compose, "NODE_TLS_REJECT_UNAUTHORIZED"),
        ),
        ("docker-socket", "warning", "docker-compose.yml", line_of(compose, "docker.sock")),
        ("unknown-recipient", "error", "stale.env.enc", line_of(stale, other_age_key.recipient)),
    }
    hist = next(f for f in report.findings if f.rule == "env-in-history")
    assert "still in the history" in hist.message
    stale_finding = next(f for f in report.findings if f.rule == "unknown-recipient")
    assert other_age_key.recipient[:12] in stale_finding.message
    assert ".sops.yaml" in stale_finding.message


def test_fix_sets_0600_and_counts_as_fixed(messy: Path) -> None:
    report = audit(messy, fix=True)
    fixed = {f.file for f in report.findings if f.fixed}
    assert fixed == {".env.production", ".env.staging", "deploy/keys.txt"}
    for name in fixed:
        assert (messy / name).stat().st_mode & 0o777 == 0o600
    assert "insecure-permissions" not in {f.rule for f in report.failing("warning")}
    again = audit(messy)
    assert "insecure-permissions" not in {f.rule for f in again.findings}


def test_clean_repository_exits_0(
    tmp_path: Path, age_key, capsys: pytest.CaptureFixture[str]
) -> None:  # type: ignore[no-untyped-def]
    repo = init(tmp_path / "clean")
    write(repo, ".gitignore", ".env\n.env.*\n!.env.example\n!*.enc\n")
    write(repo, ".env.example", "DATABASE__PASSWORD=\n")
    write(
        repo,
        "compose.yml",
        "services:\n  api:\n    image: api\n    environment:\n"
        "      DATABASE__PASSWORD: ${DB_PASSWORD}\n      LOG_LEVEL: info\n",
    )
    write(repo, ".sops.yaml", f"creation_rules:\n  - age: {age_key.recipient}\n")
    encrypt_values({"DB_PASSWORD": ENC_PW}, repo / ".env.enc", recipients=[age_key.recipient])
    commit(repo, "clean", ".gitignore", ".env.example", "compose.yml", ".sops.yaml", ".env.enc")
    write(repo, ".env", f"DB_PASSWORD={ENC_PW}\n", mode=0o600)  # ignored and private
    assert main(["audit", str(repo)]) == 0
    out = capsys.readouterr().out
    assert out.strip().startswith("ok: ")
    assert "0 errors, 0 warnings" in out


def test_harmless_committed_env_is_a_note(tmp_path: Path) -> None:
    repo = init(tmp_path / "r")
    write(repo, ".env", "COMPOSE_PROJECT_NAME=shop\nAPI_TAG=1.2\n", mode=0o600)
    commit(repo, "compose defaults", ".env")
    report = audit(repo)
    assert findings_of(report) == {("env-tracked", "note", ".env", None)}
    assert report.failing("warning") == []
    assert report.failing("note") != []


def test_cli_exit_codes_formats_and_output_file(
    messy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["audit", str(messy)]) == 5
    out, err = capsys.readouterr()
    assert "deploy/keys.txt: error: insecure-permissions:" in out
    assert err.strip() == (
        "secretsafe: error: audit: 11 findings at or above warning (fix them, mark a compose "
        "line '# secretsafe: ignore[rule]', or choose --fail-on)"
    )
    assert main(["audit", str(messy), "--fail-on", "never"]) == 0
    capsys.readouterr()

    assert main(["audit", str(messy), "--format", "json"]) == 5
    doc = json.loads(capsys.readouterr().out)
    assert doc["version"] == 1
    assert doc["ok"] is False
    assert doc["counts"] == {"error": 10, "warning": 1, "note": 0, "fixed": 0}
    assert set(doc["findings"][0]) == {
        "rule",
        "severity",
        "file",
        "line",
        "service",
        "variable",
        "message",
        "hint",
        "suggestions",
        "fingerprint",
        "fixed",
    }

    report = messy.parent / "audit.sarif"
    assert main(["audit", str(messy), "--format", "sarif", "-o", str(report)]) == 5
    assert capsys.readouterr().out == ""
    check_sarif(json.loads(report.read_text(encoding="utf-8")), messy)


def check_sarif(log: dict, root: Path) -> None:  # type: ignore[type-arg]
    """The parts of SARIF 2.1.0 that code-scanning uploads require."""
    assert log["version"] == "2.1.0"
    assert log["$schema"].endswith("sarif-2.1.0.json")
    (run,) = log["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "secretsafe"
    rule_ids = [r["id"] for r in driver["rules"]]
    assert len(rule_ids) == len(set(rule_ids))
    for rule in driver["rules"]:
        assert rule["shortDescription"]["text"]
        assert rule["defaultConfiguration"]["level"] in ("error", "warning", "note")
    assert run["results"]
    for result in run["results"]:
        assert driver["rules"][result["ruleIndex"]]["id"] == result["ruleId"]
        assert result["level"] in ("error", "warning", "note")
        assert result["message"]["text"]
        phys = result["locations"][0]["physicalLocation"]
        uri = phys["artifactLocation"]["uri"]
        assert not uri.startswith("/")
        assert (root / uri).exists() or result["ruleId"] == "env-in-history"
        if "region" in phys:
            assert phys["region"]["startLine"] >= 1


def test_plain_directory_skips_git_checks(tmp_path: Path) -> None:
    d = tmp_path / "plain"
    d.mkdir()
    write(d, ".env", f"DB_PASSWORD={PROD_PW}\n")
    report = audit(d)
    assert not report.git
    assert findings_of(report) == {("insecure-permissions", "error", ".env", None)}
    assert any("git checks skipped" in n for n in report.notes)


def test_unencrypted_enc_file_is_plaintext(tmp_path: Path) -> None:
    repo = init(tmp_path / "r")
    write(repo, ".env.enc", f"DB_PASSWORD={PROD_PW}\n", mode=0o600)
    commit(repo, "oops", ".env.enc")
    assert findings_of(audit(repo)) == {("env-tracked", "error", ".env.enc", None)}


def test_no_history_flag(messy: Path) -> None:
    assert "env-in-history" not in {f.rule for f in audit(messy, history=False).findings}


def test_canary_never_printed_in_any_format(messy: Path, capfd: pytest.CaptureFixture[str]) -> None:
    outputs = []
    for fmt in ("text", "json", "sarif"):
        main(["audit", str(messy), "--format", fmt])
        out, err = capfd.readouterr()
        outputs.append(out + err)
    # A real process too, with the debug switch on.
    proc = subprocess.run(
        [sys.executable, "-m", "secretsafe", "audit", str(messy), "--format", "json"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        env={**os.environ, "SECRETSAFE_DEBUG": "1"},
    )
    assert proc.returncode == 5
    outputs.append(proc.stdout + proc.stderr)
    blob = "\n".join(outputs)
    assert "hardcoded-secret" in blob
    for canary in CANARIES:
        assert canary not in blob
        assert canary[-10:] not in blob


def test_exclude_globs(messy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = audit(messy, exclude=["deploy", ".env.*", "docker-compose.yml"])
    assert {f.file for f in report.findings} == {".env", "stale.env.enc"}
    assert main(["audit", str(messy), "--exclude", "*", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["findings"] == []


def test_fix_never_follows_symlinks(tmp_path: Path, age_key) -> None:  # type: ignore[no-untyped-def]
    """Every way a path in the repository can lead to a file outside it: a tracked symlink
    (env file, key file, relative or absolute), a symlink to a file inside the repository,
    and a symlinked parent directory given to the pre-commit check. ``--fix`` changes no
    mode outside the repository, reports each symlink, and still fixes the real files."""
    from secretsafe.audit import check_files

    outside = tmp_path / "outside"
    outside.mkdir()
    targets = {
        "env": write(outside, "shared.env", f"DB_PASSWORD={PROD_PW}\n", 0o644),
        "key": write(outside, "age.txt", f"{age_key.identity}\n", 0o644),
        "system": write(outside, "passwd", "root:x:0:0::/root:/bin/sh\n", 0o644),
        "dir": write(outside, "conf/.env", f"DB_PASSWORD={PROD_PW}\n", 0o644),
    }
    repo = init(tmp_path / "repo")
    real = write(repo, "real.env", f"DB_PASSWORD={PROD_PW}\n", 0o644)
    links = {
        ".env": targets["env"],  # absolute
        "deploy/keys.txt": Path("../../outside/age.txt"),  # relative
        ".env.production": targets["system"],  # not an env file at all: still not followed
        ".env.inside": Path("real.env"),  # inside the repository
    }
    for name, target in links.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).symlink_to(target)
    (repo / "conf").symlink_to(outside / "conf", target_is_directory=True)
    commit(repo, "links", *links, "real.env", "conf")
    modes = {k: p.stat().st_mode for k, p in targets.items()}

    report = audit(repo, fix=True)
    link_findings = {f.file for f in report.findings if "symlink" in f.message}
    assert link_findings == set(links)
    assert not any(f.fixed for f in report.findings if f.file in links)
    assert real.stat().st_mode & 0o777 == 0o600  # the real file is still fixed

    old_cwd = os.getcwd()
    os.chdir(repo)
    try:  # pre-commit mode, paths as given, including through the symlinked directory
        pre = check_files([".env", "conf/.env", "deploy/keys.txt"], fix=True)
    finally:
        os.chdir(old_cwd)
    assert not any(f.fixed for f in pre.findings)
    assert {k: p.stat().st_mode for k, p in targets.items()} == modes
    for f in [*report.findings, *pre.findings]:
        assert PROD_PW not in f.message


def test_plaintext_inside_an_encrypted_file_is_a_finding(
    tmp_path: Path,
    age_key,  # type: ignore[no-untyped-def]
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """sops metadata alone does not make a file encrypted: a value its own rules encrypt but
    that sits in the clear (hand edit, an older writer) is reported by name, in the audit and
    in the pre-commit hook, never by value."""
    repo = init(tmp_path / "repo")
    target = repo / "prod.env.enc"
    encrypt_values({"DB_PASSWORD": ENC_PW, "PORT": "5432"}, target, recipients=[age_key.recipient])
    lines = target.read_text(encoding="utf-8").splitlines(keepends=True)
    target.write_text(
        "".join(f"DB_PASSWORD={ENC_PW}\n" if ln.startswith("DB_PASSWORD=") else ln for ln in lines),
        encoding="utf-8",
    )
    target.chmod(0o600)
    commit(repo, "add", "prod.env.enc")

    found = [f for f in audit(repo, history=False).findings if f.rule == "env-partly-plaintext"]
    assert len(found) == 1
    assert "DB_PASSWORD" in found[0].message
    assert found[0].file == "prod.env.enc"

    monkeypatch.chdir(repo)
    for argv in (["audit", "."], ["audit", "prod.env.enc"], ["audit", ".", "--format", "sarif"]):
        code = main(argv)
        out, err = capsys.readouterr()
        assert code == 5, (argv, out, err)
        assert "env-partly-plaintext" in out + err
        assert ENC_PW not in out + err
