"""Read compose files with line numbers and merge them the way docker compose does.

Parsing uses PyYAML's node API (``yaml.compose``, with the C loader when it is built), so every
mapping key and list item keeps its line. Anchors and aliases resolve to shared nodes; merge
keys (``<<: *defaults``, or ``<<: [*a, *b]`` where the first wins) are applied here, since only
PyYAML's constructor does that and it drops line numbers. Overlay tags ``!reset`` and
``!override`` (compose 2.24+) are honoured.

Each file is interpolated on its own (compose does this before merging), from the project
``.env`` next to the first file with the process environment over it. Then the files merge in
order, by the compose specification's rules:

- mappings merge key by key, the later file winning; ``environment`` and ``labels`` in list
  form (``KEY=VALUE``, ``KEY``) are mappings for this purpose;
- sequences append; ``command``, ``entrypoint`` and ``healthcheck.test`` are replaced;
  ``volumes`` merge by container path, ``ports``/``secrets``/``configs`` drop duplicates;
- ``env_file`` entries (a string, a list, or the long form with ``path``/``required``/
  ``format``) append, a path already listed keeping its first position;
- relative paths are relative to the project directory (the first file's directory), as in
  compose with several ``-f`` files.

``extends`` (same file or ``file:``) is resolved per file before merging. ``include`` is not
supported (a :class:`~secretsafe.errors.ComposeError` says so).

Every ``environment`` entry keeps the history of the settings it replaced, so a report can say
that ``production.yml:12`` overrides ``base.yml:30``. Values stay in memory; reprs hide them.

What a message may quote
------------------------
Interpolation fills ``${VAR}`` from decrypted ``-f`` files and the process environment (a CI
``VAULT_TOKEN``), so any interpolated string may be a secret. The rule, for every error and
finding of :mod:`secretsafe.compose` and ``secretsafe check``: **a message may quote what the
user wrote in the file (the template, the raw scalar before interpolation), never an
interpolated result nor anything derived from one** (a path joined from it, a service or schema
named by it, the text of an error raised while reading the file it names). By construction:

- an interpolated scalar is a :class:`Templated` (the value, with ``raw``, its template); every
  place that names a scalar in a message goes through :func:`shown`, which gives the template,
  and ``format()`` / f-strings of a :class:`Templated` give the template too;
- what is derived from a value carries its display twin, built from the template:
  :attr:`EnvFileRef.shown` and :attr:`EnvFileRef.display` (the path as written, and resolved),
  :attr:`Mount.shown_source`, the display path of a file reached through ``extends: {file:}``
  (it becomes the ``file`` of every location in it);
- errors raised while reading a file whose path came from interpolation are re-worded with the
  display path (:func:`secretsafe.compose.envfiles.reading_as`);
- a variable *name* produced by interpolation (``- "${X}=1"`` in a list) cannot be reported
  without naming a value: it is refused with a :class:`~secretsafe.errors.ComposeError`.

Hostile structure gets a :class:`~secretsafe.errors.ComposeError`, never ``RecursionError``,
``MemoryError`` or a hang: interpolation is one pass with an explicit stack (any ``${A:-${A:-``
depth, as docker compose); YAML nests at most :data:`MAX_DEPTH` levels (libyaml itself stops at
1,000); aliases are converted once and merged once per pair of nodes (no "billion laughs"
blow-up); ``extends`` chains are followed iteratively and each service resolved once.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from secretsafe.compose.interpolate import Ref, interpolate
from secretsafe.compose.yamlscalar import NUMERIC_START, is_timestamp, number_text
from secretsafe.errors import ComposeError

__all__ = [
    "RESET",
    "ComposeFile",
    "EnvFileRef",
    "Loc",
    "Mount",
    "Project",
    "Service",
    "Setting",
    "Templated",
    "Usage",
    "YList",
    "YMap",
    "load_project",
    "parse_file",
    "shown",
]

_MERGE_TAG = "tag:yaml.org,2002:merge"
_NULL_TAG = "tag:yaml.org,2002:null"
_BOOL_TAG = "tag:yaml.org,2002:bool"
#: Deepest nesting of mappings and lists accepted (a compose file needs fewer than 10 levels;
#: the recursive converter and merge need a few stack frames per level).
MAX_DEPTH = 100


class Loc(NamedTuple):
    """Where something is set: the file as the user named it, and a 1-based line."""

    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


class Templated(str):
    """A string scalar that held ``$`` syntax: the interpolated value, with the template
    (``raw``) and the references met (``refs``).

    It is the value for every string operation; ``format()`` (so an f-string) gives the
    template, so that a message built from it cannot quote the value by accident.
    """

    raw: str
    refs: tuple[Ref, ...]

    def __new__(cls, value: str, raw: str, refs: tuple[Ref, ...]) -> Templated:
        obj = super().__new__(cls, value)
        obj.raw = raw
        obj.refs = refs
        return obj

    def __repr__(self) -> str:
        return "Templated(<hidden>)"

    def __format__(self, spec: str) -> str:
        return format(self.raw, spec)


def shown(value: object) -> str:
    """What a message may quote for a scalar read from a compose file: the template for an
    interpolated one, the text itself otherwise (see the module docstring)."""
    if isinstance(value, Templated):
        return value.raw
    return str(value)


class _Reset:
    def __repr__(self) -> str:
        return "RESET"


#: The value of a key tagged ``!reset`` in an overlay: the key is removed when merging.
RESET: Any = _Reset()


class YMap(dict[str, Any]):
    """A mapping that knows where it and each of its keys are."""

    def __init__(self, loc: Loc, *, override: bool = False) -> None:
        super().__init__()
        self.loc = loc
        self.locs: dict[str, Loc] = {}
        self.override = override
        self.normalized = False

    def put(self, key: str, value: Any, loc: Loc) -> None:
        self[key] = value
        self.locs[key] = loc

    def __repr__(self) -> str:
        return f"YMap(keys={list(self)!r}, loc={self.loc})"


class YList(list[Any]):
    """A sequence that knows where it and each of its items are."""

    def __init__(self, loc: Loc, *, override: bool = False) -> None:
        super().__init__()
        self.loc = loc
        self.locs: list[Loc] = []
        self.override = override

    def add(self, value: Any, loc: Loc) -> None:
        self.append(value)
        self.locs.append(loc)

    def __repr__(self) -> str:
        return f"YList(len={len(self)}, loc={self.loc})"


class Setting(NamedTuple):
    """One ``environment`` (or ``labels``) entry of a service.

    ``value``: after interpolation; ``None`` for a bare ``KEY`` (taken from the environment
    compose runs in). ``raw``: as written. ``previous``: the settings of earlier files that
    this one replaced, oldest first.
    """

    name: str
    value: str | None
    raw: str | None
    loc: Loc
    templated: bool = False
    previous: tuple[Setting, ...] = ()

    def __repr__(self) -> str:
        return f"Setting({self.name!r}, loc={self.loc}, templated={self.templated})"


class EnvFileRef(NamedTuple):
    """One ``env_file`` entry: the path (interpolated), resolved against the project
    directory. ``shown`` and ``display`` are the same two with the template in place of the
    interpolated value: the only forms a message may quote."""

    path: str
    resolved: str
    required: bool
    format: str | None
    loc: Loc
    shown: str
    display: str = ""


class Mount(NamedTuple):
    """One ``volumes`` entry of a service (short or long syntax). ``shown_source``: the
    source as a message may quote it (the whole entry as written when it was interpolated)."""

    source: str | None
    target: str | None
    type: str
    read_only: bool
    loc: Loc
    shown_source: str | None = None


class Usage(NamedTuple):
    """A string scalar with ``$`` references: where, the key path, and the references."""

    loc: Loc
    path: tuple[str, ...]
    refs: tuple[Ref, ...]


@dataclass
class ComposeFile:
    """One parsed compose file."""

    path: str
    abspath: str
    data: YMap
    usages: list[Usage]
    lines: list[str]

    def line_text(self, line: int) -> str:
        return self.lines[line - 1] if 0 < line <= len(self.lines) else ""

    def __repr__(self) -> str:
        # The text and the parsed data hold values: never in a repr.
        return f"ComposeFile({self.path!r})"


@dataclass
class Service:
    """A service after merging every file.

    ``locs``: the line of ``<name>:`` under ``services`` in each file that defines it.
    ``environment``: name -> the winning :class:`Setting` (with ``previous``).
    """

    name: str
    locs: tuple[Loc, ...]
    config: YMap
    environment: dict[str, Setting]
    env_files: list[EnvFileRef]
    volumes: list[Mount]
    labels: dict[str, Setting]

    @property
    def loc(self) -> Loc:
        return self.locs[0]

    def __repr__(self) -> str:
        return f"Service({self.name!r}, variables={list(self.environment)!r})"


@dataclass
class Project:
    """Compose files merged into one model, and the interpolation sources used."""

    files: list[ComposeFile]
    project_dir: str
    services: dict[str, Service]
    #: name -> value: the project ``.env`` and extra files under the process environment.
    environ: Mapping[str, str] = field(repr=False)
    #: name -> where it is defined for interpolation (``.env:3``, ``environment``, a file).
    env_sources: dict[str, str] = field(default_factory=dict)
    dotenv_path: str | None = None
    #: ``${VAR}`` references met in the project ``.env``, with the line.
    dotenv_refs: list[tuple[Loc, Ref]] = field(default_factory=list)
    #: Services left out because none of their profiles is enabled: name -> profiles, as
    #: written (templates).
    disabled: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: The profiles enabled.
    profiles: tuple[str, ...] = ()

    def __repr__(self) -> str:
        return f"Project(files={[f.path for f in self.files]!r}, services={list(self.services)!r})"

    def file(self, path: str) -> ComposeFile | None:
        return next((f for f in self.files if f.path == path), None)

    def service(self, name: str) -> Service:
        try:
            return self.services[name]
        except KeyError:
            known = ", ".join(sorted(self.services)) or "none"
            if name in self.disabled:
                first = self.disabled[name][0]
                raise ComposeError(
                    f"service {name!r} is not enabled: its profiles "
                    f"({', '.join(self.disabled[name])}) are not",
                    hint=f"enable one: --profile {first} or COMPOSE_PROFILES={first}",
                ) from None
            raise ComposeError(
                f"no service {name!r} in {', '.join(f.path for f in self.files)}",
                hint=f"services: {known}",
            ) from None


# ----------------------------------------------------------------------------- parsing
def _yaml_loader() -> Any:
    import yaml

    return getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def parse_file(
    path: str | os.PathLike[str],
    *,
    env: Mapping[str, str],
    display: str | None = None,
    allow_include: bool = True,
) -> ComposeFile:
    """Parse and interpolate one compose file (no merging, no ``extends``, no ``include``)."""
    import yaml

    from secretsafe.compose.envfiles import reading_as
    from secretsafe.files import read_text

    label = display if display is not None else os.fspath(path)
    text = reading_as(os.fspath(path), label, lambda: read_text(path, what="compose file"))
    try:
        root = yaml.compose(text, Loader=_yaml_loader())
    except RecursionError:
        # Only the pure-Python composer recurses (libyaml stops at 1,000 levels itself).
        raise _too_deep(label) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{label}:{mark.line + 1}" if mark is not None else label
        # Only the problem, never the snippet: the offending line may hold a value.
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ComposeError(f"{where}: {problem}", hint="fix the YAML syntax") from None
    conv = _Converter(label, env)
    if root is None:
        data = YMap(Loc(label, 1))
    else:
        value = conv.node(root, ())
        if not isinstance(value, YMap):
            raise ComposeError(
                f"{label}:{root.start_mark.line + 1}: a compose file is a mapping at the top",
                hint="start with services:",
            )
        data = value
    if "include" in data and not allow_include:
        raise ComposeError(
            f"{data.locs['include']}: include in a file reached through extends is not supported",
            hint="include the file from the main compose file instead",
        )
    services = data.get("services")
    if services is not None and not isinstance(services, YMap):
        raise ComposeError(f"{data.locs['services']}: services must be a mapping")
    if isinstance(services, YMap):
        for name in services:
            svc = services[name]
            if svc is None:
                svc = YMap(services.locs[name])
                services[name] = svc
            if svc is RESET:
                continue
            if not isinstance(svc, YMap):
                raise ComposeError(f"{services.locs[name]}: service {name!r} must be a mapping")
            _normalize_service(svc, label)
    return ComposeFile(
        path=label,
        abspath=os.path.abspath(path),
        data=data,
        usages=conv.usages,
        lines=text.splitlines(),
    )


class _Converter:
    """yaml nodes -> YMap/YList/str/None with locations; interpolation as it goes."""

    def __init__(self, file: str, env: Mapping[str, str]) -> None:
        self.file = file
        self.env = env
        self.usages: list[Usage] = []
        # Aliases share nodes: convert each collection once (and stop alias cycles).
        self.done: dict[int, Any] = {}
        self.active: set[int] = set()

    def loc(self, node: Any) -> Loc:
        return Loc(self.file, node.start_mark.line + 1)

    def node(self, node: Any, path: tuple[str, ...], depth: int = 0) -> Any:
        import yaml

        if isinstance(node, yaml.ScalarNode):
            return self.scalar(node, path)
        key = id(node)
        if key in self.done:
            return self.done[key]
        if key in self.active:
            raise ComposeError(f"{self.loc(node)}: recursive alias", hint="remove the cycle")
        if depth >= MAX_DEPTH:
            raise _too_deep(str(self.loc(node)))
        self.active.add(key)
        try:
            if isinstance(node, yaml.MappingNode):
                result: Any = self.mapping(node, path, depth)
            else:
                result = YList(self.loc(node), override=node.tag == "!override")
                for item in node.value:
                    result.add(self.node(item, path, depth + 1), self.loc(item))
        finally:
            self.active.discard(key)
        self.done[key] = result
        return result

    def mapping(self, node: Any, path: tuple[str, ...], depth: int) -> YMap:
        import yaml

        out = YMap(self.loc(node), override=node.tag == "!override")
        merged: list[Any] = []
        explicit: set[str] = set()
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                if isinstance(value_node, yaml.SequenceNode):
                    merged.extend(value_node.value)
                else:
                    merged.append(value_node)
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                raise ComposeError(f"{self.loc(key_node)}: a mapping key must be a scalar")
            key = str(key_node.value)
            if key in explicit:
                raise ComposeError(
                    f"{self.loc(key_node)}: key {key!r} is set twice in the same mapping",
                    hint="remove one of them",
                )
            explicit.add(key)
        # Merged mappings first (the first listed wins), then the explicit keys over them.
        for source in reversed(merged):
            if not isinstance(source, yaml.MappingNode):
                raise ComposeError(f"{self.loc(source)}: << must refer to a mapping")
            base = self.node(source, path, depth + 1)
            for k in base:
                out.put(k, base[k], base.locs[k])
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                continue
            key = str(key_node.value)
            loc = self.loc(key_node)
            if value_node.tag == "!reset":
                out.put(key, RESET, loc)
            else:
                out.put(key, self.node(value_node, (*path, key), depth + 1), loc)
        return out

    def scalar(self, node: Any, path: tuple[str, ...]) -> str | None:
        tag = node.tag
        text: str = node.value
        if tag == _NULL_TAG:
            return None
        if tag == _BOOL_TAG and text.lower() in ("true", "false"):
            return text.lower()  # compose's YAML 1.2 booleans print as true/false
        if not node.style and text[:1] in NUMERIC_START:  # plain: None, or "" (C loader)
            if is_timestamp(text) and _is_env_value(path):
                raise ComposeError(
                    f"{self.loc(node)}: a date or time as a value: docker compose refuses it "
                    "(invalid type time.Time)",
                    hint='quote it ("2024-01-01") to pass it as a string',
                )
            number = number_text(text)
            if number is not None:
                return number
        if "$" not in text:
            return text
        loc = self.loc(node)
        result = interpolate(text, self.env, where=str(loc))
        if result.refs:
            self.usages.append(Usage(loc, path, result.refs))
        return Templated(result.value, text, result.refs)


def _is_env_value(path: tuple[str, ...]) -> bool:
    """``services.NAME.environment`` / ``labels``, map or list form: where compose validates a
    value's type."""
    return len(path) >= 3 and path[0] == "services" and path[2] in ("environment", "labels")


