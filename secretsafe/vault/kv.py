"""KV v2 primitives: read with version, write with check-and-set, merge-patch, custom metadata,
and :func:`apply` -- replace a secret's data atomically, splitting when request limits require.

Request limits: OpenBao/Vault refuse a JSON body with more than 1,000 strings by default. A
check-and-set write ``{"data": {...}, "options": {"cas": N}}`` spends 3 of them, so one write
holds at most 498 key/value pairs (measured; :data:`MAX_PAIRS`).

How :func:`apply` splits, so that a failed apply changes nothing:

1. final data within ``max_pairs``: one ``POST data/P`` with ``cas`` = the version read first
   (all or nothing; a concurrent writer makes it fail with :class:`VaultConflict`);
2. larger: only the *differences* are sent, as JSON merge-patches (``PATCH data/P``, a ``null``
   removes a key) of at most ``max_pairs`` entries each, chained with ``cas`` = version read,
   then +1 per patch. Usually the differences fit in one patch: still a single atomic write.
   When they do not, intermediate versions mix old and new values key by key; if a later patch
   fails, the patches already applied are reverted by patches restoring the old values (again
   with chained ``cas``), and the original error is raised. A new secret too large for one
   write is created from the first chunk and, on failure, deleted with all its versions.
   Patching needs the ``patch`` capability on ``P``.

Honest outcomes: every write carries check-and-set, so it can never be applied twice. When a
write fails in a way that could hide an applied write (the answer was lost with a dying
leader, a 5xx, a check-and-set conflict after a retry), the result is read back from the
active node: version ``cas + 1`` holding exactly the data sent (compared as SHA-256 digests in
memory, never shown) means **written** -- the call returns that version; no such version
means **not written** -- the write is sent again (still guarded by ``cas``) while the
deadline allows, else the error is raised saying nothing was written; a version ``cas + 1``
with other data is a real conflict (:class:`~secretsafe.errors.VaultConflict`). When the
read-back fails too, the error says so (:func:`outcome_unknown`) and how to check.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import weakref
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from secretsafe.errors import (
    SecretsafeError,
    VaultConflict,
    VaultError,
    VaultNotFound,
    VaultPermissionDenied,
)
from secretsafe.secret import SecretValues
from secretsafe.vault.client import VaultClient
from secretsafe.vault.transport import RedirectRefused

__all__ = [
    "DEFAULT_MOUNT",
    "MAX_PAIRS",
    "KvSecret",
    "apply",
    "delete_all",
    "list_keys",
    "outcome_unknown",
    "patch_secret",
    "read_secret",
    "same_value",
    "set_custom_metadata",
    "unknown_outcome",
    "write_outcome",
    "write_secret",
]

DEFAULT_MOUNT = "secret"
MAX_PAIRS = 498


@dataclass(frozen=True)
class KvSecret:
    """What a path holds. ``version`` 0 and ``exists`` False: nothing was ever written (or all
    versions were destroyed). A soft-deleted latest version has ``exists`` True, empty data."""

    path: str
    data: SecretValues = field(repr=True)
    version: int
    custom_metadata: Mapping[str, str]
    exists: bool


# Errors raised for writes whose outcome could not be read back (see :func:`outcome_unknown`).
_UNKNOWN: weakref.WeakSet[BaseException] = weakref.WeakSet()


def outcome_unknown(error: BaseException) -> bool:
    """True when ``error`` was raised for a write that may or may not have been applied (the
    read-back failed too). It keeps the class of the failure behind it (exit code 30 for an
    unreachable server, ...); its message says the outcome is unknown and how to check."""
    return error in _UNKNOWN


def unknown_outcome(error: SecretsafeError, message: str, hint: str) -> SecretsafeError:
    """An error of the same class as ``error`` saying ``message``, marked as an unknown
    outcome (see :func:`outcome_unknown`)."""
    raised = type(error)(message, hint=hint)
    _UNKNOWN.add(raised)
    return raised


Outcome = Literal["written", "not written", "unknown"]


def data_digest(data: Mapping[str, str]) -> bytes:
    """SHA-256 of ``data`` in a canonical JSON spelling: compares what was sent with what is
    stored without keeping or showing either (digests stay in memory)."""
    canonical = json.dumps(
        {str(k): data[k] for k in sorted(data)}, ensure_ascii=False, separators=(",", ":")
    )
    return hashlib.sha256(canonical.encode("utf-8")).digest()


def same_value(a: str, b: str) -> bool:
    """Constant-time comparison, so a diff leaks no timing about values."""
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


def _to_text(value: Any) -> str:
    # KV holds JSON; env values are strings. Scalars map to their JSON spelling (true, 5),
    # null to an empty string, nested objects to compact JSON.
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _clean(path: str) -> str:
    return path.strip("/")


def _label(mount: str, path: str) -> str:
    return f"{_clean(mount)}/{_clean(path)}"


def _url(mount: str, kind: str, path: str) -> str:
    return f"{_clean(mount)}/{kind}/{_clean(path)}"


def _route_missing(doc: Any) -> bool:
    errors = doc.get("errors") if isinstance(doc, dict) else None
    text = " ".join(str(e) for e in errors or []).lower()
    return "no handler for route" in text or "route entry not found" in text


def _no_mount(mount: str, path: str) -> VaultNotFound:
    return VaultNotFound(
        f"no secrets engine mounted at {_label(mount, path)}",
        hint="check --mount (`bao secrets list`), or enable kv-v2 there",
    )


def read_secret(
    client: VaultClient, path: str, *, mount: str = DEFAULT_MOUNT, version: int | None = None
) -> KvSecret:
    """Read ``path`` (latest, or ``version``). A missing secret is ``exists=False``; a missing
    mount or a missing ``version`` raise :class:`VaultNotFound`. One request."""
    status, doc = client.request(
        "GET",
        _url(mount, "data", path),
        params={"version": str(version)} if version is not None else None,
        path=_label(mount, path),
        accept=(404,),
    )
    data = (doc or {}).get("data") if isinstance(doc, dict) else None
    if status == 404 and not (isinstance(data, dict) and data.get("metadata")):
        if _route_missing(doc):
            raise _no_mount(mount, path)
        if version is not None:
            raise VaultNotFound(
                f"no version {version} at {_label(mount, path)}",
                hint="list versions with `bao kv metadata get`",
            )
        return KvSecret(_clean(path), SecretValues(), 0, {}, exists=False)
    if not isinstance(data, dict) or not isinstance(data.get("metadata"), dict):
        # Every KV v2 read carries its metadata. Anything else (a proxy's page, an empty or
        # unreadable body) is not "no values": the app would start without its secrets.
        raise _unexpected("a read", mount, path)
    meta = data["metadata"]
    raw = data.get("data") or {}  # null: the latest version is soft-deleted
    custom = meta.get("custom_metadata") if isinstance(meta, dict) else None
    if not isinstance(meta, dict) or not isinstance(raw, dict):
        raise _unexpected("a read", mount, path)
    if custom is None:
        custom = {}
    if not isinstance(custom, dict) or not all(isinstance(v, str) for v in custom.values()):
        raise _unexpected("a read", mount, path)
    try:
        values = {str(k): _to_text(v) for k, v in raw.items()}
    except ValueError:  # nesting too deep to encode, or a value JSON cannot spell
        raise _unexpected("a read", mount, path) from None
    return KvSecret(
        path=_clean(path),
        data=SecretValues(values),
        version=_version(meta.get("version"), mount, path, what="a read", default=0),
        custom_metadata=dict(custom),
        exists=True,
    )


# Versions are counters: a server claiming more than this is broken or hostile.
_MAX_VERSION = 2**53


def _version(value: Any, mount: str, path: str, *, what: str, default: int | None = None) -> int:
    """A version number from a server answer: a non-negative int, nothing else."""
    if value is None and default is not None:
        return default
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= _MAX_VERSION:
        return value
    raise _unexpected(what, mount, path)


def _unexpected(what: str, mount: str, path: str) -> VaultError:
    # The answer itself is never quoted: it could hold anything.
    return VaultError(
        f"unexpected answer to {what} at {_label(mount, path)}",
        hint="check that the address points at Vault / OpenBao and the mount is kv-v2",
    )


def _version_of(doc: Any, mount: str, path: str) -> int:
    data = doc.get("data") if isinstance(doc, dict) else None
    return _version(
        data.get("version") if isinstance(data, dict) else None, mount, path, what="a write"
    )


def write_secret(
    client: VaultClient,
    path: str,
    data: Mapping[str, str],
    *,
    mount: str = DEFAULT_MOUNT,
    cas: int,
) -> int:
    """Replace the data at ``path`` if its current version is ``cas`` (0: must not exist).
    Returns the new version; a failure is resolved by reading back (module docstring)."""
    return _cas_write(
        client,
        "POST",
        path,
        {"data": dict(data), "options": {"cas": cas}},
        mount=mount,
        cas=cas,
        expected=data,
    )


def patch_secret(
    client: VaultClient,
    path: str,
    changes: Mapping[str, str | None],
    *,
    mount: str = DEFAULT_MOUNT,
    cas: int,
    expected: Mapping[str, str] | None = None,
) -> int:
    """JSON merge-patch ``path`` (``None`` removes a key) if its version is ``cas``.
    ``expected``: the data the patch results in, so that a failed patch can be checked by
    reading back (without it such a failure is reported as unknown)."""
    return _cas_write(
        client,
        "PATCH",
        path,
        {"data": dict(changes), "options": {"cas": cas}},
        mount=mount,
        cas=cas,
        expected=expected,
        content_type="application/merge-patch+json",
    )


def _may_hide_a_write(error: SecretsafeError) -> bool:
    """Failures after which the write may have been applied (or a conflict may be our own
    earlier attempt): everything but refusals that come before any change."""
    if isinstance(error, VaultPermissionDenied | VaultNotFound | RedirectRefused):
        return False
    return not (type(error) is VaultError and "(HTTP 400)" in error.message)


def write_outcome(
    client: VaultClient,
    path: str,
    *,
    mount: str = DEFAULT_MOUNT,
    cas: int,
    expected: Mapping[str, str] | None,
) -> tuple[Outcome, int]:
    """Did a check-and-set write of ``expected`` against version ``cas`` happen? Reads
    version ``cas + 1`` (from the active node of a cluster): ("written", cas + 1) when it
    holds exactly ``expected``; ("not written", current version) when there is no such
    version or it holds other data (a write with the same ``cas`` by someone else); or
    ("unknown", 0) when the read fails or ``expected`` is None."""
    try:
        try:
            there = read_secret(client, path, mount=mount, version=cas + 1)
        except VaultNotFound:
            now = read_secret(client, path, mount=mount)
            return "not written", now.version
    except SecretsafeError:
        return "unknown", 0
    if not there.exists or there.version != cas + 1:
        return "not written", there.version
    if expected is None:
        return "unknown", 0
    theirs = data_digest(there.data.reveal())
    if hmac.compare_digest(theirs, data_digest(expected)):
        return "written", cas + 1
    return "not written", cas + 1


def _cas_write(
    client: VaultClient,
    method: str,
    path: str,
    body: dict[str, Any],
    *,
    mount: str,
    cas: int,
    expected: Mapping[str, str] | None,
    content_type: str = "application/json",
) -> int:
    label = _label(mount, path)
    # Sending again is safe (check-and-set): retry a write known not to have happened while
    # one operation's deadline allows.
    ends = time.monotonic() + client.transport.deadline
    while True:
        try:
            _, doc = client.request(
                method,
                _url(mount, "data", path),
                body=body,
                content_type=content_type,
                path=label,
                idempotent=False,
            )
            return _version_of(doc, mount, path)
        except SecretsafeError as exc:
            if not _may_hide_a_write(exc):
                raise
            error = exc
        # Outside the handler: nothing of the failed request stays chained to what we raise.
        if client.cluster:
            # Read back where the truth is: the active node now (it may have changed).
            client.locate_active()
        outcome, version = write_outcome(client, path, mount=mount, cas=cas, expected=expected)
        if outcome == "written":
            return version
        if outcome == "unknown":
            raise unknown_outcome(
                error,
                f"{error.message}; reading {label} back failed too: the write may or may "
                "not have been applied (outcome unknown)",
                hint="check with `secretsafe vault diff FILE --path PATH` once the server "
                "answers, then push again if needed",
            ) from None
        if version > cas:
            # A real conflict: someone else wrote version cas + 1.
            if isinstance(error, VaultConflict):
                raise error
            raise VaultConflict(
                f"check-and-set conflict at {label}: someone else wrote version {cas + 1}; "
                "this write was not applied",
                hint="review with `secretsafe vault diff`, then re-run",
            ) from None
        if time.monotonic() >= ends:
            raise type(error)(
                f"{error.message}; nothing was written at {label} (checked by reading back)",
                hint=error.hint,
            ) from None
        time.sleep(0.05)


def set_custom_metadata(
    client: VaultClient, path: str, metadata: Mapping[str, str], *, mount: str = DEFAULT_MOUNT
) -> None:
    """Set the path's custom metadata (other metadata settings are left as they are)."""
    client.request(
        "POST",
        _url(mount, "metadata", path),
        body={"custom_metadata": dict(metadata)},
        path=_url(mount, "metadata", path),
    )


