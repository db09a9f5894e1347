"""``secretsafe audit``: secrets hygiene of a repository (or a plain directory).

Rules (ids as in :data:`secretsafe.compose.findings.RULES`):

- ``env-tracked``: a plaintext env file is tracked by git;
- ``env-not-ignored``: a plaintext env file is untracked but not covered by ``.gitignore``;
- ``env-in-history``: a plaintext env file was committed earlier and, although no longer
  tracked, is still in the history of some ref;
- ``insecure-permissions``: a plaintext env file or a key file (age ``keys.txt``, ``*.key``,
  a PEM private key, ``.vault-token``) is readable or writable by group or others
  (``fix=True`` sets it to 0600);
- ``hardcoded-secret``, ``tls-verify-disabled``, ``docker-socket``: in every compose file
  (``compose.yml``, ``docker-compose.*.yml``, ...), each read on its own; TLS variables in
  plaintext env files too;
- ``unknown-recipient``: a sops-encrypted file has an age recipient that the matching
  ``.sops.yaml`` creation rule does not list;
- ``sops-recipient-drift``: a sops file (dotenv, JSON or YAML) whose recipients or key groups
  differ from its ``.sops.yaml`` creation rule, naming the missing and extra recipients
  (``secretsafe updatekeys`` fixes it);
- ``invalid-file``: a compose file or env file that cannot be parsed;
- ``env-plaintext`` (:func:`check_files`, the pre-commit hook): a file given by name is a
  plaintext env file;
- ``env-partly-plaintext``: a sops env file holds plaintext under a name its own rules say is
  encrypted (both in the audit and in the pre-commit hook).

An env file is a file named ``.env``, ``.env.*`` or ``*.env`` (also with ``.enc``); names with
an ``example``/``sample``/``template``/``dist`` part are templates and skipped. It is
*plaintext* unless its content carries sops metadata (a ``.env.enc`` that is not encrypted is
plaintext). A plaintext env file with no secret-looking variable is reported as a ``note``
(committing compose settings such as ``COMPOSE_PROJECT_NAME`` is common and harmless).

Values are read to classify files, never reported.
"""

from __future__ import annotations

import errno
import fnmatch
import os
import re
import stat
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from secretsafe.compose.findings import Finding, Severity, literal_secret_reason, tls_disabled
from secretsafe.errors import SecretsafeError

__all__ = ["AuditReport", "audit", "check_files", "is_env_name", "is_key_name"]

_SKIP_DIRS = {
    ".git",
    "node_modules",
    ".venv",
    "venv",
    "__pycache__",
    ".tox",
    ".nox",
    ".mypy_cache",
    ".ruff_cache",
    ".pytest_cache",
    "site-packages",
    ".hg",
    ".svn",
}
_TEMPLATE_PARTS = {"example", "examples", "sample", "samples", "template", "tmpl", "tpl", "dist"}
_COMPOSE_NAME = re.compile(r"^(?:docker-)?compose(?:[.-][\w.-]+)?\.ya?ml$|\.compose\.ya?ml$")
_MAX_SCAN_BYTES = 1 << 20


def is_env_name(name: str) -> bool:
    """An env file by name (templates such as ``.env.example`` excluded)."""
    low = os.path.basename(name).lower()
    base = low.removesuffix(".enc")
    if not (base == ".env" or base.startswith(".env.") or base.endswith(".env")):
        return False
    return not (set(re.split(r"[.\-_]", low)) & _TEMPLATE_PARTS)


def is_key_name(name: str) -> bool:
    low = os.path.basename(name).lower()
    return (
        low in ("keys.txt", ".vault-token", "key.txt")
        or low.endswith((".key", ".agekey", ".pem", ".p12", ".pfx"))
        or (low.startswith("id_") and not low.endswith(".pub"))
    )


def _is_private_key_content(name: str, data: bytes) -> bool:
    low = os.path.basename(name).lower()
    if low == ".vault-token" or low.endswith((".key", ".agekey", ".p12", ".pfx")):
        return True
    return b"AGE-SECRET-KEY-1" in data or b"PRIVATE KEY-----" in data


