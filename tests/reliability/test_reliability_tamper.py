"""Tamper suite: random single-byte and structural mutations of encrypted files.

Every mutated file is decrypted by secretsafe's reader. Each outcome is classified:

- **rejected**: a :class:`SecretsafeError` subclass from the expected set, one line, no value;
- **harmless**: it decrypts to exactly the original names and values (comment lines, blank
  lines: sops does not authenticate comments' positions, and the values are what matters);
- **format limit**: the encrypted values are intact and under their names, and the only change
  is to an entry the sops format does not authenticate: the *name* of an empty value or of a
  value left unencrypted on purpose (``*_unencrypted``), or such an entry added or removed. The
  MAC covers values, not those names; sops accepts these changes too;
- **silent wrong value** (a failure): anything else that decrypts without an error.

Files come from the native writer and from the real sops binary. Seeds and budgets are fixed.
A sample of mutations also goes through ``secretsafe decrypt`` to check the exit code and the
one-line message.
"""

from __future__ import annotations

import os
import random
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pyrage
import pytest
from reliability_support import CANARY, Tally, exception_texts, one_error_line, run_cli

from secretsafe.errors import (
    DecryptionError,
    DotenvSyntaxError,
    FormatError,
    IntegrityError,
    NoIdentityError,
    SecretsafeError,
    UnsupportedError,
)
from secretsafe.sops import native
from secretsafe.sops.model import Comment, Entry, Item

pytestmark = pytest.mark.reliability

SEED = 8_2026
SINGLE_BYTE_BUDGET = 400
TRUNCATE_BUDGET = 40
SWAP_BUDGET = 60
CLI_SAMPLE = 25

EXPECTED = (
    IntegrityError,
    FormatError,
    DecryptionError,
    NoIdentityError,
    DotenvSyntaxError,
    UnsupportedError,
)

ITEMS: list[Item] = [
    Comment(" production database"),
    Entry("DB__HOST", "db.internal"),
    Entry("DB__PASSWORD", f"{CANARY}-db"),
    Entry("EMPTY", ""),
    Entry("PORT_unencrypted", "5432"),
    Entry("API_KEY", CANARY),
    Comment(" multi-line key below"),
    Entry("TLS_KEY", "-----BEGIN KEY-----\nabc\n-----END KEY-----"),
    Entry("SHORT", "x"),
]
ORIGINAL = {i.key: i.value for i in ITEMS if isinstance(i, Entry)}
# Entries whose names the sops MAC does not cover.
UNAUTHENTICATED = {k for k, v in ORIGINAL.items() if v == "" or k.endswith("_unencrypted")}
PRINTABLE = [chr(c) for c in range(0x20, 0x7F)]


@pytest.fixture(scope="module")
def identity() -> pyrage.x25519.Identity:
    return pyrage.x25519.Identity.generate()


@pytest.fixture(scope="module")
def stranger() -> str:
    return str(pyrage.x25519.Identity.generate().to_public())


def _sops_plain() -> str:
    out = []
    for item in ITEMS:
        if isinstance(item, Comment):
            out.append(f"#{item.text}\n")
        else:
            out.append(f"{item.key}={item.value.replace(chr(10), chr(92) + 'n')}\n")
    return "".join(out)