def _too_deep(where: str) -> ComposeError:
    return ComposeError(
        f"{where}: nested more than {MAX_DEPTH} levels deep",
        hint="a compose file needs far fewer; flatten the structure",
    )


# ----------------------------------------------------------------------------- normalising
def _setting_list(value: Any, owner: YMap, key: str, what: str) -> YMap:
    """``environment``/``labels`` in either form -> a YMap of :class:`Setting`."""
    loc = owner.locs[key]
    out = YMap(value.loc if isinstance(value, (YMap, YList)) else loc)
    if value is None or value is RESET:
        return out
    if isinstance(value, YMap):
        out.override = value.override
        for name in value:
            v = value[name]
            if v is RESET:
                out.put(name, RESET, value.locs[name])
                continue
            if isinstance(v, (YMap, YList)):
                raise ComposeError(f"{value.locs[name]}: {what} {name!r} must be a scalar")
            out.put(name, _setting(name, v, value.locs[name]), value.locs[name])
        return out
    if isinstance(value, YList):
        out.override = value.override
        for item, item_loc in zip(value, value.locs, strict=True):
            if not isinstance(item, str):
                raise ComposeError(f"{item_loc}: {what} entries are KEY=VALUE strings")
            name, eq, rest = item.partition("=")
            if not name:
                raise ComposeError(f"{item_loc}: {what} entry with an empty name")
            if what == "environment" and name.endswith(" "):
                # As compose refuses it ("declared with a trailing space"); the name is not
                # quoted: the entry may be a value typed in the wrong place.
                raise ComposeError(
                    f"{item_loc}: the name of this environment entry ends with a space, "
                    "which docker compose refuses",
                    hint="write NAME=value with no space before the '='",
                )
            if isinstance(item, Templated):
                # The name part of "KEY=${X}" is literal; keep the value's template.
                raw_name, _, raw_rest = item.raw.partition("=")
                if interpolate(raw_name, {}).refs:  # "$$" and a lone "$" are literal
                    # Compose would name the variable after a value: no report could say
                    # which variable without quoting it.
                    raise ComposeError(
                        f"{item_loc}: the name of this {what} entry comes from ${{...}} "
                        "interpolation, which secretsafe does not support",
                        hint="write the name literally (NAME=${VALUE})",
                    )
                val: str | None = (
                    Templated(rest, raw_rest, item.refs) if eq and "$" in raw_rest else rest
                )
            else:
                val = rest if eq else None
            out.put(name, _setting(name, val if eq else None, item_loc), item_loc)
        return out
    raise ComposeError(f"{loc}: {what} must be a mapping or a list")


