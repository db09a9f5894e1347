"""``NAME_FILE`` variables: a secret field's value read from the file a variable names, the
convention of the official postgres, mariadb and many other images (and of docker compose
``secrets:``, mounted at ``/run/secrets/NAME``).

``DATABASE__PASSWORD_FILE=/run/secrets/db_password`` fills the field that
``DATABASE__PASSWORD`` would (``database.password``), for every secret field: secret by type
(``SecretStr``, :func:`~secretsafe.schemas.SecretString`, ``secret = true``) or by name
(:func:`secretsafe.secret.is_secret_name`). A schema field that is itself called
``..._FILE`` is an ordinary field and is never read as a path.

The rules, and where they differ from the postgres entrypoint's ``file_env``:

- the file is read as secretsafe reads every file (regular files only: a FIFO, a device or a
  directory is refused without blocking; at most 16 MiB; UTF-8), relative paths from the
  current directory;
- exactly one trailing newline (``\\n`` or ``\\r\\n``) is removed: the one ``echo`` and editors
  add. ``file_env`` (``$(< file)``) removes all trailing newlines; keeping the others lets a
  value that really ends with a newline (a PEM block written with an extra blank line) stay
  intact;
- setting both ``NAME`` and ``NAME_FILE`` (both non-empty) is an error naming both, as in
  ``file_env``; an empty ``NAME_FILE`` counts as not set;
- a file that cannot be read is one problem naming the variable, reported with every other
  problem; neither the file's content nor its path is ever shown (a value pasted into the
  ``_FILE`` variable by mistake must not be echoed);
- names follow the schema's case rule (``database__password_file`` is the same variable when
  the schema is case-insensitive); only the field's primary variable name gets a ``_FILE``
  twin; the ``_FILE`` twin of a non-secret field is not read (it stays an unknown name).

When no such variable is set, the cost is one intersection of two sets of names (measured:
under 1 us for a 10-field schema, about 30 us for 1,000 fields; ``benchmarks/bench_load.py``
shows no difference beyond noise).
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from secretsafe.errors import FileError
from secretsafe.schemas.report import Problem

if TYPE_CHECKING:
    from secretsafe.schemas.names import Leaf, SchemaPlan

__all__ = ["SUFFIX", "Resolved", "resolve"]

SUFFIX = "_FILE"

_twins: weakref.WeakKeyDictionary[SchemaPlan, dict[str, Leaf]] = weakref.WeakKeyDictionary()


def _file_twins(plan: SchemaPlan) -> dict[str, Leaf]:
    """Normalised ``NAME_FILE`` -> leaf, for every leaf (whether it is a secret is asked
    only of a twin that is set: that rule costs more than building this), once per plan."""
    twins = _twins.get(plan)
    if twins is None:
        known, norm = plan.known, plan.norm
        twins = {
            name: leaf
            for leaf in plan.leaves
            if (name := norm(leaf.variable + SUFFIX)) not in known
        }
        _twins[plan] = twins
    return twins


@dataclass(frozen=True, slots=True)
class Resolved:
    """The environment with each ``NAME_FILE`` replaced by ``NAME`` (its file's content)."""

    env: dict[str, str]
    normalised: dict[str, str]
    sources: dict[str, str]
    problems: list[Problem]
    #: Normalised names of the ``_FILE`` variables consumed here (dropped from the input).
    consumed: frozenset[str]
    #: Normalised names of fields whose ``_FILE`` was set but gave no value: their "missing"
    #: problem would only repeat the one reported here.
    unfilled: frozenset[str]


def resolve(
    plan: SchemaPlan,
    env: Mapping[str, str],
    normalised: Mapping[str, str],
    sources: Mapping[str, str],
    *,
    read: bool = True,
) -> Resolved | None:
    """Apply the ``NAME_FILE`` variables of ``env`` (``normalised``: normalised name -> name in
    ``env``); None when there is none (the common case, at the cost of a few lookups).

    ``read=False``: the files are not read (they are paths inside a container, for a compose
    check): a set ``NAME_FILE`` only counts as providing the field."""
    twins = _file_twins(plan)
    # One set intersection, in C, from the smaller side: no string work per variable.
    found = twins.keys() & normalised.keys()
    if not found:
        return None
    hits = [(n, twins[n]) for n in normalised if n in found]  # in the environment's order
    from secretsafe.dotenv import shown_name
    from secretsafe.schemas.names import is_secret_leaf

    hits = [(n, leaf) for n, leaf in hits if is_secret_leaf(leaf)]
    if not hits:
        return None  # NAME_FILE of a non-secret field: reported as an unknown name

    out_env = dict(env)
    out_norm = dict(normalised)
    out_src = dict(sources)
    problems: list[Problem] = []
    consumed: set[str] = set()
    unfilled: set[str] = set()
    for n, leaf in hits:
        file_var = normalised[n]
        path = env[file_var]
        label = sources.get(file_var)
        consumed.add(n)
        for k in [k for k in out_env if plan.norm(k) == n]:  # every spelling of it
            del out_env[k]
        del out_norm[n]
        if not path:
            continue  # empty: not set, as in file_env
        shown = shown_name(file_var)
        field_n = plan.norm(leaf.variable)
        field_var = out_norm.get(field_n)
        if field_var is not None and out_env[field_var]:
            problems.append(
                Problem(
                    variable=shown,
                    field=leaf.field_path,
                    kind="file",
                    message=f"{shown} and {shown_name(field_var)} are both set (but are exclusive)",
                    hint=f"unset one of them: {shown} names a file holding the value",
                    source=label,
                )
            )
            continue
        if not read:
            unfilled.add(field_n)
            continue
        try:
            value = _read_value(path)
        except FileError as exc:
            # FileError messages start with the path: keep the reason only.
            prefix = f"{path}: "
            reason = exc.message[len(prefix) :] if exc.message.startswith(prefix) else "error"
            problems.append(
                Problem(
                    variable=shown,
                    field=leaf.field_path,
                    kind="file",
                    message=f"the file it names cannot be read: {reason}",
                    hint=f"set {shown} to the path of a readable regular file "
                    f"holding the value of {leaf.variable}",
                    source=label,
                )
            )
            unfilled.add(field_n)
            continue
        if field_var is not None:
            del out_env[field_var]  # the empty one
        out_env[leaf.variable] = value
        out_norm[field_n] = leaf.variable
        out_src[leaf.variable] = f"{label}: {shown}" if label else shown
    return Resolved(out_env, out_norm, out_src, problems, frozenset(consumed), frozenset(unfilled))


def _read_value(path: str) -> str:
    from secretsafe.files import read_text

    text = read_text(path, what="secret file")
    if text.endswith("\r\n"):
        return text[:-2]
    return text.removesuffix("\n")
