"""secretsafe.dotenv: real-world .env syntax (docker compose semantics), errors with line
numbers and no values, a writer that round-trips, and the SOPS dotenv representability check."""

from __future__ import annotations

import string
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from secretsafe import dotenv
from secretsafe.dotenv import Assignment, CommentLine
from secretsafe.errors import DotenvSyntaxError, FileError, FormatError
from secretsafe.secret import SecretValues

if TYPE_CHECKING:
    from conftest import AgeKey

CANARY = "canary-Zq9!xV7#pL2$"

# (source, expected value of FOO). Most come from compose-go's dotenv tests, so the results
# are what `docker compose` gives (no interpolation involved).
COMPOSE_CASES = [
    ("FOO=bar", "bar"),
    ("FOO =bar", "bar"),
    ("FOO= bar", "bar"),
    ("  FOO = bar  ", "bar"),
    ("\tFOO=bar", "bar"),
    ('FOO="bar"', "bar"),
    ("FOO='bar'", "bar"),
    ('FOO="escaped\\"bar"', 'escaped"bar'),
    ('FOO="\\"quoted\\""', '"quoted"'),
    ("FOO=\"'d'\"", "'d'"),
    ("FOO=1:B", "1:B"),
    ("export FOO=2", "2"),
    ("export\tFOO=2", "2"),
    ("  export FOO=2", "2"),
    ('export FOO="export A"', "export A"),
    ("export FOO='\\n'", "\\n"),
    ('FOO="bar\\nbaz"', "bar\nbaz"),
    ("FOO=a\\tb", "a\\tb"),
    ('FOO="a\\tb"', "a\tb"),
    ('FOO="Z\\aZ\\bZ\\fZ\\nZ\\rZ\\tZ\\vZ\\\\Z\\0123Z"', "Z\aZ\bZ\fZ\nZ\rZ\tZ\vZ\\ZSZ"),
    ("FOO=foobar=", "foobar="),
    ("FOO=bar ", "bar"),
    ("FOO=bar # this is foo", "bar"),
    ("FOO=bar #this is foo", "bar"),
    ("FOO=bar #", "bar"),
    ("FOO=123#not-an-inline-comment", "123#not-an-inline-comment"),
    ('FOO="bar#baz"', "bar#baz"),
    ('FOO="bar#baz"#', "bar#baz"),
    ('FOO="bar#baz" # comment', "bar#baz"),
    ("FOO='bar#baz' # comment", "bar#baz"),
    ('FOO="bar\\n\\ b\\az"', "bar\n\\ b\az"),
    ('FOO="bar\\\\\\n\\ b\\az"', "bar\\\n\\ b\az"),
    ('FOO="bar\\\\r\\ b\\az"', "bar\\r\\ b\az"),
    ('FOO="bar\\nbaz\\\\"', "bar\nbaz\\"),
    ('FOO="\\x07"', "\\x07"),
    ('FOO="\\u12e4"', "\\u12e4"),
    ("FOO='Let\\'s go!'", "Let's go!"),
    ("FOO=\"echo 'asd'\" # Inline comment", "echo 'asd'"),
]

# Cases where secretsafe's reading is its own (documented in the module docstring).
OWN_CASES = [
    ("FOO=", ""),
    ("FOO=   ", ""),
    ("FOO= # only a comment", ""),  # compose would keep "# only a comment"
    ("FOO=#hash-first", "#hash-first"),
    ("FOO=a\t# tab comment", "a"),  # compose only knows space-#
    ("FOO=pa$$word", "pa$$word"),  # no interpolation: values are literal, as sops keeps them
    ("FOO=${HOME}", "${HOME}"),
    ('FOO="\\$HOME"', "$HOME"),
    ("FOO='$HOME'", "$HOME"),
    ('FOO="é ü 日本 🙂"', "é ü 日本 🙂"),
    ("FOO=héllo", "héllo"),
    ("FOO=a\\", "a\\"),
    ("FOO='a\\b'", "a\\b"),
    ("FOO='   '", "   "),
    ('FOO="  padded  "', "  padded  "),
    ("FOO=inner  spaces  kept", "inner  spaces  kept"),
    ('FOO=""', ""),
    ("FOO=''", ""),
    ("FOO=a'b\"c", "a'b\"c"),
    (
        "FOO=postgres://u:p@db:5432/app?sslmode=require",
        "postgres://u:p@db:5432/app?sslmode=require",
    ),
    ("FOO=\\0101", "\\0101"),
    ('FOO="\\0101"', "A"),
    ('FOO="\\0777"', "\\0777"),  # not a byte: kept as written, like compose
    ("FOO=v # a 'quoted' comment", "v"),
]


