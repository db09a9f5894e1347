"""Bad input catalogue: malformed and hostile inputs each get their documented one-line error
and exit code, never a traceback; and a fixed-budget fuzz of the dotenv parser and the native
codec (hypothesis, derandomized).

Each catalogue entry is run through the real entry point (``secretsafe.cli.main``) and must
exit with the code the README documents for its error class, print exactly one line starting
``secretsafe: error:`` and leave its input file untouched. Entries marked ``accepted`` are
valid but extreme (thousands of keys, a 1 MiB value): they must succeed and round-trip.
"""

from __future__ import annotations

import os
import random
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyrage
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reliability_support import Tally, one_error_line, run_cli

from secretsafe.errors import DotenvSyntaxError, FormatError, SecretsafeError
from secretsafe.files import MAX_FILE_BYTES

pytestmark = pytest.mark.reliability

FUZZ_EXAMPLES = 300
FUZZ = settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    derandomize=True,  # a fixed budget of fixed examples in CI
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

rng = random.Random(4_2026)
BINARY = bytes(rng.randrange(256) for _ in range(4096))


@dataclass(frozen=True)
class Bad:
    label: str
    content: bytes | None  # written to the input file; None: the case makes its own
    argv: tuple[str, ...]  # "{f}" is the input file
    code: int  # 0: accepted (must succeed)
    says: str = ""  # the error line must contain this


def _env_cases() -> list[Bad]:
    enc = ("encrypt", "{f}", "-o", "out.env.enc")
    thousands = "".join(f"KEY_{i}=value-{i}\n" for i in range(5000)).encode()
    return [
        Bad("binary garbage", BINARY, enc, 10),
        Bad("NUL byte in a value", b"A=x\x00y\n", enc, 10),
        Bad("invalid UTF-8", b"A=caf\xe9\n", enc, 10),
        Bad("UTF-16 file", "A=1\n".encode("utf-16"), enc, 10),
        Bad("too large", None, enc, 10),
        Bad("huge line (1 MiB value)", b"A=" + b"x" * (1 << 20) + b"\n", enc, 0),
        Bad("thousands of keys", thousands, enc, 0),
        Bad("10k-char key", b"K" * 10000 + b"=1\n", enc, 0),
        Bad("no equals", b"JUSTAKEY\n", enc, 12),
        Bad("empty key", b"=value\n", enc, 12),
        Bad("key with space", b"A B=1\n", enc, 12),
        Bad("key starting with digit", b"1A=1\n", enc, 12),
        Bad("non-ASCII key", "ÄB=1\n".encode(), enc, 12),
        Bad("YAML style", b"A: 1\n", enc, 12),
        Bad("unterminated double quote", b'A="abc\nB=2\n', enc, 12),
        Bad("unterminated single quote", b"A='abc\n", enc, 12),
        Bad("junk after quote", b'A="x"y\n', enc, 12),
        Bad("junk after single quote", b"A='x' y\n", enc, 12),
        Bad("quote soup", b'A="\'\\"\'\\""\'\n', enc, 12),
        Bad("lone quote", b'"\n', enc, 12),
        Bad("backslash at end of quote", b'A="x\\\n', enc, 12),
        Bad("export alone", b"export\n", enc, 12),
        Bad("duplicate key", b"A=1\nA=2\n", enc, 12),
        Bad("sops_ key", b"sops_mac=1\n", enc, 13),
        Bad("backslash-n in value", b"A='x\\ny'\n", enc, 13),
        Bad("CR-only line endings", b"A=1\rB=2\r", enc, 13),
        Bad("deep nesting of quotes", b'A="' + b'\\"' * 5000 + b'"\n', enc, 0),
        Bad("many blank lines and comments", b"#\n\n" * 20000 + b"A=1\n", enc, 0),
        Bad("BOM", b"\xef\xbb\xbfA=1\n", enc, 0),
        Bad("CRLF", b"A=1\r\nB='x'\r\n", enc, 0),
        Bad("interpolation stays literal", b"A=${HOME}\n", enc, 0),
        Bad("empty file", b"", enc, 0),
        Bad("missing file", None, enc, 10),
        Bad("directory", None, enc, 10),
    ]


