"""The flattened ``sops_*`` metadata lines of a SOPS dotenv file: parse and serialize.

sops (``stores/dotenv/store.go``, ``stores/flatten.go``, ``stores/stores.go``, v3.11) turns its
metadata struct into JSON, flattens nested maps and lists into one level with the separators
``__map_`` and ``__list_`` (``age__list_0__map_recipient``), escapes newlines as the two
characters ``\\n``, drops null values, sorts the names bytewise and appends one
``sops_<name>=<value>`` line per name after the data. With one key group the keys sit at the top
level (``sops_age__list_N__...``); with several, under ``sops_key_groups__list_G__map_age__...``
plus ``sops_shamir_threshold``. ``mac_only_encrypted`` is written only when true, the rule
selectors only when set, ``lastmodified``/``mac``/``version`` always.

The parser is stricter than sops: duplicated lines, gaps in lists, missing required fields,
unknown fields inside an age key and both top-level keys and key groups at once are refused.
Fields this module does not know (a newer sops) raise :class:`NativeUnsupported` so the facade
can fall back to the binary.
"""

from __future__ import annotations

from secretsafe.errors import FormatError, IntegrityError, UnsupportedError
from secretsafe.sops.model import KeyGroup, Metadata, Rules

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import NamedTuple
else:
    from secretsafe._namedtuple import NamedTuple

__all__ = [
    "PREFIX",
    "AgeKey",
    "NativeUnsupported",
    "ParsedMetadata",
    "parse",
    "serialize",
    "tokens",
]

PREFIX = "sops_"
_MAP = "__map_"
_LIST = "__list_"
# Key types only the sops binary can use (stores.go; ``hckms`` arrived in 3.12).
_OTHER_TYPES = ("pgp", "kms", "gcp_kms", "hckms", "azure_kv", "hc_vault")
_RULE_FIELDS = (
    "unencrypted_suffix",
    "encrypted_suffix",
    "unencrypted_regex",
    "encrypted_regex",
    "unencrypted_comment_regex",
    "encrypted_comment_regex",
)
_SCALARS = {
    "lastmodified",
    "mac",
    "version",
    "mac_only_encrypted",
    "shamir_threshold",
    *_RULE_FIELDS,
}
# sops' lastmodified, r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:Z|[+-]\d{2}:\d{2})" ("d": a
# character `\d` matches, i.e. str.isdecimal). Matched by hand: `re` (with enum) would be
# milliseconds of every `secretsafe run`.
_STAMP = "dddd-dd-ddTdd:dd:dd"
_ZONE = "dd:dd"


class NativeUnsupported(UnsupportedError):
    """The file needs something the native codec cannot do; the sops binary may."""


# NamedTuple rather than dataclass: `secretsafe run` imports this module on every container
# start, and dataclasses pulls in inspect (about 10 ms).
class AgeKey(NamedTuple):
    recipient: str
    enc: str  # the armored age file, real newlines


class ParsedMetadata(NamedTuple):
    metadata: Metadata
    groups: tuple[tuple[AgeKey, ...], ...]  # age keys per key group, file order
    mac: str  # the ENC[...] string


def _where(path: str | None) -> str:
    return path or "<input>"


def _altered(path: str | None, what: str) -> IntegrityError:
    return IntegrityError(
        f"{_where(path)}: sops metadata {what}",
        hint="the file was altered or truncated; restore it from version control",
    )


def tokens(name: str) -> list[str | int] | None:
    """``age__list_0__map_enc`` -> ``["age", 0, "enc"]`` (None if malformed)."""
    out: list[str | int] = []
    pos = 0
    kind = "map"
    for start, end, separator in _separators(name):
        piece = name[pos:start]
        if kind == "list":
            if not piece.isdecimal() or (len(piece) > 1 and piece[0] == "0"):
                return None
            out.append(int(piece))
        else:
            out.append(piece)
        kind = separator
        pos = end
    piece = name[pos:]
    if kind == "list":
        if not piece.isdecimal() or (len(piece) > 1 and piece[0] == "0"):
            return None
        out.append(int(piece))
    else:
        out.append(piece)
    return out


def _separators(name: str) -> list[tuple[int, int, str]]:
    """``(start, end, "map"|"list")`` of each ``__map_``/``__list_`` in ``name``, left to right
    and not overlapping: what ``re.finditer(r"__(map|list)_", name)`` finds."""
    found = []
    at = name.find("__")
    while at >= 0:
        for separator in (_MAP, _LIST):
            if name.startswith(separator, at):
                found.append((at, at + len(separator), separator[2:-1]))
                at = name.find("__", at + len(separator))
                break
        else:
            at = name.find("__", at + 1)
    return found


