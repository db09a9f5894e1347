"""age identities: find them where sops users keep them, create and import them.

Discovery reads every source and combines what it finds, as sops does
(``age/keysource.go``, ``loadIdentities``), in this order:

1. ``SOPS_AGE_KEY``: one or more identities; several per line are allowed, ``#`` lines ignored.
2. ``SOPS_AGE_KEY_FILE``: a ``keys.txt`` file (one identity a line, ``#`` comments).
3. ``SOPS_AGE_KEY_CMD``: a command whose output is a ``keys.txt``; split like a shell word list
   (never run through a shell), stdin closed, stderr captured and not shown, time-limited.
4. The OS keyring (secretsafe's addition): service ``secretsafe``, entry ``age-identities``, one
   blob in ``keys.txt`` format. Used only when the ``keyring`` package imports and finds a real
   backend (a Secret Service on the session bus, macOS Keychain, Windows Credential Locker).
5. The default key file, as sops finds it: ``$XDG_CONFIG_HOME/sops/age/keys.txt``, else
   ``~/.config/sops/age/keys.txt`` (macOS: ``~/Library/Application Support``; Windows:
   ``%AppData%``).

An identity found in several places is listed once, with the first source. Key files that group
or others can read or write are refused (:class:`InsecurePermissions`, ``chmod 600``); a line
that is not an identity is a :class:`KeyStoreError` naming the source and line, never the key.
Post-quantum (``AGE-SECRET-KEY-PQ-1``) and plugin (``AGE-PLUGIN-``) identities are skipped:
secretsafe's age library cannot use them (the sops binary still can, from the same files).
SSH keys, which sops also tries, are not used.

The keyring is asked through the process environment (``DBUS_SESSION_BUS_ADDRESS``), whatever
``environ`` says. ``PYTHON_KEYRING_BACKEND=keyring.backends.null.Keyring`` turns it off.
"""

from __future__ import annotations

import os
import sys

from secretsafe.errors import (
    FileError,
    KeyStoreError,
    NoIdentityError,
    UsageError,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path
    from typing import Any, Literal, NamedTuple

    import pyrage
else:
    from secretsafe._namedtuple import NamedTuple

__all__ = [
    "KEYRING_SERVICE",
    "KEYRING_USERNAME",
    "KEY_CMD_TIMEOUT",
    "Identity",
    "Store",
    "default_key_file",
    "discover",
    "generate",
    "import_identities",
    "own_recipients",
    "require_identities",
    "validate_recipient",
]

KEYRING_SERVICE = "secretsafe"
KEYRING_USERNAME = "age-identities"
#: Seconds SOPS_AGE_KEY_CMD may run (a hardware token may wait for a touch).
KEY_CMD_TIMEOUT = 60.0

if TYPE_CHECKING:
    Store = Literal["auto", "keyring", "file"]


def __getattr__(name: str) -> object:
    # `Store` is built on first use: typing is not imported on `secretsafe run`'s path.
    if name == "Store":
        from typing import Literal

        globals()["Store"] = Literal["auto", "keyring", "file"]
        return globals()["Store"]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


_SECRET_PREFIX = "AGE-SECRET-KEY-1"  # noqa: S105 - a format prefix, not a secret
_UNSUPPORTED_PREFIXES = ("AGE-SECRET-KEY-PQ-1", "AGE-PLUGIN-")
_MASK = "**********"


class Identity:
    """One age X25519 identity. ``repr``/``str`` show the recipient and source, never the key.

    ``source`` says where it was found: ``"SOPS_AGE_KEY"``, ``"SOPS_AGE_KEY_FILE (/path)"``,
    ``"SOPS_AGE_KEY_CMD"``, ``"keyring"`` or a key file path.
    """

    __slots__ = ("_parsed", "_secret", "recipient", "source")

    recipient: str
    source: str
    _secret: str
    _parsed: Any  # pyrage.x25519.Identity

    def __init__(self, secret: str, *, source: str) -> None:
        import pyrage

        try:
            parsed = pyrage.x25519.Identity.from_str(secret.strip())
        except Exception:  # noqa: BLE001 - pyrage's error types vary; the text could hold the key
            raise KeyStoreError(f"{source}: not a valid age identity") from None
        object.__setattr__(self, "_secret", secret.strip())
        object.__setattr__(self, "_parsed", parsed)
        object.__setattr__(self, "recipient", str(parsed.to_public()))
        object.__setattr__(self, "source", source)

    def reveal(self) -> str:
        """The secret key, ``AGE-SECRET-KEY-1...`` (explicit)."""
        return self._secret

    def to_pyrage(self) -> pyrage.x25519.Identity:
        return self._parsed

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Identity is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("Identity is immutable")

    def __repr__(self) -> str:
        return f"Identity(recipient={self.recipient!r}, source={self.source!r}, key={_MASK!r})"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return repr(self)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Identity):
            return self.recipient == other.recipient
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.recipient)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (self._secret, self.source))


