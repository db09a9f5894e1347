"""The bootstrap TOML file as pydantic models, and its resolved form.

Two layers:

- the *file* models (``ConfigFile`` and its sections) mirror the TOML exactly: strict types,
  unknown keys refused, every per-key rule a validator. A bad file yields every problem at
  once, one line each, naming the table and key -- never the value (a token pasted as an
  address, an age identity listed as a recipient must not be echoed);
- the *resolved* models (:class:`BootstrapConfig`, :class:`MountConfig`, :class:`AppConfig`)
  are what the steps use: paths made absolute against the config file, defaults that depend
  on other keys filled in (an app's recipients, its credentials file), durations in seconds.

Messages: our own validators raise ``PydanticCustomError("bootstrap_...", constant text)``;
everything else goes through :func:`secretsafe.schemas.messages.safe_message`, the rule that
keeps inputs out of every report. Table names (app and mount names) are shown through
:func:`secretsafe.dotenv.shown_name`, and the finished text passes one last filter that
describes anything shaped like a secret key or token.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
)
from pydantic_core import PydanticCustomError

from secretsafe.errors import ConfigError
from secretsafe.files import read_text
from secretsafe.vault.policies import (
    NAME_RULE,
    PATH_RULE,
    AppAccess,
    app_policy,
    is_plain_name,
    is_plain_path,
)

__all__ = [
    "AppConfig",
    "BootstrapConfig",
    "ConfigFile",
    "MountConfig",
    "load_config",
    "parse_duration",
]

_DURATION = re.compile(r"(\d+)([smhd])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION_RULE = 'use seconds or e.g. "30m", "1h", "7d"'


def _fail(kind: str, message: str) -> PydanticCustomError:
    # Our own messages (type prefix "bootstrap_"): constant text, never the value.
    return PydanticCustomError(f"bootstrap_{kind}", message)


def _seconds(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, str):
        text = value.strip()
        if text.isdigit():
            return int(text)
        parts = _DURATION.findall(text)
        if parts and "".join(n + u for n, u in parts) == text:
            return sum(int(n) * _UNITS[u] for n, u in parts)
    return None


def parse_duration(value: object, *, what: str) -> int:
    """Seconds from ``90``, ``"90s"``, ``"15m"``, ``"1h30m"``, ``"7d"`` (``0``: none)."""
    seconds = _seconds(value)
    if seconds is None:
        raise ConfigError(f"{what}: not a duration", hint=_DURATION_RULE)
    return seconds


# --- per-key rules ---------------------------------------------------------------------------


def _duration(value: object) -> int:
    seconds = _seconds(value)
    if seconds is None:
        raise _fail("duration", f"is not a duration ({_DURATION_RULE})")
    return seconds


def _addr(value: str) -> str:
    if not value.startswith(("http://", "https://")):
        raise _fail("addr", "needs an http:// or https:// scheme")
    return value.rstrip("/")


def _recipient(value: str) -> str:
    if not value.strip().startswith("age1"):
        raise _fail("recipient", "is not an age public key (age1...)")
    return value.strip()


def _path(value: str) -> str:
    if not is_plain_path(value):
        raise _fail("path", f"is not a plain path ({PATH_RULE})")
    return value.strip("/")


def _text(value: str) -> str:
    if not value.strip():
        raise _fail("empty", "must be a non-empty string")
    return value.strip()


Duration = Annotated[int, BeforeValidator(_duration)]
Address = Annotated[str, AfterValidator(_addr)]
Recipient = Annotated[str, AfterValidator(_recipient)]
KvPath = Annotated[str, AfterValidator(_path)]
Text = Annotated[str, AfterValidator(_text)]
Count = Annotated[int, Field(ge=0, le=1_000_000)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class ServerSection(_Section):
    nodes: Annotated[list[Address], Field(min_length=1)]
    ca_cert: Text | None = None


class InitSection(_Section):
    shares: Annotated[int, Field(ge=1, le=255)] = 5
    threshold: Annotated[int, Field(ge=1, le=255)] = 3
    keys_file: Text = "vault-keys.enc.env"
    recipients: Annotated[list[Recipient], Field(min_length=1)]
    revoke_root: bool = False


class MountSection(_Section):
    type: Literal["kv-v2"] = "kv-v2"
    description: str = ""
    max_versions: Count | None = None


class ApproleSection(_Section):
    mount: KvPath = "approle"


class AppSection(_Section):
    path: KvPath | None = None
    mount: KvPath = "secret"
    layout: Literal["flat", "sections"] = "flat"
    env_file: Text | None = None
    credentials_file: Text | None = None
    recipients: Annotated[list[Recipient], Field(min_length=1)] | None = None
    token_ttl: Duration = 3600
    token_max_ttl: Duration = 14400
    secret_id_ttl: Duration = 0
    secret_id_num_uses: Count = 0


class ConfigFile(_Section):
    """The TOML document as written (see the package docstring for every key)."""

    server: ServerSection
    init: InitSection
    mounts: dict[str, MountSection] = {}
    approle: ApproleSection = ApproleSection()
    apps: dict[str, AppSection] = {}


# --- resolved --------------------------------------------------------------------------------


class MountConfig(BaseModel):
    model_config = ConfigDict(frozen=True)

    path: str
    description: str = ""
    max_versions: int | None = None


class AppConfig(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    path: str
    mount: str = "secret"
    layout: Literal["flat", "sections"] = "flat"
    env_file: Path | None = None
    credentials_file: Path = Path("app-approle.enc.env")
    recipients: tuple[str, ...] = ()
    token_ttl: int = 3600
    token_max_ttl: int = 14400
    secret_id_ttl: int = 0
    secret_id_num_uses: int = 0

    @property
    def policy(self) -> str:
        return f"app-{self.name}"

    @property
    def access(self) -> AppAccess:
        return AppAccess(
            app=self.name, mount=self.mount, paths=(self.path,), children=self.layout == "sections"
        )

    def policy_hcl(self) -> str:
        return app_policy(self.access)


class BootstrapConfig(BaseModel):
    model_config = ConfigDict(frozen=True)

    source: Path
    nodes: tuple[str, ...]
    shares: int
    threshold: int
    keys_file: Path
    recipients: tuple[str, ...]
    revoke_root: bool = False
    ca_cert: Path | None = None
    mounts: tuple[MountConfig, ...] = ()
    approle_mount: str = "approle"
    apps: tuple[AppConfig, ...] = ()

    def policies(self) -> list[tuple[str, str]]:
        """(name, HCL) of every app policy, for ``--print-policies``."""
        return [(a.policy, a.policy_hcl()) for a in self.apps]


# --- loading ---------------------------------------------------------------------------------

# What a secret typed into the wrong key looks like: an age identity, a Vault/OpenBao token
# (service, batch, recovery; legacy s./b./r.), a PEM private key. The last filter on every
# message, whatever produced it.
_SECRET_LIKE = re.compile(
    r"AGE-SECRET-KEY-1[0-9A-Za-z]*"
    r"|\b(?:hv[sbr]|[sbr])\.[A-Za-z0-9_-]{20,}"
    r"|-----BEGIN [A-Z ]*PRIVATE KEY-----[^']*",
    re.IGNORECASE,
)
_HIDDEN = "<a value that looks like a secret key or token (not shown)>"
_NOT_SHOWN = "(a name not shown)"


def _scrub(text: str) -> str:
    return _SECRET_LIKE.sub(_HIDDEN, text)


def _shown(key: object) -> str:
    """A table name (app or mount) as a message may show it: each ``/`` segment must be a
    name :func:`~secretsafe.dotenv.shown_name` shows as it is."""
    from secretsafe.dotenv import shown_name

    text = str(key)
    ok = bool(text) and all(shown_name(s) == s for s in text.split("/"))
    return text if ok else _NOT_SHOWN


_SECTIONS: dict[str, type[BaseModel]] = {
    "server": ServerSection,
    "init": InitSection,
    "mounts": MountSection,
    "approle": ApproleSection,
    "apps": AppSection,
}


def _locate(loc: Sequence[int | str]) -> tuple[str, type[BaseModel], list[str]]:
    """``([apps.api], AppSection, ["token_ttl"])`` for an error location."""
    if not loc:
        return "", ConfigFile, []
    head = str(loc[0])
    model = _SECTIONS.get(head)
    if model is None:
        return "", ConfigFile, [_shown(p) for p in loc]
    rest = list(loc[1:])
    table = f"[{head}]"
    if head in ("mounts", "apps"):
        if not rest:
            return table, ConfigFile, []
        table = f"[{head}.{_shown(rest.pop(0))}]"
    keys: list[str] = []
    for part in rest:
        if isinstance(part, int) and keys:
            keys[-1] += f"[{part}]"
        else:
            keys.append(_shown(part))
    return table, model, keys


_HINTS = {
    "bootstrap_addr": 'e.g. nodes = ["https://vault.example:8200"]',
    "bootstrap_recipient": "`secretsafe keys show` prints yours",
}


def _problem(err: Mapping[str, Any]) -> tuple[str, str | None]:
    """One line for one pydantic error, and a hint. Never pydantic's text, never the input."""
    from secretsafe.schemas.messages import safe_message

    etype = str(err.get("type", ""))
    table, model, keys = _locate(tuple(err.get("loc", ())))
    info = model.model_fields.get(keys[-1].split("[")[0]) if keys else None
    hint = _HINTS.get(etype)
    if etype == "extra_forbidden":
        message = "unknown key"
        hint = f"allowed: {', '.join(sorted(model.model_fields))}"
    elif etype.startswith("bootstrap_"):
        message = str(err.get("msg", ""))  # ours: constant text
    elif etype in ("model_type", "dict_type", "model_attributes_type"):
        message = "must be a table"
    elif etype == "literal_error" and info is not None and get_args(info.annotation):
        # The choices come from the model, never from the input.
        message = "must be " + " or ".join(f'"{v}"' for v in get_args(info.annotation))
    else:
        message = safe_message(err, info)
    where = " ".join(p for p in (table, ".".join(keys)) if p)
    return (f"{where}: {message}" if where else message), hint