def _fits(text: str, template: str) -> bool:
    """``text`` has ``template``'s shape: a decimal digit for each ``d``, else the same char."""
    return len(text) == len(template) and all(
        c.isdecimal() if t == "d" else c == t for c, t in zip(text, template, strict=True)
    )


def _is_lastmodified(stamp: str) -> bool:
    if len(stamp) == len(_STAMP) + 1:
        zone_ok = stamp[-1] == "Z"
    else:
        zone = stamp[len(_STAMP) + 1 :]
        zone_ok = stamp[len(_STAMP) : len(_STAMP) + 1] in ("+", "-") and _fits(zone, _ZONE)
    return zone_ok and _fits(stamp[: len(_STAMP)], _STAMP)


def _list_of_maps(
    entries: dict[tuple[str | int, ...], str], path: str | None, field: str
) -> list[dict[tuple[str | int, ...], str]]:
    """Group ``{(N, sub...): value}`` by N, requiring N to run 0..n-1 without gaps."""
    by_index: dict[int, dict[tuple[str | int, ...], str]] = {}
    for rest, value in entries.items():
        if not rest or not isinstance(rest[0], int):
            raise _altered(path, f"field {field} is not a list")
        by_index.setdefault(rest[0], {})[rest[1:]] = value
    if sorted(by_index) != list(range(len(by_index))):
        raise _altered(path, f"list {field} has gaps")
    return [by_index[i] for i in range(len(by_index))]


def _age_keys(
    entries: dict[tuple[str | int, ...], str], path: str | None, field: str
) -> tuple[AgeKey, ...]:
    keys = []
    for i, item in enumerate(_list_of_maps(entries, path, field)):
        if set(item) != {("recipient",), ("enc",)}:
            raise _altered(path, f"{field} entry {i} needs exactly a recipient and an enc line")
        keys.append(AgeKey(recipient=item[("recipient",)], enc=item[("enc",)]))
    return tuple(keys)


def _group(
    fields: dict[str, dict[tuple[str | int, ...], str]], path: str | None, where: str
) -> tuple[tuple[AgeKey, ...], KeyGroup]:
    age: tuple[AgeKey, ...] = ()
    other: list[str] = []
    for name, entries in fields.items():
        if name == "age":
            age = _age_keys(entries, path, f"{where}age")
        elif name in _OTHER_TYPES:
            _list_of_maps(entries, path, f"{where}{name}")
            other.append(name)
        else:
            raise NativeUnsupported(
                f"{_where(path)}: sops metadata field {where}{name} is not known to the native "
                "codec",
                hint="install the sops binary, or upgrade secretsafe",
            )
    return age, KeyGroup(age=tuple(k.recipient for k in age), other=tuple(sorted(other)))