@dataclass
class AuditReport:
    root: str
    git: bool
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    files_scanned: int = 0

    def failing(self, fail_on: str) -> list[Finding]:
        """Findings at or above ``fail_on`` (``error``/``warning``/``note``/``never``),
        not counting those ``--fix`` repaired."""
        order = {"error": 0, "warning": 1, "note": 2}
        if fail_on == "never":
            return []
        limit = order[fail_on]
        return [f for f in self.findings if not f.fixed and order[f.severity] <= limit]

    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(("error", "warning", "note"), 0)
        for f in self.findings:
            if not f.fixed:
                out[f.severity] += 1
        out["fixed"] = sum(1 for f in self.findings if f.fixed)
        return out

    def to_dict(self, *, fail_on: str = "warning") -> dict[str, Any]:
        return {
            "version": 1,
            "tool": "secretsafe audit",
            "root": self.root,
            "git": self.git,
            "ok": not self.failing(fail_on),
            "fail_on": fail_on,
            "counts": self.counts(),
            "notes": list(self.notes),
            "findings": [f.to_dict() for f in self.findings],
        }


class _Scanner:
    def __init__(self, root: str, *, fix: bool, history: bool, exclude: Sequence[str] = ()) -> None:
        self.root = root
        self.fix = fix
        self.history = history
        self.exclude = tuple(exclude)
        self.findings: list[Finding] = []
        self.notes: list[str] = []
        self._text: dict[str, str | None] = {}

    # -- helpers
    def rel(self, path: str) -> str:
        return os.path.relpath(path, self.root).replace(os.sep, "/")

    def add(self, rule: str, severity: Severity, message: str, **kw: Any) -> None:
        from secretsafe.compose.findings import RULES

        kw.setdefault("hint", RULES[rule].help if rule in RULES else None)
        self.findings.append(Finding(rule, severity, message, **kw))

    def text(self, rel: str) -> str | None:
        if rel not in self._text:
            data = _read_head(os.path.join(self.root, rel), _MAX_SCAN_BYTES + 1)
            if data is None or len(data) > _MAX_SCAN_BYTES or b"\0" in data:
                self._text[rel] = None
            else:
                self._text[rel] = data.decode("utf-8-sig", "replace")
        return self._text[rel]

    def excluded(self, rel: str) -> bool:
        """``rel`` matches an ``--exclude`` glob (``fnmatch``, against the path relative to
        the root, or any of its parent directories)."""
        if not self.exclude:
            return False
        parts = rel.split("/")
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        return any(fnmatch.fnmatchcase(p, pat) for pat in self.exclude for p in prefixes)

    def walk(self) -> Iterator[str]:
        for dirpath, dirnames, filenames in os.walk(self.root):
            dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS)
            for name in sorted(filenames):
                full = os.path.join(dirpath, name)
                if os.path.islink(full):
                    continue
                yield self.rel(full)

    # -- classification
    def env_class(self, rel: str) -> str | None:
        """``"plain"``, ``"encrypted"`` or ``None`` (not an env file / unreadable)."""
        if not is_env_name(rel):
            return None
        text = self.text(rel)
        if text is None:
            return None
        from secretsafe.sops import is_encrypted

        return "encrypted" if is_encrypted(text) else "plain"

    def partly_plain_rules(self, encrypted: list[str]) -> None:
        """A file with sops metadata is not encrypted just for having it: values its own rules
        say are encrypted may be in the clear (an older writer, a sops rule with an invalid
        regex, or an edit by hand). Names are reported, never values."""
        from secretsafe.errors import SecretsafeError
        from secretsafe.sops.native import plaintext_where_encrypted

        for rel in encrypted:
            try:
                names = plaintext_where_encrypted(self.text(rel) or "", path=rel)
            except SecretsafeError:
                continue  # a file that cannot be read as sops dotenv: not this rule's business
            if names:
                from secretsafe.dotenv import shown_name

                shown = ", ".join(shown_name(n) if not n.startswith("#") else n for n in names)
                self.add(
                    "env-partly-plaintext",
                    "error",
                    f"{rel} holds plaintext where its sops rules say encrypted: {shown}",
                    file=rel,
                )

    def env_secret_lines(
        self, rel: str, text: str, *, report: bool = True
    ) -> tuple[bool, list[tuple[str, int, str]]]:
        """(holds a secret-looking value, [(name, line, value)]) of a plaintext env file."""
        from secretsafe import dotenv
        from secretsafe.errors import DotenvSyntaxError

        try:
            items = dotenv.parse(text, path=rel)
        except DotenvSyntaxError as exc:
            if not report:
                return True, []
            self.add(
                "invalid-file",
                "warning",
                f"{rel}: cannot be parsed as an env file ({exc.message})",
                file=rel,
                line=exc.line,
                hint="fix the line named",
            )
            return True, []
        rows = [(i.key, i.line, i.value) for i in items if isinstance(i, dotenv.Assignment)]
        secret = any(
            v and literal_secret_reason(k, v, templated=False) is not None for k, _, v in rows
        )
        return secret, rows

    # -- rules
    def run(self) -> AuditReport:
        from secretsafe.audit import git

        top = git.repo_root(self.root)
        in_git = top is not None and os.path.realpath(top) == os.path.realpath(self.root)
        if top is not None and not in_git:
            self.notes.append(f"{self.root} is inside the git repository {top}: audit that")
        files = list(self.walk())
        tracked: set[str] = set()
        if in_git:
            tracked = {p for p in git.tracked(self.root) if not self.excluded(p)}
            files = sorted(
                set(files) | {p for p in tracked if os.path.isfile(os.path.join(self.root, p))}
            )
        else:
            self.notes.append("not the top of a git repository: git checks skipped")
        files = [p for p in files if not self.excluded(p)]
        plain = [p for p in files if self.env_class(p) == "plain"]
        encrypted = [p for p in files if self.env_class(p) == "encrypted"]
        secret_bearing: dict[str, bool] = {}
        for rel in plain:
            text = self.text(rel) or ""
            has_secret, rows = self.env_secret_lines(rel, text)
            secret_bearing[rel] = has_secret
            for name, line, value in rows:
                if tls_disabled(name, value):
                    self.add(
                        "tls-verify-disabled",
                        "error",
                        f"{name} in {rel} turns TLS certificate verification off",
                        file=rel,
                        line=line,
                        variable=name,
                    )
        if in_git:
            self.git_rules(plain, tracked, secret_bearing)
        self.permission_rules(files, plain)
        self.compose_rules(files)
        self.recipient_rules(encrypted)
        self.drift_rules(files, encrypted)
        self.partly_plain_rules(encrypted)
        return AuditReport(
            root=self.root,
            git=in_git,
            findings=sorted(set(self.findings), key=Finding.sort_key),
            notes=self.notes,
            files_scanned=len(files),
        )

    def git_rules(self, plain: list[str], tracked: set[str], secret: dict[str, bool]) -> None:
        from secretsafe.audit import git

        ignored = git.ignored(self.root, plain)
        for rel in plain:
            sev: Severity = "error" if secret.get(rel, True) else "note"
            quiet = "" if sev == "error" else " (no secret-looking variable in it)"
            if rel in tracked:
                self.add(
                    "env-tracked",
                    sev,
                    f"{rel} is a plaintext env file tracked by git{quiet}",
                    file=rel,
                )
            elif rel not in ignored:
                self.add(
                    "env-not-ignored",
                    sev,
                    f"{rel} is a plaintext env file that .gitignore does not cover{quiet}",
                    file=rel,
                )
        if not self.history:
            return
        from secretsafe.sops import is_encrypted

        reported: set[str] = set()
        for commit, rel in git.added_in_history(self.root):
            if rel in tracked or rel in reported or not is_env_name(rel) or self.excluded(rel):
                continue
            data = git.blob(self.root, commit, rel)
            if data is None:
                continue
            content = data.decode("utf-8", "replace")
            if is_encrypted(content):
                continue
            reported.add(rel)
            has_secret, _ = self.env_secret_lines(rel, content, report=False)
            level: Severity = "error" if has_secret else "note"
            quiet = "" if has_secret else " (no secret-looking variable in it)"
            self.add(
                "env-in-history",
                level,
                f"{rel} (plaintext) was committed in {commit[:12]} and is still in the "
                f"history, though no longer tracked{quiet}",
                file=rel,
            )

    def permission_rules(self, files: list[str], plain: list[str]) -> None:
        candidates = list(plain)
        for rel in files:
            if rel in plain or not is_key_name(rel):
                continue
            head = _read_head(os.path.join(self.root, rel), 8192)
            if head is not None and _is_private_key_content(rel, head):
                candidates.append(rel)
        for rel in sorted(set(candidates)):
            path = os.path.join(self.root, rel)
            try:
                link = stat.S_ISLNK(os.lstat(path).st_mode)
                mode = stat.S_IMODE(os.stat(path).st_mode)
            except OSError:
                continue
            if not mode & 0o077:
                continue
            what = "env file" if rel in plain else "key file"
            if link:
                # --fix never follows a symlink: a tracked link can point anywhere (as root:
                # any file on the system). Report it for a person to look at instead.
                self.add(
                    "insecure-permissions",
                    "error",
                    f"{rel}: {what} is a symlink to a file group or others can access "
                    f"(mode {mode:04o}); not fixed: --fix does not follow symlinks",
                    file=rel,
                    hint="replace the symlink with the file, or chmod 600 the file it points to",
                )
                continue
            fixed = False
            if self.fix:
                problem = _chmod_private(path, self.root)
                fixed = problem is None
                if problem is not None:
                    self.notes.append(f"{rel}: not fixed ({problem})")
            done = " (fixed: now 0600)" if fixed else ""
            self.add(
                "insecure-permissions",
                "error",
                f"{rel}: {what} is accessible by group or others (mode {mode:04o}){done}",
                file=rel,
                fixed=fixed,
                hint=f"chmod 600 {rel}",
            )

    def compose_rules(self, files: list[str]) -> None:
        from secretsafe.compose.findings import compose_findings
        from secretsafe.compose.loader import load_project

        for rel in files:
            if not _COMPOSE_NAME.search(os.path.basename(rel)):
                continue
            path = os.path.join(self.root, rel)
            try:
                project = load_project([path], environ={}, dotenv=False)
                found = compose_findings(
                    project,
                    rules=("hardcoded-secret", "tls-verify-disabled", "docker-socket"),
                    decrypt=False,
                )
            except SecretsafeError as exc:
                self.add(
                    "invalid-file",
                    "warning",
                    f"{rel}: not a readable compose file ({exc.message})",
                    file=rel,
                    hint="fix it, or rename it if it is not a compose file",
                )
                continue
            for f in found:
                if f.file != path:
                    continue  # in an env_file: the env file scan reports it there
                file = self.rel(f.file) if f.file and os.path.isabs(f.file) else f.file
                self.findings.append(
                    Finding(
                        f.rule,
                        f.severity,
                        f.message,
                        file=file,
                        line=f.line,
                        hint=f.hint,
                        variable=f.variable,
                        service=f.service,
                    )
                )

    def recipient_rules(self, encrypted: list[str]) -> None:
        from secretsafe.sops.config import creation_rule_for
        from secretsafe.sops.native import parse_metadata

        for rel in encrypted:
            path = os.path.join(self.root, rel)
            text = self.text(rel) or ""
            try:
                meta = parse_metadata(text, path=rel)
                rule = creation_rule_for(path)
            except SecretsafeError as exc:
                self.add(
                    "unknown-recipient",
                    "warning",
                    f"{rel}: recipients cannot be checked against .sops.yaml ({exc.message})",
                    file=rel,
                )
                continue
            if rule is None:
                continue
            allowed = set(rule.recipients)
            cfg = self.rel(str(rule.config_path))
            for recipient in meta.recipients:
                if recipient in allowed:
                    continue
                self.add(
                    "unknown-recipient",
                    "error",
                    f"{rel} is encrypted for {_short(recipient)}, which the creation rule in "
                    f"{cfg} does not list",
                    file=rel,
                    line=_recipient_line(text, recipient),
                )

    def drift_rules(self, files: list[str], encrypted: list[str]) -> None:
        """Each sops file (encrypted env files, and JSON/YAML files with sops metadata) whose
        recipients differ from its creation rule: what ``updatekeys`` would change. Reads
        metadata only."""
        from secretsafe.sops import sops_format
        from secretsafe.sops.updatekeys import drift

        nested = [
            rel
            for rel in files
            if rel not in encrypted
            and rel.lower().endswith((".json", ".yaml", ".yml"))
            and "sops" in (self.text(rel) or "")
        ]
        for rel in [*encrypted, *nested]:
            text = self.text(rel) or ""
            try:
                if sops_format(text) is None:
                    continue
                plan = drift(text, os.path.join(self.root, rel))
            except SecretsafeError:
                continue  # no rule for it, or unreadable metadata: other rules report those
            if plan is None or not plan.changed:
                continue
            if rel in encrypted and plan.removed and not plan.added:
                continue  # extra recipients only: unknown-recipient reports each already
            cfg = self.rel(str(_config_of(os.path.join(self.root, rel))))
            parts = []
            if plan.added:
                parts.append(f"missing {', '.join(_short(r) for r in plan.added)}")
            if plan.removed:
                parts.append(f"extra {', '.join(_short(r) for r in plan.removed)}")
            what = "; ".join(parts) or "its key groups or threshold differ"
            self.add(
                "sops-recipient-drift",
                "warning",
                f"{rel}: recipients differ from the creation rule in {cfg}: {what}",
                file=rel,
                hint="run: secretsafe updatekeys",
            )


