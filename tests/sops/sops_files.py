"""The same settings as a nested sops YAML/JSON file and as a flat sops dotenv file, each made
by the real sops: shared by the load(), check, convert and vault push tests of nested files."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from tests.conftest import AgeKey

CANARY = "canary-sops-nested-7c41"

NESTED: dict[str, Any] = {
    "database": {
        "host": "db",
        "port": 5432,
        "password": CANARY,
        "replicas": ["r1", "r2"],
        "options": {"sslmode": "require"},
    },
    "debug": True,
    "ratio": 0.5,
}
#: NESTED as flat variables (``__`` delimiter): what the equivalent sops dotenv file holds.
FLAT = {
    "DATABASE__HOST": "db",
    "DATABASE__PORT": "5432",
    "DATABASE__PASSWORD": CANARY,
    "DATABASE__REPLICAS": '["r1","r2"]',
    "DATABASE__OPTIONS__SSLMODE": "require",
    "DEBUG": "true",
    "RATIO": "0.5",
}
#: What the JSON file flattens to: sops decodes every JSON number as a float (Go's
#: encoding/json) and prints 5432 as 5432.0, as ``sops exec-env`` does with a flat JSON file.
FLAT_JSON = {**FLAT, "DATABASE__PORT": "5432.0"}


def yaml_text(data: dict[str, Any]) -> str:
    import yaml

    return yaml.safe_dump(data, sort_keys=False)


def dotenv_text(values: dict[str, str]) -> str:
    return "".join(f"{k}={v}\n" for k, v in values.items())


def sops_encrypt(
    sops_bin: Path, env: dict[str, str], key: AgeKey, plain: str, *, fmt: str, dst: Path
) -> Path:
    """``plain`` (in format ``fmt``) encrypted by sops itself for ``key``, written to ``dst``."""
    out = subprocess.run(
        [
            str(sops_bin),
            *("encrypt", "--age", key.recipient),
            *("--input-type", fmt, "--output-type", fmt, "/dev/stdin"),
        ],
        input=plain.encode(),
        env=env,
        capture_output=True,
        timeout=60,
        check=True,
    ).stdout
    assert CANARY.encode() not in out
    dst.write_bytes(out)
    return dst


def sops_files(
    sops_bin: Path, env: dict[str, str], key: AgeKey, directory: Path
) -> dict[str, Path]:
    """NESTED as a sops YAML and JSON file; their equivalent sops dotenv files: ``dotenv``
    (FLAT, as the YAML file) and ``dotenv_json`` (FLAT_JSON, as the JSON file)."""
    return {
        "yaml": sops_encrypt(
            sops_bin, env, key, yaml_text(NESTED), fmt="yaml", dst=directory / "s.enc.yaml"
        ),
        "json": sops_encrypt(
            sops_bin, env, key, json.dumps(NESTED), fmt="json", dst=directory / "s.enc.json"
        ),
        "dotenv": sops_encrypt(
            sops_bin, env, key, dotenv_text(FLAT), fmt="dotenv", dst=directory / "s.env.enc"
        ),
        "dotenv_json": sops_encrypt(
            sops_bin,
            env,
            key,
            dotenv_text(FLAT_JSON),
            fmt="dotenv",
            dst=directory / "s.json.env.enc",
        ),
    }