def _sops_cases(sops_yaml: bytes, sops_json: bytes, encrypted: bytes) -> list[Bad]:
    dec = ("decrypt", "{f}")
    lines = encrypted.splitlines(keepends=True)
    return [
        Bad("plaintext .env", b"A=1\n", dec, 13),
        Bad("empty file", b"", dec, 13),
        Bad("JSON document", b'{"a": 1}\n', dec, 13),
        Bad("sops YAML file", sops_yaml, dec, 0),  # read natively since issue 14
        Bad("sops JSON file", sops_json, dec, 0),  # read natively since issue 14
        Bad("binary garbage", BINARY, dec, 10),
        Bad("truncated to half", encrypted[: len(encrypted) // 2], dec, 22),
        Bad("metadata only", b"".join(ln for ln in lines if ln.startswith(b"sops_")), dec, 22),
        Bad("values only", b"".join(ln for ln in lines if not ln.startswith(b"sops_")), dec, 13),
        Bad("CRLF sops file", encrypted.replace(b"\n", b"\r\n"), dec, 13),
        Bad("unknown sops_version", encrypted.replace(b"sops_version=", b"sops_version=9"), dec, 0),
        Bad("missing file", None, dec, 10),
        Bad("directory", None, dec, 10),
    ]


def _run_catalogue(
    cases: list[Bad], tmp_path: Path, tally: Tally, check: Callable[..., Any]
) -> None:
    tally.note("tracebacks", 0)
    for case in cases:
        f = tmp_path / "input.env"
        for stale in (f, tmp_path / "out.env.enc"):
            if stale.is_dir():
                stale.rmdir()
            elif stale.exists():
                stale.unlink()
        if case.label == "directory":
            f.mkdir()
        elif case.label == "too large":
            with f.open("wb") as fh:
                fh.truncate(MAX_FILE_BYTES + 1)
        elif case.content is not None:
            f.write_bytes(case.content)
        before = f.read_bytes() if f.is_file() else None
        result = run_cli([a.replace("{f}", str(f)) for a in case.argv])
        problem = check(case, result)
        if result.exceptions or "Traceback" in result.err or "internal error" in result.err:
            tally.note("tracebacks")
        if problem is None and before is not None and f.read_bytes() != before:
            problem = "the input file was changed"
        tally.check(case.label, problem, note="accepted" if case.code == 0 else "refused cleanly")


def _clean(case: Bad, result: Any) -> str | None:
    if case.code == 0:
        if result.code != 0:
            return f"valid input refused: exit {result.code}: {result.err.strip()[:160]}"
        return None
    if result.code != case.code:
        return f"exit {result.code}, want {case.code}: {result.err.strip()[:160]}"
    if case.says not in result.err:
        return f"message does not say {case.says!r}: {result.err.strip()[:160]}"
    return one_error_line(result)


def test_env_file_catalogue(
    tmp_path: Path, age_key: Any, tally: Tally, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SECRETSAFE_BACKEND", "native")
    _run_catalogue(_env_cases(), tmp_path, tally, _clean)


def test_encrypted_file_catalogue(
    tmp_path: Path, age_key: Any, sops_bin: Path, tally: Tally, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    src = tmp_path / "doc"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOPS_")}
    made = {}
    for kind, body in (("yaml", "a: 1\nb: secret\n"), ("json", '{"a": "secret"}\n')):
        src.write_text(body, encoding="utf-8")
        made[kind] = subprocess.run(
            [
                str(sops_bin),
                "encrypt",
                "--input-type",
                kind,
                "--output-type",
                kind,
                "--age",
                age_key.recipient,
                str(src),
            ],
            env=env,
            capture_output=True,
            check=True,
            timeout=60,
        ).stdout
    from secretsafe.sops import encrypt_items
    from secretsafe.sops.model import Entry

    encrypted = encrypt_items(
        [Entry("A", "1"), Entry("B", "two")], recipients=[age_key.recipient], backend="native"
    ).encode()
    _run_catalogue(_sops_cases(made["yaml"], made["json"], encrypted), tmp_path, tally, _clean)


def test_key_files_and_schema_specs(
    tmp_path: Path, age_key: Any, tally: Tally, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")
    from secretsafe.sops import encrypt_items
    from secretsafe.sops.model import Entry

    enc = tmp_path / "f.env.enc"
    enc.write_text(encrypt_items([Entry("PORT", "1")], recipients=[age_key.recipient]))
    (tmp_path / "bad_schema_mod.py").write_text("raise RuntimeError('boom at import')\n")
    (tmp_path / "ok_schema_mod.py").write_text(
        "from pydantic_settings import BaseSettings\n"
        "class S(BaseSettings):\n    port: int = 0\n"
        "NOT_A_CLASS = 3\n"
    )
    (tmp_path / "junk.toml").write_text("[[[ not toml\n")
    (tmp_path / "empty.toml").write_text("")
    keyfile = tmp_path / "keys.txt"
    key_text = age_key.key_file.read_text()
    key_cases: list[tuple[str, str, int, int]] = [
        ("key file 0644", key_text, 0o644, 11),
        ("key file 0660", key_text, 0o660, 11),
        ("key file 0604", key_text, 0o604, 11),
        ("key file junk", "this is not a key\n", 0o600, 25),
        ("key file binary", BINARY.decode("latin-1"), 0o600, 10),
        ("key file truncated key", key_text.strip()[:-10] + "\n", 0o600, 25),
        ("key file public key only", f"{age_key.recipient}\n", 0o600, 25),
        ("key file empty", "", 0o600, 20),
    ]
    for label, text, mode, code in key_cases:
        keyfile.write_bytes(text.encode("latin-1"))
        keyfile.chmod(mode)
        monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(keyfile))
        result = run_cli(["decrypt", str(enc)])
        problem = _clean(Bad(label, None, (), code), result)
        if problem is None and code == 11 and "chmod 600" not in result.err:
            problem = "no chmod hint"
        tally.check(label, problem, note="refused cleanly")
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(age_key.key_file))
    for label, env_key, code in (
        ("SOPS_AGE_KEY junk", "junk-not-a-key", 25),
        ("SOPS_AGE_KEY_FILE missing", None, 10),
        ("SOPS_AGE_KEY_FILE directory", "DIR", 10),
    ):
        with monkeypatch.context() as m:
            if env_key == "junk-not-a-key":
                m.setenv("SOPS_AGE_KEY", env_key)
            elif env_key == "DIR":
                m.setenv("SOPS_AGE_KEY_FILE", str(tmp_path))
            else:
                m.setenv("SOPS_AGE_KEY_FILE", str(tmp_path / "nope.txt"))
            result = run_cli(["decrypt", str(enc)])
        tally.check(label, _clean(Bad(label, None, (), code), result), note="refused cleanly")
    for label, spec in (
        ("schema module missing", "no_such_module_xyz:Settings"),
        ("schema class missing", "ok_schema_mod:Missing"),
        ("schema not a class", "ok_schema_mod:NOT_A_CLASS"),
        ("schema not a model", "os:PathLike"),
        ("schema module raises", "bad_schema_mod:S"),
        ("schema no colon", "no_colon_here"),
        ("schema junk toml", "junk.toml"),
        ("schema empty toml", "empty.toml"),
        ("schema missing file", "missing.toml"),
        ("schema empty", ""),
    ):
        result = run_cli(["check", "--schema", spec, "-f", str(enc)])
        tally.check(label, _clean(Bad(label, None, (), 14), result), note="refused cleanly")
    (tmp_path / ".sops.yaml").write_text("creation_rules: [\n")
    (tmp_path / "plain.env").write_text("A=1\n")
    result = run_cli(["encrypt", "plain.env", "-o", "x.enc"])
    tally.check(".sops.yaml broken", _clean(Bad("", None, (), 14), result), note="refused cleanly")


# ---------------------------------------------------------------------------------------------
# Fuzzing (fixed budget)

KEYS = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,20}", fullmatch=True).filter(
    lambda k: not k.startswith("sops_")
)
VALUES = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=60
)
# .env-like text: mostly plausible lines (so the parser's deeper paths run), some noise.
_CHUNK = st.text(st.sampled_from("ab_=\"'\\#$ \txé{}\n"), max_size=12)
_LINE = st.one_of(
    st.builds(lambda k, v: f"{k}={v}", KEYS, _CHUNK),
    st.builds(lambda k, v: f'{k}="{v}"', KEYS, _CHUNK),
    st.builds(lambda k, v: f"export {k}='{v}'", KEYS, _CHUNK),
    st.builds(lambda c: f"# {c}", _CHUNK),
    st.just(""),
    _CHUNK,
    st.text(max_size=20),
)
ENV_TEXT = st.lists(_LINE, max_size=6).map("\n".join)
IDENTITY = pyrage.x25519.Identity.generate()
RECIPIENT = str(IDENTITY.to_public())


