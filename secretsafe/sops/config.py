"""``.sops.yaml``: finding it and picking the creation rule for a file, as sops does.

Matching follows sops 3.11 (``config/config.go``): the rules are tried in order; a rule
without ``path_regex`` matches everything; ``path_regex`` is a Go RE2 pattern
(:mod:`secretsafe.sops.regex`, linear time) searched (not anchored) in the file's absolute
path with the config file's directory and a ``/`` removed from its front.
A config with ``creation_rules`` of which none matches is an error, as in sops.

One difference, on purpose: sops looks for ``.sops.yaml`` from the current directory up;
secretsafe looks from the *file's* directory up, so the same command gives the same result from
anywhere. For the usual layout (one ``.sops.yaml`` at the repository root, files below it)
both find the same file. ``.sops.yml`` is ignored, as sops ignores it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from secretsafe.errors import ConfigError
from secretsafe.sops.model import KeyGroup, Rules
from secretsafe.sops.regex import compile_rule

__all__ = [
    "CONFIG_NAME",
    "CreationRule",
    "creation_rule_for",
    "find_config",
    "load_config",
    "to_config_json",
]

CONFIG_NAME = ".sops.yaml"
_MAX_DEPTH = 100

_SELECTORS = (
    "unencrypted_suffix",
    "encrypted_suffix",
    "unencrypted_regex",
    "encrypted_regex",
    "unencrypted_comment_regex",
    "encrypted_comment_regex",
)
# Key types in a rule (top level) and in a key group, other than age: sops alone uses them.
_OTHER_TOP = ("pgp", "kms", "gcp_kms", "azure_keyvault", "hc_vault_transit_uri", "hckms")
_OTHER_GROUP = {
    "pgp": "pgp",
    "kms": "kms",
    "gcp_kms": "gcp_kms",
    "azure_keyvault": "azure_kv",
    "hc_vault": "hc_vault",
    "hckms": "hckms",
}
_TOP_NAMES = {"hc_vault_transit_uri": "hc_vault", "azure_keyvault": "azure_kv"}


@dataclass(frozen=True, slots=True)
class CreationRule:
    """The creation rule that applies to a file."""

    key_groups: tuple[KeyGroup, ...]
    shamir_threshold: int | None
    rules: Rules
    config_path: Path
    #: The absolute path the rule was matched against (sops' ``--filename-override``).
    matched_path: str

    @property
    def recipients(self) -> tuple[str, ...]:
        return tuple(r for g in self.key_groups for r in g.age)

    @property
    def other_key_types(self) -> tuple[str, ...]:
        return tuple(sorted({t for g in self.key_groups for t in g.other}))


def find_config(start: str | os.PathLike[str]) -> Path | None:
    """The nearest ``.sops.yaml`` in ``start``'s directory or above it, or ``None``."""
    directory = Path(os.path.abspath(start)).parent
    for _ in range(_MAX_DEPTH):
        candidate = directory / CONFIG_NAME
        if candidate.is_file():
            return candidate
        if directory.parent == directory:
            return None
        directory = directory.parent
    return None


def load_config(config_path: str | os.PathLike[str]) -> list[dict[str, Any]] | None:
    """The ``creation_rules`` of a config file, or ``None`` when it has none (sops then
    behaves as if there were no config)."""
    import yaml

    from secretsafe.files import read_text

    text = read_text(config_path, what="sops config")
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError(f"{config_path}:{where}: {problem}", hint="fix the YAML") from None
    if doc is None:
        return None
    if not isinstance(doc, dict):
        raise ConfigError(f"{config_path}: expected a mapping at the top level")
    rules = doc.get("creation_rules")
    if rules is None:
        return None
    if not isinstance(rules, list) or not all(isinstance(r, dict) for r in rules):
        raise ConfigError(f"{config_path}: creation_rules must be a list of mappings")
    return rules


def creation_rule_for(
    *paths: str | os.PathLike[str], config_path: str | os.PathLike[str] | None = None
) -> CreationRule | None:
    """The creation rule for the first of ``paths`` that a rule matches.

    The config is ``config_path``, else the nearest ``.sops.yaml`` above ``paths[0]``.
    ``None`` when there is no config or it has no creation rules; :class:`ConfigError` when
    it has rules and none matches.
    """
    if not paths:
        raise ValueError("creation_rule_for needs at least one path")
    cfg = Path(config_path) if config_path is not None else find_config(paths[0])
    if cfg is None:
        return None
    rules = load_config(cfg)
    if rules is None:
        return None
    config_dir = os.path.abspath(cfg.parent)
    for path in paths:
        absolute = os.path.abspath(path)
        relative = absolute.removeprefix(config_dir + os.sep)
        for index, raw in enumerate(rules):
            pattern = raw.get("path_regex") or ""
            if not isinstance(pattern, str):
                raise ConfigError(f"{cfg}: creation rule {index + 1}: path_regex must be text")
            if pattern and not compile_rule(
                pattern, "path_regex", where=f"{cfg}: creation rule {index + 1}"
            ).matches(relative):
                continue
            return _rule(raw, cfg, index, absolute)
    shown = ", ".join(str(p) for p in paths)
    raise ConfigError(
        f"{cfg}: no creation rule matches {shown}",
        hint="add a rule for it, or pass --recipient",
    )


