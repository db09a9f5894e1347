"""Operations on encrypted ``.env`` files: the API behind ``secretsafe encrypt``, ``decrypt``,
``edit``, ``set``, ``unset``, ``rotate`` and ``recipients``.

Every write is atomic (the old or the new whole file, never half of one) and keeps the file's
mode; a new file gets 0600. A failed operation leaves the original file untouched. Plaintext
touches the disk only in ``edit`` (a 0600 file in a 0700 temp dir, removed in ``finally``)
and in ``write_plaintext`` (``decrypt -o``, which the user asks for explicitly).

Changing a file (``edit``, ``set``, ``unset``, :func:`update_values`, ``recipients add``)
keeps its key groups, Shamir threshold, encryption rules, data key and the ciphertext of every
value not changed, so a diff shows the changed lines plus ``mac`` and ``lastmodified``
(:mod:`secretsafe.sops.update`); ``rotate`` and ``recipients remove`` make a new data key.
Files that also use KMS/PGP/Vault-transit keys can be decrypted (through the sops binary) but
not rewritten here: secretsafe cannot re-create those keys; use sops itself for them.

sops YAML and JSON files are rewritten in their own format (``edit``, ``set``, ``unset``,
``rotate``, ``recipients add|remove``), in process whatever the backend: key order, comments
(YAML) and the int/float/bool/null types of the values are kept; ``edit`` shows the file as
YAML (with its comments) or JSON.
``KEY`` is the flattened variable name ``run`` and ``load()`` give the value
(``DATABASE__HOST`` for ``database: {host: ...}``), matched case-insensitively; a new key's
parts are created lower-case, as ``secretsafe convert`` nests them. A value set is a string;
a name that is a map or a list is refused (change those with ``sops edit``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

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
    from secretsafe.sops.tree import Branch
    from secretsafe.sops.update import Opened

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
    "update_values",
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


def _load_for_change(path: str | os.PathLike[str], *, backend: str) -> Opened:
    """The file about to be changed, decrypted in process (every format is written back by
    the native codec whatever ``backend``, so unchanged values keep their ciphertext:
    :mod:`secretsafe.sops.update`)."""
    from secretsafe.keys import discover
    from secretsafe.sops import native, read_encrypted, resolve_backend, sops_format
    from secretsafe.sops import update as _update

    resolve_backend(backend)  # a bad name is refused the same for every format
    text = read_encrypted(path)
    store = sops_format(text)
    if store is None:
        native.parse_metadata(text, path=os.fspath(path))  # raises: not a sops file
        raise FormatError(f"{path}: not a sops file secretsafe can change")  # pragma: no cover
    return _update.open_text(text, [i.to_pyrage() for i in discover()], path=path, store=store)


def _write(
    loaded: Opened,
    *,
    items: Sequence[Item] | None = None,
    tree: Branch | None = None,
    key_groups: Sequence[Sequence[str]] | None = None,
    rotate: bool = False,
) -> None:
    """Write the changed file atomically: unchanged values keep their ciphertext and the
    data key stays, unless ``rotate`` (a new data key for every value)."""
    from secretsafe.files import atomic_write
    from secretsafe.sops import update as _update

    text = _update.render(
        loaded,
        items=items,
        tree=tree,
        key_groups=key_groups,
        shamir_threshold=loaded.metadata.shamir_threshold,
        rotate=rotate,
    )
    atomic_write(loaded.path, text)


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

    loaded = _load_for_change(path, backend=backend)
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
    original = _editable(loaded)
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
                changed = _parse_edited(loaded, edited, f"{path} (edited)")
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
    if loaded.store != "dotenv":
        from secretsafe.sops.tree import same as _same

        tree = cast("Branch", changed)
        if _same(tree, loaded.tree):
            return False
        _write(loaded, tree=tree)
        return True
    items = cast("list[Item]", changed)
    if items == list(loaded.items):
        return False
    _write(loaded, items=items)  # _parse_edited checked the items
    return True


def _editable(loaded: Opened) -> str:
    """The plaintext the editor shows: dotenv, or the file's own format (YAML with its
    comments, JSON)."""
    if loaded.tree is None:
        return dump_plain(loaded.items)
    if loaded.store == "yaml":
        from secretsafe.sops.stores import yaml as yaml_store

        return yaml_store.to_plaintext(loaded.tree)
    from secretsafe.sops.stores import json as json_store

    return json_store.to_plaintext(loaded.tree)


def _parse_edited(loaded: Opened, text: str, where: str) -> list[Item] | Branch:
    """The edited plaintext read back in the file's format; :class:`FormatError` (never
    quoting the text) when it cannot be."""
    if loaded.store == "dotenv":
        items = parse_plain(text, path=where)
        _check_representable(items, where.removesuffix(" (edited)"))
        return items
    from secretsafe.sops.metadata import NativeUnsupported
    from secretsafe.sops.tree import Branch

    if loaded.store == "json":
        from secretsafe.sops.stores import json as json_store

        tree = json_store.parse_plain(text, where)
        meta: dict[str, str] = {}
        if not isinstance(tree, Branch):
            raise FormatError(f"{where}: a sops JSON file is one object", hint="fix it")
    else:
        from secretsafe.sops.stores import yaml as yaml_store

        try:
            tree, meta = yaml_store.load(text, where)
        except NativeUnsupported as exc:
            raise FormatError(
                exc.message, hint="quote the value, so every YAML reader reads a string"
            ) from None
    if meta or any(key == "sops" for key, _ in tree):
        raise FormatError(f"{where}: the key sops is reserved for sops metadata", hint="rename it")
    return tree


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
    key is new. In a JSON or YAML file ``key`` is the flattened name (module docstring). Only
    that value's line changes (with the MAC and ``lastmodified``): see :func:`update_values`."""
    _check_key(key)
    return bool(_update(path, {key: value}, backend=backend))