def _rebuild(secret: str, source: str) -> Identity:
    return Identity(secret, source=source)


# --- parsing keys.txt text ---------------------------------------------------------------------


def _parse(text: str, *, where: str, source: str, words: bool) -> list[Identity]:
    """Identities in ``keys.txt`` text. ``words``: several per line (as sops reads SOPS_AGE_KEY)."""
    if text.lstrip().startswith(("-----BEGIN AGE ENCRYPTED FILE-----", "age-encryption.org/")):
        raise KeyStoreError(
            f"{where}: is passphrase-encrypted, which secretsafe cannot read",
            hint="decrypt it with `age -d` into a 0600 file, or put the identity in the keyring",
        )
    out: list[Identity] = []
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        for token in line.split() if words else [line]:
            if token.startswith(_UNSUPPORTED_PREFIXES):
                continue
            if not token.startswith(_SECRET_PREFIX) or (not words and " " in token):
                raise KeyStoreError(
                    f"{where}: line {number} is not an age identity",
                    hint="each line must be AGE-SECRET-KEY-1... or a '#' comment",
                )
            try:
                out.append(Identity(token, source=source))
            except KeyStoreError:
                raise KeyStoreError(
                    f"{where}: line {number} is not a valid age identity (bad checksum or length)",
                    hint="copy the whole AGE-SECRET-KEY-1... line again",
                ) from None
    return out


def _unique(identities: list[Identity]) -> list[Identity]:
    seen: set[str] = set()
    out = []
    for ident in identities:
        if ident.recipient not in seen:
            seen.add(ident.recipient)
            out.append(ident)
    return out


# --- key files ---------------------------------------------------------------------------------


def default_key_file(environ: Mapping[str, str] | None = None) -> Path:
    """Where sops looks for ``keys.txt`` when no variable says otherwise (``os.UserConfigDir``)."""
    from pathlib import Path

    return Path(_default_key_path(os.environ if environ is None else environ))


def _default_key_path(env: Mapping[str, str]) -> str:
    # os.path, not pathlib: discovery runs on every `secretsafe run` and pathlib costs ~5 ms.
    xdg = env.get("XDG_CONFIG_HOME", "")
    if sys.platform == "win32":
        base = env.get("APPDATA") or os.path.join(_home(env), "AppData", "Roaming")
    elif sys.platform == "darwin" and not xdg:
        base = os.path.join(_home(env), "Library", "Application Support")
    elif xdg and os.path.isabs(xdg):
        base = xdg
    else:
        # Unset or relative XDG_CONFIG_HOME: the XDG spec says to ignore a relative one.
        base = os.path.join(_home(env), ".config")
    return os.path.join(base, "sops", "age", "keys.txt")


def _home(env: Mapping[str, str]) -> str:
    return env.get("HOME") or os.path.expanduser("~")


def _read_key_file(path: str | os.PathLike[str], *, where: str, source: str) -> list[Identity]:
    from secretsafe.files import check_private, read_text

    if os.name != "nt":
        check_private(path, what="age key file")
    return _parse(read_text(path, what="age key file"), where=where, source=source, words=False)