def _config_of(path: str) -> str:
    from secretsafe.sops.config import find_config

    return str(find_config(path) or ".sops.yaml")


def _chmod_private(path: str, root: str) -> str | None:
    """chmod 600 the regular file ``path`` inside ``root`` without following any symlink;
    None when done, else why not.

    The last component is opened with ``O_NOFOLLOW`` (a symlink fails the open), the
    descriptor must be a regular file inside ``root`` (a symlinked parent directory would
    lead outside it), and the mode is set on that descriptor (``fchmod``): whatever the path
    names by then, only the file that was checked changes.
    """
    real_root = os.path.realpath(root)
    if os.path.commonpath([real_root, os.path.realpath(path)]) != real_root:
        return "it resolves to a path outside the audited directory"
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        return "it is a symlink" if exc.errno == errno.ELOOP else f"cannot open: {exc.strerror}"
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return "not a regular file"
        # Inside root after the open too: the path may have changed since realpath above.
        opened = f"/proc/self/fd/{fd}"
        if os.path.islink(opened) and (
            os.path.commonpath([real_root, os.path.realpath(opened)]) != real_root
        ):
            return "it resolves to a path outside the audited directory"
        os.fchmod(fd, 0o600)
    except OSError as exc:
        return f"cannot chmod: {exc.strerror}"
    finally:
        os.close(fd)
    return None