def _setting(name: str, value: Any, loc: Loc) -> Setting:
    if isinstance(value, Templated):
        return Setting(name, str(value), value.raw, loc, templated=bool(value.refs))
    if value is None:
        return Setting(name, None, None, loc)
    text = str(value)
    return Setting(name, text, text, loc)


def _env_file_list(value: Any, owner: YMap, key: str) -> YList:
    loc = owner.locs[key]
    out = YList(value.loc if isinstance(value, (YMap, YList)) else loc)
    if value is None or value is RESET:
        return out
    items: list[tuple[Any, Loc]]
    if isinstance(value, str):
        items = [(value, loc)]
    elif isinstance(value, YList):
        out.override = value.override
        items = list(zip(value, value.locs, strict=True))
    else:
        raise ComposeError(f"{loc}: env_file must be a path or a list")
    for item, item_loc in items:
        if isinstance(item, str):
            out.add(EnvFileRef(str(item), "", True, None, item_loc, shown(item)), item_loc)
        elif isinstance(item, YMap):
            path = item.get("path")
            if not isinstance(path, str) or not path:
                raise ComposeError(f"{item_loc}: an env_file entry needs a path")
            required = item.get("required", "true")
            fmt = item.get("format")
            out.add(
                EnvFileRef(
                    str(path),
                    "",
                    str(required).lower() not in ("false", "no", "0"),
                    str(fmt) if fmt is not None else None,
                    item.locs.get("path", item_loc),
                    shown(path),
                ),
                item_loc,
            )
        else:
            raise ComposeError(f"{item_loc}: env_file entries are paths or mappings")
    return out


