"""Differential tests of the native SOPS dotenv codec against the real sops binary."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pyrage
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from secretsafe.errors import (
    ConfigError,
    DecryptionError,
    FormatError,
    NoIdentityError,
    UnsupportedError,
)
from secretsafe.sops import native, shamir
from secretsafe.sops.model import Comment, Entry, Item, Rules


class AgeKey:
    """Shape of conftest's AgeKey (identity, recipient, key_file)."""

    identity: str
    recipient: str
    key_file: Path


def make_age_key(directory: Path) -> AgeKey:
    key = pyrage.x25519.Identity.generate()
    directory.mkdir(parents=True, exist_ok=True)
    out = AgeKey()
    out.identity, out.recipient = str(key), str(key.to_public())
    out.key_file = directory / "keys.txt"
    out.key_file.write_text(out.identity + "\n", encoding="utf-8")
    out.key_file.chmod(0o600)
    return out


# Every awkward value sops' dotenv store can hold: '=', '#', quotes, spaces, unicode, the
# two-character \n escape (a real newline), a lone backslash, leading/trailing spaces.
PLAIN = (
    "# leading comment\n"
    "DB__HOST=db.internal\n"
    "DB__PASSWORD=p@ss=word#not-a-comment\n"
    "QUOTED=\"double\" 'single'\n"
    "SPACES=  two leading, two trailing  \n"
    "EMPTY=\n"
    "#\n"
    "# unicode comment: ünïcødé ✓\n"
    "UNICODE=日本語 ünïcødé ✓\n"
    "MULTILINE=line1\\nline2\\n\n"
    "BACKSLASH=C:\\path\\to\n"
    "TOKEN_unencrypted=visible\n"
    "API_KEY=canary-5ecret-value\n"
    "PORT=5432\n"
)


