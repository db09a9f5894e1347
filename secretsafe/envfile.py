"""Operations on encrypted ``.env`` files: the API behind ``secretsafe encrypt``, ``decrypt``,
``edit``, ``set``, ``unset``, ``rotate`` and ``recipients``.

Every write is atomic (the old or the new whole file, never half of one) and keeps the file's
mode; a new file gets 0600. A failed operation leaves the original file untouched. Plaintext
touches the disk only in ``edit`` (a 0600 file in a 0700 temp dir, removed in ``finally``)
and in ``write_plaintext`` (``decrypt -o``, which the user asks for explicitly).

Re-encrypting a file (``edit``, ``set``, ``unset``, ``rotate``, ``recipients add|remove``)
keeps its key groups, Shamir threshold and encryption rules, and always makes a new data key.
Files that also use KMS/PGP/Vault-transit keys can be decrypted (through the sops binary) but
not rewritten here: secretsafe cannot re-create those keys; use sops itself for them.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from secretsafe.errors import (
    DotenvSyntaxError,
    FileError,
    FormatError,
    SecretsafeError,
    UnsupportedError,
    UsageError,
)
from secretsafe.locking import exclusive  # read-modify-write changes lock the file
from secretsafe.sops import decrypt_file

if TYPE_CHECKING:
    from secretsafe.sops.model import Document, Item

__all__ = [
    "OutputFormat",
    "add_recipients",
    "decrypt_document",
    "decrypt_file",
    "edit_file",
    "encrypt_file",
    "list_recipients",
    "remove_recipients",
    "render",
    "resolve_format",
    "rotate",
    "set_value",
    "unset_value",
    "write_plaintext",
]

OutputFormat = Literal["auto", "dotenv", "json", "sops"]


# ---------------------------------------------------------------------------------------------
# Plaintext .env <-> items


def parse_plain(text: str, *, path: str | os.PathLike[str] | None = None) -> list[Item]:
    """Parse a plaintext ``.env`` (compose semantics) into sops items, full-line comments
    kept, and refuse what the sops dotenv format cannot hold losslessly."""
    from secretsafe import dotenv
    from secretsafe.sops.model import Comment, Entry

    where = os.fspath(path) if path is not None else None
    items: list[Item] = []
    for line in dotenv.parse(text, path=where):
        if isinstance(line, dotenv.CommentLine):
            items.append(Comment(line.text))
            continue
        try:
            dotenv.check_sops_representable(line.key, line.value)
        except FormatError as exc:
            raise FormatError(
                f"{where or '<input>'}:{line.line}: {exc.message}", hint=exc.hint
            ) from None
        items.append(Entry(line.key, line.value))
    return items


def dump_plain(items: Sequence[Item]) -> str:
    """A plaintext ``.env`` (compose semantics) for ``items``, comments kept, that
    :func:`parse_plain` reads back to the same items."""
    from secretsafe import dotenv
    from secretsafe.sops.model import Comment

    return dotenv.dumps(
        dotenv.CommentLine(i.text) if isinstance(i, Comment) else dotenv.Assignment(i.key, i.value)
        for i in items
    )


def resolve_format(doc: Document, fmt: OutputFormat) -> OutputFormat:
    """``fmt``, with ``auto`` made ``dotenv`` when every name is one a ``.env`` file can hold,
    else ``json``: sops accepts any key without ``=`` (``has space``, ``1ABC``, ``a:b``,
    non-ASCII), and such a file must still decrypt."""
    if fmt != "auto":
        return fmt
    from secretsafe.dotenv import is_valid_name
    from secretsafe.sops.model import Entry

    names_ok = all(is_valid_name(i.key) for i in doc.items if isinstance(i, Entry))
    return "dotenv" if names_ok else "json"


def render(doc: Document, *, fmt: OutputFormat = "dotenv") -> str:
    """The decrypted document as text: ``dotenv`` (quoted so any .env reader gets the exact
    values), ``json`` (an object of names to values), ``sops`` (what ``sops decrypt``
    prints: one ``KEY=value`` a line, newlines as ``\\n``), or ``auto`` (see
    :func:`resolve_format`)."""
    fmt = resolve_format(doc, fmt)
    if fmt == "dotenv":
        return dump_plain(doc.items)
    if fmt == "json":
        import json

        return json.dumps(doc.values.reveal(), indent=2, ensure_ascii=False) + "\n"
    if fmt == "sops":
        from secretsafe.sops.native import to_sops_plaintext

        return to_sops_plaintext(doc.items)
    raise UsageError(f"{fmt!r} is not an output format", hint="use dotenv, json or sops")


# ---------------------------------------------------------------------------------------------
# Encrypt / decrypt


def encrypt_file(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str] | None = None,
    *,
    recipients: Sequence[str] | None = None,
    backend: str = "auto",
    force: bool = False,
) -> Path:
    """Encrypt the plaintext ``.env`` at ``src`` to ``dst`` (default ``SRC.enc``).

    Recipients: ``recipients``, else the ``.sops.yaml`` creation rule matching ``src`` (then
    ``dst``), else the recipients of the user's own identities.
    """
    from secretsafe import sops
    from secretsafe.files import atomic_write, read_text

    src_path = Path(src)
    dst_path = Path(dst) if dst is not None else src_path.with_name(src_path.name + ".enc")
    text = read_text(src_path, what=".env file")
    if sops.is_encrypted(text):
        raise FormatError(
            f"{src_path}: already encrypted (it has sops_ metadata lines)",
            hint=f"to change it run: secretsafe edit {src_path}; if it is plaintext, rename "
            "the variables starting with sops_",
        )
    if dst_path.exists() and not force:
        raise FileError(
            f"{dst_path}: already exists", hint="pass --force to overwrite it, or -o another path"
        )
    items = parse_plain(text, path=src_path)
    checked = _checked_recipients(recipients)
    encrypted = sops.encrypt_items(
        items,
        recipients=checked,
        path=dst_path,
        match_paths=(src_path, dst_path),
        backend=backend,
    )
    atomic_write(dst_path, encrypted)
    return dst_path


def decrypt_document(
    path: str | os.PathLike[str], *, backend: str = "auto"
) -> tuple[str, Document]:
    """The file's encrypted text and its decrypted document."""
    from secretsafe.sops import decrypt_text, read_encrypted

    text = read_encrypted(path)
    return text, decrypt_text(text, path=path, backend=backend)


