"""The environment a service's container gets, and where each variable comes from.

Docker compose builds it as: the ``env_file`` entries in order (a later file wins), then the
``environment`` entries over them. An ``environment`` entry without a value (``- KEY`` or
``KEY:``) takes the value from the environment compose runs in (the process environment and
the project ``.env``); when that has none, the variable is not set in the container at all.

``${VAR}`` in env-file values is interpolated as compose-go's ``WithServicesEnvironmentResolved``
does: from the project environment, then the service's ``environment:`` entries, then the lines
of this and the earlier env files of the service (:mod:`secretsafe.compose.envparse`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal, NamedTuple

from secretsafe.compose.envfiles import EnvFileContent, read_env_file
from secretsafe.compose.envparse import LITERAL, Chain, EnvLine, expand
from secretsafe.compose.interpolate import Ref
from secretsafe.compose.loader import EnvFileRef, Loc, Project, Service, Setting
from secretsafe.secret import SecretValues

__all__ = ["EnvFileCache", "ServiceEnvironment", "Variable", "service_environment"]

Kind = Literal["environment", "env_file", "shell"]


class Variable(NamedTuple):
    """One variable of a service's container environment.

    ``loc``: the file and line that set the winning value (for ``kind == "shell"``, the
    compose line that passes it through). ``overridden``: every earlier place that set it
    (other overlays, env files), oldest first. ``setting``: the compose entry, if any.
    """

    name: str
    value: str
    loc: Loc
    kind: Kind
    overridden: tuple[Loc, ...] = ()
    setting: Setting | None = None

    def __repr__(self) -> str:
        return f"Variable({self.name!r}, loc={self.loc}, kind={self.kind!r})"


class EnvFileCache:
    """Reads each env file once per run (a 50-service stack shares a handful of files)."""

    def __init__(self, *, decrypt: bool = True) -> None:
        self.decrypt = decrypt
        self._files: dict[tuple[str, str], EnvFileContent] = {}

    def get(self, ref: EnvFileRef) -> EnvFileContent:
        key = (ref.resolved, ref.format or "")
        got = self._files.get(key)
        if got is None:
            # Named as written (the template), never by the interpolated path.
            got = read_env_file(
                ref.resolved, display=ref.display, decrypt=self.decrypt, format=ref.format
            )
            self._files[key] = got
        return got


class ServiceEnvironment(NamedTuple):
    service: Service
    variables: dict[str, Variable]
    #: env_file entries that do not exist (required or not).
    missing_files: tuple[EnvFileRef, ...]
    #: ``${VAR}`` references met in env-file values, with the file and line.
    env_file_refs: tuple[tuple[Loc, Ref], ...] = ()

    def values(self) -> SecretValues:
        """name -> value, masked in reprs (for the schema check)."""
        return SecretValues({k: v.value for k, v in self.variables.items()})

    def sources(self) -> dict[str, str]:
        """name -> ``file:line`` of the winning value."""
        return {k: str(v.loc) for k, v in self.variables.items()}

    def __repr__(self) -> str:
        return f"ServiceEnvironment({self.service.name!r}, names={list(self.variables)!r})"


def service_environment(
    project: Project,
    name: str,
    *,
    decrypt: bool = True,
    cache: EnvFileCache | None = None,
) -> ServiceEnvironment:
    """The resulting environment of service ``name`` (a :class:`ComposeError` if unknown).

    ``decrypt=False``: encrypted env files contribute their names with empty values (for
    checks that must not need a key).
    """
    service = project.service(name)
    files = cache if cache is not None else EnvFileCache(decrypt=decrypt)
    out: dict[str, Variable] = {}
    missing: list[EnvFileRef] = []
    refs: list[tuple[Loc, Ref]] = []
    environ: Mapping[str, str] = project.environ
    # The service's environment with bare KEYs resolved; those still unset are absent.
    resolved: dict[str, str] = {}
    for var, setting in service.environment.items():
        value = setting.value if setting.value is not None else environ.get(var)
        if value is not None:
            resolved[var] = value
    lookup = Chain(environ, resolved)
    vars: dict[str, str] = dict(resolved)  # compose starts the env files' map with it
    for ref in service.env_files:
        content = files.get(ref)
        if not content.exists:
            missing.append(ref)
            continue
        lines = [
            EnvLine(e.name, e.value, e.line, e.mode)
            if e.value is not None
            else EnvLine(e.name, "", e.line, LITERAL)  # encrypted, not decrypted: names only
            for e in content.entries
        ]
        for got in expand(lines, lookup=lookup, into=vars, where=content.path):
            loc = Loc(content.path, got.line)
            refs.extend((loc, r) for r in got.refs)
            if got.value is None:
                continue  # a bare KEY no source sets: compose leaves it out
            old = out.get(got.name)
            out[got.name] = Variable(
                got.name,
                got.value,
                loc,
                "env_file",
                overridden=(*old.overridden, old.loc) if old else (),
            )
    for var, setting in service.environment.items():
        old = out.get(var)
        earlier = (*old.overridden, old.loc) if old else ()
        earlier = (*earlier, *(p.loc for p in setting.previous))
        if setting.value is None:
            value = resolved.get(var)
            if value is None:
                out.pop(var, None)  # compose leaves it unset in the container
                continue
            out[var] = Variable(var, value, setting.loc, "shell", earlier, setting)
        else:
            out[var] = Variable(var, setting.value, setting.loc, "environment", earlier, setting)
    return ServiceEnvironment(service, out, tuple(missing), tuple(refs))
