"""``secretsafe updatekeys``: make every sops file's recipients and key groups equal to its
``.sops.yaml`` creation rule, in one step for the whole repository, all files or none.

- :func:`find_files`: every sops file (dotenv, JSON, YAML) under the repository root that a
  creation rule matches; ``.git``, git-ignored paths and tool directories are skipped.
- :func:`plan`: per file, the recipients the rule adds and removes (read from the metadata:
  nothing is decrypted, no key is needed). :func:`drift` gives the same for one file's text,
  for ``secretsafe audit`` (``sops-recipient-drift``).
- :func:`apply`: computes every new file first (each decrypted with the user's identity); only
  when all of them could be computed are they written. A member added gets the same data key
  wrapped for them, so only metadata lines change (as ``sops updatekeys``); a member removed
  knew the data key, so the file gets a new one and every value is re-encrypted in the same
  write. A failure (no key to unwrap, permission, parse) writes nothing and names the file;
  the error keeps its own class and exit code (10 file, 13 format, 14 config, 20/21 key,
  22 integrity, 23 unsupported). Should a write itself fail half-way, the files already
  written are restored.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import NamedTuple

from secretsafe.errors import FileError, SecretsafeError, UnsupportedError, UsageError

__all__ = ["FilePlan", "apply", "drift", "find_files", "plan"]

_MAX_BYTES = 1 << 20
_SKIP_DIRS = {".git", ".hg", ".svn", "node_modules", ".venv", "venv", "__pycache__", ".tox"}


class FilePlan(NamedTuple):
    """One file's change: its age recipients per key group now and as the rule wants them
    (the file's order kept, new ones appended), and the Shamir thresholds. Public keys and
    paths only."""

    path: str
    current: tuple[tuple[str, ...], ...]
    wanted: tuple[tuple[str, ...], ...]
    threshold: int | None
    wanted_threshold: int | None

    @property
    def added(self) -> tuple[str, ...]:
        now = {r for g in self.current for r in g}
        return tuple(dict.fromkeys(r for g in self.wanted for r in g if r not in now))

    @property
    def removed(self) -> tuple[str, ...]:
        wanted = {r for g in self.wanted for r in g}
        return tuple(dict.fromkeys(r for g in self.current for r in g if r not in wanted))

    @property
    def changed(self) -> bool:
        same_groups = [set(g) for g in self.current] == [set(g) for g in self.wanted]
        return not same_groups or (len(self.wanted) > 1 and self.threshold != self.wanted_threshold)

    @property
    def rotates(self) -> bool:
        """A new data key: a member who leaves knew the old one."""
        return bool(self.removed)

    def describe(self) -> str:
        """One line for ``--dry-run`` and the report: names of recipients, never secrets
        (paths and recipients come from the repository: control characters escaped)."""
        from secretsafe.git.textconv import shown

        path = shown(self.path)
        if not self.changed:
            return f"{path}: up to date"
        parts = []
        if self.added:
            parts.append(f"add {', '.join(map(shown, self.added))}")
        if self.removed:
            parts.append(f"remove {', '.join(map(shown, self.removed))}")
        if not parts:
            parts.append("regroup the key groups")
        how = "new data key, every value re-encrypted" if self.rotates else "data key kept"
        return f"{path}: {'; '.join(parts)} ({how})"


def repository_root(start: str | os.PathLike[str] = ".") -> Path:
    """The top of the git work tree holding ``start``, else ``start`` itself."""
    from secretsafe.audit import git

    top = git.repo_root(os.fspath(start))
    return Path(top) if top is not None else Path(start)


def _candidates(root: Path) -> Iterator[Path]:
    from secretsafe.audit import git

    top = git.repo_root(str(root))
    if top is not None:
        # Tracked plus untracked-but-not-ignored: what git would not ignore, .git excluded.
        rels = sorted(set(git.tracked(str(root))) | set(git.untracked(str(root))))
        for rel in rels:
            if not set(Path(rel).parts) & _SKIP_DIRS:
                yield root / rel
        return
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS)
        for name in sorted(filenames):
            yield Path(dirpath) / name


def _is_sops_file(path: Path) -> bool | None:
    """Whether ``path`` is a sops file secretsafe reads (dotenv, JSON, YAML); None when it
    cannot be read to tell."""
    from secretsafe.sops import sops_format

    if path.is_symlink() or not path.is_file():
        return False
    try:
        with path.open("rb") as fh:
            data = fh.read(_MAX_BYTES + 1)
    except OSError:
        return None
    if len(data) > _MAX_BYTES or b"sops" not in data or b"\0" in data:
        return False
    try:
        return sops_format(data.decode("utf-8")) is not None
    except (UnicodeDecodeError, SecretsafeError):
        return False


def find_files(root: str | os.PathLike[str] | None = None) -> list[Path]:
    """Every sops file under ``root`` (default: the repository holding the current
    directory) that a ``.sops.yaml`` creation rule matches, sorted. A file that a rule
    matches but that cannot be read is included: :func:`plan` then names it, rather than
    leave it silently out of date."""
    from secretsafe.errors import ConfigError
    from secretsafe.sops.config import creation_rule_for

    base = Path(root) if root is not None else repository_root()
    found = []
    for path in _candidates(base):
        if _is_sops_file(path) is False:
            continue
        try:
            rule = creation_rule_for(path)
        except ConfigError:
            continue  # no rule matches it: not updatekeys' business
        if rule is not None:
            found.append(_shown(path))
    return found


def _shown(path: Path) -> Path:
    """``path`` relative to the current directory when it is below it (shorter messages)."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        return path


def _metadata(text: str, path: str) -> tuple[tuple[tuple[str, ...], ...], int | None, str]:
    """The file's age recipients per key group, Shamir threshold and format, from the
    metadata alone."""
    from secretsafe.sops import _nested_meta, sops_format
    from secretsafe.sops.native import parse_metadata, parse_metadata_of

    store = sops_format(text)
    if store is None:
        from secretsafe.errors import FormatError

        raise FormatError(f"{path}: not a sops file", hint="pass sops-encrypted files only")
    if store == "dotenv":
        meta = parse_metadata(text, path=path)
    else:
        meta = parse_metadata_of(_nested_meta(text, path, store), path=path)
    if meta.unsupported_key_types:
        raise UnsupportedError(
            f"{path}: also encrypted with {', '.join(meta.unsupported_key_types)} keys, which "
            "secretsafe cannot re-create",
            hint=f"use sops itself: sops updatekeys {path}",
        )
    return tuple(g.age for g in meta.key_groups), meta.shamir_threshold, store


def drift(text: str, path: str | os.PathLike[str]) -> FilePlan | None:
    """The change ``updatekeys`` would make to the file ``path`` whose text is ``text``;
    None when no ``.sops.yaml`` applies to it. Decrypts nothing."""
    from secretsafe.errors import ConfigError
    from secretsafe.sops.config import creation_rule_for

    where = os.fspath(path)
    rule = creation_rule_for(where)
    if rule is None:
        return None
    if rule.other_key_types:
        raise UnsupportedError(
            f"{rule.config_path}: the creation rule for {where} uses "
            f"{', '.join(rule.other_key_types)} keys, which only sops can use",
            hint=f"use sops itself: sops updatekeys {where}",
        )
    current, threshold, _ = _metadata(text, where)
    rule_groups = [tuple(g.age) for g in rule.key_groups if g.age]
    if not rule_groups:
        raise ConfigError(f"{rule.config_path}: the creation rule for {where} lists no age key")
    wanted: list[tuple[str, ...]] = []
    for index, group in enumerate(rule_groups):
        have = current[index] if index < len(current) else ()
        keep = [r for r in have if r in group]
        wanted.append((*keep, *(r for r in group if r not in keep)))
    rule_threshold = rule.shamir_threshold if len(rule_groups) > 1 else None
    file_threshold = threshold if len(current) > 1 else None
    return FilePlan(where, current, tuple(wanted), file_threshold, rule_threshold)


def plan(paths: Sequence[str | os.PathLike[str]] | None = None) -> list[FilePlan]:
    """Per file, what ``updatekeys`` changes (``paths``, else :func:`find_files`). A path
    given that no creation rule covers is a :class:`ConfigError`."""
    from secretsafe.errors import ConfigError
    from secretsafe.files import read_text

    targets = [Path(p) for p in paths] if paths else find_files()
    plans = []
    for path in targets:
        where = os.fspath(path)
        try:
            text = read_text(path, what="sops file", keep_bom=True)
            found = drift(text, where)
        except SecretsafeError as exc:
            # Planning writes nothing; say so, as a failure while applying does.
            raise _not_updated(exc, where) from None
        if found is None:
            raise _not_updated(
                ConfigError(
                    f"{where}: no .sops.yaml above it",
                    hint="add a .sops.yaml with a creation rule",
                ),
                where,
            )
        plans.append(found)
    return plans


def _not_updated(exc: SecretsafeError, path: str) -> SecretsafeError:
    """``exc`` (same class, same exit code) naming ``path`` and saying nothing was written."""
    import copy

    where = "" if exc.message.startswith(path) else f"{path}: "
    new = copy.copy(exc)
    new.message = f"{where}{exc.message}; no file was written"
    new.args = (new.message,)
    return new


def apply(plans: Sequence[FilePlan]) -> list[FilePlan]:
    """Write every plan that changes its file, all or none (module docstring). Returns the
    plans written."""
    from contextlib import ExitStack

    from secretsafe.files import atomic_write, read_text
    from secretsafe.keys import discover
    from secretsafe.locking import locked
    from secretsafe.sops import sops_format
    from secretsafe.sops import update as _update

    todo = [p for p in plans if p.changed]
    if not todo:
        return []
    identities = [i.to_pyrage() for i in discover()]
    new: list[tuple[str, str, str]] = []  # (path, old text, new text)
    with ExitStack() as stack:
        for p in todo:
            try:
                stack.enter_context(locked(p.path))
                text = read_text(p.path, what="sops file", keep_bom=True)
                again = drift(text, p.path)  # the file may have changed since the plan
                if again != p:
                    raise UsageError(
                        f"{p.path}: changed since the plan was made", hint="run it again"
                    )
                store = sops_format(text)
                assert store is not None  # noqa: S101 - drift read its metadata
                opened = _update.open_text(text, identities, path=p.path, store=store)
                rendered = _update.render(
                    opened,
                    key_groups=p.wanted,
                    shamir_threshold=p.wanted_threshold,
                    rotate=p.rotates,
                )
                _check_writable(p.path)
            except SecretsafeError as exc:
                raise _not_updated(exc, p.path) from None
            new.append((p.path, text, rendered))
        written: list[tuple[str, str]] = []
        try:
            for path, old, text in new:
                atomic_write(path, text)
                written.append((path, old))
        except SecretsafeError as exc:
            for path, old in written:
                atomic_write(path, old)  # put back: all files or none
            raise _not_updated(exc, new[len(written)][0]) from None
    return todo


def _check_writable(path: str) -> None:
    """The rename of an atomic write needs the directory writable; a read-only file would be
    replaced all the same, but its owner meant it not to change."""
    directory = os.path.dirname(os.path.abspath(path))
    if not os.access(directory, os.W_OK | os.X_OK):
        raise FileError(f"{path}: its directory is not writable", hint="fix the permissions")
    if not os.access(path, os.W_OK):
        raise FileError(f"{path}: not writable", hint="fix its permissions (chmod u+w)")