def write_plaintext(
    path: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    *,
    fmt: OutputFormat = "dotenv",
    backend: str = "auto",
) -> OutputFormat:
    """Decrypt ``path`` and write the plaintext to ``dst`` (atomic, mode 0600); the format
    written (``auto`` resolved)."""
    from secretsafe.files import atomic_write

    _, doc = decrypt_document(path, backend=backend)
    fmt = resolve_format(doc, fmt)
    atomic_write(dst, render(doc, fmt=fmt), mode=0o600)
    return fmt


# ---------------------------------------------------------------------------------------------
# Changes that re-encrypt


def _decrypt_for_change(path: str | os.PathLike[str], *, backend: str) -> Document:
    """The document of a sops dotenv file about to be changed. A sops JSON or YAML file is
    read (its nested values flattened) but not rewritten here: written back as dotenv it would
    lose its structure."""
    from secretsafe.sops import is_encrypted

    text, doc = decrypt_document(path, backend=backend)
    if not is_encrypted(text):
        raise UnsupportedError(
            f"{path}: a sops JSON or YAML file; secretsafe reads it but changes only sops "
            "dotenv files",
            hint=f"change it with: sops edit {path}",
        )
    return doc


def _reencrypt(
    path: str | os.PathLike[str],
    doc: Document,
    items: Sequence[Item],
    *,
    key_groups: Sequence[Sequence[str]] | None = None,
    backend: str = "auto",
) -> None:
    from secretsafe.files import atomic_write
    from secretsafe.sops import encrypt_items

    meta = doc.metadata
    if meta.unsupported_key_types:
        raise UnsupportedError(
            f"{path}: also encrypted with {', '.join(meta.unsupported_key_types)} keys, "
            "which secretsafe cannot re-create",
            hint="change this file with sops itself (sops edit / sops rotate)",
        )
    groups = key_groups if key_groups is not None else [list(g.age) for g in meta.key_groups]
    encrypted = encrypt_items(
        items,
        key_groups=groups,
        shamir_threshold=meta.shamir_threshold,
        rules=meta.rules,
        path=path,
        backend=backend,
    )
    atomic_write(path, encrypted)


