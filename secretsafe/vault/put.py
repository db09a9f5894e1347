"""Set one value in KV v2 (``secretsafe vault put PATH KEY``): the single-key rotation.

The value comes in as a :class:`~secretsafe.secret.Secret` (the CLI reads it from stdin,
never from argv) and is written with check-and-set against the version read just before
(or the version the caller says it reviewed, ``cas=``): the other keys at the path are kept
as they are, and a concurrent change by someone else is a
:class:`~secretsafe.errors.VaultConflict` that says nothing was written.

Layouts as ``push`` writes them: when the path's metadata lists sections (``--layout
sections``) and ``KEY`` is ``SECTION__FIELD`` for one of them, ``field`` is set at
``PATH/section`` -- the value ``run --vault`` and ``pull`` then show as ``KEY``.

Outcomes are honest as for ``push`` (:mod:`secretsafe.vault.kv`): after a failed write the
result is read back, and the error says "not written" or "outcome unknown"; a value already
in place is "up to date" and writes nothing (so running the same ``put`` again checks an
unknown outcome).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from secretsafe.dotenv import shown_name
from secretsafe.errors import SecretsafeError, UsageError, VaultConflict
from secretsafe.secret import Secret
from secretsafe.vault import kv
from secretsafe.vault.client import VaultClient

__all__ = ["PutResult", "put_value"]

_SECTIONS = "secretsafe_sections"


@dataclass(frozen=True)
class PutResult:
    """What a put did (names and versions, never the value). ``outcome``: ``written`` or
    ``up to date`` (the value was already there; nothing written)."""

    mount: str
    path: str  # the path written (``PATH/section`` for a sections layout)
    key: str  # the key at that path
    outcome: Literal["written", "up to date"]
    version: int
    previous_version: int
    created: bool  # the key did not exist before


def _target(
    client: VaultClient, path: str, key: str, *, mount: str
) -> tuple[str, str, kv.KvSecret]:
    """(path, key, what it holds now): ``SECTION__FIELD`` goes to ``PATH/section`` when the
    path's metadata lists that section (module docstring)."""
    base = kv.read_secret(client, path, mount=mount)
    listed = base.custom_metadata.get(_SECTIONS, "")
    section, sep, fld = key.partition("__")
    if sep and section and fld and section.lower() in listed.split(","):
        sub = f"{base.path}/{section.lower()}"
        return sub, fld.lower(), kv.read_secret(client, sub, mount=mount)
    return base.path, key, base


def put_value(
    client: VaultClient,
    path: str,
    key: str,
    value: Secret,
    *,
    mount: str = kv.DEFAULT_MOUNT,
    cas: int | None = None,
) -> PutResult:
    """Set ``key`` to ``value`` at ``mount``/``path``, keeping the other keys (module
    docstring). ``cas``: the version the path must be at (default: the version read first)."""
    if not path.strip("/"):
        raise UsageError("the KV path must not be empty", hint="e.g. apps/api/prod")
    if shown_name(key) != key:
        raise UsageError(
            f"KEY {shown_name(key)}: not usable as a variable name",
            hint="pass the variable name as KEY and the value on stdin",
        )
    target, field, current = _target(client, path, key, mount=mount)
    label = f"{mount.strip('/')}/{target}"
    if cas is not None and current.version != cas:
        raise VaultConflict(
            f"{label} is at version {current.version}, not {cas} (--cas): it changed since "
            f"it was reviewed; {shown_name(key)} was not written",
            hint="review the change (`secretsafe vault pull`), then run the put again",
        )
    old = current.data.get(field)
    if old is not None and kv.same_value(old, value.reveal()):
        return PutResult(
            mount.strip("/"), target, field, "up to date", current.version, current.version, False
        )
    desired = {**current.data.reveal(), field: value.reveal()}
    failed: SecretsafeError | None = None
    try:
        version = kv.apply(client, current, desired, mount=mount)
    except SecretsafeError as exc:
        failed = exc
    if failed is not None:  # raised outside the handler: no chained request
        raise _put_failed(failed, label, key, current.version)
    return PutResult(
        mount.strip("/"), target, field, "written", version, current.version, old is None
    )


def _put_failed(error: SecretsafeError, label: str, key: str, read_version: int) -> SecretsafeError:
    """The error to raise: what failed and the true outcome, in put's words."""
    name = shown_name(key)
    if kv.outcome_unknown(error):
        return kv.unknown_outcome(
            error,
            f"writing {name} at {label} failed and reading it back failed too: the outcome "
            "is unknown",
            hint="run the same put again once the server answers: it says 'up to date' when "
            "the value is there, else writes it",
        )
    if isinstance(error, VaultConflict):
        return VaultConflict(
            f"{label} changed since version {read_version} was read (another writer): "
            f"{name} was not written",
            hint="review the change (`secretsafe vault pull`), then run the put again",
        )
    message = error.message
    if "nothing was written" not in message:
        message = f"{message}; {name} was not written"
    return type(error)(message, hint=error.hint)