def parse(meta: dict[str, str], *, path: str | None = None) -> ParsedMetadata:
    """Interpret the ``sops_*`` lines (names without the prefix, values with real newlines)."""
    scalars: dict[str, str] = {}
    nested: dict[str, dict[tuple[str | int, ...], str]] = {}
    for name, value in meta.items():
        parts = tokens(name)
        if parts is None or not isinstance(parts[0], str):
            raise _altered(path, f"line sops_{name} has a malformed name")
        head = parts[0]
        if len(parts) == 1:
            if head not in _SCALARS:
                if head in ("age", "key_groups", *_OTHER_TYPES):
                    raise _altered(path, f"field {head} is not a list")
                raise NativeUnsupported(
                    f"{_where(path)}: sops metadata field {head} is not known to the native codec",
                    hint="install the sops binary, or upgrade secretsafe",
                )
            scalars[head] = value
        else:
            if head in _SCALARS:
                raise _altered(path, f"field {head} is not a single value")
            nested.setdefault(head, {})[tuple(parts[1:])] = value

    for required in ("lastmodified", "mac", "version"):
        if required not in scalars:
            raise _altered(path, f"is missing sops_{required}")
    lastmodified = scalars["lastmodified"]
    if not _is_lastmodified(lastmodified) or lastmodified[-6:] in ("+00:00", "-00:00"):
        # sops writes time.Now().UTC() in Go's RFC 3339 form and authenticates the MAC with
        # that exact string; anything else was edited by hand.
        raise _altered(path, "sops_lastmodified is not a timestamp in the form sops writes")
    _check_date(lastmodified, path)

    groups: list[tuple[AgeKey, ...]] = []
    key_groups: list[KeyGroup] = []
    group_kg = nested.pop("key_groups", None)
    if nested:
        if group_kg is not None:
            raise _altered(path, "has both top-level keys and key groups")
        age, kg = _group(nested, path, "")
        groups.append(age)
        key_groups.append(kg)
    elif group_kg is not None:
        for i, item in enumerate(_list_of_maps(group_kg, path, "key_groups")):
            fields: dict[str, dict[tuple[str | int, ...], str]] = {}
            for rest, value in item.items():
                if not rest or not isinstance(rest[0], str):
                    raise _altered(path, f"key group {i} is malformed")
                fields.setdefault(rest[0], {})[rest[1:]] = value
            age, kg = _group(fields, path, f"key_groups__list_{i}__map_")
            groups.append(age)
            key_groups.append(kg)
    if not key_groups or all(not g.age and not g.other for g in key_groups):
        raise _altered(path, "lists no keys")

    threshold: int | None = None
    if "shamir_threshold" in scalars:
        raw = scalars["shamir_threshold"]
        if not raw.isdigit() or not raw.isascii():
            raise _altered(path, "sops_shamir_threshold is not a whole number")
        threshold = int(raw)
    if len(key_groups) > 1 and (threshold is None or not 1 <= threshold <= len(key_groups)):
        raise _altered(path, "sops_shamir_threshold is missing or out of range for the key groups")

    mac_only = scalars.get("mac_only_encrypted")
    if mac_only not in (None, "true", "false"):
        raise _altered(path, "sops_mac_only_encrypted is neither true nor false")
    selectors = {f: scalars[f] for f in _RULE_FIELDS if scalars.get(f)}
    if len(selectors) > 1:
        raise FormatError(
            f"{_where(path)}: the sops metadata sets more than one of "
            + ", ".join(sorted(selectors)),
            hint="sops refuses such files too; keep one rule",
        )
    rules = Rules(
        unencrypted_suffix=selectors.get(
            "unencrypted_suffix", None if selectors else "_unencrypted"
        ),
        encrypted_suffix=selectors.get("encrypted_suffix"),
        unencrypted_regex=selectors.get("unencrypted_regex"),
        encrypted_regex=selectors.get("encrypted_regex"),
        unencrypted_comment_regex=selectors.get("unencrypted_comment_regex"),
        encrypted_comment_regex=selectors.get("encrypted_comment_regex"),
        mac_only_encrypted=mac_only == "true",
    )
    metadata = Metadata(
        key_groups=tuple(key_groups),
        shamir_threshold=threshold,
        lastmodified=lastmodified,
        rules=rules,
        version=scalars["version"],
    )
    return ParsedMetadata(metadata=metadata, groups=tuple(groups), mac=scalars["mac"])


def _check_date(stamp: str, path: str | None) -> None:
    # Field ranges by hand: datetime would cost ~5 ms on every `secretsafe run`, and the MAC
    # (which uses this string as additional data) already rejects any altered stamp.
    ok = _fits(stamp[: len(_STAMP)], _STAMP) and (
        1 <= int(stamp[5:7]) <= 12
        and 1 <= int(stamp[8:10]) <= 31
        and int(stamp[11:13]) < 24
        and int(stamp[14:16]) < 60
        and int(stamp[17:19]) < 61
    )
    if not ok:
        raise _altered(path, "sops_lastmodified is not a valid date")


def serialize(
    *,
    groups: list[list[tuple[str, str]]],
    shamir_threshold: int | None,
    lastmodified: str,
    mac: str,
    rules: Rules,
    version: str,
) -> list[str]:
    """The ``sops_*`` lines (no trailing newline), sorted as sops sorts them.

    ``groups`` holds ``(recipient, armored enc)`` pairs per key group.
    """
    flat: dict[str, str] = {"lastmodified": lastmodified, "mac": mac, "version": version}
    if len(groups) == 1:
        for j, (recipient, enc) in enumerate(groups[0]):
            flat[f"age{_LIST}{j}{_MAP}recipient"] = recipient
            flat[f"age{_LIST}{j}{_MAP}enc"] = enc
    else:
        for i, group in enumerate(groups):
            for j, (recipient, enc) in enumerate(group):
                base = f"key_groups{_LIST}{i}{_MAP}age{_LIST}{j}{_MAP}"
                flat[base + "recipient"] = recipient
                flat[base + "enc"] = enc
    if shamir_threshold:
        flat["shamir_threshold"] = str(shamir_threshold)
    for field in _RULE_FIELDS:
        value = getattr(rules, field)
        if value:
            flat[field] = value
    if rules.mac_only_encrypted:
        flat["mac_only_encrypted"] = "true"
    # Go's sort.Strings compares bytes; UTF-8 byte order equals code point order.
    return [f"{PREFIX}{k}={flat[k].replace(chr(10), chr(92) + 'n')}" for k in sorted(flat)]