def _volume_list(value: Any, owner: YMap, key: str) -> YList:
    loc = owner.locs[key]
    out = YList(value.loc if isinstance(value, (YMap, YList)) else loc)
    if value is None or value is RESET:
        return out
    if not isinstance(value, YList):
        raise ComposeError(f"{loc}: volumes must be a list")
    out.override = value.override
    for item, item_loc in zip(value, value.locs, strict=True):
        if isinstance(item, str):
            mount = _short_volume(str(item), item_loc)
            if isinstance(item, Templated):
                # Which part of the template the source came from is not known: quote it all.
                mount = mount._replace(shown_source=item.raw)
            out.add(mount, item_loc)
        elif isinstance(item, YMap):
            src = item.get("source")
            tgt = item.get("target")
            ro = str(item.get("read_only", "false")).lower() == "true"
            out.add(
                Mount(
                    str(src) if src is not None else None,
                    str(tgt) if tgt is not None else None,
                    str(item.get("type", "volume")),
                    ro,
                    item.locs.get("source", item_loc),
                    shown(src) if src is not None else None,
                ),
                item_loc,
            )
        else:
            raise ComposeError(f"{item_loc}: a volumes entry is a string or a mapping")
    return out


def _short_volume(spec: str, loc: Loc) -> Mount:
    parts = spec.split(":")
    if len(parts) == 1:
        return Mount(None, parts[0], "volume", False, loc, None)
    source, target = parts[0], parts[1]
    mode = parts[2] if len(parts) > 2 else ""
    kind = "bind" if source.startswith(("/", ".", "~", "$")) else "volume"
    return Mount(source, target, kind, "ro" in mode.split(","), loc, source)


_SERVICE_FIELDS = {
    "environment": lambda v, o, k: _setting_list(v, o, k, "environment"),
    "labels": lambda v, o, k: _setting_list(v, o, k, "label"),
    "env_file": _env_file_list,
    "volumes": _volume_list,
}


def _normalize_service(svc: YMap, file: str) -> None:
    if svc.normalized:  # the same node reached again through an alias
        return
    svc.normalized = True
    for key, fn in _SERVICE_FIELDS.items():
        if key in svc and svc[key] is not RESET:
            svc.put(key, fn(svc[key], svc, key), svc.locs[key])


# ----------------------------------------------------------------------------- merging
_REPLACED = {("command",), ("entrypoint",), ("healthcheck", "test")}
_UNIQUE = {("ports",), ("secrets",), ("configs",), ("expose",), ("dns",), ("dns_search",)}


#: Merges already done in one :func:`merge_service` call, by the two nodes (and the key path
#: where the rules depend on it).
#: Aliases make a file a graph: the same pair of mappings can meet many times, and merging each
#: meeting again would grow exponentially with the depth of aliasing ("billion laughs").
_Memo = dict[tuple[int, int, tuple[str, ...]], YMap]


