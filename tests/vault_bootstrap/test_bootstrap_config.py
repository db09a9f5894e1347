"""Bootstrap config parsing, policy generation and `--print-policies` (no server needed)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from bootstrap_helpers import Workdir

from secretsafe.cli import main
from secretsafe.errors import ConfigError
from secretsafe.vault.bootstrap import load_config, parse_duration
from secretsafe.vault.policies import AppAccess, app_policy, check_path, same_policy


def test_config_defaults_and_paths_relative_to_the_file(workdir: Workdir) -> None:
    cfg = load_config(workdir.write_config(["http://127.0.0.1:8200/"]))
    assert cfg.nodes == ("http://127.0.0.1:8200",)
    assert (cfg.shares, cfg.threshold, cfg.revoke_root) == (3, 2, False)
    assert cfg.keys_file == workdir.path / "vault-keys.enc.env"
    (app,) = cfg.apps
    assert app.env_file == workdir.env_file
    assert app.credentials_file == workdir.path / "api-approle.enc.env"
    assert (app.token_ttl, app.token_max_ttl, app.secret_id_ttl) == (900, 14400, 0)
    assert app.recipients == (workdir.key.recipient,)
    assert cfg.mounts[0].max_versions == 5


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda t: t.replace('nodes = ["http', 'nodes = ["ftp'), "http:// or https://"),
        (lambda t: t.replace("threshold = 2", "threshold = 4"), "larger than shares"),
        (lambda t: t.replace('recipients = ["age1', 'recipients = ["ssh-'), "not an age public"),
        (lambda t: t.replace('path = "apps/api/prod"', 'path = "apps/*"'), "not a plain path"),
        (lambda t: t.replace('path = "apps/api/prod"', 'path = "apps/../x"'), "plain path"),
        (lambda t: t.replace('token_ttl = "15m"', 'token_ttl = "soon"'), "not a duration"),
        (lambda t: t + '\n[apps.web]\nmount = "kv"\n', "mount 'kv' is not declared"),
        (lambda t: t.replace("[mounts.secret]", "[mounts.secret]\ntypo = 1"), "unknown key"),
        (lambda t: t + "\n[[broken", "not valid TOML"),
    ],
)
def test_bad_config_is_one_clear_error(workdir: Workdir, edit: Any, message: str) -> None:
    path = workdir.write_config(["http://127.0.0.1:8200"])
    path.write_text(edit(path.read_text()))
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert message in str(info.value)
    assert str(path) in str(info.value)


def test_parse_duration() -> None:
    assert parse_duration("1h30m", what="x") == 5400
    assert parse_duration(90, what="x") == 90
    assert parse_duration("0", what="x") == 0
    assert parse_duration("7d", what="x") == 604800
    with pytest.raises(ConfigError):
        parse_duration("1h 30m", what="x")
    with pytest.raises(ConfigError):
        parse_duration(True, what="x")


def test_policy_is_read_only_on_exactly_its_paths() -> None:
    hcl = app_policy(AppAccess(app="api", mount="secret", paths=("apps/api/prod",)))
    paths = [line.split('"')[1] for line in hcl.splitlines() if line.startswith("path ")]
    assert paths == ["secret/data/apps/api/prod", "secret/metadata/apps/api/prod"]
    assert hcl.count('capabilities = ["read"]') == 2
    for word in ("create", "update", "delete", "list", "sudo", "*"):
        assert word not in hcl.split("\n", 1)[1]
    # The sections layout adds direct children only ("+" is one segment, never "*").
    sections = app_policy(AppAccess(app="api", mount="kv", paths=("apps/api",), children=True))
    assert 'path "kv/data/apps/api/+"' in sections
    assert "*" not in sections
    assert same_policy(hcl, hcl.replace("\n", "\n\n") + "   \n")
    assert not same_policy(hcl, hcl.replace('["read"]', '["read", "list"]'))


@pytest.mark.parametrize("bad", ["a/*", "a/+", "a/../b", 'a"b', "a b", "", "/"])
def test_policy_paths_cannot_smuggle_globs_or_hcl(bad: str) -> None:
    with pytest.raises(ConfigError):
        check_path(bad, what="path")


def test_print_policies(workdir: Workdir, capfd: pytest.CaptureFixture[str]) -> None:
    config = workdir.write_config(["http://127.0.0.1:1"])  # never contacted
    with config.open("a") as fh:
        fh.write('\n[apps.worker]\npath = "apps/worker"\nlayout = "sections"\n')
    assert main(["vault", "bootstrap", "--config", str(config), "--print-policies"]) == 0
    out = capfd.readouterr().out
    assert "# policy: app-api" in out
    assert "# policy: app-worker" in out
    assert 'path "secret/data/apps/api/prod" {' in out
    assert 'path "secret/metadata/apps/worker/+" {' in out


def test_missing_config_file(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    code = main(["vault", "bootstrap", "--config", str(tmp_path / "nope.toml")])
    err = capfd.readouterr().err
    assert code == 10
    assert "no such file" in err
    assert "Traceback" not in err


# Secrets typed in the wrong place of the bootstrap TOML (issue 11, 4a).
SECRET_LIKE = {
    "age identity": "AGE-SECRET-KEY-1QYQSZQGPQYQSZQGPQYQSZQGPQYQSZQGPQYQSZQGPQYQSZQGPQYQSZ0SDFDK",
    "vault token": "hvs.CAESIJ0k7kQy5zXe2bFqNnV0mG8pHc4tWd1sL6yRaUoPiTgS",
    "legacy token": "s.Xb3kP9qLm2ZtR7wVn5YcJ8aF",
    "pem key": "-----BEGIN PRIVATE KEY-----\\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg",
}
# Where a value can land: (a TOML edit taking the value, the error it gives).
PLACES = {
    "init recipient": (
        lambda t, v: t.replace('recipients = ["age1', f'recipients = ["{v}", "age1'),
        "not an age public key",
    ),
    "app recipient": (
        lambda t, v: t.replace('token_ttl = "15m"', f'token_ttl = "15m"\nrecipients = ["{v}"]'),
        "not an age public key",
    ),
    "node address": (
        lambda t, v: t.replace('nodes = ["http', f'nodes = ["{v}", "http'),
        "http:// or https://",
    ),
    "app path": (lambda t, v: t.replace('path = "apps/api/prod"', f'path = "{v}"'), "path"),
    "app mount": (
        lambda t, v: t.replace('path = "apps/api/prod"', f'path = "a"\nmount = "{v}"'),
        "mount",
    ),
    "duration": (lambda t, v: t.replace('token_ttl = "15m"', f'token_ttl = "{v}"'), "duration"),
    "approle mount": (lambda t, v: t + f'\n[approle]\nmount = "{v}"\n', "mount"),
    "mount name": (lambda t, v: t + f'\n[mounts."{v}"]\n', "mount"),
    "app name": (lambda t, v: t + f'\n[apps."{v}"]\n', "app"),
    "unknown key": (lambda t, v: t.replace("[init]", f'[init]\n"{v}" = 1'), "unknown key"),
}


@pytest.mark.parametrize("kind", sorted(SECRET_LIKE))
@pytest.mark.parametrize("place", sorted(PLACES))
def test_config_errors_never_echo_secret_like_values(
    workdir: Workdir, place: str, kind: str
) -> None:
    """Every key x every kind of secret: an error names the key, never the value."""
    value = SECRET_LIKE[kind]
    edit, _ = PLACES[place]
    path = workdir.write_config(["http://127.0.0.1:8200"])
    path.write_text(edit(path.read_text(), value))
    try:
        load_config(path)
    except ConfigError as caught:
        exc = caught
    else:
        return  # a plain name or path that happens to look like a token: nothing printed
    shown = value.replace("\\n", "\n")
    core = shown.split("-----")[-1][:24] if kind == "pem key" else shown[:24]
    texts = [str(exc), repr(exc), *map(str, exc.args), exc.hint or ""]
    for text in texts:
        assert core not in text, f"{place}: {text}"
    assert exc.__context__ is None
    assert exc.__cause__ is None
    assert str(path) in str(exc)


# --- the pydantic config: every key x wrong values, every problem at once ---------------------

# Not shaped like a secret: the last filter (secret-shaped text) cannot be what hides it.
PLAIN_CANARY = "plainCanaryValue42"
WRONG_VALUES: list[Any] = [PLAIN_CANARY, [PLAIN_CANARY], {"k": PLAIN_CANARY}, -7, True]


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return "{ " + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + " }"


def _write(path: Path, tables: dict[str, dict[str, Any]]) -> Path:
    lines = []
    for table, keys in tables.items():
        lines.append(f"[{table}]")
        lines += [f"{k} = {_toml(v)}" for k, v in keys.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _valid(recipient: str) -> dict[str, dict[str, Any]]:
    return {
        "server": {"nodes": ["http://127.0.0.1:8200"]},
        "init": {"recipients": [recipient]},
        "mounts.secret": {"description": "x"},
        "approle": {"mount": "approle"},
        "apps.api": {"path": "apps/api"},
    }


def _every_key() -> list[tuple[str, str]]:
    from secretsafe.vault.bootstrap import config as c

    sections = {
        "server": c.ServerSection,
        "init": c.InitSection,
        "mounts.secret": c.MountSection,
        "approle": c.ApproleSection,
        "apps.api": c.AppSection,
    }
    return [(t, k) for t, model in sections.items() for k in model.model_fields]


# Keys where the plain canary is a valid value (free text, a plain path, a file name).
TAKES_TEXT = {
    ("server", "ca_cert"),
    ("init", "keys_file"),
    ("mounts.secret", "description"),
    ("approle", "mount"),
    ("apps.api", "path"),
    ("apps.api", "env_file"),
    ("apps.api", "credentials_file"),
}


@pytest.mark.parametrize(("table", "key"), _every_key())
def test_every_key_with_wrong_values_names_the_key_never_the_value(
    workdir: Workdir, table: str, key: str
) -> None:
    for value in WRONG_VALUES:
        tables = _valid(workdir.key.recipient)
        tables[table] = {**tables[table], key: value}
        path = _write(workdir.path / "b.toml", tables)
        if (value == PLAIN_CANARY and (table, key) in TAKES_TEXT) or (
            value is True and key == "revoke_root"
        ):
            load_config(path)
            continue
        with pytest.raises(ConfigError) as info:
            load_config(path)
        exc = info.value
        text = "\n".join([str(exc), repr(exc), *map(str, exc.args)])
        # An app's mount names a [mounts.NAME] table: a name, shown by the name rule.
        if (table, key) != ("apps.api", "mount"):
            assert PLAIN_CANARY not in text, (table, key, value)
        assert "-7" not in text.replace(str(path), ""), (table, key, value)
        assert f"[{table}] {key}" in text, (table, key, value, text)
        assert exc.__context__ is None
        assert exc.__cause__ is None


def test_every_problem_at_once_one_line_each(workdir: Workdir) -> None:
    tables = _valid(workdir.key.recipient)
    tables["server"]["nodes"] = ["ftp://x"]
    tables["init"]["shares"] = "five"
    tables["init"]["typo"] = 1
    tables["mounts.secret"]["max_versions"] = -1
    tables["apps.api"]["layout"] = "nested"
    tables["apps.api"]["token_ttl"] = "soon"
    path = _write(workdir.path / "b.toml", tables)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    lines = info.value.message.splitlines()
    assert info.value.multiline  # the CLI keeps one line per problem
    assert lines[0] == f"{path}: 6 problems"
    assert lines[1:] == [
        "  - [server] nodes[0]: needs an http:// or https:// scheme"
        ' (e.g. nodes = ["https://vault.example:8200"])',
        "  - [init] shares: must be a valid integer",
        "  - [init] typo: unknown key"
        " (allowed: keys_file, recipients, revoke_root, shares, threshold)",
        "  - [mounts.secret] max_versions: must be greater than or equal to 0",
        '  - [apps.api] layout: must be "flat" or "sections"',
        '  - [apps.api] token_ttl: is not a duration (use seconds or e.g. "30m", "1h", "7d")',
    ]
    # Rules between keys are checked once each key is valid on its own.
    tables = _valid(workdir.key.recipient)
    tables["init"].update(shares=3, threshold=4)
    tables["apps.api"]["mount"] = "kv"
    with pytest.raises(ConfigError) as info:
        load_config(_write(workdir.path / "b.toml", tables))
    assert "[init] threshold: is larger than shares" in str(info.value)
    assert "[apps.api] mount: mount 'kv' is not declared" in str(info.value)


def test_print_policies_as_json(workdir: Workdir, capfd: pytest.CaptureFixture[str]) -> None:
    config = workdir.write_config(["http://127.0.0.1:1"])  # never contacted
    args = ["vault", "bootstrap", "--config", str(config), "--print-policies", "--format", "json"]
    assert main(args) == 0
    doc = json.loads(capfd.readouterr().out)
    assert [p["name"] for p in doc["policies"]] == ["app-api"]
    assert 'path "secret/data/apps/api/prod" {' in doc["policies"][0]["hcl"]
