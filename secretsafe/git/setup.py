"""``secretsafe git setup``: route encrypted env files to secretsafe's merge driver and diff
filter, in ``.gitattributes`` and the repository's *local* git config (never the global one).

``.gitattributes`` gets ``PATTERN merge=secretsafe diff=secretsafe`` lines. The patterns:

- with a ``.sops.yaml``: for each creation rule, the usual encrypted-file names
  (:data:`DEFAULT_PATTERNS`) whose examples the rule's ``path_regex`` matches, plus the rule
  itself when it is a plain suffix (``\\.enc\\.env$`` -> ``*.enc.env``); a rule that gives
  none of these (say ``^prod/``) gets all the defaults;
- without one: :data:`DEFAULT_PATTERNS` (what ``secretsafe encrypt`` names files,
  ``.env.enc``, ``.env.prod.enc``, ``app.env.enc``, and the ``*.enc.env``/``.yaml``/``.json``
  names sops users give them);
- then every sops file already tracked that no pattern covers (``git check-attr``) gets its
  own ``/path`` line.

A pattern may also match a plaintext file: the driver and the filter leave non-sops files to
git's own text merge and diff.

The git config names the drivers (``merge.secretsafe.driver``, ``merge.secretsafe.name``,
``diff.secretsafe.textconv``) with the command :func:`command` gives: this interpreter
(``sys.executable``, not resolved, so a venv's ``bin/python`` stays the venv's) running
``-P -m secretsafe``, i.e. the same secretsafe that ran setup, whatever is on the ``PATH`` of
the GUI or hook that runs git later, and never a ``secretsafe`` package in the repository
(``-P``: the current directory is not searched). The config is local to this clone and this
machine: a clone, or a container with another interpreter path, runs ``secretsafe git setup``
(or ``secretsafe init``) itself; ``.gitattributes`` is committed and shared.

Idempotent: entries already in place are left alone and reported as such.
"""

from __future__ import annotations

import os
import re
import shlex
import sys
from dataclasses import dataclass, field
from typing import Any, Literal

from secretsafe.errors import UsageError

__all__ = [
    "ATTRIBUTES",
    "DEFAULT_PATTERNS",
    "DRIVER",
    "Change",
    "SetupReport",
    "command",
    "config_entries",
    "patterns",
    "setup",
]

DRIVER = "secretsafe"
ATTRIBUTES = f"merge={DRIVER} diff={DRIVER}"
_HEADER = "# sops-encrypted env files: merge and diff by variable (secretsafe git setup)"

#: Usual names of encrypted env files, each with example paths a creation rule is tried on.
DEFAULT_PATTERNS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("*.env.enc", (".env.enc", "app.env.enc")),
    (".env.*.enc", (".env.production.enc",)),
    ("*.enc.env", ("secrets.enc.env",)),
    ("*.enc.yaml", ("secrets.enc.yaml",)),
    ("*.enc.yml", ("secrets.enc.yml",)),
    ("*.enc.json", ("secrets.enc.json",)),
)
# A path_regex that is a plain suffix: optional ``.*``, escaped literal text, ``$``.
_SUFFIX_RE = re.compile(r"^(?:\^?\.\*)?((?:\\[.\-_]|[A-Za-z0-9_\-])+)\$$")
_MAX_PROBE = 1 << 20  # larger tracked files are not looked at: env files are small

Status = Literal["created", "updated", "ok"]


@dataclass(frozen=True)
class Change:
    what: str
    status: Status
    message: str


@dataclass
class SetupReport:
    root: str
    command: str
    changes: list[Change] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return any(c.status != "ok" for c in self.changes)


def command() -> str:
    """The shell words that run this secretsafe (see the module docstring)."""
    return f"{shlex.quote(sys.executable)} -P -m secretsafe"


def config_entries(cmd: str | None = None) -> dict[str, str]:
    """The local git config setup writes, in order."""
    cmd = command() if cmd is None else cmd
    return {
        f"merge.{DRIVER}.name": "secretsafe: three-way merge of sops files by variable",
        f"merge.{DRIVER}.driver": f"{cmd} git merge-driver %O %A %B %P",
        f"diff.{DRIVER}.textconv": f"{cmd} git textconv",
    }


def _from_rules(rules: list[dict[str, Any]], cfg: str) -> list[str]:
    from secretsafe.sops.regex import compile_rule

    out: list[str] = []
    defaults = [p for p, _ in DEFAULT_PATTERNS]
    for index, rule in enumerate(rules, 1):
        pattern = rule.get("path_regex") if isinstance(rule, dict) else None
        if not isinstance(pattern, str) or not pattern:
            out += defaults  # a rule without path_regex matches every file
            continue
        rx = compile_rule(pattern, "path_regex", where=f"{cfg}: creation rule {index}")
        found = [p for p, examples in DEFAULT_PATTERNS if any(rx.matches(e) for e in examples)]
        suffix = _SUFFIX_RE.match(pattern)
        if suffix:
            found.append("*" + re.sub(r"\\(.)", r"\1", suffix.group(1)))
        out += found or defaults
    return list(dict.fromkeys(out))