def merge_service(base: YMap, over: YMap) -> YMap:
    """``over`` merged onto ``base`` (neither is modified)."""
    return _merge_map(base, over, (), {})


def _overlay_map(base: YMap, over: YMap, merge: Callable[[str, Any, Any], Any]) -> YMap:
    """``over``'s keys onto a copy of ``base``: ``!reset`` drops a key, a key in both becomes
    ``merge(key, old, new)``, and an ``!override`` map replaces ``base`` whole."""
    if over.override:
        return over
    out = YMap(base.loc)
    for k in base:
        out.put(k, base[k], base.locs[k])
    for k in over:
        v = over[k]
        if v is RESET:
            out.pop(k, None)
            out.locs.pop(k, None)
        elif k in out:
            out.put(k, merge(k, out[k], v), over.locs[k])
        else:
            out.put(k, v, over.locs[k])
    return out


def _merge_map(base: YMap, over: YMap, path: tuple[str, ...], memo: _Memo) -> YMap:
    # The rules depend on the key path only down to two levels (healthcheck.test); below, the
    # same pair of nodes merges the same way wherever it is met.
    key = (id(base), id(over), path if len(path) < 3 else ())
    done = memo.get(key)
    if done is None:
        done = _overlay_map(
            base, over, lambda k, old, new: _merge_value(old, new, (*path, k), memo)
        )
        memo[key] = done
    return done


def _merge_value(base: Any, over: Any, path: tuple[str, ...], memo: _Memo) -> Any:
    if path in (("environment",), ("labels",)) and isinstance(base, YMap):
        return _merge_settings(base, over)
    if isinstance(base, YMap) and isinstance(over, YMap):
        return _merge_map(base, over, path, memo)
    if isinstance(base, YList) and isinstance(over, YList) and not over.override:
        if path in _REPLACED:
            return over
        out = YList(base.loc)
        if path == ("env_file",):
            seen = {ref.resolved or ref.path for ref in base}
            for item, loc in zip(base, base.locs, strict=True):
                out.add(item, loc)
            for item, loc in zip(over, over.locs, strict=True):
                if (item.resolved or item.path) not in seen:
                    seen.add(item.resolved or item.path)
                    out.add(item, loc)
            return out
        if path == ("volumes",):
            # By container path: an overlay's mount replaces the base's at the same target.
            targets = {m.target for m in over if m.target}
            for item, loc in zip(base, base.locs, strict=True):
                if item.target not in targets:
                    out.add(item, loc)
            for item, loc in zip(over, over.locs, strict=True):
                out.add(item, loc)
            return out
        unique = path in _UNIQUE
        for item, loc in zip(base, base.locs, strict=True):
            out.add(item, loc)
        for item, loc in zip(over, over.locs, strict=True):
            if unique and not isinstance(item, (YMap, YList)) and item in out:
                continue
            out.add(item, loc)
        return out
    return over


def _merge_settings(base: YMap, over: YMap) -> YMap:
    return _overlay_map(base, over, _with_previous)


def _with_previous(_key: str, old: Any, new: Any) -> Any:
    """``new``, remembering ``old`` (and what it replaced) as earlier values."""
    if isinstance(old, Setting):
        return new._replace(previous=(*old.previous, old._replace(previous=())))
    return new


# ----------------------------------------------------------------------------- extends
def _resolve_extends(
    cf: ComposeFile, env: Mapping[str, str], cache: dict[str, ComposeFile]
) -> None:
    services = cf.data.get("services")
    if not isinstance(services, YMap):
        return
    # (file, service) -> the service with its extends chain merged in: each resolved once,
    # however many services extend it, and chains followed in a loop (no recursion depth).
    done: dict[tuple[str, str], YMap] = {}
    resolved = {
        name: _extended(cf, name, env, cache, done)
        for name in list(services)
        if isinstance(services[name], YMap) and "extends" in services[name]
    }
    for name, svc in resolved.items():
        services[name] = svc


def _extended(
    file: ComposeFile,
    name: str,
    env: Mapping[str, str],
    cache: dict[str, ComposeFile],
    done: dict[tuple[str, str], YMap],
) -> YMap:
    """Service ``name`` of ``file`` merged onto what it extends, transitively."""
    chain: list[tuple[tuple[str, str], YMap]] = []  # from ``name`` up towards the root
    seen: set[tuple[str, str]] = set()
    while True:
        key = (file.abspath, name)
        if key in done:
            base = done[key]
            break
        if key in seen:
            raise ComposeError(
                f"{file.path}: extends loop through service {shown(name)!r}",
                hint="break the cycle",
            )
        seen.add(key)
        svcs = file.data.get("services")
        if not isinstance(svcs, YMap) or not isinstance(svcs.get(name), YMap):
            raise ComposeError(f"{file.path}: no service {shown(name)!r} to extend")
        svc: YMap = svcs[name]
        ext = svc.get("extends")
        if ext is None:
            base = svc
            break
        chain.append((key, svc))
        file, name = _extends_target(file, ext, svc.locs["extends"], env, cache)
    for key, svc in reversed(chain):
        base = merge_service(base, svc)
        base.pop("extends", None)
        base.locs.pop("extends", None)
        done[key] = base
    return base


def _extends_target(
    file: ComposeFile, ext: Any, loc: Loc, env: Mapping[str, str], cache: dict[str, ComposeFile]
) -> tuple[ComposeFile, str]:
    """The file and service an ``extends`` entry of ``file`` names (parsed on first use)."""
    if isinstance(ext, str):
        return file, ext
    if not (isinstance(ext, YMap) and isinstance(ext.get("service"), str)):
        raise ComposeError(f"{loc}: extends needs a service name")
    other = ext.get("file")
    if not (isinstance(other, str) and other):
        return file, ext["service"]
    path = os.path.abspath(os.path.join(os.path.dirname(file.abspath), other))
    target = cache.get(path)
    if target is None:
        # Shown as written: the display path becomes the file of every location in it.
        display = os.path.join(os.path.dirname(file.path), shown(other))
        target = parse_file(path, env=env, display=display, allow_include=False)
        # Its env_file paths are relative to its own directory, as in compose.
        _anchor_env_files(target, os.path.dirname(path), os.path.dirname(display))
        cache[target.abspath] = target
    return target, ext["service"]