def delete_all(client: VaultClient, path: str, *, mount: str = DEFAULT_MOUNT) -> None:
    """Delete ``path`` with all its versions and metadata."""
    client.request("DELETE", _url(mount, "metadata", path), path=_url(mount, "metadata", path))


def list_keys(client: VaultClient, path: str, *, mount: str = DEFAULT_MOUNT) -> list[str]:
    """Names directly under ``path`` (folders end in ``/``); empty when there are none."""
    status, doc = client.request(
        "GET",
        _url(mount, "metadata", path),
        params={"list": "true"},
        path=_url(mount, "metadata", path),
        accept=(404,),
    )
    if status == 404:
        if _route_missing(doc):
            raise _no_mount(mount, path)
        return []
    data = doc.get("data") if isinstance(doc, dict) else None
    keys = data.get("keys") if isinstance(data, dict) else None
    if keys is None:
        return []
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise _unexpected("a list", mount, path)
    return list(keys)


def _chunks(items: list[tuple[str, str | None]], size: int) -> Iterator[dict[str, str | None]]:
    for start in range(0, len(items), size):
        yield dict(items[start : start + size])


def apply(
    client: VaultClient,
    current: KvSecret,
    desired: Mapping[str, str],
    *,
    mount: str = DEFAULT_MOUNT,
    max_pairs: int = MAX_PAIRS,
) -> int:
    """Make ``current.path`` hold exactly ``desired``, guarded by ``current.version``.

    Returns the new version. See the module docstring for how large secrets are split and
    rolled back.
    """
    if max_pairs < 1:
        raise ValueError("max_pairs must be positive")
    path = current.path
    if len(desired) <= max_pairs:
        return write_secret(client, path, desired, mount=mount, cas=current.version)

    old = current.data
    changes: list[tuple[str, str | None]] = [
        (k, v) for k, v in desired.items() if k not in old or not same_value(old[k], v)
    ]
    changes += [(k, None) for k in old if k not in desired]
    if not changes:
        return current.version

    version = current.version
    created = False
    applied: list[dict[str, str | None]] = []
    state: dict[str, str] = dict(old.reveal())
    try:
        if not current.exists or version == 0:
            first = dict(list(desired.items())[:max_pairs])
            version = write_secret(client, path, first, mount=mount, cas=version)
            created = True
            state = dict(first)
            changes = [(k, v) for k, v in changes if k not in first]
        for chunk in _chunks(changes, max_pairs):
            after = {k: v for k, v in {**state, **chunk}.items() if v is not None}
            version = patch_secret(client, path, chunk, mount=mount, cas=version, expected=after)
            state = after
            applied.append(chunk)
    except SecretsafeError as exc:
        if not (created or applied):
            raise
        error = exc
    else:
        return version
    # Outside the handler: nothing of the failed request stays chained to what we raise.
    if outcome_unknown(error) or not _undo(
        client, path, mount=mount, old=old, applied=applied, created=created, version=version
    ):
        raise unknown_outcome(
            error,
            f"a write in parts to {_label(mount, path)} failed after {len(applied) + created} "
            f"part(s) were applied (up to version {version}), and they could not all be "
            f"undone: {_label(mount, path)} may hold a mix of old and new values",
            hint=f"check with `secretsafe vault diff`; versions up to {current.version} "
            "hold the previous values (`bao kv rollback` restores one)",
        ) from None
    raise error


def _undo(
    client: VaultClient,
    path: str,
    *,
    mount: str,
    old: Mapping[str, str],
    applied: list[dict[str, str | None]],
    created: bool,
    version: int,
) -> bool:
    """Put back what :func:`apply` changed before it failed; False when that failed too."""
    try:
        if created:
            delete_all(client, path, mount=mount)
            return True
        for chunk in reversed(applied):
            restore = {k: old.get(k) for k in chunk}
            version = patch_secret(client, path, restore, mount=mount, cas=version)
    except SecretsafeError:
        return False
    return True