@pytest.mark.parametrize(("source", "expected"), COMPOSE_CASES + OWN_CASES)
def test_single_line_cases(source: str, expected: str) -> None:
    assert dotenv.loads(source) == {"FOO": expected}
    assert dotenv.loads(source + "\n") == {"FOO": expected}
    assert dotenv.loads(source + "\r\n") == {"FOO": expected}


REAL_WORLD = """\
# Production settings for the api stack
# generated 2024-05-01

COMPOSE_PROJECT_NAME=shop
export DATABASE__HOST=db
DATABASE__PORT = 5432
DATABASE__PASSWORD='s3cr#t p@ss'   # rotated quarterly
JWT_SECRET="a\\"b\\\\c\\$d"
SMTP.PASSWORD=hunter2 # legacy name
TLS_CERT="-----BEGIN CERTIFICATE-----
MIIBszCCAVmgAwIBAgIU
-----END CERTIFICATE-----"
MULTI_SINGLE='line one
line two'
EMPTY=
  # indented comment
REDIS_URL=redis://:pw@redis:6379/0
API-KEY=abc-123
"""


def test_real_world_file() -> None:
    items = dotenv.parse(REAL_WORLD, path=".env")
    assert items[0] == CommentLine(" Production settings for the api stack", 1)
    assert items[1] == CommentLine(" generated 2024-05-01", 2)
    assignments = {i.key: (i.value, i.line) for i in items if isinstance(i, Assignment)}
    assert assignments == {
        "COMPOSE_PROJECT_NAME": ("shop", 4),
        "DATABASE__HOST": ("db", 5),
        "DATABASE__PORT": ("5432", 6),
        "DATABASE__PASSWORD": ("s3cr#t p@ss", 7),
        "JWT_SECRET": ('a"b\\c$d', 8),
        "SMTP.PASSWORD": ("hunter2", 9),
        "TLS_CERT": (
            "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n-----END CERTIFICATE-----",
            10,
        ),
        "MULTI_SINGLE": ("line one\nline two", 13),
        "EMPTY": ("", 15),
        "REDIS_URL": ("redis://:pw@redis:6379/0", 17),
        "API-KEY": ("abc-123", 18),
    }
    assert CommentLine(" indented comment", 16) in items
    assert list(dotenv.loads(REAL_WORLD)) == list(assignments)


def test_crlf_file_including_quoted_multiline_values() -> None:
    text = REAL_WORLD.replace("\n", "\r\n")
    assert dotenv.loads(text) == dotenv.loads(REAL_WORLD)
    assert [i.line for i in dotenv.parse(text)] == [i.line for i in dotenv.parse(REAL_WORLD)]


def test_line_numbers_after_multiline_values() -> None:
    text = "A=\"1\n2\n3\"\nB='x\ny'\n\nC=3\n"
    assert [(i.key, i.line) for i in dotenv.parse(text) if isinstance(i, Assignment)] == [
        ("A", 1),
        ("B", 4),
        ("C", 7),
    ]


def test_empty_and_blank_inputs() -> None:
    assert dotenv.parse("") == []
    assert dotenv.parse("\n\n  \n\t\n") == []
    assert dotenv.parse("#") == [CommentLine("", 1)]
    assert dotenv.loads("A=1") == {"A": "1"}  # no final newline


