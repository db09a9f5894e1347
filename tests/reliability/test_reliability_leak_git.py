"""Leak suite, ``secretsafe git``: the canary planted in the values of encrypted files (encrypted
values, a value left unencrypted by the file's rules, a YAML file) never reaches any output of
the merge driver or the diff filter as git runs them (``git merge``, ``git diff``, ``git log
-p``: stdout and stderr), the file left after a conflict or a refused merge, any file in the
repository or TMPDIR, log records, or an exception's chain (API calls)."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from reliability_support import (
    CANARY,
    Tally,
    exception_texts,
    files_containing,
    private_tmpdir,
    run_cli,
)

from secretsafe.errors import SecretsafeError
from tests.git.git_support import (
    Key,
    commit,
    encrypt,
    git,
    git_env,
    make_repo,
    new_key,
    secretsafe,
    set_value,
)

pytestmark = pytest.mark.reliability

PLAIN = (
    f"DB_PASSWORD={CANARY}-base\nAPI_TOKEN={CANARY}-token\nNOTE_unencrypted={CANARY}-clear\n"
    "PORT=5432\n"
)


def _leaks(*texts: str) -> bool:
    return any(CANARY in t for t in texts)


def _repo(base: Path, key: Key) -> tuple[Path, dict[str, str]]:
    env = git_env(base, key)
    repo = make_repo(base, env)
    assert secretsafe(repo, "git", "setup", env=env).returncode == 0
    encrypt(repo, ".env.enc", PLAIN, env)
    commit(repo, "base", env)
    git(repo, "branch", "theirs", env=env)
    return repo, env


def _branches(
    repo: Path, env: dict[str, str], theirs: dict[str, str], ours: dict[str, str]
) -> None:
    for branch, changes in (("theirs", theirs), ("main", ours)):
        git(repo, "checkout", "-q", branch, env=env)
        for name, value in changes.items():
            set_value(repo, ".env.enc", name, value, env)
        commit(repo, branch, env)


def _written(root: Path) -> list[Path]:
    """Files holding the canary, other than where an encrypted file's rules keep it in clear
    (its ``NOTE_unencrypted`` line). Git's objects are compressed: a hit there would not show;
    the work tree, MERGE_MSG and the like, and temp files would."""

    def only_in_clear(p: Path) -> bool:
        lines = p.read_text(errors="replace").splitlines()
        return "sops_mac=" in p.read_text(errors="replace") and not _leaks(
            *(ln for ln in lines if not ln.startswith("NOTE_unencrypted="))
        )

    return [p for p in files_containing(root, CANARY) if not only_in_clear(p)]


MergeCase = Callable[[Path, Path, dict[str, str]], dict[str, str]]


def _clean(base: Path, repo: Path, env: dict[str, str]) -> dict[str, str]:
    _branches(repo, env, {"API_TOKEN": f"{CANARY}-theirs"}, {"DB_PASSWORD": f"{CANARY}-ours"})
    return env


def _conflict(base: Path, repo: Path, env: dict[str, str]) -> dict[str, str]:
    _branches(repo, env, {"DB_PASSWORD": f"{CANARY}-t"}, {"DB_PASSWORD": f"{CANARY}-o"})
    return env


def _keyless(base: Path, repo: Path, env: dict[str, str]) -> dict[str, str]:
    _clean(base, repo, env)
    return git_env(base / "nokey", None)


def _stranger(base: Path, repo: Path, env: dict[str, str]) -> dict[str, str]:
    _clean(base, repo, env)
    return git_env(base / "stranger", new_key(base / "age-stranger"))


def _tampered(base: Path, repo: Path, env: dict[str, str]) -> dict[str, str]:
    _branches(repo, env, {"API_TOKEN": f"{CANARY}-theirs"}, {"PORT": "1"})
    git(repo, "checkout", "-q", "theirs", env=env)
    text = (repo / ".env.enc").read_text()
    # Swap two encrypted values: each still decrypts, but under the other's name it fails.
    lines = text.splitlines(keepends=True)
    a = next(i for i, ln in enumerate(lines) if ln.startswith("DB_PASSWORD="))
    b = next(i for i, ln in enumerate(lines) if ln.startswith("API_TOKEN="))
    va, vb = lines[a].split("=", 1)[1], lines[b].split("=", 1)[1]
    lines[a], lines[b] = f"DB_PASSWORD={vb}", f"API_TOKEN={va}"
    (repo / ".env.enc").write_text("".join(lines))
    commit(repo, "tampered", env)
    git(repo, "checkout", "-q", "main", env=env)
    return env


MERGES: dict[str, MergeCase] = {
    "clean": _clean,
    "conflict": _conflict,
    "keyless": _keyless,
    "not-a-recipient": _stranger,
    "tampered-theirs": _tampered,
}


def test_merge_driver_never_shows_a_value(
    tmp_path: Path, tally: Tally, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, case in MERGES.items():
        base = tmp_path / name
        tmp = private_tmpdir(base / "tmp", monkeypatch)
        repo, env = _repo(base, new_key(base / "age"))
        merge_env = case(base, repo, env)
        merge_env["TMPDIR"] = str(tmp)
        git(repo, "checkout", "-q", "main", env=env)
        r = git(repo, "merge", "--no-edit", "theirs", env=merge_env, check=False)
        problem = None
        if _leaks(r.stdout, r.stderr):
            problem = "canary in git merge output"
        elif written := _written(repo) + _written(tmp):
            problem = f"canary in {written}"
        elif (r.returncode == 0) != (name == "clean"):
            problem = f"exit {r.returncode}"
        elif "Traceback" in r.stderr or "internal error" in r.stderr:
            problem = "traceback / internal error"
        tally.check(f"merge/{name}", problem)
        # The same states seen through the diff filter, with and without a key.
        for who, who_env in (("key", env), ("merge-env", merge_env)):
            for args in (("log", "-p", "--all"), ("diff", "main", "theirs"), ("diff",)):
                d = git(repo, *args, env=who_env, check=False)
                leaked = _leaks(d.stdout, d.stderr)
                tally.check(f"diff/{name}/{who}/{args[0]}", "canary in output" if leaked else None)


def test_driver_and_filter_in_process(tmp_path: Path, tally: Tally) -> None:
    """Through ``main()`` in this process, so log records and escaping exceptions are seen."""
    repo, env = _repo(tmp_path, new_key(tmp_path / "age"))
    _conflict(tmp_path, repo, env)
    versions = {}
    for label, ref in (("base", "main~1"), ("ours", "main"), ("theirs", "theirs")):
        path = tmp_path / f"{label}.blob"
        path.write_text(git(repo, "show", f"{ref}:.env.enc", env=env).stdout)
        versions[label] = path
    for with_key in (True, False):
        import os

        old = os.environ.get("SOPS_AGE_KEY_FILE")
        if with_key:
            os.environ["SOPS_AGE_KEY_FILE"] = env["SOPS_AGE_KEY_FILE"]
        try:
            runs = {
                "textconv": run_cli(["git", "textconv", str(versions["ours"])]),
                "merge-driver": run_cli(
                    [
                        "git",
                        "merge-driver",
                        str(versions["base"]),
                        str(versions["ours"]),
                        str(versions["theirs"]),
                        ".env.enc",
                    ]
                ),
            }
        finally:
            if old is None:
                os.environ.pop("SOPS_AGE_KEY_FILE", None)
            else:
                os.environ["SOPS_AGE_KEY_FILE"] = old
        for cmd, result in runs.items():
            texts = [*result.channels().values()]
            for exc in result.exceptions:
                texts.extend(exception_texts(exc))
            problem = "canary in output" if _leaks(*texts) else None
            if problem is None and result.exceptions:
                problem = "exception escaped main()"
            tally.check(f"{cmd}/{'key' if with_key else 'keyless'}", problem)
        written = _written(tmp_path)
        tally.check("files", f"canary in {written}" if written else None)


def test_api_errors_and_reprs_hold_no_value(
    tmp_path: Path, tally: Tally, monkeypatch: pytest.MonkeyPatch
) -> None:
    from secretsafe.git import merge, variables

    key = new_key(tmp_path / "age")
    repo, env = _repo(tmp_path, key)
    _tampered(tmp_path, repo, env)
    blobs = {}
    for label, ref in (("base", "main~1"), ("ours", "main"), ("theirs", "theirs")):
        path = tmp_path / f"{label}.blob"
        path.write_text(git(repo, "show", f"{ref}:.env.enc", env=env).stdout)
        blobs[label] = str(path)

    def attempt(case: str) -> None:
        try:
            merge.merge_driver(blobs["base"], blobs["ours"], blobs["theirs"], ".env.enc")
        except SecretsafeError as exc:
            hit = _leaks(*exception_texts(exc))
            tally.check(case, "canary in the exception chain" if hit else None)
        else:
            tally.check(case, "no error")

    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(key.key_file))
    attempt("tampered")
    opened = variables.decrypt(Path(blobs["ours"]).read_text())
    tally.check("Decrypted repr", "canary in repr" if _leaks(repr(opened)) else None)
    monkeypatch.delenv("SOPS_AGE_KEY_FILE")
    attempt("keyless")
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(new_key(tmp_path / "age-x").key_file))
    attempt("not-a-recipient")


def test_yaml_merge_and_diff(tmp_path: Path, tally: Tally, sops_bin: Path) -> None:
    key = new_key(tmp_path / "age")
    env = git_env(tmp_path, key)
    repo = make_repo(tmp_path, env)
    assert secretsafe(repo, "git", "setup", env=env).returncode == 0
    (repo / "p.yaml").write_text(f"db:\n  password: {CANARY}-y\napi:\n  token: {CANARY}-z\n")
    enc = subprocess.run(
        [str(sops_bin), "encrypt", "--age", key.recipient, str(repo / "p.yaml")],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin"},
        timeout=60,
    ).stdout
    (repo / "p.yaml").unlink()
    (repo / "s.enc.yaml").write_text(enc)
    commit(repo, "base", env)
    git(repo, "checkout", "-q", "-b", "theirs", env=env)
    set_value(repo, "s.enc.yaml", "DB__PASSWORD", f"{CANARY}-t", env)
    commit(repo, "t", env)
    git(repo, "checkout", "-q", "main", env=env)
    set_value(repo, "s.enc.yaml", "API__TOKEN", f"{CANARY}-o", env)
    commit(repo, "o", env)
    r = git(repo, "merge", "--no-edit", "theirs", env=env, check=False)
    tally.check("yaml/merge", "canary in output" if _leaks(r.stdout, r.stderr) else None)
    tally.check("yaml/merge-exit", None if r.returncode == 0 else f"exit {r.returncode}")
    log = git(repo, "log", "-p", env=env)
    tally.check("yaml/log", "canary in output" if _leaks(log.stdout, log.stderr) else None)
    written = _written(repo)
    tally.check("yaml/files", f"canary in {written}" if written else None)


def test_downgrade_refused_and_hostile_names_hold_no_value(
    tmp_path: Path, tally: Tally, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Review of issue 16: their side's rules would leave our encrypted canary in plaintext
    (refused: the canary reaches neither OURS, nor a file, nor the message); hostile names
    and recipients in the diff text are escaped and never carry a value."""
    import pyrage

    from secretsafe.git import merge
    from secretsafe.git.textconv import textconv
    from secretsafe.sops import native
    from secretsafe.sops.model import Entry, Rules

    key = new_key(tmp_path / "age")
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(key.key_file))
    other = str(pyrage.x25519.Identity.generate().to_public())

    def enc(values: dict[str, str], recipients: list[str], rules: Rules = Rules()) -> str:  # noqa: B008
        items = [Entry(k, v) for k, v in values.items()]
        return native.encrypt(items, key_groups=[recipients], rules=rules)

    me = key.recipient
    texts = {
        "base": enc({"A": f"{CANARY}-a"}, [me]),
        "ours": enc({"A": f"{CANARY}-a", "C": f"{CANARY}-c"}, [me]),
        "theirs": enc(
            {"A": f"{CANARY}-a2"},
            [me, other],
            Rules(unencrypted_suffix=None, encrypted_regex="^A$"),
        ),
    }
    work = tmp_path / "merge"
    work.mkdir()
    for label, text in texts.items():
        (work / label).write_text(text)
    try:
        merge.merge_driver(str(work / "base"), str(work / "ours"), str(work / "theirs"), "e")
    except SecretsafeError as exc:
        hit = _leaks(*exception_texts(exc))
        tally.check("downgrade/message", "canary in the exception chain" if hit else None)
    else:
        tally.check("downgrade/message", "merged: a value went to plaintext")
    ours = (work / "ours").read_text()
    tally.check("downgrade/ours", "canary in ours" if _leaks(ours) else None)
    written = _written(tmp_path)
    tally.check("downgrade/files", f"canary in {written}" if written else None)
    hostile = texts["ours"].replace(f"recipient={me}", f"recipient=age1\x1b[2J{CANARY}")
    out = textconv(hostile.encode()).decode()
    tally.check("textconv/escape", "escape in diff text" if "\x1b" in out else None)
    tally.check("textconv/value", "canary in diff text" if f"{CANARY}-" in out else None)
    tally.assert_clean()
