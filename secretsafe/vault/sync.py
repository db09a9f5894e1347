"""Push, pull and diff between env values (usually a SOPS file) and KV v2, by variable name.

Layouts:

- ``flat``: every variable is a key of the secret at ``P``.
- ``sections``: ``SECTION__FIELD`` goes to ``P/section`` as key ``field`` (lower-cased; the
  rest after the first ``__`` is the field: ``A__B__C`` -> ``P/a`` key ``b__c``); names with no
  ``__`` stay at ``P``. Pull upper-cases back, so names with lower-case letters and a ``__``
  are refused (they could not round-trip). ``P`` itself is always written: its custom metadata
  lists the sections, so pull and diff need no ``list`` capability. The sections layout owns
  the direct children of ``P``.

A push reads every target path first, computes a :class:`Plan`, then writes each changed path
with check-and-set against the version read (see :func:`secretsafe.vault.kv.apply` for
splitting). If a write fails, paths already written are restored (their previous data written
back with check-and-set; paths the push created are deleted) and the error is raised. Its
message states the true outcome (:class:`PushFailure`, from :func:`failure_of`): nothing
written, or written and which path could not be rolled back (with the version), or unknown
(a write's result could not be read back -- check with ``secretsafe vault diff``); a write
whose answer was lost but that reading back shows applied counts as written.

Without ``prune`` keys present only in Vault are kept. Custom metadata
on each written path records the source file name, a fingerprint of the (encrypted) file, the
secretsafe version, the time and the layout; failing to write it is a warning, not a failure.

Many apps: a TOML mapping file, paths relative to it::

    mount = "secret"                     # optional, default "secret"
    layout = "flat"                      # optional, default "flat"
    [files]
    "api/.env.prod.enc" = "apps/api/prod"
    "worker/.env.enc" = { path = "apps/worker/prod", layout = "sections" }

:func:`push_many` / :func:`pull_many` / :func:`diff_many` handle every entry over one
connection with a bounded thread pool; each entry succeeds or fails on its own.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, TypeVar, cast

from secretsafe.errors import (
    ConfigError,
    SecretsafeError,
    UsageError,
    VaultConflict,
    VaultError,
    VaultNotFound,
    VaultPermissionDenied,
)
from secretsafe.files import read_bytes, read_text
from secretsafe.secret import SecretValues
from secretsafe.vault import kv
from secretsafe.vault.client import VaultClient

__all__ = [
    "DEFAULT_WORKERS",
    "Layout",
    "MappingEntry",
    "PathPlan",
    "Plan",
    "PushFailure",
    "PushResult",
    "diff",
    "diff_file",
    "diff_many",
    "failure_of",
    "file_fingerprint",
    "load_mapping",
    "plan",
    "pull",
    "pull_many",
    "pull_to_file",
    "push",
    "push_file",
    "push_many",
    "split_layout",
]

Layout = Literal["flat", "sections"]
LAYOUTS: tuple[str, ...] = ("flat", "sections")
DEFAULT_WORKERS = 8
META_PREFIX = "secretsafe_"
S = TypeVar("S")
T = TypeVar("T")


# --- layouts -------------------------------------------------------------------------------


def _join(base: str, sub: str) -> str:
    base = base.strip("/")
    return f"{base}/{sub}" if sub else base


def _base(path: str) -> str:
    base = path.strip("/")
    if not base:
        raise UsageError("--path must not be empty", hint="e.g. --path apps/api/prod")
    return base


def split_layout(
    values: Mapping[str, str], *, path: str, layout: Layout
) -> dict[str, dict[str, str]]:
    """Vault path -> {key: value} for ``values`` under ``layout`` (``path`` always present)."""
    base = _base(path)
    out: dict[str, dict[str, str]] = {base: {}}
    for name, value in values.items():
        if layout == "flat" or "__" not in name:
            out[base][name] = value
            continue
        section, fld = name.split("__", 1)
        if not section or not fld:
            raise UsageError(
                f"{name}: cannot map to a section (empty section or field)",
                hint="use --layout flat",
            )
        if name != name.upper():
            raise UsageError(
                f"{name}: the sections layout needs upper-case names to round-trip",
                hint="rename the variable or use --layout flat",
            )
        out.setdefault(_join(base, section.lower()), {})[fld.lower()] = value
    return out


def _env_name(base: str, vault_path: str, key: str) -> str:
    if vault_path == base:
        return key
    section = vault_path[len(base) + 1 :]
    return f"{section.upper()}__{key.upper()}"


# --- plans ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class PathPlan:
    """Differences at one Vault path, as env variable names (never values)."""

    path: str
    version: int
    exists: bool
    added: tuple[str, ...]
    changed: tuple[str, ...]
    removed: tuple[str, ...]  # in Vault, not in the file
    unchanged: tuple[str, ...]
    current: kv.KvSecret = field(repr=False, compare=False)
    desired: Mapping[str, str] = field(repr=False, compare=False)
    keys_desired: Mapping[str, str] = field(repr=False, compare=False)


@dataclass(frozen=True)
class Plan:
    """What a push would do (or what differs, for diff)."""

    mount: str
    path: str
    layout: Layout
    prune: bool
    paths: tuple[PathPlan, ...]

    def _all(self, attr: str) -> tuple[str, ...]:
        return tuple(sorted(n for p in self.paths for n in getattr(p, attr)))

    @property
    def added(self) -> tuple[str, ...]:
        return self._all("added")

    @property
    def changed(self) -> tuple[str, ...]:
        return self._all("changed")

    @property
    def removed(self) -> tuple[str, ...]:
        return self._all("removed")

    @property
    def unchanged(self) -> tuple[str, ...]:
        return self._all("unchanged")

    @property
    def drift(self) -> bool:
        return bool(self.added or self.changed or self.removed)

    def path_changes(self, p: PathPlan) -> bool:
        return bool(p.added or p.changed or (self.prune and p.removed))

    @property
    def has_changes(self) -> bool:
        return any(self.path_changes(p) for p in self.paths)

    def lines(self, *, push: bool = True) -> list[str]:
        """One line per variable that differs: ``+`` added, ``~`` changed, ``-`` removed."""
        out = [f"+ {n}" for n in self.added] + [f"~ {n}" for n in self.changed]
        for n in self.removed:
            if push and not self.prune:
                out.append(f"  {n} (only in Vault; kept, --prune removes it)")
            else:
                out.append(f"- {n}")
        return out

    def summary(self) -> str:
        removed = "removed" if self.prune else "only in Vault"
        return (
            f"{len(self.added)} added, {len(self.changed)} changed, "
            f"{len(self.removed)} {removed}, {len(self.unchanged)} unchanged"
        )


def _path_plan(
    base: str, current: kv.KvSecret, desired: Mapping[str, str], prune: bool
) -> PathPlan:
    added, changed, removed, unchanged = [], [], [], []
    for key, value in desired.items():
        name = _env_name(base, current.path, key)
        if key not in current.data:
            added.append(name)
        elif kv.same_value(current.data[key], value):
            unchanged.append(name)
        else:
            changed.append(name)
    for key in current.data:
        if key not in desired:
            removed.append(_env_name(base, current.path, key))
    final = dict(desired) if prune else {**current.data.reveal(), **desired}
    return PathPlan(
        path=current.path,
        version=current.version,
        exists=current.exists,
        added=tuple(added),
        changed=tuple(changed),
        removed=tuple(removed),
        unchanged=tuple(unchanged),
        current=current,
        desired=final,
        keys_desired=dict(desired),
    )


def _remote_sections(client: VaultClient, base: kv.KvSecret, *, mount: str) -> list[str]:
    listed = base.custom_metadata.get(f"{META_PREFIX}sections")
    if listed is not None:
        return [s for s in listed.split(",") if s]
    if not base.exists:
        return []
    # Written by something else than secretsafe: discover sections by listing (needs `list`).
    try:
        keys = kv.list_keys(client, base.path, mount=mount)
    except VaultPermissionDenied:
        return []
    return [k for k in keys if not k.endswith("/")]


def _map(fn: Callable[[S], T], items: Sequence[S], workers: int) -> list[T]:
    if len(items) <= 1 or workers <= 1:
        return [fn(i) for i in items]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=min(workers, len(items))) as pool:
        return list(pool.map(fn, items))


def _read_all(
    client: VaultClient, paths: Sequence[str], *, mount: str, workers: int
) -> list[kv.KvSecret]:
    return _map(lambda p: kv.read_secret(client, p, mount=mount), paths, workers)


def plan(
    client: VaultClient,
    values: Mapping[str, str],
    *,
    path: str,
    mount: str = kv.DEFAULT_MOUNT,
    layout: Layout = "flat",
    prune: bool = False,
    workers: int = DEFAULT_WORKERS,
) -> Plan:
    """Read the target paths and compare with ``values``. Makes no change."""
    wanted = split_layout(values, path=path, layout=layout)
    base = path.strip("/")
    base_secret = kv.read_secret(client, base, mount=mount)
    others = [p for p in wanted if p != base]
    if layout == "sections":
        for section in _remote_sections(client, base_secret, mount=mount):
            sub = _join(base, section)
            if sub not in wanted:
                others.append(sub)
    currents = {base: base_secret}
    currents.update(
        zip(others, _read_all(client, others, mount=mount, workers=workers), strict=True)
    )
    plans = [_path_plan(base, currents[p], wanted.get(p, {}), prune) for p in [base, *others]]
    return Plan(mount=mount.strip("/"), path=base, layout=layout, prune=prune, paths=tuple(plans))


# --- push ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PushResult:
    plan: Plan
    versions: Mapping[str, int]  # Vault path -> new version, for paths written
    warnings: tuple[str, ...] = ()
    dry_run: bool = False


def file_fingerprint(path: str | os.PathLike[str]) -> str:
    """SHA-256 (first 16 hex) of the file as stored: the encrypted bytes, not the values."""
    return hashlib.sha256(read_bytes(path, what="env file")).hexdigest()[:16]


def _source_metadata(source: Mapping[str, str] | None, layout: Layout) -> dict[str, str]:
    from secretsafe import __version__

    meta = {
        f"{META_PREFIX}version": __version__,
        f"{META_PREFIX}pushed_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        f"{META_PREFIX}layout": layout,
    }
    for k, v in (source or {}).items():
        meta[f"{META_PREFIX}{k}"] = v
    return meta


def push(
    client: VaultClient,
    values: Mapping[str, str],
    *,
    path: str,
    mount: str = kv.DEFAULT_MOUNT,
    layout: Layout = "flat",
    prune: bool = False,
    dry_run: bool = False,
    source: Mapping[str, str] | None = None,
    max_pairs: int = kv.MAX_PAIRS,
) -> PushResult:
    """Write ``values`` to ``path`` (see the module docstring). ``source``: extra custom
    metadata (e.g. ``{"source": "api.env.enc", "fingerprint": ...}``)."""
    the_plan = plan(client, values, path=path, mount=mount, layout=layout, prune=prune)
    if dry_run:
        return PushResult(plan=the_plan, versions={}, dry_run=True)
    base = the_plan.path
    sections = sorted(
        p.path[len(base) + 1 :]
        for p in the_plan.paths
        if p.path != base and (p.keys_desired or (p.current.data and not prune))
    )
    meta = _source_metadata(source, layout)
    base_needs_meta = layout == "sections" and (
        the_plan.paths[0].current.custom_metadata.get(f"{META_PREFIX}sections")
        != ",".join(sections)
    )
    todo = [p for p in the_plan.paths if the_plan.path_changes(p)]
    if base_needs_meta and not any(p.path == base for p in todo):
        todo.append(the_plan.paths[0])
    # Sections first, the base (which lists them) last.
    todo.sort(key=lambda p: p.path == base)
    done: list[tuple[PathPlan, int]] = []
    versions: dict[str, int] = {}
    failure: tuple[PathPlan, SecretsafeError] | None = None
    for p in todo:
        try:
            new_version = kv.apply(client, p.current, p.desired, mount=mount, max_pairs=max_pairs)
        except SecretsafeError as exc:
            failure = (p, exc)
            break
        done.append((p, new_version))
        versions[p.path] = new_version
    if failure is not None:
        # Raised here, outside the handler: the failed request stays out of the chain.
        raise _push_failed(
            client, the_plan, failure[0], failure[1], done=done, mount=mount, max_pairs=max_pairs
        )
    warnings: list[str] = []
    for p in todo:
        path_meta = dict(meta)
        if layout == "sections" and p.path == base:
            path_meta[f"{META_PREFIX}sections"] = ",".join(sections)
        try:
            kv.set_custom_metadata(client, p.path, path_meta, mount=mount)
        except VaultError as exc:
            warnings.append(f"values written, but not the source metadata at {p.path}: {exc}")
    return PushResult(plan=the_plan, versions=versions, warnings=tuple(warnings))


@dataclass(frozen=True)
class PushFailure:
    """The true state after a failed push (names and versions, never values).

    ``outcome``: ``not written`` (Vault holds what it held before: nothing was written, or
    every path written was rolled back), ``partly written`` (``written`` lists the paths that
    hold pushed values and could not be rolled back), or ``unknown`` (a write's result could
    not be read back; check with ``secretsafe vault diff``).
    """

    outcome: Literal["not written", "partly written", "unknown"]
    failed_path: str
    written: Mapping[str, int]  # path -> version holding pushed values, not rolled back
    rolled_back: tuple[str, ...]


# Failed pushes' reports, by the error raised (read with :func:`failure_of`).
_FAILURES: weakref.WeakKeyDictionary[BaseException, PushFailure] = weakref.WeakKeyDictionary()


def failure_of(error: BaseException) -> PushFailure | None:
    """The :class:`PushFailure` behind an error :func:`push` raised, else None."""
    return _FAILURES.get(error)


def _push_failed(
    client: VaultClient,
    the_plan: Plan,
    failed: PathPlan,
    error: SecretsafeError,
    *,
    done: list[tuple[PathPlan, int]],
    mount: str,
    max_pairs: int,
) -> SecretsafeError:
    """The error to raise for a failed push: what failed, and the true state of every path."""
    kept = _rollback(client, done, mount=mount, max_pairs=max_pairs)
    rolled_back = tuple(p.path for p, _ in done if p.path not in kept)
    unknown = kv.outcome_unknown(error)
    outcome: Literal["not written", "partly written", "unknown"] = (
        "unknown" if unknown else "partly written" if kept else "not written"
    )
    where = f"{the_plan.mount}/{failed.path}"
    if isinstance(error, VaultConflict):
        what = _explain_conflict(client, the_plan, failed, mount=mount) or error.message
    else:
        what = error.message
    parts = [what]
    if rolled_back:
        parts.append(
            f"rolled back what this push had written at {', '.join(rolled_back)} (a new "
            "version there holds the previous values)"
        )
    if kept:
        shown = ", ".join(f"{path} v{v}" for path, v in sorted(kept.items()))
        parts.append(f"WRITTEN and not rolled back: {shown}")
    if unknown:
        parts.append(f"the outcome at {where} is unknown")
    elif not kept:
        parts.append(
            "nothing was written" if not rolled_back else "Vault holds what it held before"
        )
    hint = (
        f"check with `secretsafe vault diff FILE --path {the_plan.path}`, then push again"
        if unknown or kept
        else error.hint
    )
    raised = (
        kv.unknown_outcome(error, "; ".join(parts), hint or "")
        if unknown
        else type(error)("; ".join(parts), hint=hint)
    )
    _FAILURES[raised] = PushFailure(
        outcome=outcome, failed_path=failed.path, written=kept, rolled_back=rolled_back
    )
    return raised


def _explain_conflict(
    client: VaultClient, the_plan: Plan, failed: PathPlan, *, mount: str
) -> str | None:
    """Which version moved on at the path that conflicted, and which names changed there
    (read from the active node; None when it cannot be read)."""
    try:
        now = kv.read_secret(client, failed.path, mount=mount)
    except SecretsafeError:
        return None
    before = failed.current.data
    moved = sorted(
        _env_name(the_plan.path, failed.path, k)
        for k in {*before, *now.data}
        if k not in before or k not in now.data or not kv.same_value(before[k], now.data[k])
    )
    names = ", ".join(moved[:10]) + (" ..." if len(moved) > 10 else "") or "no values"
    return (
        f"check-and-set conflict at {the_plan.mount}/{failed.path}: someone else changed it "
        f"from version {failed.version} to {now.version} while pushing (changed there: "
        f"{names}); this push's write there was not applied"
    )


def _rollback(
    client: VaultClient, done: list[tuple[PathPlan, int]], *, mount: str, max_pairs: int
) -> dict[str, int]:
    """Undo the paths written, newest first; the ones that could not be undone (path ->
    the version holding the pushed values)."""
    kept: dict[str, int] = {}
    for p, version in reversed(done):
        try:
            if not p.exists:
                kv.delete_all(client, p.path, mount=mount)
            else:
                now = kv.KvSecret(
                    p.path, SecretValues(p.desired), version, p.current.custom_metadata, exists=True
                )
                kv.apply(client, now, p.current.data, mount=mount, max_pairs=max_pairs)
        except SecretsafeError:
            kept[p.path] = version
    return kept


def push_file(
    client: VaultClient,
    file: str | os.PathLike[str],
    *,
    path: str,
    mount: str = kv.DEFAULT_MOUNT,
    layout: Layout = "flat",
    prune: bool = False,
    dry_run: bool = False,
    max_pairs: int = kv.MAX_PAIRS,
) -> PushResult:
    """Decrypt ``file`` in memory and :func:`push` its values."""
    from secretsafe.sops import decrypt_file

    values = decrypt_file(file)
    source = {"source": Path(file).name, "fingerprint": file_fingerprint(file)}
    return push(
        client,
        values,
        path=path,
        mount=mount,
        layout=layout,
        prune=prune,
        dry_run=dry_run,
        source=source,
        max_pairs=max_pairs,
    )


# --- pull / diff ---------------------------------------------------------------------------


def pull(
    client: VaultClient,
    *,
    path: str,
    mount: str = kv.DEFAULT_MOUNT,
    layout: Layout | None = None,
    version: int | None = None,
    workers: int = DEFAULT_WORKERS,
) -> SecretValues:
    """The values at ``path`` as env variables. ``layout=None``: what the last secretsafe
    push recorded, else flat. ``version`` (flat only): an older version."""
    base = _base(path)
    secret = kv.read_secret(client, base, mount=mount, version=version)
    if not secret.exists:
        raise VaultNotFound(
            f"nothing stored at {mount.strip('/')}/{base}", hint="check --path and --mount"
        )
    recorded = secret.custom_metadata.get(f"{META_PREFIX}layout")
    use = layout or ("sections" if recorded == "sections" else "flat")
    if use == "flat":
        return secret.data
    if version is not None:
        raise UsageError("--version works with the flat layout only")
    out = dict(secret.data.reveal())
    sections = _remote_sections(client, secret, mount=mount)
    subs = [_join(base, s) for s in sections]
    for sub, sec in zip(subs, _read_all(client, subs, mount=mount, workers=workers), strict=True):
        for key, value in sec.data.items():
            out[_env_name(base, sub, key)] = value
    return SecretValues(out)


def pull_to_file(
    client: VaultClient,
    dst: str | os.PathLike[str],
    *,
    path: str,
    mount: str = kv.DEFAULT_MOUNT,
    layout: Layout | None = None,
    version: int | None = None,
    recipients: Sequence[str] | None = None,
) -> SecretValues:
    """Pull and encrypt straight to a SOPS file (atomic, 0600); plaintext never hits disk."""
    values = pull(client, path=path, mount=mount, layout=layout, version=version)
    from secretsafe.sops import encrypt_values

    encrypt_values(values, dst, recipients=list(recipients) if recipients else None)
    return values


def diff(
    client: VaultClient,
    values: Mapping[str, str],
    *,
    path: str,
    mount: str = kv.DEFAULT_MOUNT,
    layout: Layout = "flat",
) -> Plan:
    """Differences by name between ``values`` and Vault (``removed``: only in Vault)."""
    return plan(client, values, path=path, mount=mount, layout=layout, prune=True)


def diff_file(
    client: VaultClient,
    file: str | os.PathLike[str],
    *,
    path: str,
    mount: str = kv.DEFAULT_MOUNT,
    layout: Layout = "flat",
) -> Plan:
    from secretsafe.sops import decrypt_file

    return diff(client, decrypt_file(file), path=path, mount=mount, layout=layout)


# --- many apps -----------------------------------------------------------------------------


@dataclass(frozen=True)
class MappingEntry:
    file: Path
    path: str
    mount: str = kv.DEFAULT_MOUNT
    layout: Layout = "flat"


def _layout(value: object, where: str) -> Layout:
    if value not in LAYOUTS:
        raise ConfigError(f"{where}: layout must be 'flat' or 'sections', not {value!r}")
    return cast(Layout, value)


def load_mapping(mapping: str | os.PathLike[str]) -> list[MappingEntry]:
    """Parse a mapping file (see the module docstring). File paths are relative to it."""
    import tomllib

    text = read_text(mapping, what="mapping file")
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{mapping}: invalid TOML ({exc})") from None
    root = Path(mapping).parent
    mount = doc.get("mount", kv.DEFAULT_MOUNT)
    layout = _layout(doc.get("layout", "flat"), str(mapping))
    files = doc.get("files")
    if not isinstance(mount, str) or not isinstance(files, dict) or not files:
        raise ConfigError(
            f"{mapping}: needs a [files] table mapping env files to Vault paths",
            hint='e.g. [files]\n"api/.env.enc" = "apps/api/prod"',
        )
    entries: list[MappingEntry] = []
    seen: dict[tuple[str, str], str] = {}
    for name, spec in files.items():
        where = f"{mapping}: files.{name!r}"
        if isinstance(spec, str):
            spec = {"path": spec}  # noqa: PLW2901 - the short form of the table form
        if not isinstance(spec, dict) or not isinstance(spec.get("path"), str) or not spec["path"]:
            raise ConfigError(f"{where}: expected a Vault path or {{ path = ... }}")
        unknown = set(spec) - {"path", "mount", "layout"}
        if unknown:
            raise ConfigError(f"{where}: unknown option(s) {', '.join(sorted(unknown))}")
        entry = MappingEntry(
            file=root / name,
            path=spec["path"].strip("/"),
            mount=str(spec.get("mount", mount)).strip("/"),
            layout=_layout(spec.get("layout", layout), where),
        )
        key = (entry.mount, entry.path)
        if key in seen:
            raise ConfigError(f"{where}: path {entry.path} is also used by {seen[key]!r}")
        seen[key] = name
        entries.append(entry)
    return entries


@dataclass(frozen=True)
class Outcome:
    entry: MappingEntry
    result: PushResult | Plan | SecretValues | None
    error: SecretsafeError | None


def _many(
    entries: Sequence[MappingEntry], fn: Callable[[MappingEntry], object], workers: int
) -> list[Outcome]:
    def run(e: MappingEntry) -> Outcome:
        try:
            return Outcome(e, cast("PushResult | Plan | SecretValues", fn(e)), None)
        except SecretsafeError as exc:
            return Outcome(e, None, exc)

    return _map(run, entries, workers)


def push_many(
    client: VaultClient,
    entries: Sequence[MappingEntry],
    *,
    prune: bool = False,
    dry_run: bool = False,
    workers: int = DEFAULT_WORKERS,
) -> list[Outcome]:
    return _many(
        entries,
        lambda e: push_file(
            client,
            e.file,
            path=e.path,
            mount=e.mount,
            layout=e.layout,
            prune=prune,
            dry_run=dry_run,
        ),
        workers,
    )


def pull_many(
    client: VaultClient,
    entries: Sequence[MappingEntry],
    *,
    recipients: Sequence[str] | None = None,
    workers: int = DEFAULT_WORKERS,
) -> list[Outcome]:
    return _many(
        entries,
        lambda e: pull_to_file(
            client, e.file, path=e.path, mount=e.mount, layout=e.layout, recipients=recipients
        ),
        workers,
    )


def diff_many(
    client: VaultClient, entries: Sequence[MappingEntry], *, workers: int = DEFAULT_WORKERS
) -> list[Outcome]:
    return _many(
        entries,
        lambda e: diff_file(client, e.file, path=e.path, mount=e.mount, layout=e.layout),
        workers,
    )