def test_fuzz_dotenv_parser_never_crashes(tally: Tally) -> None:
    from secretsafe import dotenv

    @FUZZ
    @given(ENV_TEXT)
    def parse(text: str) -> None:
        try:
            values = dotenv.loads(text)
        except (DotenvSyntaxError, FormatError):
            tally.ok(note="parser: refused")
        except Exception as exc:
            tally.fail(f"parse {text!r}", f"{type(exc).__name__}: not a SecretsafeError")
        else:
            # What was accepted is written back and read again to the same values.
            again = dotenv.loads(dotenv.dumps(values))
            tally.check(
                f"reparse {text!r}",
                None if again == values else "dumps/loads changed values",
                note="parser: accepted, round trip",
            )

    parse()


def test_fuzz_dotenv_round_trip(tally: Tally) -> None:
    from secretsafe import dotenv

    @FUZZ
    @given(st.dictionaries(KEYS, VALUES, max_size=6))
    def round_trip(values: dict[str, str]) -> None:
        try:
            back = dotenv.loads(dotenv.dumps(values))
        except SecretsafeError as exc:
            tally.fail(f"dumps {list(values)}", f"refused its own output: {exc}")
            return
        tally.check(
            f"dumps {list(values)}",
            None if back == values else "values changed",
            note="dotenv round trips",
        )

    round_trip()