def _append_key_file(path: Path, block: str) -> None:
    """Append ``block`` to the key file, creating it (0600, directories 0700) if needed.

    Never rewrites what is there: the existing identities stay byte for byte."""
    _make_private_dirs(path.parent)
    prefix = ""
    if path.exists():
        _read_key_file(path, where=str(path), source=str(path))  # permissions and junk first
        with path.open("rb") as fh:
            size = fh.seek(0, os.SEEK_END)
            if size:
                fh.seek(size - 1)
                prefix = "" if fh.read(1) == b"\n" else "\n"
        flags = os.O_WRONLY | os.O_APPEND
    else:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
    try:
        fd = os.open(path, flags | getattr(os, "O_CLOEXEC", 0), 0o600)
    except FileExistsError:
        raise KeyStoreError(f"{path}: created by someone else just now", hint="retry") from None
    except OSError as exc:
        raise FileError(f"{path}: cannot write ({exc.strerror})") from None
    try:
        if flags & os.O_CREAT and hasattr(os, "fchmod"):
            os.fchmod(fd, 0o600)  # whatever the umask
        os.write(fd, (prefix + block).encode("utf-8"))
        os.fsync(fd)
    except OSError as exc:
        raise FileError(f"{path}: cannot write ({exc.strerror})") from None
    finally:
        os.close(fd)


def _make_private_dirs(directory: Path) -> None:
    missing = []
    d = directory
    while not d.exists():
        missing.append(d)
        if d.parent == d:
            break
        d = d.parent
    for d in reversed(missing):
        try:
            d.mkdir(mode=0o700)
            os.chmod(d, 0o700)  # mkdir's mode is masked by the umask
        except FileExistsError:
            pass
        except OSError as exc:
            raise FileError(f"{d}: cannot create directory ({exc.strerror})") from None


def _key_block(identities: list[Identity], *, verb: str = "created") -> str:
    from datetime import datetime

    now = datetime.now().astimezone().isoformat(timespec="seconds")
    return "".join(
        f"# {verb}: {now}\n# public key: {i.recipient}\n{i.reveal()}\n" for i in identities
    )


# --- the OS keyring ----------------------------------------------------------------------------


# NamedTuples, not dataclasses: this module is on `secretsafe run`'s start-up path and
# dataclasses costs an import of inspect.
class _Keyring(NamedTuple):
    backend: Any  # keyring.backend.KeyringBackend
    label: str


def _keyring() -> tuple[_Keyring | None, str]:
    """The usable keyring backend, or None and the reason there is none."""
    if sys.platform.startswith("linux") and not _linux_keyring_possible():
        # Without a session bus neither Secret Service nor KWallet can answer; skip the
        # 100 ms import of keyring on every `secretsafe run` in containers and CI.
        return None, "no D-Bus session bus, so no Secret Service"
    try:
        import keyring
        import keyring.backends.chainer
        import keyring.backends.fail
        import keyring.backends.null
    except ImportError:
        return None, "the keyring package is not installed (pip install 'secretsafe[keyring]')"
    try:
        backend = keyring.get_keyring()
    except Exception as exc:  # noqa: BLE001 - a broken backend config must not crash discovery
        return None, f"keyring could not load a backend ({type(exc).__name__})"
    name = f"{type(backend).__module__}.{type(backend).__qualname__}"
    if isinstance(backend, keyring.backends.fail.Keyring | keyring.backends.null.Keyring):
        return None, "keyring found no backend (no Secret Service on the session bus)"
    if isinstance(backend, keyring.backends.chainer.ChainerBackend) and not backend.backends:
        return None, "keyring found no backend"
    try:
        priority = float(backend.priority)
    except Exception:  # noqa: BLE001 - priority raises when a backend is not viable
        return None, f"keyring backend {name} is not usable"
    if priority < 1 and not os.environ.get("PYTHON_KEYRING_BACKEND"):
        return None, f"keyring backend {name} is not recommended (priority {priority:g})"
    label = getattr(backend, "name", None) or name
    return _Keyring(backend, str(label)), ""


def _linux_keyring_possible() -> bool:
    env = os.environ
    if env.get("DBUS_SESSION_BUS_ADDRESS") or env.get("PYTHON_KEYRING_BACKEND"):
        return True
    runtime = env.get("XDG_RUNTIME_DIR")
    if runtime and os.path.exists(os.path.join(runtime, "bus")):
        return True
    config = env.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return os.path.exists(os.path.join(config, "python_keyring", "keyringrc.cfg"))