def _anchor_env_files(cf: ComposeFile, base: str, display_base: str) -> None:
    """Resolve the ``env_file`` paths of ``cf``'s services against ``base`` (shown against
    ``display_base``) now, instead of against the project directory later: for a file
    reached through ``extends: {file:}`` or ``include:``, whose paths are relative to it."""
    services = cf.data.get("services")
    if not isinstance(services, YMap):
        return
    for svc in services.values():
        refs = svc.get("env_file") if isinstance(svc, YMap) else None
        if not isinstance(refs, YList):
            continue
        for i, ref in enumerate(refs):
            if isinstance(ref, EnvFileRef) and not ref.resolved:
                refs[i] = ref._replace(
                    resolved=_resolve(base, ref.path), display=_resolve(display_base, ref.shown)
                )


# ----------------------------------------------------------------------------- project
def load_project(
    files: Sequence[str | os.PathLike[str]],
    *,
    environ: Mapping[str, str] | None = None,
    env_values: Iterable[tuple[str, Mapping[str, str]]] = (),
    project_dir: str | os.PathLike[str] | None = None,
    dotenv: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | bool | None = True,
    dotenv_values: Mapping[str, str] | None = None,
    profiles: Sequence[str] | None = None,
    project_name: str | None = None,
) -> Project:
    """Parse, interpolate and merge ``files`` (base first, overlays after).

    Interpolation sources, lowest first: the project ``.env`` (``dotenv=True``: next to the
    first file; a path; ``False``: none), each ``(label, values)`` of ``env_values`` (e.g.
    decrypted env files, as ``secretsafe run -f`` would export them), then ``environ``
    (``os.environ`` by default). ``dotenv_values`` replaces reading the ``.env`` (the caller
    already read or decrypted it). ``dotenv`` may also be a list of files read in its place,
    in order, as compose's ``--env-file`` flags are.

    ``include:`` entries are loaded as compose loads them (their own project directory and
    ``.env``, the including project's environment winning). Services whose ``profiles`` are
    not enabled (``profiles``, else ``COMPOSE_PROFILES`` from the environment or ``.env``;
    ``*`` enables all) are left out, as ``docker compose config`` leaves them out:
    :attr:`Project.disabled` names them.

    A directory in place of ``files`` is a project found as ``docker compose`` finds it when
    started there: ``COMPOSE_FILE`` (from the environment, else its ``.env``; paths separated
    by ``COMPOSE_PATH_SEPARATOR`` or ``:``), else the first of ``compose.yaml``,
    ``compose.yml``, ``docker-compose.yml``, ``docker-compose.yaml`` with the first
    ``*.override.*`` twin. ``COMPOSE_PROJECT_NAME`` is set for interpolation as compose sets
    it: ``project_name``, else the variable, else ``name:``, else the directory's name.
    """
    if len(files) == 1 and os.path.isdir(files[0]):
        files = _discover(os.fspath(files[0]), os.environ if environ is None else environ)
    if not files:
        raise ComposeError("no compose file given", hint="pass --compose FILE")
    first = os.fspath(files[0])
    pdir = os.fspath(project_dir) if project_dir is not None else os.path.dirname(first) or "."
    # What compose runs in: the env files given (as `secretsafe run -f` exports them), then
    # the process environment over them. The project .env is under both, and its ${VAR}
    # references see them first (compose-go GetEnvFromFile).
    outer: dict[str, str] = {}
    outer_sources: dict[str, str] = {}
    for label, values in env_values:
        for k in values:
            outer[k] = values[k]
            outer_sources[k] = label
    process = os.environ if environ is None else environ
    for k in process:
        outer[k] = process[k]
        outer_sources[k] = "environment"
    merged_env: dict[str, str] = {}
    sources: dict[str, str] = {}
    dotenv_path: str | None = None
    dotenv_refs: list[tuple[Loc, Ref]] = []
    if isinstance(dotenv, Sequence) and not isinstance(dotenv, str):
        # compose --env-file: each file read in order, all of them required.
        values_in: dict[str, str] = {}
        for env_file in dotenv:
            name = os.fspath(env_file)
            if not os.path.isfile(name):
                raise ComposeError(
                    f"{name}: env file not found", hint="docker compose refuses it too"
                )
            _read_dotenv(name, outer, dotenv_refs, into=values_in)
            dotenv_path = name
        for k, v in values_in.items():
            merged_env[k] = v
            sources[k] = dotenv_path or ".env"
    elif dotenv is not False:
        candidate = os.path.join(pdir, ".env") if dotenv is True else os.fspath(dotenv)  # type: ignore[arg-type]
        if dotenv_values is not None or os.path.isfile(candidate):
            dotenv_path = candidate
            values = (
                dotenv_values
                if dotenv_values is not None
                else _read_dotenv(candidate, outer, dotenv_refs)
            )
            for k in values:
                merged_env[k] = values[k]
                sources[k] = candidate
    merged_env.update(outer)
    sources.update(outer_sources)

    enabled = _enabled_profiles(profiles, merged_env)
    merged_env["COMPOSE_PROJECT_NAME"] = _project_name(project_name, merged_env, files, pdir)
    sources["COMPOSE_PROJECT_NAME"] = "the project name"
    state = _Loading(dotenv_refs)
    services, svc_locs = _load_files(state, [os.fspath(f) for f in files], merged_env, pdir)
    parsed = state.parsed
    disabled: dict[str, tuple[str, ...]] = {}
    for name, cfg in list(services.items()):
        wanted = _profiles_of(cfg)
        if wanted and "*" not in enabled and not enabled.intersection(wanted):
            disabled[name] = tuple(shown(p) for p in wanted)  # as written: never a value
            del services[name]
    _check_depends_on(services, svc_locs, disabled)
    out: dict[str, Service] = {}
    for name, cfg in services.items():
        out[name] = _service(name, cfg, tuple(svc_locs[name]), pdir)
    return Project(
        files=parsed,
        project_dir=pdir,
        services=out,
        environ=merged_env,
        env_sources=sources,
        dotenv_path=dotenv_path,
        dotenv_refs=dotenv_refs,
        disabled=disabled,
        profiles=tuple(sorted(enabled)),
    )