def test_fuzz_native_codec(tally: Tally) -> None:
    from secretsafe.sops import native
    from secretsafe.sops.model import Entry

    @FUZZ
    @given(
        st.dictionaries(KEYS, VALUES.filter(lambda v: "\\n" not in v), min_size=1, max_size=5),
        st.data(),
    )
    def codec(values: dict[str, str], data: st.DataObject) -> None:
        items = [Entry(k, v) for k, v in values.items()]
        try:
            text = native.encrypt(items, key_groups=[[RECIPIENT]])
        except FormatError:
            tally.ok(note="codec: refused to encrypt")
            return
        back = native.decrypt(text, [IDENTITY]).values.reveal()
        tally.check(
            f"codec {list(values)}",
            None if back == values else "round trip changed values",
            note="codec round trips",
        )
        # Then a random splice of the encrypted text: an error from the tree, or the same values.
        # Positions are drawn independently of the (random) ciphertext length.
        pos = data.draw(st.integers(0, 1 << 16)) % (len(text) + 1)
        junk = data.draw(st.text(max_size=8))
        cut = data.draw(st.integers(0, 8))
        mutated = text[:pos] + junk + text[pos + cut :]
        if mutated == text:
            return
        try:
            got = native.decrypt(mutated, [IDENTITY]).values.reveal()
        except SecretsafeError:
            tally.ok(note="codec: mutation refused")
        except Exception as exc:
            tally.fail("codec mutation", f"{type(exc).__name__}: not a SecretsafeError")
        else:
            changed = {k for k in set(got) | set(values) if got.get(k) != values.get(k)}
            unauth = all(values.get(k, "") == "" and got.get(k, "") == "" for k in changed)
            tally.check(
                "codec mutation",
                None if unauth else "SILENT WRONG VALUE after a mutation",
                note="codec: mutation harmless",
            )

    codec()


# ---------------------------------------------------------------------------------------------
# Special files given where a regular file is expected: never a hang (a named pipe blocks a
# plain open() until a writer appears), never a read of an endless device; exit 10, one line.

SPECIAL_KINDS = ("named pipe", "character device", "directory")
SPECIAL_TIMEOUT = 30.0  # seconds; a hang fails the case, it does not stall the suite

