""".sops.yaml discovery and creation-rule matching, checked against what sops itself does."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from secretsafe.errors import ConfigError
from secretsafe.sops.config import creation_rule_for, find_config, to_config_json
from secretsafe.sops.model import Rules
from tests.conftest import AgeKey

R1 = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"
R2 = "age1lggyhqrw2nlhcxprm67z43rta597azn8gknawjehu9d9dl0jq3yqqvfafg"


def test_find_config_walks_up_from_the_file(tmp_path: Path) -> None:
    (tmp_path / ".sops.yaml").write_text("creation_rules: []\n")
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    assert find_config(deep / ".env") == tmp_path / ".sops.yaml"
    (tmp_path / "a" / ".sops.yaml").write_text("creation_rules: []\n")
    assert find_config(deep / ".env") == tmp_path / "a" / ".sops.yaml"


def test_no_config_is_none(tmp_path: Path) -> None:
    assert creation_rule_for(tmp_path / ".env") is None
    (tmp_path / ".sops.yaml").write_text("stores: {}\n")
    assert creation_rule_for(tmp_path / ".env") is None  # no creation_rules: as if absent


def test_rules_in_order_relative_to_config_dir(tmp_path: Path) -> None:
    (tmp_path / ".sops.yaml").write_text(
        f"""
creation_rules:
  - path_regex: ^prod/.*\\.env$
    age: {R1}
  - path_regex: \\.env$
    age: "{R1}, {R2}"
    encrypted_regex: ^(PASS|TOKEN)
  - age: [{R2}]
    shamir_threshold: 0
"""
    )
    prod = creation_rule_for(tmp_path / "prod" / "app.env")
    assert prod is not None
    assert prod.recipients == (R1,)
    assert prod.rules == Rules()
    other = creation_rule_for(tmp_path / "dev" / "app.env")
    assert other is not None
    assert other.recipients == (R1, R2)
    assert other.rules == Rules(unencrypted_suffix=None, encrypted_regex="^(PASS|TOKEN)")
    fallback = creation_rule_for(tmp_path / "x.txt")
    assert fallback is not None
    assert fallback.recipients == (R2,)
    assert fallback.shamir_threshold is None


def test_first_matching_path_wins(tmp_path: Path) -> None:
    (tmp_path / ".sops.yaml").write_text(
        f"creation_rules:\n  - path_regex: \\.enc$\n    age: {R1}\n"
    )
    rule = creation_rule_for(tmp_path / ".env", tmp_path / ".env.enc")
    assert rule is not None
    assert rule.matched_path == str(tmp_path / ".env.enc")


def test_no_matching_rule_is_an_error(tmp_path: Path) -> None:
    (tmp_path / ".sops.yaml").write_text(
        f"creation_rules:\n  - path_regex: ^secrets/\n    age: {R1}\n"
    )
    with pytest.raises(ConfigError, match="no creation rule matches") as info:
        creation_rule_for(tmp_path / ".env")
    assert info.value.exit_code == 14


def test_key_groups_and_other_key_types(tmp_path: Path) -> None:
    (tmp_path / ".sops.yaml").write_text(
        f"""
creation_rules:
  - shamir_threshold: 2
    key_groups:
      - age: [{R1}]
      - age: ["{R2}"]
        pgp: [FBC7B9E2A4F9289AC0C1D4843D16CEE4A27381B4]
      - merge:
          - age: [{R1}]
        kms:
          - arn: arn:aws:kms:us-east-1:1:key/x
"""
    )
    rule = creation_rule_for(tmp_path / ".env")
    assert rule is not None
    assert [g.age for g in rule.key_groups] == [(R1,), (R2,), (R1,)]
    assert rule.shamir_threshold == 2
    assert rule.other_key_types == ("kms", "pgp")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("creation_rules: [\n", "line"),
        ("- a\n", "mapping"),
        ("creation_rules: {a: 1}\n", "list of mappings"),
        (f"creation_rules:\n  - path_regex: '('\n    age: {R1}\n", "does not compile"),
        (
            f"creation_rules:\n  - age: {R1}\n    encrypted_regex: a\n    unencrypted_suffix: b\n",
            "only one of",
        ),
        ("creation_rules:\n  - path_regex: x\n", "no keys"),
        ("creation_rules:\n  - age: 3\n", "string or a list"),
    ],
)
def test_bad_config_files(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / ".sops.yaml").write_text(text)
    with pytest.raises(ConfigError, match=message):
        creation_rule_for(tmp_path / "x.env")


def test_generated_config_is_what_sops_uses(
    tmp_path: Path, age_key: AgeKey, other_age_key: AgeKey, sops_bin: Path, sops_env: dict[str, str]
) -> None:
    """The one-rule config the binary backend hands sops yields the key groups asked for."""
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        to_config_json(
            [[age_key.recipient], [other_age_key.recipient]],
            shamir_threshold=2,
            rules=Rules(unencrypted_regex="^PUB"),
        )
    )
    out = subprocess.run(
        [
            *(str(sops_bin), "--config", str(cfg), "encrypt"),
            *("--input-type", "dotenv", "--output-type", "dotenv", "/dev/stdin"),
        ],
        input="PUB=1\nX=2\n",
        capture_output=True,
        text=True,
        env=sops_env,
        check=True,
    ).stdout
    assert "sops_shamir_threshold=2" in out
    assert "sops_unencrypted_regex=^PUB" in out
    assert "PUB=1" in out
    assert (
        f"sops_key_groups__list_1__map_age__list_0__map_recipient={other_age_key.recipient}" in out
    )