class _Loading:
    """What one :func:`load_project` call shares across included projects: every file
    parsed (by absolute path, and in order) and the ``${VAR}`` references met in ``.env``
    files."""

    def __init__(self, refs: list[tuple[Loc, Ref]]) -> None:
        self.cache: dict[str, ComposeFile] = {}
        self.parsed: list[ComposeFile] = []
        self.refs = refs


def _load_files(
    state: _Loading,
    files: Sequence[str],
    env: Mapping[str, str],
    workdir: str,
    *,
    chain: tuple[str, ...] = (),
    displays: Sequence[str] | None = None,
) -> tuple[dict[str, YMap], dict[str, list[Loc]]]:
    """Parse ``files`` (base first), apply each one's ``include:`` and ``extends``, merge
    them: the services and where each is defined. ``chain``: the files including this one
    (a cycle is refused, as in compose). ``displays``: how to name the files (templates, for
    included ones), when not as given."""
    cache, parsed = state.cache, state.parsed
    services: dict[str, YMap] = {}
    svc_locs: dict[str, list[Loc]] = {}
    for i, f in enumerate(files):
        display = f if displays is None else displays[i]
        cf = parse_file(f, env=env, display=display)
        if displays is not None:
            # Included: env_file paths are relative to the included project's directory.
            _anchor_env_files(cf, workdir, os.path.dirname(displays[0]))
        cache[cf.abspath] = cf
        parsed.append(cf)
        if "include" in cf.data:
            _apply_include(state, cf, env, workdir, (*chain, cf.abspath))
        _resolve_extends(cf, env, cache)
        svcs = cf.data.get("services")
        if not isinstance(svcs, YMap):
            continue
        for name in svcs:
            svc = svcs[name]
            if svc is RESET:
                services.pop(name, None)
                continue
            svc_locs.setdefault(name, []).append(svcs.locs[name])
            services[name] = merge_service(services[name], svc) if name in services else svc
    return services, svc_locs


def _apply_include(
    state: _Loading, cf: ComposeFile, env: Mapping[str, str], workdir: str, chain: tuple[str, ...]
) -> None:
    """compose-go ``ApplyInclude``: load each included project (paths relative to
    ``workdir``; its own directory and ``.env``; ``env`` winning over that ``.env``) and add
    its services to ``cf``'s, a name defined on both sides being refused."""
    entries = cf.data.pop("include")
    loc = cf.data.locs.pop("include")
    if entries is None:
        return
    if not isinstance(entries, YList):
        raise ComposeError(f"{loc}: include must be a list")
    own = cf.data.get("services")
    if own is None:
        own = YMap(loc)
        cf.data.put("services", own, loc)
    if not isinstance(own, YMap):
        raise ComposeError(f"{loc}: services must be a mapping")
    display_base = os.path.dirname(cf.path)
    for entry, entry_loc in zip(entries, entries.locs, strict=True):
        spec = YMap(entry_loc)
        if isinstance(entry, str):
            spec.put("path", entry, entry_loc)
        elif isinstance(entry, YMap):
            spec = entry
        else:
            raise ComposeError(f"{entry_loc}: an include entry is a path or a mapping")
        paths = _str_list(spec.get("path"), entry_loc, "include path")
        if not paths:
            raise ComposeError(f"{entry_loc}: an include entry needs a path")
        first = _resolve(workdir, paths[0])
        if first in chain:
            raise ComposeError(f"{entry_loc}: include cycle", hint="remove the cycle")
        pdir_spec = spec.get("project_directory")
        sub_dir = (
            _resolve(workdir, str(pdir_spec))
            if isinstance(pdir_spec, str)
            else os.path.dirname(first)
        )
        env_files = _str_list(spec.get("env_file"), entry_loc, "include env_file")
        dotenvs = [_resolve(workdir, e) for e in env_files]
        if not env_files and os.path.isfile(os.path.join(sub_dir, ".env")):
            dotenvs = [os.path.join(sub_dir, ".env")]
        values: dict[str, str] = {}
        for path in dotenvs:
            if not os.path.isfile(path):
                raise ComposeError(f"{entry_loc}: an include env_file does not exist")
            _read_dotenv(path, env, state.refs, into=values)
        sub_env = {**values, **env}  # compose Merge: the including environment wins
        sub_services, sub_locs = _load_files(
            state,
            [_resolve(workdir, p) for p in paths],
            sub_env,
            sub_dir,
            chain=chain,
            displays=[os.path.join(display_base, shown(p)) for p in paths],
        )
        for name, svc in sub_services.items():
            if name in own:
                raise ComposeError(
                    f"{entry_loc}: services.{name} conflicts with imported resource",
                    hint="docker compose refuses a service defined both here and in an "
                    "included file; rename one",
                )
            own.put(name, svc, sub_locs[name][0])


_DEFAULT_FILES = ("compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml")
_OVERRIDE_FILES = (
    "compose.override.yml",
    "compose.override.yaml",
    "docker-compose.override.yml",
    "docker-compose.override.yaml",
)