class Sops:
    """The real sops binary, called with argv lists and an explicit key file."""

    def __init__(self, binary: Path, workdir: Path, key_file: Path) -> None:
        self.binary = binary
        self.workdir = workdir
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("SOPS_")}
        self.env["SOPS_AGE_KEY_FILE"] = str(key_file)

    def run(self, *args: str, config: Path | None = None, stdin: str | None = None) -> str:
        argv = [str(self.binary)]
        if config is not None:
            argv += ["--config", str(config)]
        argv += list(args)
        proc = subprocess.run(
            argv,
            cwd=self.workdir,
            env=self.env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert proc.returncode == 0, (args, proc.returncode, proc.stderr)
        return proc.stdout

    def encrypt(self, plain: str, *flags: str, config: Path | None = None) -> str:
        src = self.workdir / "plain.env"
        src.write_text(plain, encoding="utf-8")
        return self.run(
            "encrypt",
            "--input-type",
            "dotenv",
            "--output-type",
            "dotenv",
            *flags,
            str(src),
            config=config,
        )

    def decrypt(self, encrypted: str) -> str:
        dst = self.workdir / "enc.env"
        dst.write_text(encrypted, encoding="utf-8")
        return self.run("decrypt", "--input-type", "dotenv", "--output-type", "dotenv", str(dst))


def ident(key: AgeKey) -> pyrage.x25519.Identity:
    return pyrage.x25519.Identity.from_str(key.identity)


def keyring_file(directory: Path, *keys: AgeKey) -> Path:
    path = directory / "all-keys.txt"
    path.write_text("".join(k.identity + "\n" for k in keys), encoding="utf-8")
    path.chmod(0o600)
    return path


def native_plain(text: str, *keys: AgeKey) -> str:
    doc = native.decrypt(text, [ident(k) for k in keys], path="test.env")
    return native.to_sops_plaintext(doc.items)


@pytest.fixture
def sops(sops_bin: Path, tmp_path: Path, age_key: AgeKey) -> Sops:
    return Sops(sops_bin, tmp_path, age_key.key_file)


@pytest.fixture
def three_keys(tmp_path: Path, age_key: AgeKey) -> list[AgeKey]:
    return [age_key, make_age_key(tmp_path / "k2"), make_age_key(tmp_path / "k3")]


# --- sops writes, native reads ---------------------------------------------------------------


def test_sops_encrypt_one_recipient(sops: Sops, age_key: AgeKey) -> None:
    enc = sops.encrypt(PLAIN, "--age", age_key.recipient)
    assert "canary-5ecret-value" not in enc
    assert native_plain(enc, age_key) == sops.decrypt(enc)


def test_sops_encrypt_three_recipients_each_decrypts(sops: Sops, three_keys: list[AgeKey]) -> None:
    enc = sops.encrypt(PLAIN, "--age", ",".join(k.recipient for k in three_keys))
    expected = sops.decrypt(enc)
    for key in three_keys:
        assert native_plain(enc, key) == expected
    meta = native.parse_metadata(enc)
    assert meta.recipients == tuple(k.recipient for k in three_keys)
    assert meta.version == "3.11.0"
    assert meta.shamir_threshold is None


@pytest.mark.parametrize(
    "flags",
    [
        ["--unencrypted-suffix", "_PLAIN"],
        ["--encrypted-suffix", "PASSWORD"],
        ["--unencrypted-regex", "^(PORT|DB__HOST)$"],
        ["--encrypted-regex", "PASS|KEY"],
    ],
    ids=["unencrypted_suffix", "encrypted_suffix", "unencrypted_regex", "encrypted_regex"],
)
def test_sops_encrypt_rules(sops: Sops, age_key: AgeKey, flags: list[str]) -> None:
    enc = sops.encrypt(PLAIN, "--age", age_key.recipient, *flags)
    assert native_plain(enc, age_key) == sops.decrypt(enc)
    rules = native.parse_metadata(enc).rules
    field = flags[0].lstrip("-").replace("-", "_")
    assert getattr(rules, field) == flags[1]


@pytest.mark.parametrize(
    "rule",
    [
        "mac_only_encrypted: true",
        "mac_only_encrypted: true\n    encrypted_regex: PASS",
        "encrypted_comment_regex: sops:enc",
        "unencrypted_comment_regex: sops:plain",
    ],
    ids=["mac_only_encrypted", "mac_only_with_regex", "encrypted_comment", "unencrypted_comment"],
)
def test_sops_config_rules(sops: Sops, age_key: AgeKey, tmp_path: Path, rule: str) -> None:
    config = tmp_path / "sops.yaml"
    config.write_text(
        f"creation_rules:\n  - age: {age_key.recipient}\n    {rule}\n", encoding="utf-8"
    )
    plain = PLAIN + "# sops:enc\nMARKED=under-enc-marker\n# sops:plain\nOPEN=under-plain-marker\n"
    enc = sops.encrypt(plain, config=config)
    assert native_plain(enc, age_key) == sops.decrypt(enc)


def test_sops_set_then_native(sops: Sops, age_key: AgeKey) -> None:
    enc_path = sops.workdir / "set.env"
    enc_path.write_text(sops.encrypt(PLAIN, "--age", age_key.recipient), encoding="utf-8")
    sops.run(
        "set",
        "--input-type",
        "dotenv",
        "--output-type",
        "dotenv",
        str(enc_path),
        '["API_KEY"]',
        '"changed = value # here"',
    )
    sops.run(
        "set",
        "--input-type",
        "dotenv",
        "--output-type",
        "dotenv",
        str(enc_path),
        '["NEW_ONE"]',
        '"appended"',
    )
    enc = enc_path.read_text(encoding="utf-8")
    out = native_plain(enc, age_key)
    assert out == sops.decrypt(enc)
    assert "API_KEY=changed = value # here\n" in out
    assert out.endswith("NEW_ONE=appended\n")


def test_sops_rotate_then_native(sops: Sops, three_keys: list[AgeKey]) -> None:
    a, b, c = three_keys
    enc_path = sops.workdir / "rot.env"
    enc_path.write_text(sops.encrypt(PLAIN, "--age", a.recipient), encoding="utf-8")
    before = native.parse_metadata(enc_path.read_text(encoding="utf-8"))
    sops.run(
        "rotate",
        "-i",
        "--input-type",
        "dotenv",
        "--output-type",
        "dotenv",
        "--add-age",
        f"{b.recipient},{c.recipient}",
        str(enc_path),
    )
    enc = enc_path.read_text(encoding="utf-8")
    assert native.parse_metadata(enc).recipients == (a.recipient, b.recipient, c.recipient)
    assert native.parse_metadata(enc).lastmodified >= before.lastmodified
    for key in three_keys:
        assert native_plain(enc, key) == sops.decrypt(enc)


def test_sops_updatekeys_then_native(sops: Sops, three_keys: list[AgeKey], tmp_path: Path) -> None:
    a, b, _ = three_keys
    enc_path = tmp_path / "upd.env"
    enc_path.write_text(sops.encrypt(PLAIN, "--age", a.recipient), encoding="utf-8")
    with pytest.raises(DecryptionError):
        native.decrypt(enc_path.read_text(encoding="utf-8"), [ident(b)])
    config = tmp_path / "sops.yaml"
    config.write_text(f"creation_rules:\n  - age: {a.recipient},{b.recipient}\n", encoding="utf-8")
    sops.run("updatekeys", "-y", "--input-type", "dotenv", str(enc_path), config=config)
    enc = enc_path.read_text(encoding="utf-8")
    assert native_plain(enc, b) == sops.decrypt(enc)


def test_sops_key_groups_shamir(sops: Sops, three_keys: list[AgeKey], tmp_path: Path) -> None:
    a, b, c = three_keys
    extra = make_age_key(tmp_path / "k4")
    config = tmp_path / "sops.yaml"
    config.write_text(
        "creation_rules:\n  - shamir_threshold: 2\n    key_groups:\n"
        f"      - age: [{a.recipient}, {extra.recipient}]\n"
        f"      - age: [{b.recipient}]\n"
        f"      - age: [{c.recipient}]\n",
        encoding="utf-8",
    )
    enc = sops.encrypt(PLAIN, config=config)
    assert "sops_key_groups__list_2__map_age__list_0__map_recipient=" in enc
    meta = native.parse_metadata(enc)
    assert meta.shamir_threshold == 2
    assert [g.age for g in meta.key_groups] == [
        (a.recipient, extra.recipient),
        (b.recipient,),
        (c.recipient,),
    ]
    sops.env["SOPS_AGE_KEY_FILE"] = str(keyring_file(tmp_path, a, b))
    expected = sops.decrypt(enc)
    for pair in [(a, b), (b, c), (extra, c), (a, b, c)]:
        assert native_plain(enc, *pair) == expected
    with pytest.raises(DecryptionError, match="1 of the 2 key groups"):
        native.decrypt(enc, [ident(a), ident(extra)])


# --- native writes, sops reads ---------------------------------------------------------------


def parse_plain(text: str) -> list[Item]:
    items: list[Item] = []
    for line in text.split("\n"):
        if not line:
            continue
        if line.startswith("#"):
            items.append(Comment(line[1:]))
        else:
            key, _, value = line.partition("=")
            items.append(Entry(key, value.replace("\\n", "\n")))
    return items


@pytest.mark.parametrize(
    "rules",
    [
        Rules(),
        Rules(unencrypted_suffix="_PLAIN"),
        Rules(encrypted_suffix="PASSWORD"),
        Rules(unencrypted_regex="^(PORT|DB__HOST)$"),
        Rules(encrypted_regex="PASS|KEY"),
        Rules(mac_only_encrypted=True),
        Rules(encrypted_regex="PASS", mac_only_encrypted=True),
        Rules(encrypted_comment_regex="sops:enc"),
        Rules(unencrypted_comment_regex="sops:plain"),
    ],
    ids=lambda r: (
        ",".join(k for k in r.__slots__ if getattr(r, k) not in (None, False, "_unencrypted"))
        or "default"
    ),
)
def test_native_encrypt_sops_decrypts_and_rotates(
    sops: Sops, age_key: AgeKey, other_age_key: AgeKey, rules: Rules
) -> None:
    plain = PLAIN + "# sops:enc\nMARKED=under-enc-marker\n# sops:plain\nOPEN=under-plain-marker\n"
    items = parse_plain(plain)
    enc = native.encrypt(
        items, key_groups=[[age_key.recipient, other_age_key.recipient]], rules=rules
    )
    if rules in (Rules(), Rules(mac_only_encrypted=True)):
        assert "canary-5ecret-value" not in enc
    assert sops.decrypt(enc) == native.to_sops_plaintext(items) == plain
    assert native_plain(enc, other_age_key) == plain
    # sops rotate re-keys it; the native reader still agrees.
    path = sops.workdir / "native.env"
    path.write_text(enc, encoding="utf-8")
    sops.run("rotate", "-i", "--input-type", "dotenv", "--output-type", "dotenv", str(path))
    rotated = path.read_text(encoding="utf-8")
    assert rotated != enc
    assert native_plain(rotated, age_key) == plain


def test_native_encrypt_is_byte_identical_to_sops_layout(sops: Sops, age_key: AgeKey) -> None:
    """Same lines, same metadata names and order as sops writes, apart from random bytes."""
    by_sops = sops.encrypt(PLAIN, "--age", age_key.recipient)
    by_native = native.encrypt(parse_plain(PLAIN), key_groups=[[age_key.recipient]])

    def shape(text: str) -> list[str]:
        return [
            "#ENC"
            if line.startswith("#ENC[")
            else line.split("=", 1)[0] + ("=ENC" if "=ENC[" in line else "")
            for line in text.splitlines()
        ]

    assert shape(by_native) == shape(by_sops)


def test_native_key_groups_shamir_with_sops(
    sops: Sops, three_keys: list[AgeKey], tmp_path: Path
) -> None:
    a, b, c = three_keys
    items = parse_plain(PLAIN)
    enc = native.encrypt(
        items, key_groups=[[a.recipient], [b.recipient], [c.recipient]], shamir_threshold=2
    )
    assert "sops_shamir_threshold=2\n" in enc
    for pair in [(a, b), (a, c), (b, c)]:
        sops.env["SOPS_AGE_KEY_FILE"] = str(keyring_file(tmp_path, *pair))
        assert sops.decrypt(enc) == PLAIN
        assert native_plain(enc, *pair) == PLAIN
    path = tmp_path / "groups.env"
    path.write_text(enc, encoding="utf-8")
    sops.run("rotate", "-i", "--input-type", "dotenv", "--output-type", "dotenv", str(path))
    assert native_plain(path.read_text(encoding="utf-8"), b, c) == PLAIN
    with pytest.raises(DecryptionError):
        native.decrypt(enc, [ident(a)])


_key = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,12}", fullmatch=True).filter(
    lambda k: not k.startswith("sops_")
)
# Values: any text without the two-character escape or a line break sops cannot store.
_value = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\x00\x85\u2028\u2029"),
    max_size=40,
).filter(lambda v: "\\n" not in v and not v.endswith("\\"))
_comment = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\n\r\x00\x85\u2028\u2029"),
    max_size=20,
)


