"""``secretsafe init``: set a git repository up the way the README recommends, idempotently.

Steps, each reported as done or already in place:

1. an age identity, created with :func:`secretsafe.keys.generate` when the user has none;
2. ``.sops.yaml`` with a creation rule for env files and the user's recipient;
3. ``.gitignore`` entries so that plaintext env files stay out of git (checked with
   ``git check-ignore``, so the user's own patterns count too);
4. ``.pre-commit-config.yaml`` with the two secretsafe hooks;
5. the git merge driver and diff filter for encrypted env files (:mod:`secretsafe.git.setup`:
   ``.gitattributes`` entries and the repository's local git config, never the global one);
6. for plaintext env files tracked now or found in the history (:func:`secretsafe.audit.audit`),
   the exact commands to encrypt them, untrack them and purge the history, and the reminder to
   rotate every value ever committed.

Existing files are only appended to, and only when the result parses to the old document plus
the new entry (comments and layout survive); when that cannot be done, or an existing rule
differs, the step says what to add instead of writing. It never deletes a file, touches the
index or rewrites history. Only file names, recipients (public keys) and commands are printed.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from secretsafe.errors import ConfigError, UsageError

__all__ = [
    "ENV_PATH_REGEX",
    "GITIGNORE_BLOCK",
    "PRE_COMMIT_HOOKS",
    "InitReport",
    "Step",
    "init",
]

#: Env files, plaintext or encrypted (the pre-commit hook's ``files`` pattern, Go RE2 and
#: Python ``re`` alike): ``.env``, ``.env.prod``, ``app.env``, and each with ``.enc``.
ENV_PATH_REGEX = r"(^|/)(\.env(\.[^/]*)?|[^/]*\.env(\.enc)?)$"

#: Appended to ``.gitignore`` (only the lines not already there): plaintext env files are
#: ignored, their encrypted ``.enc`` copies and templates are not.
GITIGNORE_BLOCK = (
    "# plaintext env files stay out of git; commit the encrypted *.enc (secretsafe init)",
    ".env",
    ".env.*",
    "*.env",
    "!*.enc",
    "!.env.example",
    "!.env.*.example",
)
# What the .gitignore must do, whoever's patterns do it: (path, should be ignored).
_IGNORE_PROBES = (
    (".env", True),
    (".env.local", True),
    (".env.production", True),
    ("app.env", True),
    (".env.enc", False),
    (".env.production.enc", False),
    ("app.env.enc", False),
    (".env.example", False),
)

#: The hooks of this project's ``.pre-commit-hooks.yaml``, as a ``repo: local`` entry that runs
#: the installed ``secretsafe`` (the package is not published, so there is no URL to pin).
#: ``tests/cli/test_init_cli.py`` keeps them equal to ``.pre-commit-hooks.yaml``.
PRE_COMMIT_HOOKS: tuple[dict[str, Any], ...] = (
    {
        "id": "secretsafe-env-encrypted",
        "name": "env files must be encrypted (secretsafe)",
        "entry": "secretsafe audit --fail-on error",
        "language": "system",
        "files": ENV_PATH_REGEX,
        "pass_filenames": True,
    },
    {
        "id": "secretsafe-audit",
        "name": "secrets hygiene audit (secretsafe)",
        "entry": "secretsafe audit --no-history",
        "language": "system",
        "pass_filenames": False,
        "always_run": True,
    },
)

Status = Literal["created", "updated", "ok", "differs", "todo"]


@dataclass(frozen=True)
class Step:
    """One thing init looked at. ``status``: created/updated (written now), ok (already in
    place), differs (left alone; ``details`` say what to change), todo (commands for the
    user in ``details``)."""

    what: str
    status: Status
    message: str
    details: tuple[str, ...] = ()


@dataclass
class InitReport:
    root: str
    recipient: str
    steps: list[Step] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return any(s.status in ("created", "updated") for s in self.steps)


def init(
    path: str | os.PathLike[str] = ".",
    *,
    store: Literal["auto", "keyring", "file"] = "auto",
    environ: Mapping[str, str] | None = None,
) -> InitReport:
    """Set up the git repository containing ``path`` (at its top); see the module docstring."""
    from secretsafe.audit import git

    start = os.path.abspath(os.fspath(path))
    if not os.path.isdir(start):
        raise UsageError(f"{start}: not a directory", hint="pass the repository's directory")
    root = git.repo_root(start)
    if root is None:
        raise UsageError(
            f"{start} is not in a git repository",
            hint="run `git init` first, then `secretsafe init`",
        )
    recipient, key_step = _identity(store, environ)
    report = InitReport(root=root, recipient=recipient, steps=[key_step])
    report.steps.append(_sops_config(root, recipient))
    report.steps.append(_gitignore(root))
    report.steps.append(_pre_commit(root))
    report.steps.extend(_git_integration(root))
    report.steps.extend(_tracked_plaintext(root))
    return report


# --- 1. age identity ---------------------------------------------------------------------------


def _identity(
    store: Literal["auto", "keyring", "file"], environ: Mapping[str, str] | None
) -> tuple[str, Step]:
    from secretsafe import keys

    found = keys.discover(environ)
    if found:
        first = found[0]
        more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
        return first.recipient, Step(
            "age key", "ok", f"age identity {first.recipient} found in {first.source}{more}"
        )
    ident, location = keys.generate(store=store, environ=environ)
    return ident.recipient, Step(
        "age key",
        "created",
        f"created age identity {ident.recipient} in {location}",
        ("back it up: without it nobody can decrypt files encrypted only for it",),
    )


# --- 2. .sops.yaml -----------------------------------------------------------------------------


def _rule_yaml(recipient: str) -> str:
    return f"- path_regex: '{ENV_PATH_REGEX}'\n  age: {recipient}\n"


def _sops_config(root: str, recipient: str) -> Step:
    from secretsafe.sops.config import CONFIG_NAME, creation_rule_for, load_config

    cfg = os.path.join(root, CONFIG_NAME)
    if not os.path.exists(cfg):
        text = (
            "# sops creation rules: who can decrypt the env files (created by secretsafe init)\n"
            "creation_rules:\n" + _indent(_rule_yaml(recipient), 2)
        )
        _write(cfg, text)
        return Step(CONFIG_NAME, "created", f"created {CONFIG_NAME}: env files -> {recipient}")
    rules = load_config(cfg)
    # A broken regex or rule is the user's to fix (ConfigError), not a reason to add ours.
    index = _rule_index(rules or [], cfg)
    if index is not None:
        names = (os.path.join(root, ".env"), os.path.join(root, ".env.enc"))
        rule = creation_rule_for(*names, config_path=cfg)
        if rule is not None:
            if recipient in rule.recipients:
                return Step(
                    CONFIG_NAME, "ok", f"{CONFIG_NAME}: env files are encrypted for {recipient}"
                )
            # Editing someone's rule (key groups, shamir) is theirs to decide: say what differs.
            return Step(
                CONFIG_NAME,
                "differs",
                f"{CONFIG_NAME}: creation rule {index} covers env files but not your "
                f"recipient {recipient}; left as is",
                (
                    f"add {recipient} to the age keys of rule {index}; then someone who can "
                    f"decrypt each env file runs: secretsafe recipients add FILE {recipient}",
                ),
            )
    step = _append_list_item(cfg, "creation_rules", _rule_yaml(recipient))
    if step is None:
        return Step(
            CONFIG_NAME, "updated", f"{CONFIG_NAME}: added a rule for env files -> {recipient}"
        )
    return Step(
        CONFIG_NAME,
        "differs",
        f"{CONFIG_NAME}: no creation rule covers env files, and the file cannot be appended to "
        "safely; left as is",
        ("add this item to creation_rules:", *_rule_yaml(recipient).splitlines()),
    )


def _rule_index(rules: list[dict[str, Any]], cfg: str) -> int | None:
    """The 1-based number of the rule sops picks for ``.env`` (else ``.env.enc``), as
    :func:`secretsafe.sops.config.creation_rule_for` tries them, or ``None``. Every
    ``path_regex`` is compiled first, so a broken one is a :class:`ConfigError`."""
    from secretsafe.sops.regex import compile_rule

    compiled = []
    for index, raw in enumerate(rules, 1):
        pattern = raw.get("path_regex") or ""
        if not isinstance(pattern, str):
            raise ConfigError(f"{cfg}: creation rule {index}: path_regex must be text")
        where = f"{cfg}: creation rule {index}"
        compiled.append(compile_rule(pattern, "path_regex", where=where) if pattern else None)
    for name in (".env", ".env.enc"):
        for index, rx in enumerate(compiled, 1):
            if rx is None or rx.matches(name):
                return index
    return None


# --- 3. .gitignore -----------------------------------------------------------------------------


def _gitignore(root: str) -> Step:
    from secretsafe.audit import git

    def wrong() -> list[str]:
        ignored = git.ignored(root, [p for p, _ in _IGNORE_PROBES])
        return [p for p, want in _IGNORE_PROBES if (p in ignored) != want]

    before = wrong()
    if not before:
        return Step(".gitignore", "ok", ".gitignore: plaintext env files are ignored")
    gi = os.path.join(root, ".gitignore")
    old = _read(gi) if os.path.exists(gi) else ""
    have = {line.strip() for line in old.splitlines()}
    missing = [line for line in GITIGNORE_BLOCK if line not in have]
    if missing:
        prefix = "" if not old or old.endswith("\n") else "\n"
        _write(gi, old + prefix + "\n".join(missing) + "\n", mode=0o644)
    after = wrong()
    if after:
        status: Status = "differs"
        message = ".gitignore: still wrong for " + ", ".join(after) + " (other patterns win)"
        details = ("check with: git check-ignore -v --no-index " + " ".join(after),)
        return Step(".gitignore", status, message, details)
    verb: Status = "created" if not old else "updated"
    return Step(
        ".gitignore",
        verb,
        f".gitignore: added {', '.join(p for p in missing if not p.startswith('#'))}",
    )


# --- 4. .pre-commit-config.yaml ----------------------------------------------------------------

_PRE_COMMIT = ".pre-commit-config.yaml"


def _pre_commit_item() -> str:
    import yaml

    entry = [{"repo": "local", "hooks": [dict(h) for h in PRE_COMMIT_HOOKS]}]
    return str(yaml.safe_dump(entry, sort_keys=False, default_flow_style=False, width=200))


def _pre_commit(root: str) -> Step:
    import yaml

    cfg = os.path.join(root, _PRE_COMMIT)
    ids = [str(h["id"]) for h in PRE_COMMIT_HOOKS]
    if not os.path.exists(cfg):
        _write(
            cfg,
            "# https://pre-commit.com - install with: pre-commit install\nrepos:\n"
            + _indent(_pre_commit_item(), 2),
            mode=0o644,
        )
        return Step(_PRE_COMMIT, "created", f"created {_PRE_COMMIT} with hooks {', '.join(ids)}")
    try:
        doc = yaml.safe_load(_read(cfg))
    except yaml.YAMLError:
        raise ConfigError(f"{cfg}: not valid YAML", hint="fix it, then run init again") from None
    present = set()
    if isinstance(doc, dict) and isinstance(doc.get("repos"), list):
        for repo in doc["repos"]:
            hooks = repo.get("hooks") if isinstance(repo, dict) else None
            for hook in hooks if isinstance(hooks, list) else []:
                if isinstance(hook, dict):
                    present.add(str(hook.get("id")))
    if all(i in present for i in ids):
        return Step(_PRE_COMMIT, "ok", f"{_PRE_COMMIT}: hooks {', '.join(ids)} present")
    if present & set(ids):
        lacking = [i for i in ids if i not in present]
        return Step(
            _PRE_COMMIT,
            "differs",
            f"{_PRE_COMMIT}: hook {', '.join(lacking)} missing; left as is",
            (
                "add to the repo that has the other secretsafe hook:",
                *_pre_commit_item().splitlines(),
            ),
        )
    if _append_list_item(cfg, "repos", _pre_commit_item(), mode=0o644) is None:
        return Step(_PRE_COMMIT, "updated", f"{_PRE_COMMIT}: added hooks {', '.join(ids)}")
    return Step(
        _PRE_COMMIT,
        "differs",
        f"{_PRE_COMMIT}: cannot be appended to safely; left as is",
        ("add this item to repos:", *_pre_commit_item().splitlines()),
    )


# --- 5. git merge driver and diff filter ----------------------------------------------------


def _git_integration(root: str) -> list[Step]:
    from secretsafe.git.setup import setup

    return [Step(c.what, c.status, c.message) for c in setup(root).changes]


# --- 6. plaintext env files in git -------------------------------------------------------------


def _tracked_plaintext(root: str) -> list[Step]:
    from secretsafe.audit import audit

    report = audit(root, history=True)
    tracked = sorted({f.file for f in report.findings if f.rule == "env-tracked" and f.file})
    past = sorted({f.file for f in report.findings if f.rule == "env-in-history" and f.file})
    if not tracked and not past:
        return [Step("git", "ok", "git: no plaintext env file tracked or in the history")]
    steps: list[Step] = []
    q = shlex.quote
    if tracked:
        cmds: list[str] = []
        for rel in tracked:
            cmds.append(f"secretsafe encrypt {q(rel)} -o {q(rel + '.enc')}")
        cmds.append("git rm --cached -- " + " ".join(q(r) for r in tracked))
        # The plaintext stays on disk (init deletes nothing): at least only for its owner.
        cmds.append("chmod 600 -- " + " ".join(q(r) for r in tracked))
        cmds.append(
            "git add .gitignore .sops.yaml .pre-commit-config.yaml .gitattributes -- "
            + " ".join(q(r + ".enc") for r in tracked)
        )
        cmds.append('git commit -m "Encrypt env files; stop tracking the plaintext"')
        steps.append(
            Step(
                "git",
                "todo",
                "plaintext env file tracked by git: " + ", ".join(tracked),
                tuple(cmds),
            )
        )
    everything = sorted({*tracked, *past})
    paths = " ".join(f"--path {q(r)}" for r in everything)
    names = sorted({os.path.basename(r) for r in everything})
    bfg_names = names[0] if len(names) == 1 else "{" + ",".join(names) + "}"
    steps.append(
        Step(
            "history",
            "todo",
            "plaintext env files in the git history: " + ", ".join(everything),
            (
                ("after the commit above, p" if tracked else "P")
                + "urge them from every commit (rewrites history; every clone must re-clone):",
                f"git filter-repo --invert-paths {paths}",
                f"or with BFG: bfg --delete-files {q(bfg_names)} && git reflog expire "
                "--expire=now --all && git gc --prune=now --aggressive",
                "then force-push every branch and tag: git push --force --all && "
                "git push --force --tags",
                "ROTATE every value that was ever committed in these files: purging the history "
                "does not reach clones, forks, CI caches or backups",
            ),
        )
    )
    return steps


# --- helpers -----------------------------------------------------------------------------------


def _indent(text: str, n: int) -> str:
    pad = " " * n
    return "".join(pad + line if line.strip() else line for line in text.splitlines(True))


def _read(path: str) -> str:
    from secretsafe.files import read_text

    return read_text(path, what=os.path.basename(path))


def _write(path: str, text: str, *, mode: int | None = None) -> None:
    from secretsafe.files import atomic_write

    # Config files hold no secret: new ones are 0644; existing ones keep their mode.
    atomic_write(path, text, mode=None if os.path.exists(path) else (mode or 0o644))


def _append_list_item(path: str, key: str, item: str, *, mode: int | None = None) -> str | None:
    """Append ``item`` (a one-item YAML block sequence) to the top-level list ``key`` by adding
    text at the end of the file, so comments and layout survive. Written only if the result
    parses to the old document with the item added (the list must be the file's last, block
    style); returns ``None`` when written, else why not."""
    import yaml

    old = _read(path)
    try:
        doc = yaml.safe_load(old)
    except yaml.YAMLError:
        return "not valid YAML"
    if doc is None:
        doc = {}
    if not isinstance(doc, dict):
        return "not a mapping"
    new_item = yaml.safe_load(item)
    want = {**doc, key: [*(doc.get(key) or []), *new_item]}
    base = old if not old or old.endswith("\n") else old + "\n"
    candidates = []
    if doc.get(key) is None:
        head = base if key not in doc else None  # `key:` with no value: append under it
        if head is None:
            candidates = [base + _indent(item, n) for n in (2, 0)]
        else:
            candidates = [base + f"{key}:\n" + _indent(item, 2)]
    else:
        candidates = [base + _indent(item, n) for n in (0, 2, 4)]
    for text in candidates:
        try:
            if yaml.safe_load(text) == want:
                _write(path, text, mode=mode)
                return None
        except yaml.YAMLError:
            continue
    return "cannot append"