def _raise(path: Path, problems: Sequence[tuple[str, str | None]]) -> None:
    if len(problems) == 1:
        ((line, hint),) = problems
        message = f"{path}: {line}"
    else:
        lines = "\n".join(f"  - {line}" + (f" ({h})" if h else "") for line, h in problems)
        message, hint = f"{path}: {len(problems)} problems\n{lines}", None
    error = ConfigError(_scrub(message), hint=_scrub(hint) if hint else None)
    error.multiline = len(problems) > 1
    raise error


def _cross_checks(doc: ConfigFile) -> list[tuple[str, str | None]]:
    """Rules between keys (run once every key is valid on its own)."""
    out: list[tuple[str, str | None]] = []
    init = doc.init
    if init.threshold > init.shares:
        out.append(("[init] threshold: is larger than shares", None))
    if init.shares > 1 and init.threshold == 1:
        out.append(("[init] threshold: must be at least 2 when shares > 1 (OpenBao's rule)", None))
    if len(set(doc.server.nodes)) != len(doc.server.nodes):
        out.append(("[server] nodes: lists an address twice", None))
    for name in doc.mounts:
        if not is_plain_path(name):
            out.append((f"[mounts.{_shown(name)}]: the name is not a plain path", PATH_RULE))
    declared = {m.strip("/") for m in doc.mounts}
    for name, app in doc.apps.items():
        table = f"[apps.{_shown(name)}]"
        if not is_plain_name(name):
            out.append((f"{table}: the app name is not a valid name", NAME_RULE))
        if app.mount not in declared:
            shown = _shown(app.mount)
            mount = f"'{shown}'" if shown != _NOT_SHOWN else shown
            out.append(
                (f"{table} mount: mount {mount} is not declared", f"add a [mounts.{shown}] table")
            )
    return out