@st.composite
def documents(draw: st.DrawFn) -> list[Item]:
    keys = draw(st.lists(_key, min_size=1, max_size=8, unique=True))
    items: list[Item] = []
    for key in keys:
        if draw(st.booleans()):
            items.append(Comment(draw(_comment)))
        items.append(Entry(key, draw(_value)))
    return items


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(items=documents())
def test_random_documents_both_directions(sops: Sops, age_key: AgeKey, items: list[Item]) -> None:
    plain = native.to_sops_plaintext(items)
    enc = native.encrypt(items, key_groups=[[age_key.recipient]])
    assert sops.decrypt(enc) == plain
    by_sops = sops.encrypt(plain, "--age", age_key.recipient)
    assert native_plain(by_sops, age_key) == sops.decrypt(by_sops) == plain


# --- errors ----------------------------------------------------------------------------------


def test_no_identities(age_key: AgeKey) -> None:
    enc = native.encrypt(parse_plain(PLAIN), key_groups=[[age_key.recipient]])
    with pytest.raises(NoIdentityError) as err:
        native.decrypt(enc, [])
    assert err.value.exit_code == 20


def test_wrong_identity_names_recipients_not_secrets(
    age_key: AgeKey, other_age_key: AgeKey
) -> None:
    enc = native.encrypt(parse_plain(PLAIN), key_groups=[[age_key.recipient]])
    with pytest.raises(DecryptionError) as err:
        native.decrypt(enc, [ident(other_age_key)], path="app.env.enc")
    msg = str(err.value)
    assert err.value.exit_code == 21
    assert age_key.recipient in msg
    assert other_age_key.recipient in msg
    assert "app.env.enc" in msg
    assert "AGE-SECRET-KEY" not in msg
    assert "canary" not in msg
    assert err.value.__cause__ is None
    assert err.value.__context__ is None