def test_key_names() -> None:
    text = "a=1\n_B=2\nC.D=3\nE-F=4\nG9=5\nexport=6\nexportX=7\n"
    assert dotenv.loads(text) == {
        "a": "1",
        "_B": "2",
        "C.D": "3",
        "E-F": "4",
        "G9": "5",
        "export": "6",
        "exportX": "7",
    }


def test_reprs_hide_values() -> None:
    [item] = dotenv.parse(f"PASSWORD={CANARY}")
    assert CANARY not in repr(item)
    assert CANARY not in str(item)
    assert "PASSWORD" in repr(item)
    assert item.value == CANARY


# (source, line of the error, words the message must contain)
ERROR_CASES = [
    ("A=1\nJUSTAWORD\n", 2, "no '='"),
    ("A=1\n\n  B: 2\n", 3, "KEY: VALUE"),
    ("=value\n", 1, "missing variable name"),
    ("1ABC=x\n", 1, "invalid variable name"),
    ("A B=x\n", 1, "invalid variable name"),
    ("KÉY=x\n", 1, "invalid variable name"),
    ("A=1\nB='open\nC=3\n", 2, "unterminated single-quoted value of B"),
    ('A=1\nB="open\\"\n', 2, "unterminated double-quoted value of B"),
    ('A="x" y\n', 1, "after the closing quote of A"),
    ("A='x'y\n", 1, "after the closing quote of A"),
    ('A="x\ny"junk\nB=1\n', 2, "after the closing quote of A (the value starts on line 1)"),
    ("A=1\nB=2\nA=3\n", 3, "duplicate variable A (first set on line 1)"),
    ("A=1\r\nB=2\r\nB=3\r\n", 3, "duplicate variable B (first set on line 2)"),
    ('A="a\\0000b"\n', 1, "NUL"),
    ("A=1\nB=x\x00y\n", 2, "NUL"),
]


@pytest.mark.parametrize(("source", "line", "words"), ERROR_CASES)
def test_errors_name_the_line(source: str, line: int, words: str) -> None:
    with pytest.raises(DotenvSyntaxError) as info:
        dotenv.parse(source, path="app.env")
    err = info.value
    assert err.line == line
    assert err.path == "app.env"
    assert str(err).startswith(f"app.env:{line}: ")
    assert words in str(err)
    assert err.exit_code == 12


def test_duplicate_hint_mentions_compose() -> None:
    with pytest.raises(DotenvSyntaxError) as info:
        dotenv.loads("A=1\nA=2\n")
    assert "compose" in str(info.value)
    assert "refuses duplicates" in str(info.value)


CANARY_ERRORS = [
    f"A=1\n{CANARY}\n",
    f"{CANARY}=x\n",
    f"A='{CANARY}\n",
    f'A="{CANARY}\n',
    f'A="{CANARY}"{CANARY}\n',
    f"A='{CANARY}' {CANARY}\n",
    f"A={CANARY}\nA={CANARY}\n",
    f"A: {CANARY}\n",
    f'A="{CANARY}\\0000"\n',
    f"A={CANARY}\x00\n",
    f"-----BEGIN KEY-----\n{CANARY}==\n",
]


@pytest.mark.parametrize("source", CANARY_ERRORS)
def test_errors_never_contain_the_value(source: str) -> None:
    with pytest.raises(DotenvSyntaxError) as info:
        dotenv.parse(source)
    for text in (str(info.value), repr(info.value), info.value.message, info.value.hint or ""):
        assert CANARY not in text
        assert CANARY[:8] not in text
    assert info.value.__cause__ is None