def _keyring_error(action: str, exc: Exception) -> KeyStoreError:
    from keyring.errors import KeyringError  # imported already: only called after a lookup

    # keyring's own messages are fixed texts; anything else is shown by type only.
    detail = f"{type(exc).__name__}: {exc}" if isinstance(exc, KeyringError) else type(exc).__name__
    return KeyStoreError(
        f"OS keyring: cannot {action} ({detail[:200]})",
        hint="unlock the keyring, use --store file, or set "
        "PYTHON_KEYRING_BACKEND=keyring.backends.null.Keyring to skip it",
    )


def _keyring_read(kr: _Keyring) -> str:
    try:
        blob = kr.backend.get_password(KEYRING_SERVICE, KEYRING_USERNAME)
    except Exception as exc:  # noqa: BLE001 - translated at the edge of the keyring layer
        raise _keyring_error("read the secretsafe identities", exc) from None
    return blob or ""


def _keyring_write(kr: _Keyring, blob: str) -> None:
    try:
        kr.backend.set_password(KEYRING_SERVICE, KEYRING_USERNAME, blob)
        stored = kr.backend.get_password(KEYRING_SERVICE, KEYRING_USERNAME)
    except Exception as exc:  # noqa: BLE001 - translated at the edge of the keyring layer
        raise _keyring_error("store the identity", exc) from None
    if stored != blob:
        raise KeyStoreError(
            f"OS keyring ({kr.label}) did not keep the identity",
            hint="use --store file",
        )


def _keyring_location(kr: _Keyring) -> str:
    return f"the OS keyring ({kr.label}; service {KEYRING_SERVICE!r}, entry {KEYRING_USERNAME!r})"


# --- discovery ---------------------------------------------------------------------------------


def _discover(environ: Mapping[str, str] | None) -> tuple[list[Identity], list[str]]:
    """All identities, and a note per place looked at (for the no-identity message)."""
    env = os.environ if environ is None else environ
    found: list[Identity] = []
    tried: list[str] = []

    def note(place: str, idents: list[Identity]) -> None:
        found.extend(idents)
        tried.append(f"{place}: {len(idents)} found" if idents else f"{place}: none")

    value = env.get("SOPS_AGE_KEY")
    if value is None:
        tried.append("SOPS_AGE_KEY: not set")
    else:
        note("SOPS_AGE_KEY", _parse(value, where="SOPS_AGE_KEY", source="SOPS_AGE_KEY", words=True))

    key_file = env.get("SOPS_AGE_KEY_FILE")
    if key_file is None:
        tried.append("SOPS_AGE_KEY_FILE: not set")
    else:
        path = os.path.expanduser(key_file)
        if not os.path.exists(path):
            raise FileError(
                f"SOPS_AGE_KEY_FILE={key_file}: no such file",
                hint="fix the path or unset the variable",
            )
        source = f"SOPS_AGE_KEY_FILE ({path})"
        note(source, _read_key_file(path, where=str(path), source=source))

    cmd = env.get("SOPS_AGE_KEY_CMD")
    if cmd is None:
        tried.append("SOPS_AGE_KEY_CMD: not set")
    else:
        note("SOPS_AGE_KEY_CMD", _run_key_cmd(cmd, env))

    kr, reason = _keyring()
    keyring_error: KeyStoreError | None = None
    if kr is None:
        tried.append(f"OS keyring: {reason}")
    else:
        try:
            blob = _keyring_read(kr)
        except KeyStoreError as exc:
            # An ambient keyring that fails (locked, no prompt) must not block the identities
            # the user configured explicitly; it is the error only if nothing else is found.
            keyring_error = exc
            tried.append(f"OS keyring ({kr.label}): {exc.message}")
        else:
            where = f"OS keyring ({kr.label}, {KEYRING_SERVICE}/{KEYRING_USERNAME})"
            note(
                f"OS keyring ({kr.label})", _parse(blob, where=where, source="keyring", words=True)
            )

    default = _default_key_path(env)
    if os.path.exists(default):
        note(default, _read_key_file(default, where=default, source=default))
    else:
        tried.append(f"{default}: no such file")

    if not found and keyring_error is not None:
        raise keyring_error
    return _unique(found), tried