@exclusive
def unset_value(path: str | os.PathLike[str], key: str, *, backend: str = "auto") -> None:
    """Remove ``key`` from the file; a key that is not there is a :class:`UsageError`. In a
    JSON or YAML file ``key`` is the flattened name of a value or a list (module docstring)."""
    _update(path, {key: None}, backend=backend)


def update_values(
    path: str | os.PathLike[str],
    changes: Mapping[str, str | None],
    *,
    backend: str = "auto",
    create: bool = False,
) -> None:
    """Set (a string) or unset (``None``) several variables of an encrypted file in one
    atomic write, with the least churn: the data key stays, unchanged values keep their exact
    ciphertext, and only the changed values' lines, the MAC and ``lastmodified`` change
    (:mod:`secretsafe.sops.update`). Keys are the names ``set`` takes (flattened
    ``SECTION__FIELD`` in a JSON or YAML file). Nothing is written when nothing changes.

    ``create``: a missing file is created (dotenv, or JSON/YAML by its ``.json``/``.yaml``
    suffix) for the ``.sops.yaml`` creation rule's keys, else the user's own recipients;
    ``None`` values are then ignored. On any error the file is untouched.
    """
    if create and not os.path.lexists(path):
        _create(path, {k: v for k, v in changes.items() if v is not None}, backend=backend)
        return
    from secretsafe.locking import locked

    with locked(path):
        _update(path, changes, backend=backend)


def _update(
    path: str | os.PathLike[str], changes: Mapping[str, str | None], *, backend: str
) -> list[str]:
    """Apply ``changes`` to the file (its lock held) in one write; the names that are new."""
    from secretsafe.files import atomic_write

    loaded = _load_for_change(path, backend=backend)
    text, added = changed_text(loaded, changes)
    if text is not None:
        atomic_write(loaded.path, text)
    return added


def changed_text(loaded: Opened, changes: Mapping[str, str | None]) -> tuple[str | None, list[str]]:
    """The new text of the decrypted file ``loaded`` with ``changes`` applied, in memory (None
    when nothing changes; :func:`update_values` writes it, the merge driver checks it before
    it writes), and the names that are new."""
    from secretsafe.sops import update as _update

    path = loaded.path
    if loaded.tree is not None:
        import copy

        from secretsafe.sops.tree import same as _same

        tree = copy.deepcopy(loaded.tree)
        added = _tree_apply(tree, changes, path)
        if _same(tree, loaded.tree):
            return None, added
        return _update.render(loaded, tree=tree), added
    items, added = _items_apply(list(loaded.items), changes, path)
    if items == list(loaded.items):
        return None, added
    return _update.render(loaded, items=items), added