def test_load_reads_file_with_bom(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    path.write_bytes(b"\xef\xbb\xbfA=1\r\nB='two'\r\n")
    values = dotenv.load(path)
    assert isinstance(values, SecretValues)
    assert dict(values) == {"A": "1", "B": "two"}


def test_load_error_names_the_path(tmp_path: Path) -> None:
    path = tmp_path / "bad.env"
    path.write_text("A=1\nB\n")
    with pytest.raises(DotenvSyntaxError) as info:
        dotenv.load(path)
    assert str(info.value).startswith(f"{path}:2: ")
    with pytest.raises(FileError):
        dotenv.load(tmp_path / "missing.env")


# --- dumps -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "line"),
    [
        ("plain", "K=plain"),
        ("", "K="),
        ("postgres://u@db:5432/app", "K=postgres://u@db:5432/app"),
        ("a=b,c+d%e", "K=a=b,c+d%e"),
        ("with space", "K='with space'"),
        ("pa$word", "K='pa$word'"),
        ("#hash", "K='#hash'"),
        ("it's", 'K="it\'s"'),
        ("line1\nline2", 'K="line1\\nline2"'),
        ("tab\there", 'K="tab\\there"'),
        ("ends\\", 'K="ends\\\\"'),
        ('it\'s $5 "ok"', 'K="it\'s \\$5 \\"ok\\""'),
        ("back\\slash", "K='back\\slash'"),
    ],
)
def test_dumps_quotes_only_when_needed(value: str, line: str) -> None:
    assert dotenv.dumps({"K": value}) == line + "\n"
    assert dotenv.loads(line) == {"K": value}


def test_dumps_items_keeps_comments_and_order() -> None:
    items = dotenv.parse(REAL_WORLD)
    text = dotenv.dumps(items)
    again = dotenv.parse(text)
    assert [i.text for i in again if isinstance(i, CommentLine)] == [
        i.text for i in items if isinstance(i, CommentLine)
    ]
    assert dotenv.loads(text) == dotenv.loads(REAL_WORLD)
    assert text.startswith("# Production settings for the api stack\n# generated 2024-05-01\n")


def test_dumps_empty() -> None:
    assert dotenv.dumps({}) == ""
    assert dotenv.dumps([]) == ""


@pytest.mark.parametrize(
    ("values", "words"),
    [
        ({"BAD NAME": "x"}, "invalid variable name"),
        ({"1X": "x"}, "invalid variable name"),
        ({"": "x"}, "invalid variable name"),
        ({"K": f"{CANARY}\x00"}, "the value of K contains a NUL"),
        ([Assignment("K", "1", 1), Assignment("K", CANARY, 2)], "K is given twice"),
        ([CommentLine("a\nb", 1)], "line break"),
    ],
)
def test_dumps_refuses(values: dict[str, str] | list[Assignment | CommentLine], words: str) -> None:
    with pytest.raises(FormatError) as info:
        dotenv.dumps(values)
    assert words in str(info.value)
    assert CANARY not in str(info.value)


NAMES = st.from_regex(r"[A-Za-z_][A-Za-z0-9_.-]{0,12}", fullmatch=True)
# Every character except NUL, with the troublesome ones made frequent.
TRICKY = st.sampled_from([*"'\"$#=\\ \t\n\r`{}!~;&|*?", "\\n", "\\$", "\\'", " #", "é", "🙂"])
VALUES = st.lists(
    st.one_of(TRICKY, st.text(st.characters(blacklist_characters="\x00"), max_size=5)),
    max_size=12,
).map("".join)


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(NAMES, VALUES, max_size=8))
def test_round_trip_property(mapping: dict[str, str]) -> None:
    text = dotenv.dumps(mapping)
    assert dotenv.loads(text) == mapping
    # A CRLF conversion of the whole file (git autocrlf, a Windows editor) changes nothing.
    assert dotenv.loads(text.replace("\n", "\r\n")) == mapping


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(VALUES, st.text(string.printable)), max_size=6))
def test_round_trip_items_with_comments(values: list[str]) -> None:
    items: list[Assignment | CommentLine] = [CommentLine(" header", 1)]
    items += [Assignment(f"K{n}", v, 0) for n, v in enumerate(values)]
    parsed = dotenv.parse(dotenv.dumps(items))
    assert [(i.key, i.value) for i in parsed if isinstance(i, Assignment)] == [
        (i.key, i.value) for i in items if isinstance(i, Assignment)
    ]
    assert parsed[0] == CommentLine(" header", 1)


