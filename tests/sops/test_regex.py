"""sops rule regexes have Go RE2 semantics: a differential table against the real sops binary
(which is Go ``regexp``), the ``.sops.yaml`` case from the review, invalid patterns, and the
check every encrypted output passes before it is written."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import NamedTuple

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from secretsafe.errors import ConfigError, FormatError, IntegrityError
from secretsafe.sops import decrypt_text, encrypt_items, native
from secretsafe.sops.model import Comment, Entry, Item, Rules
from tests.conftest import AgeKey

CANARY = "canary-9d41c7-do-not-leak"

# Key names chosen so that Go RE2 and Python ``re`` disagree on them: ASCII-only \d \s \w \b
# and POSIX classes, Unicode case folding (Kelvin sign, long s), '.' as one code point, a
# trailing newline is impossible in a key but '$' vs '\z' still differs in comments.
NAMES = (
    "DB_PASSWORD",
    "API_TOKEN",
    "db_password",
    "Api_Token",
    "APITOKEN_X",
    "PORT",
    "X",
    "x",
    "KEY1",
    "KEY_\u0661",  # ARABIC-INDIC DIGIT ONE: \d in Python, not in Go
    "\u00c9COLE_PASS",  # É: Unicode upper case, not [[:upper:]]
    "\u00e9cole",
    "\u0391\u0392\u0393",  # Greek capitals
    "\u65e5\u672c",  # CJK
    "KELVIN_\u212a",  # KELVIN SIGN folds to k
    "\u017f",  # LATIN SMALL LETTER LONG S folds to s
    "a.b",
    "A-B",
    "a b",
    "A\u00a0B",  # NO-BREAK SPACE: \s in Python, not in Go
    "A\tB",
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAA_",
    "PASSWORD_WORD",
    "ab",
)


class Case(NamedTuple):
    pattern: str
    valid: bool = True


# Go RE2 features, and places where Python ``re`` reads the same text differently.
VALID = (
    Case(r"^[[:upper:]_]*(PASSWORD|TOKEN)$"),
    Case(r"[[:lower:]]"),
    Case(r"^[[:alpha:]]+$"),
    Case(r"[[:^alpha:]]"),
    Case(r"^[[:word:]]+$"),
    Case(r"[[:space:]]"),
    Case(r"[^[:ascii:]]"),
    Case(r"^\pL+$"),
    Case(r"\p{Lu}"),
    Case(r"\p{Greek}"),
    Case(r"\PL"),
    Case(r"\p{^Latin}"),
    Case(r"(?i)password"),
    Case(r"(?i)^kelvin_k$"),
    Case(r"(?i)^s$"),
    Case(r"TOKEN\z"),
    Case(r"TOKEN$"),
    Case(r"\ATOKEN|^API"),
    Case(r"PASS.*?WORD"),
    Case(r"(?U)A+_"),
    Case(r"\d"),
    Case(r"^\D+$"),
    Case(r"\s"),
    Case(r"^\w+$"),
    Case(r"\bPASS"),
    Case(r"\Qa.b\E"),
    Case(r"\QA-B"),
    Case(r"\x{212A}"),
    Case(r"^.{2}$"),
    Case(r"(?s)^.$"),
    Case(r"^(A+)+$"),
    Case(r"(?P<n>TOKEN)|(?<m>^X$)"),
    Case(r"[A&&B]"),
    Case(r"^A{30}$"),
    Case(r"\x41\101"),
    Case(r"(?i:db)_P"),
    Case(r"(?<n>D)(?<n>B)"),  # Go and RE2 both accept duplicate names
)
# Not Go RE2 (some are valid Python ``re``); sops ignores such a rule, secretsafe refuses it.
INVALID = (
    Case(r"\C", valid=False),
    Case(r"\Z", valid=False),
    Case(r"(?=DB)", valid=False),
    Case(r"(?<!x)PASS", valid=False),
    Case(r"(D)\1", valid=False),
    Case(r"[[:foo:]]", valid=False),
    Case(r"X**", valid=False),
    Case(r"A{1001}", valid=False),
    Case(r"(DB", valid=False),
    Case(r"\p{NotAScript}", valid=False),
    Case(r"(?x)D B", valid=False),
)
KEY_FIELDS = ("encrypted_regex", "unencrypted_regex", "encrypted_comment_regex")


def _doc() -> list[Item]:
    # A comment with the same text above each key: the comment regexes select by it.
    items: list[Item] = []
    for i, name in enumerate(NAMES):
        items += [Comment(name), Entry(name, f"v{i}")]
    return items


def _plain(items: list[Item]) -> str:
    return native.to_sops_plaintext(items)


def _encrypted_lines(text: str) -> list[int]:
    """Indices of the data lines (comments and values) stored as ENC[...]."""
    out = []
    data = [line for line in text.splitlines() if line and not line.startswith("sops_")]
    for index, line in enumerate(data):
        body = line[1:] if line.startswith("#") else line.partition("=")[2]
        if body.startswith("ENC["):
            out.append(index)
    return out


class Sops:
    """The real sops binary (Go ``regexp``: the oracle), with one recipient and a work dir."""

    def __init__(self, binary: Path, env: dict[str, str], tmp: Path, recipient: str) -> None:
        self.binary, self.env, self.tmp, self.recipient = binary, env, tmp, recipient

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.binary), *args],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=60,
            check=False,
        )

    def encrypt(self, field: str, pattern: str, *, plain: str | None = None, **more: object) -> str:
        """``plain`` (default: the document of :func:`_doc`) encrypted under a one-rule config
        ``{field: pattern, **more}``."""
        config = self.tmp / "sops.json"
        rule = {"age": self.recipient, field: pattern, **more}
        config.write_text(json.dumps({"creation_rules": [rule]}))
        src = self.tmp / "plain.env"
        src.write_text(_plain(_doc()) if plain is None else plain, encoding="utf-8")
        proc = self._run("--config", str(config), "encrypt", *_DOTENV, str(src))
        assert proc.returncode == 0, proc.stderr
        return proc.stdout

    def decrypt_proc(self, text: str) -> subprocess.CompletedProcess[str]:
        src = self.tmp / "enc.env"
        src.write_text(text, encoding="utf-8")
        return self._run("decrypt", *_DOTENV, str(src))

    def decrypt(self, text: str) -> str:
        proc = self.decrypt_proc(text)
        assert proc.returncode == 0, (proc.returncode, proc.stderr)
        return proc.stdout


_DOTENV = ("--input-type", "dotenv", "--output-type", "dotenv")


@pytest.fixture
def sops(sops_bin: Path, sops_env: dict[str, str], tmp_path: Path, age_key: AgeKey) -> Sops:
    return Sops(sops_bin, sops_env, tmp_path, age_key.recipient)


@pytest.mark.parametrize("field", KEY_FIELDS)
@pytest.mark.parametrize("case", VALID, ids=[c.pattern for c in VALID])
def test_same_values_encrypted_as_sops(case: Case, field: str, age_key: AgeKey, sops: Sops) -> None:
    """Both directions: sops encrypts, secretsafe reads it (its rules select exactly the values
    sops encrypted); secretsafe encrypts, sops decrypts it (sops' MAC and rules agree) and the
    encrypted lines are the ones sops chose."""
    by_sops = sops.encrypt(field, case.pattern)
    plain = _plain(_doc())
    doc = decrypt_text(by_sops, backend="native")
    assert _plain(list(doc.items)) == plain
    assert native.plaintext_where_encrypted(by_sops) == []

    rules = Rules(**{field: case.pattern})  # type: ignore[arg-type]
    ours = encrypt_items(_doc(), recipients=[age_key.recipient], rules=rules, backend="native")
    assert _encrypted_lines(ours) == _encrypted_lines(by_sops)
    assert sops.decrypt(ours) == plain


@pytest.mark.parametrize("case", INVALID, ids=[c.pattern for c in INVALID])
def test_patterns_go_refuses_are_refused(case: Case, age_key: AgeKey, sops: Sops) -> None:
    from secretsafe.sops import regex

    with pytest.raises(regex.InvalidPattern):
        regex.compile(case.pattern)
    # sops' regexp.Match fails on it and so matches nothing: with encrypted_regex sops writes
    # every value in plaintext (the proof that Go refuses the pattern), which secretsafe
    # neither writes nor reads.
    by_sops = sops.encrypt("encrypted_regex", case.pattern)
    assert _encrypted_lines(by_sops) == []
    with pytest.raises(FormatError, match="sops_encrypted_regex does not compile") as read:
        decrypt_text(by_sops, backend="native")
    assert read.value.exit_code == 13
    for field in KEY_FIELDS:
        with pytest.raises(ConfigError, match=f"{field} does not compile") as info:
            encrypt_items(
                [Entry("DB_PASSWORD", CANARY)],
                recipients=[age_key.recipient],
                rules=Rules(**{field: case.pattern}),  # type: ignore[arg-type]
            )
        assert info.value.exit_code == 14
        assert case.pattern not in info.value.message  # named by key, not quoted


def test_sops_yaml_posix_class_rule_encrypts(age_key: AgeKey, tmp_path: Path) -> None:
    """The review's case: with Python ``re`` the rule matched nothing and DB_PASSWORD was
    written in plaintext; a genuine sops file with the rule was called altered."""
    from secretsafe.envfile import encrypt_file

    (tmp_path / ".sops.yaml").write_text(
        "creation_rules:\n"
        f"  - age: {age_key.recipient}\n"
        "    encrypted_regex: '^[[:upper:]_]*(PASSWORD|TOKEN)$'\n"
    )
    (tmp_path / ".env").write_text(f"DB_PASSWORD={CANARY}\nAPI_TOKEN={CANARY}\nPORT=5432\n")
    encrypt_file(tmp_path / ".env")
    text = (tmp_path / ".env.enc").read_text()
    assert CANARY not in text
    assert "PORT=5432" in text
    assert _encrypted_lines(text) == [0, 1]


def test_genuine_sops_file_with_posix_rule_reads(sops: Sops) -> None:
    by_sops = sops.encrypt("encrypted_regex", r"^[[:upper:]_]*(PASSWORD|TOKEN)$")
    values = decrypt_text(by_sops, backend="native").values
    assert values.reveal()["DB_PASSWORD"] == "v0"


def test_invalid_path_regex_names_the_rule(tmp_path: Path, age_key: AgeKey) -> None:
    from secretsafe.sops.config import creation_rule_for

    (tmp_path / ".sops.yaml").write_text(
        f"creation_rules:\n  - path_regex: '\\.env$'\n    encrypted_regex: '(?=x)'\n"
        f"    age: {age_key.recipient}\n"
        f"  - path_regex: '[[:nope:]]'\n    age: {age_key.recipient}\n"
    )
    with pytest.raises(ConfigError, match=r"creation rule 1: encrypted_regex does not compile"):
        creation_rule_for(tmp_path / "a.env")
    with pytest.raises(ConfigError, match=r"creation rule 2: path_regex does not compile"):
        creation_rule_for(tmp_path / "a.txt")


@pytest.mark.parametrize(
    ("pattern", "path", "matches"),
    [
        # Go RE2, unanchored search, against the path relative to the config's directory.
        (r"^prod/[[:alnum:]]+\.env$", "prod/app1.env", True),
        (r"^prod/[[:alnum:]]+\.env$", "prod/app-1.env", False),
        (r"\.env$", "x.env\n", False),  # '$' is end of text in Go, not before a newline
        (r"env", "dir/x.env", True),
        (r"^\d+\.env$", "\u0661.env", False),
        (r"(?i)^PROD/", "prod/x", True),
    ],
)
def test_path_regex_is_go_search(
    tmp_path: Path, age_key: AgeKey, pattern: str, path: str, matches: bool
) -> None:
    from secretsafe.sops.config import creation_rule_for

    (tmp_path / ".sops.yaml").write_text(
        json.dumps(
            {
                "creation_rules": [
                    {"path_regex": pattern, "age": age_key.recipient, "encrypted_regex": "^M$"},
                    {"age": age_key.recipient},
                ]
            }
        )
    )
    rule = creation_rule_for(tmp_path / path)
    assert rule is not None
    assert (rule.rules.encrypted_regex == "^M$") is matches


# --- the output check every write passes --------------------------------------------------


def _mangle(text: str, key: str, value: str) -> str:
    """``text`` with ``key``'s stored value replaced by ``value`` (as a broken encoder would)."""
    lines = text.split("\n")
    for i, line in enumerate(lines):
        if line.startswith(key + "="):
            lines[i] = f"{key}={value}"
    return "\n".join(lines)


_RULE_LINES = (
    "sops_unencrypted_suffix=",
    "sops_encrypted_suffix=",
    "sops_encrypted_regex=",
    "sops_unencrypted_regex=",
    "sops_encrypted_comment_regex=",
)


@pytest.mark.parametrize(
    ("rules", "leaked"),
    [
        (Rules(), "DB_PASSWORD"),
        (Rules(encrypted_regex="^[[:upper:]_]*(PASSWORD|TOKEN)$"), "DB_PASSWORD"),
        (Rules(unencrypted_regex="^PORT$"), "DB_PASSWORD"),
        (Rules(encrypted_suffix="PASSWORD"), "DB_PASSWORD"),
        (Rules(encrypted_comment_regex="^secret$"), "DB_PASSWORD"),
        (Rules(mac_only_encrypted=True), "DB_PASSWORD"),
    ],
)
def test_verify_refuses_plaintext_where_rules_encrypt(
    age_key: AgeKey, rules: Rules, leaked: str
) -> None:
    items: list[Item] = [Comment("secret"), Entry("DB_PASSWORD", CANARY), Entry("PORT", "1")]
    good = native.encrypt(items, key_groups=[[age_key.recipient]], rules=rules)
    native.verify_encrypted(good, items=items, rules=rules)
    bad = _mangle(good, leaked, CANARY)
    with pytest.raises(IntegrityError, match=f"{leaked} would be stored in plaintext") as info:
        native.verify_encrypted(bad, items=items, rules=rules)
    assert CANARY not in str(info.value)
    # Metadata rules that differ from the rules asked for (a reader would select otherwise).
    meta = next(line for line in good.split("\n") if line.startswith(_RULE_LINES))
    other = good.replace(meta, meta + "X")
    with pytest.raises(IntegrityError, match="rules in the file's metadata differ"):
        native.verify_encrypted(other, items=items, rules=rules)
    with pytest.raises(IntegrityError, match="keys in the output differ"):
        native.verify_encrypted(good, items=[*items, Entry("MORE", "x")], rules=rules)


def test_encrypt_fails_without_writing_when_the_encoder_leaks(
    age_key: AgeKey, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An encoder that writes a selected value in plaintext (what Python ``re`` did with a
    POSIX class) makes ``secretsafe encrypt`` fail and leaves no file behind."""
    from secretsafe.envfile import encrypt_file

    real = native.encrypt

    def leaky(items: list[Item], **kwargs: object) -> str:
        return _mangle(real(items, **kwargs), "DB_PASSWORD", CANARY)  # type: ignore[arg-type]

    monkeypatch.setattr(native, "encrypt", leaky)
    work = tmp_path / "work"
    work.mkdir()
    (work / ".env").write_text(f"DB_PASSWORD={CANARY}\n")
    with pytest.raises(IntegrityError) as info:
        encrypt_file(work / ".env", recipients=[age_key.recipient])
    assert CANARY not in str(info.value)
    assert sorted(os.listdir(work)) == [".env"]  # no output, no temp file


# --- tampered rule metadata (not covered by the MAC line itself) ----------------------------


def _retarget(text: str, field: str, line: str | None) -> str:
    """``text`` with its ``sops_<field>=`` metadata line replaced by ``line`` (None: dropped)."""
    out = []
    for old in text.split("\n"):
        if not old.startswith(f"sops_{field}="):
            out.append(old)
        elif line is not None:
            out.append(line)
    return "\n".join(out)


@pytest.mark.parametrize("mac_only", [False, True], ids=["mac_all", "mac_only_encrypted"])
@pytest.mark.parametrize(
    ("field", "pattern"), [("encrypted_regex", "PASSWORD"), ("unencrypted_regex", "^PORT$")]
)
@pytest.mark.parametrize(
    "tamper",
    ["matches nothing", "matches everything", "rule removed", "field swapped"],
)
def test_tampered_rule_metadata_is_refused(
    sops: Sops, field: str, pattern: str, mac_only: bool, tamper: str
) -> None:
    """Editing the rule regex in a file's metadata (the ``sops_*_regex`` lines are outside
    the MAC) so a value that should be encrypted reads as plaintext, or the reverse. sops
    catches it indirectly: the MAC hashes the plaintext of the values (exit 51), or a
    plaintext value fails to parse as ENC[...] (exit 25). The native reader refuses it
    before the MAC, naming the key (IntegrityError, exit 22)."""
    plain = f"DB_PASSWORD={CANARY}\nPORT=5432\n"
    text = sops.encrypt(field, pattern, plain=plain, mac_only_encrypted=mac_only)
    swapped = "unencrypted_regex" if field == "encrypted_regex" else "encrypted_regex"
    tampered = _retarget(
        text,
        field,
        {
            "matches nothing": f"sops_{field}=^$",
            "matches everything": f"sops_{field}=.",
            "rule removed": None,
            "field swapped": f"sops_{swapped}={pattern}",
        }[tamper],
    )
    assert tampered != text
    with pytest.raises(IntegrityError) as info:
        decrypt_text(tampered, backend="native")
    assert CANARY not in str(info.value)
    assert sops.decrypt_proc(tampered).returncode in (25, 51)
    assert sops.decrypt_proc(text).returncode == 0


def test_mac_only_gap_is_the_formats(sops: Sops) -> None:
    """What rule tampering cannot reach but the format leaves open, recorded: with
    ``mac_only_encrypted`` a value the rules leave in plaintext is not authenticated at all,
    so a new plaintext line is accepted by sops and by the native reader alike."""
    text = sops.encrypt(
        "encrypted_regex", "PASSWORD", plain="DB_PASSWORD=x\n", mac_only_encrypted=True
    )
    injected = "INJECTED=evil\n" + text
    assert sops.decrypt_proc(injected).returncode == 0
    assert decrypt_text(injected, backend="native").values.reveal()["INJECTED"] == "evil"


@pytest.mark.parametrize(
    ("rules", "loaded"), [(Rules(), False), (Rules(encrypted_regex="^A"), True)]
)
def test_re2_is_imported_only_for_rule_regexes(
    age_key: AgeKey, tmp_path: Path, rules: Rules, loaded: bool
) -> None:
    """``run`` on a file without rule regexes never pays for ``import re2`` (~24 ms)."""
    import sys

    path = tmp_path / "app.env.enc"
    path.write_text(
        native.encrypt([Entry("A", "1")], key_groups=[[age_key.recipient]], rules=rules)
    )
    code = (
        "import sys; from secretsafe.run import build_environment; "
        "build_environment([sys.argv[1]], base_env={}); print('re2' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == str(loaded)


_TOKENS = (
    "A", "a", "_", "P", "S", "É", "K", ".", "^", "$", "\\z", "\\A", "\\b", "\\B", "(", ")",
    "(?:", "|", "*", "+", "?", "*?", "{2}", "{1,3}", "[[:upper:]]", "[[:lower:]]", "[[:^alpha:]]",
    "\\pL", "\\p{Lu}", "\\PL", "\\d", "\\w", "\\W", "\\s", "[A-Z]", "[^_]", "(?i)", "(?U)",
    "\\Q_.\\E", "\\C", "\\x{212A}", "(A|_)", "(?i:p)",
)  # fmt: skip


@settings(max_examples=80, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(st.sampled_from(_TOKENS), min_size=1, max_size=7).map("".join))
def test_fuzzed_patterns_agree_with_sops(sops: Sops, pattern: str) -> None:
    """Patterns assembled from RE2 tokens (many invalid): either secretsafe refuses the
    pattern and sops, failing to compile it too, encrypts nothing; or both encrypt exactly
    the same values."""
    from secretsafe.sops import regex

    by_sops = sops.encrypt("encrypted_regex", pattern)
    try:
        regex.compile(pattern)
    except regex.InvalidPattern:
        assert _encrypted_lines(by_sops) == []
        return
    rules = Rules(encrypted_regex=pattern)
    ours = encrypt_items(_doc(), recipients=[sops.recipient], rules=rules, backend="native")
    assert _encrypted_lines(ours) == _encrypted_lines(by_sops)