def _items_apply(
    items: list[Item], changes: Mapping[str, str | None], path: str | os.PathLike[str]
) -> tuple[list[Item], list[str]]:
    """``changes`` applied to dotenv items (in place), and the names that are new."""
    from secretsafe.sops.model import Entry

    added: list[str] = []
    for key, value in changes.items():
        found = [n for n, i in enumerate(items) if isinstance(i, Entry) and i.key == key]
        if value is None:
            if not found:
                raise _no_such_key(path, key)
            del items[found[0]]
        elif found:
            items[found[0]] = Entry(key, value)
        else:
            _check_key(key)
            items.append(Entry(key, value))
            added.append(key)
    _check_representable(items, path)
    return items, added


def _tree_apply(
    tree: Branch, changes: Mapping[str, str | None], path: str | os.PathLike[str]
) -> list[str]:
    """``changes`` applied to a JSON/YAML tree (in place), and the names that are new."""
    added: list[str] = []
    for key, value in changes.items():
        if value is None:
            parent, index, _ = _tree_find(tree, key, path, missing_ok=False)
            del parent[index]
            continue
        if _tree_find(tree, key, path, missing_ok=True)[1] < 0:
            _check_key(key)
        if _tree_set(tree, key, value, path):
            added.append(key)
    return added


def _create(path: str | os.PathLike[str], values: Mapping[str, str], *, backend: str) -> None:
    """A new encrypted file holding ``values`` (see :func:`update_values`)."""
    from secretsafe.sops import encrypt_items
    from secretsafe.sops.model import Entry

    for key in values:
        _check_key(key)
    suffix = Path(path).suffix.lower()
    if suffix not in (".json", ".yaml", ".yml"):
        items: list[Item] = [Entry(k, v) for k, v in values.items()]
        _check_representable(items, path)
        _write_new(path, encrypt_items(items, path=path, backend=backend))
        return
    from secretsafe.sops import native
    from secretsafe.sops.config import creation_rule_for
    from secretsafe.sops.model import Rules
    from secretsafe.sops.tree import Branch

    tree = Branch()
    for key, value in values.items():
        _tree_set(tree, key, value, path)
    rule = creation_rule_for(path)
    if rule is not None and rule.other_key_types:
        raise UnsupportedError(
            f"{rule.config_path}: the creation rule uses {', '.join(rule.other_key_types)} "
            "keys, which only the sops binary can use",
            hint=f"create it with sops itself: sops edit {path}",
        )
    if rule is not None:
        groups = [list(g.age) for g in rule.key_groups if g.age]
        threshold, rules = rule.shamir_threshold, rule.rules
    else:
        from secretsafe.keys import own_recipients

        groups, threshold, rules = [list(own_recipients())], None, Rules()
    store = "json" if suffix == ".json" else "yaml"
    text = native.encrypt_tree(
        tree, key_groups=groups, shamir_threshold=threshold, rules=rules, store=store
    )
    native.verify_tree_encrypted(text, data=tree, rules=rules, store=store, path=os.fspath(path))
    _write_new(path, text)


def _write_new(path: str | os.PathLike[str], text: str) -> None:
    """Write a new file (0600), its missing parent directories made first; never over a
    file (or symlink) that appeared at ``path`` since it was found missing."""
    from secretsafe.files import atomic_write

    parent = Path(path).parent
    if not parent.is_dir():
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise FileError(f"{parent}: cannot create the directory ({exc.strerror})") from None
    atomic_write(path, text, overwrite=False)


def _no_such_key(path: str | os.PathLike[str], key: str) -> UsageError:
    from secretsafe.dotenv import shown_name

    return UsageError(f"{path}: has no variable {shown_name(key)}")