# (label, argv, extra environment); {f} is the special file, {enc} a good encrypted file,
# {recipient} a valid age recipient. Every command of the CLI that reads a user-given file.
FILE_COMMANDS: tuple[tuple[str, tuple[str, ...], dict[str, str]], ...] = (
    ("encrypt", ("encrypt", "{f}", "-o", "out.env.enc"), {}),
    ("decrypt", ("decrypt", "{f}"), {}),
    ("decrypt -o", ("decrypt", "{f}", "-o", "plain.env"), {}),
    ("edit", ("edit", "{f}", "--editor", "true"), {}),
    ("set", ("set", "{f}", "NEW_KEY"), {}),
    ("unset", ("unset", "{f}", "PORT"), {}),
    ("rotate", ("rotate", "{f}"), {}),
    ("recipients list", ("recipients", "list", "{f}"), {}),
    ("recipients add", ("recipients", "add", "{f}", "{recipient}"), {}),
    ("recipients remove", ("recipients", "remove", "{f}", "{recipient}"), {}),
    ("run -f", ("run", "-f", "{f}", "--", "true"), {}),
    ("check --env-file", ("check", "--schema", "{schema}", "--env-file", "{f}"), {}),
    ("check --schema FILE", ("check", "--schema", "{f}"), {}),
    ("check --compose", ("check", "--compose", "{f}", "--service", "app"), {}),
    ("example --schema FILE", ("example", "--schema", "{f}"), {}),
    ("audit FILE", ("audit", "{f}"), {}),
    ("SOPS_AGE_KEY_FILE", ("decrypt", "{enc}"), {"SOPS_AGE_KEY_FILE": "{f}"}),
    ("vault push", ("vault", "push", "{f}", "--path", "special/push"), {"VAULT": "1"}),
    ("vault diff", ("vault", "diff", "{f}", "--path", "special/push"), {"VAULT": "1"}),
    ("vault push --mapping", ("vault", "push", "--mapping", "{f}"), {"VAULT": "1"}),
)


def _make_special(kind: str, path: Path) -> None:
    if kind == "named pipe":
        os.mkfifo(path)
    elif kind == "character device":
        path.symlink_to("/dev/zero")  # endless: a read that does not stop is a hang too
    else:
        path.mkdir()


def test_special_files_refused_without_hanging(
    tmp_path: Path,
    age_key: Any,
    tally: Tally,
    bao_server: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from reliability_support import run_cli_proc

    from secretsafe.sops import encrypt_items
    from secretsafe.sops.model import Entry

    monkeypatch.chdir(tmp_path)
    enc = tmp_path / "good.env.enc"
    enc.write_text(encrypt_items([Entry("PORT", "1")], recipients=[age_key.recipient]))
    schema = tmp_path / "schema.toml"
    schema.write_text('[fields.port]\ntype = "port"\ndefault = 1\n')
    base_env = dict(os.environ)
    cases: list[tuple[str, list[str], dict[str, str], bool]] = []
    for kind in SPECIAL_KINDS:
        for label, argv, extra in FILE_COMMANDS:
            if kind == "directory" and label == "audit FILE":
                continue  # a directory is what audit takes
            special = tmp_path / f"{kind.replace(' ', '-')}-{label.replace(' ', '_')}"
            _make_special(kind, special)
            subst = {
                "f": str(special),
                "enc": str(enc),
                "recipient": age_key.recipient,
                "schema": str(schema),
            }
            env = dict(base_env)
            for name, value in extra.items():
                if name == "VAULT":
                    env.update(VAULT_ADDR=bao_server.addr, VAULT_TOKEN=bao_server.token)
                else:
                    env[name] = value.format(**subst)
            cases.append((f"{label} on a {kind}", [a.format(**subst) for a in argv], env, True))
    # audit of a directory holding special files under env/compose/key names: completes.
    tree = tmp_path / "tree"
    tree.mkdir()
    for name in (".env", "compose.yml", "keys.txt"):
        os.mkfifo(tree / name)
    (tree / ".env.prod").symlink_to("/dev/zero")
    cases.append(("audit of a directory with named pipes", ["audit", str(tree)], base_env, False))

    def one(case: tuple[str, list[str], dict[str, str], bool]) -> tuple[str, str | None]:
        label, argv, env, refused = case
        try:
            result = run_cli_proc(
                argv, stdin=b"value", env=env, cwd=tmp_path, timeout=SPECIAL_TIMEOUT
            )
        except subprocess.TimeoutExpired:
            return label, f"HANG: no answer in {SPECIAL_TIMEOUT:g} s"
        if not refused:
            if result.code not in (0, 5) or "Traceback" in result.err:
                return label, f"exit {result.code}: {result.err.strip()[:200]}"
            return label, None
        if "directory" in label and label.startswith("vault") and result.code == 2:
            return label, None  # click's own check (dir_okay=False) refuses a directory
        if result.code != 10:
            return label, f"exit {result.code}, want 10: {result.err.strip()[:200]}"
        return label, one_error_line(result)

    with ThreadPoolExecutor(max_workers=4) as pool:
        for label, problem in pool.map(one, cases):
            tally.check(label, problem, note="special file refused in time")