def _run_key_cmd(cmd: str, env: Mapping[str, str]) -> list[Identity]:
    # Imported here: only a configured key command pays for subprocess.
    import shlex
    import subprocess

    try:
        argv = shlex.split(cmd)
    except ValueError:
        raise KeyStoreError(
            "SOPS_AGE_KEY_CMD: cannot split the command (unbalanced quotes)"
        ) from None
    if not argv:
        raise KeyStoreError("SOPS_AGE_KEY_CMD is empty", hint="unset it or name a command")
    name = argv[0]
    try:
        proc = subprocess.run(
            argv,
            stdin=subprocess.DEVNULL,
            capture_output=True,  # stderr is not shown: it could echo a key or a token
            timeout=KEY_CMD_TIMEOUT,
            env=dict(env),
            check=False,
        )
    except FileNotFoundError:
        raise KeyStoreError(f"SOPS_AGE_KEY_CMD: command not found: {name}") from None
    except PermissionError:
        raise KeyStoreError(f"SOPS_AGE_KEY_CMD: {name} is not executable") from None
    except subprocess.TimeoutExpired:
        raise KeyStoreError(
            f"SOPS_AGE_KEY_CMD: {name} did not finish within {KEY_CMD_TIMEOUT:g} s"
        ) from None
    except OSError as exc:
        raise KeyStoreError(f"SOPS_AGE_KEY_CMD: cannot run {name} ({exc.strerror})") from None
    if proc.returncode != 0:
        raise KeyStoreError(
            f"SOPS_AGE_KEY_CMD: {name} exited with status {proc.returncode}",
            hint="run the command yourself to see its error",
        )
    try:
        text = proc.stdout.decode("utf-8")
    except UnicodeDecodeError:
        raise KeyStoreError(f"SOPS_AGE_KEY_CMD: the output of {name} is not UTF-8") from None
    return _parse(
        text, where=f"SOPS_AGE_KEY_CMD ({name}) output", source="SOPS_AGE_KEY_CMD", words=False
    )


def discover(environ: Mapping[str, str] | None = None) -> list[Identity]:
    """Every age identity available, from every source sops reads plus the OS keyring.

    Returns ``[]`` when there is none. Raises for a source that is configured but broken
    (missing or insecure key file, junk line, failing key command).
    """
    return _discover(environ)[0]


def require_identities(environ: Mapping[str, str] | None = None) -> list[Identity]:
    """Like :func:`discover`, but no identity at all is a :class:`NoIdentityError` that lists
    every place looked at."""
    found, tried = _discover(environ)
    if not found:
        raise NoIdentityError(
            "no age identity found (looked at: " + "; ".join(tried) + ")",
            hint="create one with `secretsafe keys generate`, import one with "
            "`secretsafe keys import < keys.txt`, or set SOPS_AGE_KEY_FILE",
        )
    return found


def own_recipients(environ: Mapping[str, str] | None = None) -> list[str]:
    """The public keys (``age1...``) of every identity :func:`discover` finds."""
    return [i.recipient for i in discover(environ)]


# --- creating and importing --------------------------------------------------------------------


class _Target(NamedTuple):
    kind: Literal["keyring", "file"]
    location: str  # for people
    source: str  # Identity.source of what discovery will find there
    keyring: _Keyring | None = None
    path: Path | None = None


def _target(store: Store, env: Mapping[str, str]) -> _Target:
    if store not in ("auto", "keyring", "file"):
        raise UsageError(f"unknown key store {store!r}", hint="use auto, keyring or file")
    if store != "file":
        kr, reason = _keyring()
        if kr is not None:
            return _Target("keyring", _keyring_location(kr), "keyring", keyring=kr)
        if store == "keyring":
            raise KeyStoreError(
                f"no usable OS keyring: {reason}",
                hint="start a Secret Service (gnome-keyring, KWallet) or use --store file",
            )
    else:
        reason = ""
    from pathlib import Path

    explicit = env.get("SOPS_AGE_KEY_FILE")
    path = Path(explicit).expanduser() if explicit else default_key_file(env)
    source = f"SOPS_AGE_KEY_FILE ({path})" if explicit else str(path)
    location = f"the key file {path}"
    if store == "auto":
        location += f" (no usable OS keyring: {reason})"
    return _Target("file", location, source, path=path)