@exclusive
def edit_file(
    path: str | os.PathLike[str], *, editor: str | None = None, backend: str = "auto"
) -> bool:
    """Open the decrypted file in an editor and re-encrypt it if it changed.

    The plaintext copy lives in a 0600 file inside a fresh 0700 temp dir that is removed in
    ``finally``, whatever happens. ``editor`` (else ``$VISUAL``, ``$EDITOR``, ``vi``) is split
    like a shell word list and run without a shell. Returns whether the file changed.

    Only an ``editor`` passed explicitly runs without a terminal. ``$VISUAL``, ``$EDITOR`` and
    ``vi`` are interactive editors that draw the plaintext on their output: they start only
    when stdin and stdout are terminals, so ``edit`` in CI or behind a pipe cannot print the
    values to a log (:class:`UsageError` instead).
    """
    import shlex

    doc = _decrypt_for_change(path, backend=backend)
    command = editor or os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
    if not editor and not _at_terminal():
        raise UsageError(
            f"{path}: not opened: edit starts an interactive editor only when stdin and "
            "stdout are a terminal (it would draw the plaintext on this output)",
            hint="run it in a terminal, or pass a non-interactive editor explicitly: --editor CMD",
        )
    try:
        argv = shlex.split(command)
    except ValueError:
        raise UsageError(f"cannot parse the editor command {command!r}") from None
    if not argv:
        raise UsageError("the editor command is empty", hint="set $EDITOR")
    original = dump_plain(doc.items)
    name = Path(path).name.removesuffix(".enc") or ".env"
    from secretsafe.files import private_tempdir, remove_if_killed, remove_tree

    tmpdir, _ = private_tempdir("secretsafe-edit-")  # in RAM where possible
    watchdog = remove_if_killed(tmpdir)  # no plaintext left behind even on kill -9
    restore = _exit_on_termination()
    try:
        tmpfile = Path(tmpdir) / name
        fd = os.open(tmpfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(original)
        while True:
            _run_editor(argv, tmpfile, path)
            from secretsafe.files import read_text

            edited = read_text(tmpfile, what=".env file")
            if edited == original:
                return False
            try:
                items = parse_plain(edited, path=f"{path} (edited)")
                _check_representable(items, path)
                break
            except (DotenvSyntaxError, FormatError) as err:
                # As sops does: a typo must not cost the user their edits. Only a person at a
                # terminal can fix it; scripts get the error and an untouched file.
                if not (sys.stdin.isatty() and sys.stderr.isatty()):
                    raise
                sys.stderr.write(
                    f"secretsafe: error: {err}\n"
                    "Press Enter to return to the editor, or Ctrl-C to discard your changes. "
                )
                sys.stderr.flush()
                sys.stdin.readline()
    finally:
        remove_tree(tmpdir)
        watchdog.close()
        restore()
    if items == list(doc.items):
        return False
    _reencrypt(path, doc, items, backend=backend)
    return True


def _exit_on_termination() -> Callable[[], None]:
    """Make SIGTERM and SIGHUP unwind the stack (so ``finally`` removes the plaintext) instead
    of killing the process outright or, as PID 1 of a container, being ignored until
    ``docker stop`` escalates to SIGKILL. Returns the function that restores the handlers."""
    import signal

    def leave(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)  # subprocess.run kills the editor on the way out

    saved: dict[int, Any] = {}
    try:
        for sig in (signal.SIGTERM, signal.SIGHUP):
            saved[sig] = signal.signal(sig, leave)
    except ValueError:  # not the main thread: signals stay as they are
        pass

    def restore() -> None:
        for sig, handler in saved.items():
            signal.signal(sig, handler)

    return restore


def _at_terminal() -> bool:
    """Whether the editor would run at a terminal: the descriptors it inherits (0 and 1) and
    Python's own streams (which a caller may have replaced) are all terminals."""
    try:
        streams = sys.stdin is not None and sys.stdin.isatty() and sys.stdout.isatty()
        return streams and os.isatty(0) and os.isatty(1)
    except (AttributeError, ValueError, OSError):  # a closed or unusual stream
        return False


def _run_editor(argv: list[str], tmpfile: Path, path: str | os.PathLike[str]) -> None:
    import subprocess

    try:
        proc = subprocess.run([*argv, str(tmpfile)], check=False)
    except FileNotFoundError:
        raise UsageError(
            f"editor {argv[0]!r} not found", hint="set $EDITOR to an installed editor"
        ) from None
    except PermissionError:
        raise UsageError(f"editor {argv[0]!r} is not executable") from None
    if proc.returncode != 0:
        raise SecretsafeError(
            f"the editor exited with status {proc.returncode}; {path} was not changed"
        )


def _check_key(key: str) -> None:
    """Refuse a name ``set`` cannot use, quoting nothing of it unless it is safe to show."""
    from secretsafe.dotenv import is_valid_name, looks_like_credential, shown_name

    name, eq, _ = key.partition("=")
    if eq:
        # `KEY=value`: the name part only, through the same rule; never what follows the '='.
        raise UsageError(
            f"{shown_name(name)}=...: give the variable name only",
            hint='the value is read from stdin: printf %s "$VALUE" | secretsafe set FILE KEY',
        )
    if not is_valid_name(key):
        # Never echo an invalid name: a value typed as a name would be printed. Where it goes
        # wrong is enough to fix it.
        bad = next(
            (i for i, c in enumerate(key) if not (c.isascii() and (c.isalnum() or c in "_.-"))), 0
        )
        where = f"character {bad + 1}" if key else "it is empty"
        raise UsageError(
            f"the variable name given is not valid ({where}; not shown)",
            hint="use letters, digits and _ (. and - also work), not starting with a digit; "
            'the value is read from stdin: printf %s "$VALUE" | secretsafe set FILE KEY',
        )
    if looks_like_credential(key):
        raise UsageError(
            "the variable name given looks like a secret (a key or token), not a name; not shown",
            hint='the value is read from stdin: printf %s "$VALUE" | secretsafe set FILE KEY',
        )
    if key.startswith("sops_"):
        raise FormatError(
            f"{shown_name(key)}: names starting with sops_ are reserved for sops metadata",
            hint="rename the variable",
        )


@exclusive
def set_value(path: str | os.PathLike[str], key: str, value: str, *, backend: str = "auto") -> bool:
    """Set ``key`` to ``value`` (replacing it in place, or appending it). Returns True when the
    key is new."""
    from secretsafe.sops.model import Entry

    _check_key(key)
    doc = _decrypt_for_change(path, backend=backend)
    items = list(doc.items)
    new = True
    for index, item in enumerate(items):
        if isinstance(item, Entry) and item.key == key:
            items[index] = Entry(key, value)
            new = False
    if new:
        items.append(Entry(key, value))
    _check_representable(items, path)
    _reencrypt(path, doc, items, backend=backend)
    return new


@exclusive
def unset_value(path: str | os.PathLike[str], key: str, *, backend: str = "auto") -> None:
    """Remove ``key`` from the file; a key that is not there is a :class:`UsageError`."""
    from secretsafe.sops.model import Entry

    doc = _decrypt_for_change(path, backend=backend)
    items = [i for i in doc.items if not (isinstance(i, Entry) and i.key == key)]
    if len(items) == len(doc.items):
        from secretsafe.dotenv import shown_name

        raise UsageError(f"{path}: has no variable {shown_name(key)}")
    _reencrypt(path, doc, items, backend=backend)


@exclusive
def rotate(path: str | os.PathLike[str], *, backend: str = "auto") -> None:
    """Re-encrypt every value under a new random data key (same recipients and rules)."""
    doc = _decrypt_for_change(path, backend=backend)
    _reencrypt(path, doc, doc.items, backend=backend)


def list_recipients(path: str | os.PathLike[str]) -> list[list[str]]:
    """The age recipients of each key group, read from the metadata (nothing is decrypted)."""
    from secretsafe.files import read_text
    from secretsafe.sops.native import parse_metadata

    meta = parse_metadata(read_text(path, what="sops-encrypted .env file"), path=os.fspath(path))
    return [list(g.age) for g in meta.key_groups]


@exclusive
def add_recipients(
    path: str | os.PathLike[str],
    recipients: Sequence[str],
    *,
    group: int = 0,
    backend: str = "auto",
) -> list[str]:
    """Re-encrypt for the current recipients plus ``recipients`` (added to key group
    ``group``). Returns the recipients actually added (those not already there)."""
    wanted = _checked_recipients(recipients) or []
    doc = _decrypt_for_change(path, backend=backend)
    groups = [list(g.age) for g in doc.metadata.key_groups]
    if not 0 <= group < len(groups):
        raise UsageError(f"{path}: has no key group {group + 1} (it has {len(groups)})")
    present = {r for g in groups for r in g}
    added = [r for r in dict.fromkeys(wanted) if r not in present]
    groups[group].extend(added)
    _reencrypt(path, doc, doc.items, key_groups=groups, backend=backend)
    return added


@exclusive
def remove_recipients(
    path: str | os.PathLike[str], recipients: Sequence[str], *, backend: str = "auto"
) -> None:
    """Re-encrypt without ``recipients`` under a new data key, so a removed key cannot read
    the new file (it may still read old copies in git history: rotate the values too)."""
    from secretsafe.keys import validate_recipient

    # Refuses an age *secret* key passed by mistake, without echoing it.
    recipients = [validate_recipient(r) for r in recipients]
    doc = _decrypt_for_change(path, backend=backend)
    groups = [list(g.age) for g in doc.metadata.key_groups]
    present = {r for g in groups for r in g}
    missing = [r for r in recipients if r not in present]
    if missing:
        raise UsageError(f"{path}: not a recipient of this file: {', '.join(missing)}")
    gone = set(recipients)
    groups = [[r for r in g if r not in gone] for g in groups]
    if any(not g for g in groups):
        raise UsageError(
            f"{path}: removing {', '.join(recipients)} would leave a key group with no "
            "recipient, and nobody could decrypt the file",
            hint="add another recipient first",
        )
    _reencrypt(path, doc, doc.items, key_groups=groups, backend=backend)


# ---------------------------------------------------------------------------------------------
# Helpers


def _checked_recipients(recipients: Sequence[str] | None) -> list[str] | None:
    if recipients is None or len(recipients) == 0:
        return None
    from secretsafe.keys import validate_recipient

    out: list[str] = []
    for r in recipients:
        # A comma-separated list works too, as in sops' --age.
        for part in r.split(","):
            if part.strip():
                out.append(validate_recipient(part.strip()))
    return out


def _check_representable(items: Sequence[Item], path: str | os.PathLike[str]) -> None:
    """The sops dotenv store's key and value rules (one place for every command and backend),
    with the file's path in the message."""
    from secretsafe.sops.stores.dotenv import check_items

    try:
        check_items(items)
    except FormatError as exc:
        raise FormatError(f"{path}: {exc.message}", hint=exc.hint) from None