def test_not_a_sops_file() -> None:
    with pytest.raises(FormatError, match="not encrypted with sops") as err:
        native.decrypt("A=1\n", [pyrage.x25519.Identity.generate()])
    assert err.value.exit_code == 13
    with pytest.raises(FormatError, match=":2: not a KEY=VALUE"):
        native.parse_metadata("A=1\nnot a line\nsops_version=3.11.0\n")
    with pytest.raises(FormatError, match="CRLF"):
        native.parse_metadata("A=1\r\nsops_version=3.11.0\r\n")


def test_encrypt_refuses_bad_items(age_key: AgeKey) -> None:
    groups = [[age_key.recipient]]
    with pytest.raises(FormatError, match="reserved"):
        native.encrypt([Entry("sops_mac", "x")], key_groups=groups)
    with pytest.raises(FormatError, match="twice"):
        native.encrypt([Entry("A", "1"), Entry("A", "2")], key_groups=groups)
    with pytest.raises(FormatError, match="not a key"):
        native.encrypt([Entry("A=B", "1")], key_groups=groups)
    with pytest.raises(FormatError, match="reads back as a newline"):
        native.encrypt([Entry("X_unencrypted", "a\\nb")], key_groups=groups)
    with pytest.raises(UnsupportedError):
        native.encrypt([Entry("A", "1")], key_groups=[["ssh-ed25519 AAAA"]])
    # Not RE2 (Go regexp refuses look-behind): a rule error, never a silent fallback.
    with pytest.raises(ConfigError, match="encrypted_regex does not compile"):
        native.encrypt(
            [Entry("A", "1")],
            key_groups=[[age_key.recipient]],
            rules=Rules(encrypted_regex="(?<=x)\\Q"),
        )