@settings(max_examples=300, deadline=None)
@given(st.text(st.sampled_from(list("AB=' \"\\#\n\r\tx$e")), max_size=30))
def test_parser_never_crashes_or_leaks(text: str) -> None:
    # Arbitrary input either parses or raises DotenvSyntaxError, never anything else.
    line = None
    try:
        dotenv.parse(text)
    except DotenvSyntaxError as err:
        line = err.line
        assert line is not None
    if line is not None:
        assert 1 <= line <= text.count("\n") + 1


# --- SOPS representability -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("A", "plain"),
        ("A", "multi\nline"),
        ("A", "back\\slash \\t \\$"),
        ("A", "ends with backslash\\"),
        ("A", "backslash then newline\\\nx"),
        ("A", ""),
        ("A", "é 🙂 'quotes' \"double\" #hash =eq"),
        ("A.B-C", "x"),
    ],
)
def test_sops_representable(key: str, value: str) -> None:
    dotenv.check_sops_representable(key, value)


@pytest.mark.parametrize(
    ("key", "value", "words"),
    [
        ("A", f"{CANARY}\\n{CANARY}", "backslash followed by 'n'"),
        ("A", f"{CANARY}\r\n", "carriage return"),
        ("A", f"{CANARY}\x00", "NUL"),
        ("A=B", "x", "cannot be stored"),
        ("A\nB", "x", "cannot be stored"),
        ("#A", "x", "comment"),
        ("sops_mac", "x", "reserves"),
        ("", "x", "empty variable name"),
    ],
)
def test_sops_unrepresentable(key: str, value: str, words: str) -> None:
    with pytest.raises(FormatError) as info:
        dotenv.check_sops_representable(key, value)
    assert words in str(info.value)
    assert CANARY not in str(info.value)
    assert info.value.hint


def test_sops_backslash_n_hint_explains() -> None:
    with pytest.raises(FormatError) as info:
        dotenv.check_sops_representable("CERT", "a\\nb")
    assert "CERT" in str(info.value)
    assert "base64" in str(info.value)


def test_sops_round_trip_of_representable_values(
    sops_bin: Path, sops_env: dict[str, str], age_key: AgeKey, tmp_path: Path
) -> None:
    """What check_sops_representable accepts survives the real sops dotenv store unchanged."""
    values = {
        "PLAIN": "x",
        "MULTI": "line1\nline2",
        "SLASHES": "a\\b\\tc\\",
        "QUOTES": "'\"#=$ ",
        "UNICODE": "é 🙂",
    }
    for k, v in values.items():
        dotenv.check_sops_representable(k, v)
    # sops' own plain format: raw values, newline written as \n.
    plain = "".join(f"{k}={v.replace(chr(10), chr(92) + 'n')}\n" for k, v in values.items())
    src = tmp_path / "plain.env"
    src.write_text(plain)
    common = ["--input-type", "dotenv", "--output-type", "dotenv"]
    enc = subprocess.run(
        [str(sops_bin), "encrypt", *common, "--age", age_key.recipient, str(src)],
        capture_output=True,
        check=True,
        env=sops_env,
    ).stdout
    encrypted = tmp_path / "secret.env"
    encrypted.write_bytes(enc)
    out = subprocess.run(
        [str(sops_bin), "decrypt", *common, str(encrypted)],
        capture_output=True,
        check=True,
        env=sops_env,
        text=True,
    ).stdout
    decoded = {
        line.split("=", 1)[0]: line.split("=", 1)[1].replace("\\n", "\n")
        for line in out.splitlines()
    }
    assert decoded == values
    assert decoded["MULTI"] == "line1\nline2"