def _discover(directory: str, environ: Mapping[str, str]) -> list[str]:
    """The compose files docker compose uses when started in ``directory`` (compose-go
    ``WithConfigFileEnv`` / ``WithDefaultConfigPath``, without walking up)."""
    env = dict(environ)
    dotenv = os.path.join(directory, ".env")
    if "COMPOSE_FILE" not in env and os.path.isfile(dotenv):
        values = _read_dotenv(dotenv, env, [])
        env = {**values, **env}
    listed = env.get("COMPOSE_FILE")
    if listed is not None:
        sep = env.get("COMPOSE_PATH_SEPARATOR") or os.pathsep
        return [os.path.join(directory, p) for p in listed.split(sep)]
    found = [
        os.path.join(directory, n)
        for n in _DEFAULT_FILES
        if os.path.isfile(os.path.join(directory, n))
    ]
    if not found:
        from secretsafe.errors import FileError

        raise FileError(
            f"{directory}: a directory with no compose file (compose.yaml, "
            "docker-compose.yml, ...) and no COMPOSE_FILE",
            hint="pass --compose FILE",
        )
    overrides = [n for n in _OVERRIDE_FILES if os.path.isfile(os.path.join(directory, n))]
    return [found[0], *(os.path.join(directory, n) for n in overrides[:1])]


_NAME_CHARS = re.compile(r"[^-_a-z0-9]")
_NAME_LINE = re.compile(r"""^name:[ \t]*(["']?)([^"'#\n]*?)\1[ \t]*(?:#[^\n]*)?$""", re.MULTILINE)


def _project_name(
    given: str | None, env: Mapping[str, str], files: Sequence[str | os.PathLike[str]], pdir: str
) -> str:
    """compose-go's project name: given (``-p``), ``COMPOSE_PROJECT_NAME``, the first
    ``name:`` of the files (interpolated), the project directory's name (normalized)."""
    if given:
        return given
    from_env = env.get("COMPOSE_PROJECT_NAME")
    if from_env:
        return from_env
    for f in files:
        if not os.path.isfile(f):
            continue  # missing, or not a regular file (a FIFO would block): refused later
        try:
            with open(f, encoding="utf-8") as handle:
                # A top-level `name:` line; no YAML load here (a hostile file is refused when
                # it is parsed, with its location).
                m = _NAME_LINE.search(handle.read())
        except (OSError, UnicodeDecodeError):
            continue  # reported when the file is parsed
        if m is not None and m.group(2):
            return interpolate(m.group(2), env).value
    base = os.path.basename(os.path.abspath(pdir)).lower()
    return _NAME_CHARS.sub("", base).lstrip("_-")


def _str_list(value: Any, loc: Loc, what: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, YList) and all(isinstance(v, str) for v in value):
        return [str(v) for v in value]
    raise ComposeError(f"{loc}: {what} must be a string or a list of strings")


def _enabled_profiles(profiles: Sequence[str] | None, env: Mapping[str, str]) -> set[str]:
    if profiles is None:
        profiles = env.get("COMPOSE_PROFILES", "").split(",")
    return {p.strip() for p in profiles if p.strip()}


def _profiles_of(cfg: YMap) -> tuple[str, ...]:
    """The service's profiles (each a ``str`` or a :class:`Templated`)."""
    value = cfg.get("profiles")
    if isinstance(value, YList):
        return tuple(v for v in value if isinstance(v, str))
    return ()


def _check_depends_on(
    services: Mapping[str, YMap],
    locs: Mapping[str, list[Loc]],
    disabled: Mapping[str, tuple[str, ...]],
) -> None:
    """An enabled service that depends on a disabled one: compose refuses the project."""
    for name, cfg in services.items():
        deps = cfg.get("depends_on")
        for dep in deps if isinstance(deps, (YList, YMap)) else ():
            if isinstance(dep, str) and dep in disabled:
                where = deps.locs[dep] if isinstance(deps, YMap) else locs[name][-1]
                raise ComposeError(
                    f"{where}: service {name} depends on {dep}, whose profile "
                    f"({', '.join(disabled[dep])}) is not enabled",
                    hint=f"enable it: COMPOSE_PROFILES={disabled[dep][0]} or "
                    f"--profile {disabled[dep][0]}",
                )


def _service(name: str, cfg: YMap, locs: tuple[Loc, ...], pdir: str) -> Service:
    env = cfg.get("environment")
    labels = cfg.get("labels")
    refs = cfg.get("env_file")
    vols = cfg.get("volumes")
    env_files = [
        r
        if r.resolved
        else r._replace(resolved=_resolve(pdir, r.path), display=_resolve(pdir, r.shown))
        for r in (refs if isinstance(refs, YList) else ())
    ]
    return Service(
        name=name,
        locs=locs,
        config=cfg,
        environment={k: v for k, v in env.items() if isinstance(v, Setting)}
        if isinstance(env, YMap)
        else {},
        env_files=env_files,
        volumes=list(vols) if isinstance(vols, YList) else [],
        labels={k: v for k, v in labels.items() if isinstance(v, Setting)}
        if isinstance(labels, YMap)
        else {},
    )


def _resolve(pdir: str, path: str) -> str:
    return os.path.normpath(os.path.join(pdir, os.path.expanduser(path)))


def _read_dotenv(
    path: str,
    lookup: Mapping[str, str],
    refs: list[tuple[Loc, Ref]],
    *,
    into: dict[str, str] | None = None,
) -> Mapping[str, str]:
    """The project ``.env``, read and interpolated as compose does (references see
    ``lookup``, then earlier lines, of this file and the ones read before it into ``into``);
    the references met are appended to ``refs``. An encrypted one contributes its names only
    (with empty values), since interpolation must not need a key."""
    from secretsafe.compose.envparse import expand, parse
    from secretsafe.files import read_text
    from secretsafe.sops import is_encrypted

    values: dict[str, str] = into if into is not None else {}
    text = read_text(path, what=".env file")
    if is_encrypted(text):
        from secretsafe.compose.envfiles import encrypted_names

        values.update(dict.fromkeys((n for n, _ in encrypted_names(text)), ""))
        return values
    for got in expand(parse(text, path=path), lookup=lookup, into=values, where=path):
        refs.extend((Loc(path, got.line), r) for r in got.refs)
    return values