def test_is_encrypted(age_key: AgeKey) -> None:
    enc = native.encrypt(parse_plain(PLAIN), key_groups=[[age_key.recipient]])
    assert native.is_encrypted(enc)
    assert not native.is_encrypted(PLAIN)


def test_other_key_types_fall_back(sops: Sops, age_key: AgeKey, other_age_key: AgeKey) -> None:
    """A file that also lists a KMS key: native decrypts with age when it can, and otherwise
    says the binary is needed (NativeUnsupported), never a silent failure."""
    enc = sops.encrypt(PLAIN, "--age", age_key.recipient)
    enc += (
        "sops_kms__list_0__map_arn=arn:aws:kms:us-east-1:000000000000:key/x\n"
        "sops_kms__list_0__map_created_at=2024-01-01T00:00:00Z\n"
        "sops_kms__list_0__map_enc=AQID\n"
    )
    assert native.parse_metadata(enc).unsupported_key_types == ("kms",)
    assert native_plain(enc, age_key) == sops.decrypt(enc)
    with pytest.raises(native.NativeUnsupported, match="kms") as err:
        native.decrypt(enc, [ident(other_age_key)])
    assert err.value.exit_code == 23


def test_shamir_split_combine() -> None:
    secret = bytes(range(32))
    parts = shamir.split(secret, 5, 3)
    assert all(len(p) == 33 for p in parts)
    assert [p[-1] for p in parts] == [1, 2, 3, 4, 5]
    assert shamir.combine([parts[0], parts[2], parts[4]]) == secret
    assert shamir.combine(parts) == secret
    assert shamir.combine(parts[:2]) != secret  # below the threshold: a different value
    with pytest.raises(ValueError, match="duplicate"):
        shamir.combine([parts[0], parts[0]])