def _tree_find(
    tree: Branch, key: str, path: str | os.PathLike[str], *, missing_ok: bool
) -> tuple[Branch, int, int]:
    """The map holding the value whose flattened name is ``key`` (case-insensitive, ``__``
    between the map keys, as :func:`secretsafe.sops.flatten.flatten` names it), its index
    there and the map's depth; ``(deepest map on the way, -1, its depth)`` when there is none
    and ``missing_ok``."""
    from secretsafe.dotenv import shown_name
    from secretsafe.sops.flatten import DELIMITER
    from secretsafe.sops.tree import Branch

    parts = key.upper().split(DELIMITER)
    if not all(parts):
        raise UsageError(
            f"{shown_name(key)}: an empty part between {DELIMITER!r} separators",
            hint="name a value of the file as run and load() see it: SECTION__FIELD",
        )
    branch = tree
    for depth, part in enumerate(parts):
        found = [i for i, (k, _) in enumerate(branch) if isinstance(k, str) and k.upper() == part]
        if len(found) > 1:
            raise UsageError(
                f"{path}: more than one key gives {shown_name(key)}",
                hint=f"change this file with: sops edit {path}",
            )
        if not found:
            if missing_ok:
                return branch, -1, depth
            raise _no_such_key(path, key)
        index = found[0]
        value = branch[index][1]
        last = depth == len(parts) - 1
        if last and isinstance(value, Branch):
            raise UsageError(
                f"{path}: {shown_name(key)} is a section, not a value",
                hint=f"name a value in it (SECTION__FIELD), or use: sops edit {path}",
            )
        if last:
            return branch, index, depth
        if not isinstance(value, Branch):
            raise UsageError(
                f"{path}: {shown_name(DELIMITER.join(parts[: depth + 1]))} is a value, "
                f"not a section holding {shown_name(key)}",
                hint="unset it first, or choose another name",
            )
        branch = value
    raise AssertionError("unreachable")  # pragma: no cover - the loop returns


def _tree_set(tree: Branch, key: str, value: str, path: str | os.PathLike[str]) -> bool:
    """Set the value named ``key`` in ``tree`` to the string ``value``; True when it is new
    (created with lower-case keys, under the sections that exist)."""
    from secretsafe.dotenv import shown_name
    from secretsafe.sops.flatten import DELIMITER
    from secretsafe.sops.tree import Branch

    branch, index, depth = _tree_find(tree, key, path, missing_ok=True)
    if index >= 0:
        if isinstance(branch[index][1], list):
            raise UsageError(
                f"{path}: {shown_name(key)} is a list; set replaces values only",
                hint=f"change it with: sops edit {path}",
            )
        branch[index] = (branch[index][0], value)
        return False
    # Below the deepest existing section: the parts of key not yet in the tree.
    parts = key.lower().split(DELIMITER)[depth:]
    for part in parts[:-1]:
        child = Branch()
        branch.append((part, child))
        branch = child
    branch.append((parts[-1], value))
    return True


@exclusive
def rotate(path: str | os.PathLike[str], *, backend: str = "auto") -> None:
    """Re-encrypt every value under a new random data key (same recipients and rules)."""
    _write(_load_for_change(path, backend=backend), rotate=True)


def list_recipients(path: str | os.PathLike[str]) -> list[list[str]]:
    """The age recipients of each key group, read from the metadata (nothing is decrypted)."""
    from secretsafe.sops import _nested_meta, read_encrypted, sops_format
    from secretsafe.sops.native import parse_metadata, parse_metadata_of

    text, where = read_encrypted(path), os.fspath(path)
    store = sops_format(text)
    if store not in ("json", "yaml"):
        meta = parse_metadata(text, path=where)
    else:
        meta = parse_metadata_of(_nested_meta(text, where, store), path=where)
    return [list(g.age) for g in meta.key_groups]


@exclusive
def add_recipients(
    path: str | os.PathLike[str],
    recipients: Sequence[str],
    *,
    group: int = 0,
    backend: str = "auto",
) -> list[str]:
    """Wrap the file's data key for ``recipients`` too (added to key group ``group``), as
    ``sops updatekeys`` does: only metadata lines change, every value keeps its ciphertext.
    Returns the recipients actually added; when all were there already the file is not
    written at all."""
    wanted = _checked_recipients(recipients) or []
    loaded = _load_for_change(path, backend=backend)
    groups = [list(g.age) for g in loaded.metadata.key_groups]
    if not 0 <= group < len(groups):
        raise UsageError(f"{path}: has no key group {group + 1} (it has {len(groups)})")
    present = {r for g in groups for r in g}
    added = [r for r in dict.fromkeys(wanted) if r not in present]
    if added:
        groups[group].extend(added)
        _write(loaded, key_groups=groups)
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
    loaded = _load_for_change(path, backend=backend)
    groups = [list(g.age) for g in loaded.metadata.key_groups]
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
    _write(loaded, key_groups=groups, rotate=True)  # the removed member knew the data key


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
