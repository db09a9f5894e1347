"""``secretsafe git merge-driver BASE OURS THEIRS PATH``: a three-way merge of a sops file by
variable name, for git (``merge.secretsafe.driver``; see :mod:`secretsafe.git.setup`).

base, ours and theirs are decrypted in memory and merged per variable (flat names for
JSON/YAML, as ``run`` sees them): a variable that changed (or appeared, or went away) on one
side only takes that side's value; one changed the same way on both sides is taken once; one
changed differently on both sides (or changed on one side and removed on the other) is a
conflict. With no conflict the result is built in memory
(:func:`secretsafe.envfile.changed_text`, as ``update_values``): only the variables that differ
from the side written get new ciphertext, unchanged ones keep theirs, and the file keeps that
side's data key, recipients and rules. Before OURS is written (one atomic write), the result
must decrypt to the merge, and no variable stored encrypted on either side may be left in
plaintext by the written side's rules (rules changed on one branch, or a hostile one): else
the merge is refused.

Which side's key: ours, unless only their side changed the recipients (a member added or
removed, e.g. by ``secretsafe updatekeys``): then the merge is written under their data key
and recipients, so a removal, which rotated their key, is not undone by the merge. Recipients
changed differently on both sides is a conflict.

Order: ours' order; variables only their side added come after it, in their order
(``update_values`` appends new variables, so they are not placed after their predecessor).
Comments are ours' (theirs', when their key is used). A JSON/YAML value taken from one side
is written as a string (``update_values`` sets strings); a changed list cannot be written and
refuses the merge.

A conflict, or a merge that cannot be done here (no key, not a recipient of one of the three
versions, a file that fails its integrity check), leaves OURS exactly as it was and exits
non-zero: git then reports a conflict and keeps the three versions in the index. Messages name
variables, never values. Three plaintext files (a ``.gitattributes`` pattern can match a
plaintext template), or two plaintext sides, are merged as text by ``git merge-file``, as
without the driver.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from secretsafe.errors import (
    DecryptionError,
    FormatError,
    IntegrityError,
    NoIdentityError,
    SecretsafeError,
)
from secretsafe.git import variables

__all__ = ["MergeOutcome", "merge_driver", "merge_values"]


@dataclass(frozen=True)
class MergeOutcome:
    """What the driver did. ``merged``: OURS holds the result (exit 0); else it is untouched
    and ``conflicts`` names the variables (or ``recipients``) in conflict."""

    merged: bool
    conflicts: tuple[str, ...] = ()
    taken: tuple[str, ...] = ()  # variables whose value came from their side
    key_from: Literal["ours", "theirs"] = "ours"
    text_merge: bool = False  # three plaintext files, merged by git merge-file
    notes: tuple[str, ...] = field(default=())


def merge_values(
    base: Mapping[str, str], ours: Mapping[str, str], theirs: Mapping[str, str]
) -> tuple[dict[str, str], list[str]]:
    """The merged variables (ours' order, then their additions in their order) and the names
    in conflict (ours' order, then theirs'), from three versions' variables."""
    merged: dict[str, str] = {}
    conflicts: list[str] = []
    names = list(ours) + [n for n in theirs if n not in ours]
    names += [n for n in base if n not in ours and n not in theirs]
    for name in names:
        b, o, t = base.get(name), ours.get(name), theirs.get(name)
        if o == t:
            result = o
        elif o == b:
            result = t
        elif t == b:
            result = o
        else:
            conflicts.append(name)
            continue
        if result is not None:
            merged[name] = result
    return merged, conflicts


def _changes(host: Mapping[str, str], merged: Mapping[str, str]) -> dict[str, str | None]:
    """What turns ``host`` into ``merged``: set values (in ``merged``'s order), then unsets."""
    changes: dict[str, str | None] = {n: v for n, v in merged.items() if host.get(n) != v}
    changes.update({n: None for n in host if n not in merged})
    return changes


def _merged_text(host_text: str, changes: Mapping[str, str | None], where: str) -> str:
    """``host_text`` with ``changes`` applied, in memory, keeping its data key and the
    ciphertext of unchanged values (:func:`secretsafe.envfile.changed_text`)."""
    from secretsafe.envfile import changed_text
    from secretsafe.keys import discover
    from secretsafe.sops import update

    if not changes:
        return host_text
    store = variables.store_of(host_text)
    assert store is not None  # noqa: S101 - listed above as a sops file
    identities = [i.to_pyrage() for i in discover()]
    opened = update.open_text(host_text, identities, path=where, store=store)
    return changed_text(opened, changes)[0] or host_text


def _cannot(where: str, exc: SecretsafeError, version: str) -> SecretsafeError:
    """One line for a version that cannot be decrypted here (the cause is not chained)."""
    left = "merge refused; the file is left as your side"
    hint = (
        "merge it where a key opens all three versions, or take one side: "
        f"git checkout --ours -- {where} (or --theirs)"
    )
    if isinstance(exc, NoIdentityError):
        return NoIdentityError(f"{where}: no age key here to decrypt {version}; {left}", hint=hint)
    if isinstance(exc, DecryptionError):
        return DecryptionError(
            f"{where}: none of your age keys decrypts {version}; {left}", hint=hint
        )
    if isinstance(exc, IntegrityError):
        return IntegrityError(f"{where}: {version} fails its integrity check; {left}", hint=hint)
    return type(exc)(f"{where}: cannot decrypt {version} ({exc.message}); {left}", hint=hint)


def _read(path: str) -> str:
    from secretsafe.files import read_text

    return read_text(path, what="merge input", keep_bom=True)


def _text_merge(base: str, ours: str, theirs: str, where: str) -> MergeOutcome:
    import shutil
    import subprocess

    git = shutil.which("git")
    if git is None:
        raise SecretsafeError("git is not installed", hint="install git")
    labels = ["-L", "ours", "-L", "base", "-L", "theirs"]
    try:
        proc = subprocess.run(
            [git, "merge-file", "-q", *labels, ours, base, theirs],
            capture_output=True,
            timeout=120,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise SecretsafeError(f"{where}: git merge-file took longer than 120 s") from None
    if not 0 <= proc.returncode < 128:
        raise SecretsafeError(f"{where}: git merge-file failed (exit {proc.returncode})")
    clean = proc.returncode == 0
    return MergeOutcome(merged=clean, conflicts=() if clean else (where,), text_merge=True)


def merge_driver(base: str, ours: str, theirs: str, where: str) -> MergeOutcome:
    """Merge the files ``base``, ``ours``, ``theirs`` (git's ``%O %A %B``) into ``ours``;
    ``where`` (``%P``) names the file in messages. See the module docstring."""
    from secretsafe.git.textconv import shown

    where = shown(where)  # a path of the branch being merged: no control character echoed
    texts = {"base": _read(base), "ours": _read(ours), "theirs": _read(theirs)}
    stores = {k: variables.store_of(t) for k, t in texts.items()}
    if stores["ours"] is None and stores["theirs"] is None:
        return _text_merge(base, ours, theirs, where)  # plaintext now on both sides
    for side in ("ours", "theirs"):
        if stores[side] is None:
            raise FormatError(
                f"{where}: {'your' if side == 'ours' else 'their'} side is not a sops file "
                "and the other is; merge refused, the file is left as your side",
                hint=f"decide by hand: git checkout --ours -- {where} (or --theirs)",
            )
    if stores["ours"] != stores["theirs"]:
        raise FormatError(
            f"{where}: the two sides are sops files of different formats "
            f"({stores['ours']}, {stores['theirs']}); merge refused, the file is left as your side",
            hint=f"decide by hand: git checkout --ours -- {where} (or --theirs)",
        )
    listings = {
        k: variables.listing(t, path=where) for k, t in texts.items() if stores[k] is not None
    }
    opened: dict[str, variables.Decrypted] = {}
    for version, label in (
        ("ours", "your side"),
        ("theirs", "their side"),
        ("base", "the common ancestor"),
    ):
        if version not in listings:
            continue  # no common ancestor (added on both sides) or a plaintext one
        try:
            opened[version] = variables.decrypt(texts[version], path=where)
        except SecretsafeError as exc:
            raise _cannot(where, exc, label) from None
    base_values = opened["base"].values if "base" in opened else {}
    merged, conflicts = merge_values(base_values, opened["ours"].values, opened["theirs"].values)

    # Whose key: see the module docstring.
    rs = {k: frozenset(v.recipients) for k, v in listings.items()}
    key_from: Literal["ours", "theirs"] = "ours"
    if rs["ours"] != rs["theirs"]:
        if "base" in rs and rs["ours"] == rs["base"]:
            key_from = "theirs"
        elif "base" not in rs or rs["theirs"] != rs["base"]:
            conflicts.append("recipients")
    if conflicts:
        return MergeOutcome(merged=False, conflicts=tuple(conflicts), key_from=key_from)

    host = opened[key_from].values
    changes = _changes(host, merged)
    taken = tuple(n for n in merged if opened["ours"].values.get(n) != merged[n])
    taken += tuple(n for n in opened["ours"].values if n not in merged)
    try:
        text = _merged_text(texts[key_from], changes, where)
    except SecretsafeError as exc:  # e.g. a changed list: update_values sets strings only
        raise type(exc)(
            f"{where}: cannot write the merge: {exc.message}; merge refused, the file is "
            "left as your side",
            hint=exc.hint,
        ) from None
    # Checked in memory, before OURS is written: OURS is the old or the merged file.
    _verify(text, merged, where)
    _no_downgrade(text, merged, listings, where)
    if text != texts["ours"]:
        from secretsafe.files import atomic_write

        atomic_write(ours, text)
    return MergeOutcome(merged=True, taken=taken, key_from=key_from)


def _verify(text: str, merged: Mapping[str, str], where: str) -> None:
    """The merged text decrypts to the merge, else the merge is refused."""
    try:
        ok = variables.decrypt(text, path=where).values == dict(merged)
    except SecretsafeError:
        ok = False
    if not ok:
        raise IntegrityError(
            f"{where}: the merged file did not decrypt to the merged variables; "
            "merge refused, the file is left as your side",
            hint="report this; resolve by hand with secretsafe set / unset",
        )


def _no_downgrade(
    text: str,
    merged: Mapping[str, str],
    listings: Mapping[str, variables.Listing],
    where: str,
) -> None:
    """No value stored encrypted on either side is left in plaintext by the merge: the side
    whose file is written keeps its own encryption rules, which may leave in plaintext a name
    the other side encrypts (rules changed on one branch, or a hostile one)."""
    from secretsafe.git.textconv import shown

    states = variables.listing(text, path=where).states
    sides = [listings[k].states for k in ("ours", "theirs") if k in listings]
    exposed = [
        n
        for n, value in merged.items()
        if value and states.get(n) != "encrypted" and any(s.get(n) == "encrypted" for s in sides)
    ]
    if exposed:
        raise FormatError(
            f"{where}: the merge would store {', '.join(shown(n) for n in exposed)} in "
            "plaintext (the two sides encrypt different variables: their sops rules differ); "
            "merge refused, the file is left as your side",
            hint=f"make both sides' rules agree, or decide by hand: git checkout --ours -- {where}",
        )