def load_config(path: str | os.PathLike[str]) -> BootstrapConfig:
    """Read and validate a bootstrap TOML file: a :class:`ConfigError` lists every problem,
    one line each, naming the file, the table and the key."""
    p = Path(path)
    text = read_text(p, what="bootstrap config")
    bad_toml: ConfigError | None = None
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # tomllib's message names a position ("at line 3, column 8"), not the text.
        bad_toml = ConfigError(_scrub(f"{p}: not valid TOML ({exc})"))
    if bad_toml is not None:
        raise bad_toml  # outside the handler: the decode error holds the whole text (.doc)
    try:
        parsed = ConfigFile.model_validate(doc)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False, include_context=True)
        problems = [_problem(e) for e in errors]
    else:
        problems = _cross_checks(parsed)
    if problems:
        _raise(p, problems)
    return _resolve(p, parsed)


def _resolve(source: Path, doc: ConfigFile) -> BootstrapConfig:
    base = source.parent
    recipients = tuple(doc.init.recipients)
    apps = tuple(
        AppConfig(
            name=name,
            path=a.path if a.path is not None else f"apps/{name}",
            mount=a.mount,
            layout=a.layout,
            env_file=base / a.env_file if a.env_file is not None else None,
            credentials_file=base / (a.credentials_file or f"{name}-approle.enc.env"),
            recipients=tuple(a.recipients) if a.recipients is not None else recipients,
            token_ttl=a.token_ttl,
            token_max_ttl=a.token_max_ttl,
            secret_id_ttl=a.secret_id_ttl,
            secret_id_num_uses=a.secret_id_num_uses,
        )
        for name, a in doc.apps.items()
    )
    keys_file = base / doc.init.keys_file
    outputs = [keys_file.resolve()] + [a.credentials_file.resolve() for a in apps]
    if len(set(outputs)) != len(outputs):
        _raise(source, [("keys_file and every credentials_file must be distinct files", None)])
    return BootstrapConfig(
        source=source,
        nodes=tuple(doc.server.nodes),
        shares=doc.init.shares,
        threshold=doc.init.threshold,
        keys_file=keys_file,
        recipients=recipients,
        revoke_root=doc.init.revoke_root,
        ca_cert=base / doc.server.ca_cert if doc.server.ca_cert is not None else None,
        mounts=tuple(
            MountConfig(
                path=name.strip("/"), description=m.description, max_versions=m.max_versions
            )
            for name, m in doc.mounts.items()
        ),
        approle_mount=doc.approle.mount,
        apps=apps,
    )