def patterns(root: str) -> list[str]:
    """The ``.gitattributes`` patterns for the repository at ``root`` (before tracked files
    are checked; see the module docstring)."""
    from secretsafe.sops.config import CONFIG_NAME, load_config

    cfg = os.path.join(root, CONFIG_NAME)
    rules = load_config(cfg) if os.path.exists(cfg) else None
    if not rules:
        return [p for p, _ in DEFAULT_PATTERNS]
    return _from_rules(rules, cfg)


def _ours(line: str) -> str | None:
    """The pattern of a ``.gitattributes`` line that already sets both our attributes."""
    words = line.split()
    if len(words) < 3 or words[0].startswith("#"):
        return None
    attrs = set(words[1:])
    return words[0] if {f"merge={DRIVER}", f"diff={DRIVER}"} <= attrs else None


def _attributes_file(root: str, wanted: list[str]) -> list[str]:
    """Append the lines for ``wanted`` patterns not yet set; the patterns added."""
    from secretsafe.errors import FileError
    from secretsafe.files import atomic_write, read_text

    path = os.path.join(root, ".gitattributes")
    if os.path.islink(path):
        # Git does not follow it either; reading through it would copy whatever it names
        # (a key file, in a hostile repository) into a file the user is told to commit.
        raise FileError(
            f"{path}: is a symbolic link; git does not read it and setup will not write through it",
            hint="replace it with a regular file, then run secretsafe git setup again",
        )
    old = read_text(path, what=".gitattributes") if os.path.exists(path) else ""
    have = {p for line in old.splitlines() if (p := _ours(line))}
    missing = [p for p in wanted if p not in have]
    if not missing:
        return []
    lines = [] if _HEADER in old else [_HEADER]
    lines += [f"{p} {ATTRIBUTES}" for p in missing]
    prefix = "" if not old or old.endswith("\n") else "\n"
    # Not a secret: a new .gitattributes is 0644; an existing one keeps its mode.
    atomic_write(path, old + prefix + "\n".join(lines) + "\n", mode=None if old else 0o644)
    return missing


def _tracked_sops_files(root: str) -> list[str]:
    from secretsafe.audit import git
    from secretsafe.git.variables import store_of

    found = []
    for rel in git.tracked(root):
        full = os.path.join(root, rel)
        try:
            if os.path.islink(full) or not os.path.isfile(full):
                continue
            if os.path.getsize(full) > _MAX_PROBE:
                continue
            with open(full, "rb") as fh:
                raw = fh.read()
            # Every sops file has "sops" in its metadata: skip the parse for the rest.
            text = raw.decode("utf-8") if b"sops" in raw else ""
        except (OSError, UnicodeDecodeError):
            continue
        if text and store_of(text) is not None:
            found.append(rel)
    return found


def _uncovered(root: str, files: list[str]) -> list[str]:
    from secretsafe.audit import git

    if not files:
        return []
    data = b"".join(os.fsencode(p) + b"\0" for p in files)
    out = git._git(root, ["check-attr", "-z", "--stdin", "merge"], stdin=data)
    fields = out.split(b"\0")
    # -z output: path NUL attribute NUL value NUL, per path.
    return [
        os.fsdecode(fields[i])
        for i in range(0, len(fields) - 2, 3)
        if fields[i + 2] != DRIVER.encode()
    ]


def _exact(rel: str) -> str | None:
    """A pattern for exactly ``rel``; None when its name cannot be written plainly."""
    if any(c.isspace() or c in '"\\' for c in rel):
        return None
    return "/" + re.sub(r"([*?\[])", r"\\\1", rel)


def _git_config(root: str, entries: dict[str, str]) -> list[str]:
    """Set the local entries that differ; the names set."""
    from secretsafe.audit import git

    changed = []
    for name, value in entries.items():
        current = git._git(root, ["config", "--local", "--get", name], ok=(0, 1))
        if current.decode("utf-8", "replace").rstrip("\n") != value:
            git._git(root, ["config", "--local", name, value])
            changed.append(name)
    return changed


def setup(path: str | os.PathLike[str] = ".") -> SetupReport:
    """Set up the git repository containing ``path``; see the module docstring."""
    from secretsafe.audit import git
    from secretsafe.git.textconv import shown

    start = os.path.abspath(os.fspath(path))
    root = git.repo_root(start) if os.path.isdir(start) else None
    if root is None:
        raise UsageError(
            f"{start} is not in a git repository", hint="run `git init` first, or pass its path"
        )
    report = SetupReport(root=root, command=command())
    added = _attributes_file(root, patterns(root))
    exact = [p for rel in _uncovered(root, _tracked_sops_files(root)) if (p := _exact(rel))]
    added += _attributes_file(root, exact)
    if added:
        report.changes.append(
            Change(
                ".gitattributes",
                "updated",
                f".gitattributes: added {', '.join(shown(p) for p in added)}",  # tracked names
            )
        )
    else:
        report.changes.append(
            Change(".gitattributes", "ok", ".gitattributes: encrypted env files use secretsafe")
        )
    changed = _git_config(root, config_entries(report.command))
    if changed:
        report.changes.append(
            Change(
                "git config",
                "updated",
                f"git config (this repository only): set {', '.join(changed)} to run "
                f"{report.command}",
            )
        )
    else:
        report.changes.append(
            Change("git config", "ok", "git config: the secretsafe merge driver and diff are set")
        )
    return report