@pytest.fixture(scope="module")
def sources(
    identity: pyrage.x25519.Identity, sops_bin: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, str]:
    recipient = str(identity.to_public())
    plain = tmp_path_factory.mktemp("tamper") / "plain.env"
    plain.write_text(_sops_plain(), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOPS_")}
    by_sops = subprocess.run(
        [
            str(sops_bin),
            "encrypt",
            "--input-type",
            "dotenv",
            "--output-type",
            "dotenv",
            "--age",
            recipient,
            str(plain),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    plain.unlink()
    return {
        "native": native.encrypt(ITEMS, key_groups=[[recipient]]),
        "sops": by_sops,
    }


def _classify(text: str, identity: pyrage.x25519.Identity) -> tuple[str, str | None]:
    """(outcome, problem): outcome is rejected / harmless / format-limit / failure."""
    try:
        values = native.decrypt(text, [identity], path="t.env.enc").values.reveal()
    except EXPECTED as exc:
        leaked = [t for t in exception_texts(exc) if CANARY in t]
        if leaked:
            return "failure", f"{type(exc).__name__} text holds the canary"
        if "\n" in str(exc):
            return "failure", f"{type(exc).__name__} message spans lines"
        return "rejected", None
    except SecretsafeError as exc:
        return "failure", f"unexpected error class {type(exc).__name__}"
    except Exception as exc:
        return "failure", f"crash: {type(exc).__name__}"
    if values == ORIGINAL:
        return "harmless", None
    secret_intact = all(values.get(k) == v for k, v in ORIGINAL.items() if k not in UNAUTHENTICATED)
    changed = set(values.items()) ^ set(ORIGINAL.items())
    only_unauth = all(v == "" or k.endswith("_unencrypted") for k, v in changed)
    if secret_intact and only_unauth:
        return "format-limit", None
    return "failure", "SILENT WRONG VALUE: decrypted without error to different values"


def _single_byte(text: str, rng: random.Random) -> Iterator[tuple[str, str]]:
    positions = [i for i, ch in enumerate(text) if ch != "\n"]
    for _ in range(SINGLE_BYTE_BUDGET):
        pos = rng.choice(positions)
        new = rng.choice([c for c in PRINTABLE if c != text[pos]])
        yield f"byte@{pos}", text[:pos] + new + text[pos + 1 :]


def _structural(text: str, rng: random.Random, stranger: str) -> Iterator[tuple[str, str]]:
    lines = text.splitlines(keepends=True)
    n = len(lines)
    join = "".join
    for i in range(n):
        yield f"delete line {i}", join(lines[:i] + lines[i + 1 :])
        yield f"duplicate line {i}", join([*lines[: i + 1], lines[i], *lines[i + 1 :]])
        yield f"move line {i} to end", join(lines[:i] + lines[i + 1 :] + [lines[i]])
        yield f"move line {i} to start", join([lines[i], *lines[:i], *lines[i + 1 :]])
        stripped = lines[i].rstrip("\n")
        yield f"trailing space line {i}", join([*lines[:i], stripped + " \n", *lines[i + 1 :]])
        yield f"leading space line {i}", join([*lines[:i], " " + lines[i], *lines[i + 1 :]])
        if "=" in stripped:
            key, _, value = stripped.partition("=")
            yield f"rename key line {i}", join([*lines[:i], f"{key}X={value}\n", *lines[i + 1 :]])
            yield (
                f"lowercase key line {i}",
                join([*lines[:i], f"{key.lower()}={value}\n", *lines[i + 1 :]]),
            )
            yield (
                f"export prefix line {i}",
                join([*lines[:i], f"export {stripped}\n", *lines[i + 1 :]]),
            )
            yield f"quote value line {i}", join([*lines[:i], f'{key}="{value}"\n', *lines[i + 1 :]])
            yield f"empty value line {i}", join([*lines[:i], f"{key}=\n", *lines[i + 1 :]])
    for _ in range(SWAP_BUDGET):
        i, j = rng.sample(range(n), 2)
        swapped = list(lines)
        swapped[i], swapped[j] = swapped[j], swapped[i]
        yield f"swap lines {i},{j}", join(swapped)
    # Swap the ciphertexts of two encrypted values (same data key, other names).
    enc = [i for i, ln in enumerate(lines) if "=ENC[" in ln and not ln.startswith("sops_")]
    for a, b in [(enc[x], enc[y]) for x in range(len(enc)) for y in range(x + 1, len(enc))]:
        ka, _, va = lines[a].partition("=")
        kb, _, vb = lines[b].partition("=")
        swapped = list(lines)
        swapped[a], swapped[b] = f"{ka}={vb}", f"{kb}={va}"
        yield f"swap values {ka},{kb}", join(swapped)
    inserts = [
        "INJECTED=evil\n",
        "INJECTED=\n",
        "INJECTED_unencrypted=evil\n",
        "API_KEY=evil\n",
        "# injected comment\n",
        "\n",
        "sops_injected=1\n",
        "sops_mac_only_encrypted=true\n",
        "sops_encrypted_regex=^NOTHING$\n",
        "sops_unencrypted_suffix=_x\n",
        "garbage line without equals\n",
        "=novalue\n",
    ]
    for extra in inserts:
        for pos in (0, n // 2, n):
            yield f"insert {extra.strip()!r} at {pos}", join([*lines[:pos], extra, *lines[pos:]])
    meta = {ln.partition("=")[0]: idx for idx, ln in enumerate(lines) if ln.startswith("sops_")}

    def replace_meta(key_suffix: str, value: str) -> Iterator[tuple[str, str]]:
        for key, idx in meta.items():
            if key.endswith(key_suffix):
                changed = list(lines)
                changed[idx] = f"{key}={value}\n"
                yield f"set {key}", join(changed)

    yield from replace_meta("map_recipient", stranger)
    yield from replace_meta("lastmodified", "2020-01-01T00:00:00Z")
    yield from replace_meta("sops_version", "9.9.9")
    yield from replace_meta("sops_version", "3.0.0")
    yield from replace_meta("unencrypted_suffix", "_plain")
    yield from replace_meta("sops_mac", "")
    yield from replace_meta("map_enc", "")
    yield "no metadata", join(ln for ln in lines if not ln.startswith("sops_"))
    yield "only metadata", join(ln for ln in lines if ln.startswith("sops_"))
    yield "no recipients", join(ln for ln in lines if "sops_age__" not in ln)
    yield "CRLF", text.replace("\n", "\r\n")
    yield "no final newline", text.rstrip("\n")
    yield "BOM", "\ufeff" + text
    yield "empty file", ""
    yield "reversed lines", join(reversed(lines))
    yield "sorted lines", join(sorted(lines))
    for _ in range(TRUNCATE_BUDGET):
        cut = rng.randrange(len(text))
        yield f"truncate at {cut}", text[:cut]


def _run_suite(
    tally: Tally,
    text: str,
    identity: pyrage.x25519.Identity,
    mutations: Callable[[], Iterator[tuple[str, str]]],
) -> None:
    tally.note("silent wrong values", 0)
    for name, mutated in mutations():
        if mutated == text:
            continue
        outcome, problem = _classify(mutated, identity)
        if problem is None:
            tally.ok(name, note=outcome)
        else:
            tally.fail(name, problem, note="silent wrong values" if "SILENT" in problem else None)


@pytest.mark.parametrize("origin", ["native", "sops"])
def test_single_byte_mutations(
    origin: str, sources: dict[str, str], identity: pyrage.x25519.Identity, tally: Tally
) -> None:
    rng = random.Random(f"{SEED}-{origin}-byte")
    text = sources[origin]
    assert native.decrypt(text, [identity]).values.reveal() == ORIGINAL
    _run_suite(tally, text, identity, lambda: _single_byte(text, rng))


@pytest.mark.parametrize("origin", ["native", "sops"])
def test_structural_mutations(
    origin: str,
    sources: dict[str, str],
    identity: pyrage.x25519.Identity,
    stranger: str,
    tally: Tally,
) -> None:
    rng = random.Random(f"{SEED}-{origin}-struct")
    text = sources[origin]
    _run_suite(tally, text, identity, lambda: _structural(text, rng, stranger))


def test_cli_rejects_tampered_files_cleanly(  # noqa: PLR0917 - fixtures
    sources: dict[str, str],
    identity: pyrage.x25519.Identity,
    stranger: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    tally: Tally,
) -> None:
    """Through ``secretsafe decrypt``: a rejected mutation exits with its class's code and one
    ``secretsafe: error:`` line without the value; an accepted one prints the original."""
    key_file = tmp_path / "keys.txt"
    key_file.write_text(f"{identity}\n", encoding="utf-8")
    key_file.chmod(0o600)
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(key_file))
    rng = random.Random(f"{SEED}-cli")
    text = sources["sops"]
    candidates = list(_structural(text, rng, stranger)) + list(_single_byte(text, rng))
    target = tmp_path / "t.env.enc"
    for name, mutated in rng.sample(candidates, CLI_SAMPLE):
        if mutated == text:
            continue
        outcome, _ = _classify(mutated, identity)
        target.write_bytes(mutated.encode("utf-8"))
        result = run_cli(["decrypt", "--format", "json", str(target)])
        if outcome == "rejected":
            problem = one_error_line(result)
            if problem is None and result.code not in {e.exit_code for e in EXPECTED}:
                problem = f"exit code {result.code}"
            if problem is None and CANARY in result.err + result.out:
                problem = "canary in output of a rejected file"
            tally.check(f"cli {name}", problem, note="cli rejected")
        else:
            tally.check(
                f"cli {name}",
                None if result.code == 0 else f"accepted by the codec, CLI exit {result.code}",
                note="cli accepted",
            )