def _read_head(path: str, limit: int) -> bytes | None:
    """Up to ``limit`` bytes of a regular file; None for anything else (a named pipe or a
    device must not hang or feed the scan) or an unreadable file."""
    from secretsafe.files import open_regular

    try:
        fd, _ = open_regular(path)
    except SecretsafeError:
        return None
    with os.fdopen(fd, "rb") as fh:
        try:
            return fh.read(limit)
        except OSError:
            return None


def _short(recipient: str) -> str:
    from secretsafe.git.textconv import shown

    # A recipient is read from a file: control characters escaped.
    return shown(recipient if len(recipient) <= 20 else f"{recipient[:12]}...{recipient[-6:]}")


def _recipient_line(text: str, recipient: str) -> int | None:
    for lineno, line in enumerate(text.split("\n"), start=1):
        if line.startswith("sops_") and "recipient=" in line and line.endswith("=" + recipient):
            return lineno
    return None


def check_files(paths: Iterable[str | os.PathLike[str]], *, fix: bool = False) -> AuditReport:
    """The pre-commit check for the files given: each env file (by name; templates such as
    ``.env.example`` excluded) must be sops-encrypted (``env-plaintext``), and plaintext
    ones must not be readable by others. Other files are ignored."""
    from secretsafe.files import open_regular

    scanner = _Scanner(os.getcwd(), fix=fix, history=False)
    names = [os.path.relpath(os.fspath(p)).replace(os.sep, "/") for p in paths]
    for name in names:
        try:
            regular = stat.S_ISREG(os.stat(name).st_mode)
        except OSError:
            continue  # deleted or unreadable: the checks below skip it as before
        if not regular:
            # A named pipe or a device: open_regular refuses it (before opening) with the
            # one FileError every command gives.
            os.close(open_regular(name)[0])
    plain = [n for n in names if os.path.isfile(n) and scanner.env_class(n) == "plain"]
    scanner.partly_plain_rules(
        [n for n in names if os.path.isfile(n) and scanner.env_class(n) == "encrypted"]
    )
    for rel in plain:
        scanner.add(
            "env-plaintext",
            "error",
            f"{rel} is a plaintext env file",
            file=rel,
            hint=f"secretsafe encrypt {rel}, commit {rel}.enc, and remove {rel} from git",
        )
    scanner.permission_rules(plain, plain)
    return AuditReport(
        root=scanner.root,
        git=False,
        findings=sorted(set(scanner.findings), key=Finding.sort_key),
        notes=scanner.notes,
        files_scanned=len(names),
    )


def audit(
    path: str | os.PathLike[str] = ".",
    *,
    fix: bool = False,
    history: bool = True,
    exclude: Sequence[str] = (),
) -> AuditReport:
    """Audit ``path`` (a repository's top or any directory). ``fix``: chmod 600 env and key
    files that group or others can access. ``history=False`` skips the git history scan.
    ``exclude``: globs of paths (relative to ``path``) to leave out, such as deliberate
    test fixtures (``tests/fixtures/*``)."""
    root = os.fspath(path)
    if not os.path.isdir(root):
        from secretsafe.errors import FileError

        raise FileError(f"{root}: not a directory", hint="pass the repository's directory")
    scanner = _Scanner(os.path.abspath(root), fix=fix, history=history, exclude=exclude)
    return scanner.run()