def _existing(target: _Target) -> list[Identity]:
    if target.keyring is not None:
        return _parse(
            _keyring_read(target.keyring), where="OS keyring", source="keyring", words=True
        )
    assert target.path is not None  # noqa: S101 - a file target always has a path
    if not target.path.exists():
        return []
    return _read_key_file(target.path, where=str(target.path), source=target.source)


def _store(target: _Target, new: list[Identity], *, verb: str) -> None:
    block = _key_block(new, verb=verb)
    if target.keyring is not None:
        blob = _keyring_read(target.keyring)
        if blob and not blob.endswith("\n"):
            blob += "\n"
        _keyring_write(target.keyring, blob + block)
    else:
        assert target.path is not None  # noqa: S101 - a file target always has a path
        _append_key_file(target.path, block)


def generate(
    *, store: Store = "auto", environ: Mapping[str, str] | None = None
) -> tuple[Identity, str]:
    """Create a new identity and store it; returns it and where it went, for people.

    ``store="auto"`` uses the OS keyring when one is usable, else the key file
    (``SOPS_AGE_KEY_FILE`` if set, else the default one), which is created 0600 in 0700
    directories or appended to, never rewritten. The location says why when it fell back.
    """
    import pyrage

    env = os.environ if environ is None else environ
    target = _target(store, env)
    if target.kind == "file":
        _existing(target)  # refuse an insecure or broken file before generating anything
    ident = Identity(str(pyrage.x25519.Identity.generate()), source=target.source)
    _store(target, [ident], verb="created")
    return ident, target.location


def import_identities(
    text: str, *, store: Store = "auto", environ: Mapping[str, str] | None = None
) -> list[Identity]:
    """Store the identities in ``text`` (``keys.txt`` format or bare ``AGE-SECRET-KEY-1...``
    words); returns them. Identities the store already holds are not written again."""
    return _import(text, store=store, environ=environ)[0]


def _import(
    text: str, *, store: Store, environ: Mapping[str, str] | None
) -> tuple[list[Identity], list[Identity], str]:
    """(all identities in ``text``, those newly stored, the store's location)."""
    env = os.environ if environ is None else environ
    given = _unique(_parse(text, where="input", source="input", words=True))
    if not given:
        raise UsageError(
            "no age identity in the input",
            hint="pipe a keys.txt or an AGE-SECRET-KEY-1... line: "
            "secretsafe keys import < keys.txt",
        )
    target = _target(store, env)
    have = {i.recipient for i in _existing(target)}
    placed = [Identity(i.reveal(), source=target.source) for i in given]
    new = [i for i in placed if i.recipient not in have]
    if new:
        _store(target, new, verb="imported")
    return placed, new, target.location


# --- recipients --------------------------------------------------------------------------------


def validate_recipient(text: str) -> str:
    """Check an age public key (``age1...``); returns it normalised. :class:`UsageError` if not."""
    import pyrage

    value = text.strip()
    if value.upper().startswith("AGE-SECRET-KEY-"):
        raise UsageError(
            "that is an age secret key, not a recipient",
            hint="pass its public key (age1...); `secretsafe keys show` lists yours",
        )
    if not value.startswith("age1"):
        raise UsageError(
            "not an age recipient: expected a public key starting with age1",
            hint="`secretsafe keys show` prints yours",
        )
    shown = value if len(value) <= 80 and value.isprintable() else value[:20] + "..."
    # Bech32 data has no '1': a second one marks a plugin (age1yubikey1...) or post-quantum key.
    if value.count("1") > 1:
        raise UsageError(
            f"unsupported age recipient {shown}: only X25519 keys (age1...) are supported",
            hint="post-quantum and plugin recipients need the sops binary",
        )
    try:
        return str(pyrage.x25519.Recipient.from_str(value))
    except Exception:  # noqa: BLE001 - pyrage raises several types for a bad key
        raise UsageError(
            f"not a valid age recipient: {shown} (bad checksum or length)",
            hint="copy the whole age1... key again",
        ) from None