def _rule(raw: dict[str, Any], cfg: Path, index: int, matched: str) -> CreationRule:
    where = f"{cfg}: creation rule {index + 1}"
    groups: list[KeyGroup] = []
    raw_groups = raw.get("key_groups")
    if raw_groups:
        if not isinstance(raw_groups, list):
            raise ConfigError(f"{where}: key_groups must be a list")
        for g in raw_groups:
            groups.append(_group(g, where))
    else:
        age = _key_list(raw.get("age"), "age", where)
        other = tuple(
            _TOP_NAMES.get(name, name)
            for name in _OTHER_TOP
            if _key_list(raw.get(name), name, where)
        )
        groups.append(KeyGroup(age=age, other=other))
    if not any(g.age or g.other for g in groups):
        raise ConfigError(f"{where}: no keys", hint="add an age recipient to the rule")
    threshold = raw.get("shamir_threshold") or None
    if threshold is not None and (not isinstance(threshold, int) or threshold < 1):
        raise ConfigError(f"{where}: shamir_threshold must be a positive integer")
    return CreationRule(
        key_groups=tuple(groups),
        shamir_threshold=threshold,
        rules=_rules(raw, where),
        config_path=cfg,
        matched_path=matched,
    )


def _group(raw: Any, where: str) -> KeyGroup:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: each key group must be a mapping")
    age: list[str] = []
    other: set[str] = set()
    for item in _as_list(raw.get("age"), "age", where):
        # Each entry may itself be a comma-separated list, as sops allows.
        age.extend(_key_list(item, "age", where))
    for name, kind in _OTHER_GROUP.items():
        if raw.get(name):
            other.add(kind)
    for sub in _as_list(raw.get("merge"), "merge", where):
        merged = _group(sub, where)
        age.extend(merged.age)
        other.update(merged.other)
    # sops drops duplicates within a group.
    return KeyGroup(age=tuple(dict.fromkeys(age)), other=tuple(sorted(other)))


def _as_list(value: Any, name: str, where: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ConfigError(f"{where}: {name} in a key group must be a list")
    return value


def _key_list(value: Any, name: str, where: str) -> tuple[str, ...]:
    """A key field: a comma-separated string or a list of strings (sops' parseKeyField)."""
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        keys = tuple(k.strip() for k in value.split(",") if k.strip())
    elif isinstance(value, list):
        if not all(isinstance(k, str) for k in value):
            raise ConfigError(f"{where}: {name} keys must be strings")
        keys = tuple(k.strip() for k in value if k.strip())
    else:
        raise ConfigError(f"{where}: {name} must be a string or a list of strings")
    if any("AGE-SECRET-KEY-" in k.upper() for k in keys):
        # Named, never quoted: the entry is a private key that belongs in no config file.
        raise ConfigError(
            f"{where}: an {name} entry is an age secret key (AGE-SECRET-KEY-...), not a recipient",
            hint="replace it with its public key (age1...) and treat the secret key as leaked",
        )
    return keys


def _rules(raw: dict[str, Any], where: str) -> Rules:
    chosen = {name: raw.get(name) for name in _SELECTORS if raw.get(name)}
    if len(chosen) > 1:
        raise ConfigError(
            f"{where}: only one of {', '.join(_SELECTORS)} may be set",
            hint=f"keep one of {', '.join(chosen)}",
        )
    for name, value in chosen.items():
        if not isinstance(value, str):
            raise ConfigError(f"{where}: {name} must be text")
        if name.endswith("_regex"):
            compile_rule(value, name, where=where)
    mac_only = raw.get("mac_only_encrypted", False)
    if not isinstance(mac_only, bool):
        raise ConfigError(f"{where}: mac_only_encrypted must be true or false")
    if not chosen:
        return Rules(mac_only_encrypted=mac_only)
    # The chosen selector replaces the model's default suffix (it may be the suffix itself).
    return Rules(**{"unencrypted_suffix": None, **chosen}, mac_only_encrypted=mac_only)


def to_config_json(
    key_groups: tuple[KeyGroup, ...] | list[list[str]],
    *,
    shamir_threshold: int | None,
    rules: Rules,
) -> str:
    """A one-rule sops config (JSON is YAML) for these age key groups and rules: how the binary
    backend tells sops exactly what to do, whatever ``.sops.yaml`` the cwd holds."""
    import json

    groups = [{"age": list(g.age if isinstance(g, KeyGroup) else g)} for g in key_groups]
    rule: dict[str, Any] = {"key_groups": groups}
    if shamir_threshold:
        rule["shamir_threshold"] = shamir_threshold
    selectors = {name: getattr(rules, name) for name in _SELECTORS if getattr(rules, name)}
    if len(selectors) > 1 and rules.unencrypted_suffix == "_unencrypted":
        # The model's default suffix gives way to an explicit selector (sops allows one).
        del selectors["unencrypted_suffix"]
    rule.update(selectors)
    if rules.mac_only_encrypted:
        rule["mac_only_encrypted"] = True
    return json.dumps({"creation_rules": [rule]})
