"""The EVP decryption path of :mod:`secretsafe.sops.aead` against cryptography's ``AESGCM``:
the same plaintext, the same failures (every single-bit change of ciphertext, tag, additional
data and IV), the same exception types; and the fallback to ``AESGCM`` when forced, when
libcrypto is unusable, and when an EVP call misbehaves."""

from __future__ import annotations

import base64
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from secretsafe.errors import IntegrityError
from secretsafe.sops import aead, crypto, native
from secretsafe.sops.model import Entry
from tests.conftest import AgeKey

pytestmark = pytest.mark.skipif(
    aead._loaded() is None, reason="no usable libcrypto: only AESGCM runs here"
)


@pytest.fixture(autouse=True)
def _fresh_evp(monkeypatch: pytest.MonkeyPatch) -> None:
    # Each test loads the EVP path afresh (monkeypatch restores it when a test disabled it),
    # in a process that asked for it as `secretsafe run` does.
    monkeypatch.delenv(aead.FORCE_ENV, raising=False)
    monkeypatch.setattr(aead, "_evp", None)
    monkeypatch.setattr(aead, "_preferred", True)


def _outcome(cipher: AESGCM | aead.Cipher, iv: bytes, data: bytes, ad: bytes) -> bytes | str:
    try:
        return cipher.decrypt(iv, data, ad)
    except Exception as exc:
        return type(exc).__name__


def _flips(raw: bytes) -> Iterator[bytes]:
    """``raw`` with one bit flipped, for every bit."""
    for i in range(len(raw)):
        for bit in range(8):
            yield raw[:i] + bytes([raw[i] ^ (1 << bit)]) + raw[i + 1 :]


@settings(
    max_examples=40,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    key_size=st.sampled_from([32, 32, 32, 16, 24]),
    iv_size=st.sampled_from([32, 32, 12, 8, 16, 64, 128]),
    plaintext=st.one_of(st.binary(max_size=64), st.binary(min_size=1000, max_size=4096)),
    ad=st.binary(max_size=48),
    seed=st.binary(min_size=32 + 128, max_size=32 + 128),
)
def test_evp_equals_aesgcm_and_rejects_every_bit_flip(
    key_size: int, iv_size: int, plaintext: bytes, ad: bytes, seed: bytes
) -> None:
    key, iv = seed[:key_size], seed[32 : 32 + iv_size]
    sealed = AESGCM(key).encrypt(iv, plaintext, ad)
    ours, theirs = aead.Cipher(key), AESGCM(key)
    assert ours.decrypt(iv, sealed, ad) == plaintext
    assert aead._evp not in (None, False), "the EVP path was not taken"
    # Every single-bit change of tag, ciphertext, additional data and IV.
    body, tag = sealed[:-16], sealed[-16:]
    cases = [(iv, body + t, ad) for t in _flips(tag)]
    cases += [(iv, b + tag, ad) for b in _flips(body)]
    cases += [(iv, sealed, a) for a in _flips(ad)]
    cases += [(v, sealed, ad) for v in _flips(iv)]
    for case in cases:
        got, want = _outcome(ours, *case), _outcome(theirs, *case)
        assert got == want == "InvalidTag"
    assert aead._evp not in (None, False), "a tampered value disabled the EVP path"


@pytest.mark.parametrize(
    ("iv", "data", "ad"),
    [
        (b"\0" * 32, b"", b""),  # shorter than a tag
        (b"\0" * 32, b"\0" * 15, b""),
        (b"\0" * 7, b"\0" * 32, b""),  # IV too short for AESGCM
        (b"\0" * 129, b"\0" * 32, b""),  # too long
        (b"", b"\0" * 32, b""),
        (b"\0" * 32, b"\0" * 32, None),  # no additional data
    ],
)
def test_odd_arguments_fail_or_succeed_as_aesgcm_does(
    iv: bytes, data: bytes, ad: bytes | None
) -> None:
    key = b"k" * 32
    assert _outcome(aead.Cipher(key), iv, data, ad or b"") == _outcome(
        AESGCM(key), iv, data, ad or b""
    )
    sealed = AESGCM(key).encrypt(b"i" * 32, b"text", None)
    assert aead.Cipher(key).decrypt(b"i" * 32, sealed, None) == b"text"


@pytest.mark.parametrize("key", [b"short", b"k" * 33, "k" * 32])
def test_a_key_aesgcm_refuses_fails_the_same_way(key: bytes) -> None:
    with pytest.raises(Exception) as theirs:
        AESGCM(key)
    with pytest.raises(type(theirs.value)):
        aead.Cipher(key)


def test_forced_fallback_uses_aesgcm(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(aead.FORCE_ENV, "cryptography")
    assert aead.decrypt_backend() == "cryptography"
    key, iv = b"k" * 32, b"i" * 32
    sealed = AESGCM(key).encrypt(iv, b"value", b"KEY:")
    calls: list[str] = []
    real = AESGCM.decrypt

    def counted(self: AESGCM, *args: bytes) -> bytes:
        calls.append("aesgcm")
        return real(self, *args)

    monkeypatch.setattr(AESGCM, "decrypt", counted)
    assert aead.Cipher(key).decrypt(iv, sealed, b"KEY:") == b"value"
    with pytest.raises(InvalidTag):
        aead.Cipher(key).decrypt(iv, sealed, b"OTHER:")
    assert calls == ["aesgcm", "aesgcm"]


def test_missing_symbol_falls_back(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_symbol(self: object) -> None:
        raise AttributeError("EVP_aes_256_gcm")  # what ctypes says for a missing symbol

    monkeypatch.setattr(aead._Evp, "__init__", no_symbol)
    assert aead.decrypt_backend() == "cryptography"
    key, iv = b"k" * 32, b"i" * 32
    sealed = AESGCM(key).encrypt(iv, b"value", b"KEY:")
    assert aead.Cipher(key).decrypt(iv, sealed, b"KEY:") == b"value"


def test_an_evp_call_reporting_failure_falls_back_for_good(monkeypatch: pytest.MonkeyPatch) -> None:
    key, iv = b"k" * 32, b"i" * 32
    sealed = AESGCM(key).encrypt(iv, b"value", b"KEY:")
    evp = aead._loaded()
    assert evp is not None
    monkeypatch.setattr(evp, "ctrl", lambda *args: 0)  # e.g. an IV length it refuses
    assert aead.Cipher(key).decrypt(iv, sealed, b"KEY:") == b"value"
    assert aead.decrypt_backend() == "cryptography"
    with pytest.raises(InvalidTag):
        aead.Cipher(key).decrypt(iv, sealed, b"OTHER:")


def test_encrypt_is_aesgcm() -> None:
    key, iv = b"k" * 32, b"i" * 32
    assert aead.Cipher(key).encrypt(iv, b"v", b"A:") == AESGCM(key).encrypt(iv, b"v", b"A:")


def test_a_tampered_file_fails_with_the_same_error_on_both_paths(
    tmp_path: Path, age_key: AgeKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pyrage

    identity = pyrage.x25519.Identity.from_str(age_key.identity)
    text = native.encrypt([Entry("A", "one"), Entry("B", "two")], key_groups=[[age_key.recipient]])
    assert native.decrypt(text, [identity]).values.reveal() == {"A": "one", "B": "two"}
    line = next(x for x in text.splitlines() if x.startswith("B=ENC["))
    i = line.index("data:") + 5
    tampered = text.replace(line, line[:i] + ("A" if line[i] != "A" else "B") + line[i + 1 :])
    errors = []
    for forced in ("", "cryptography"):
        monkeypatch.setenv(aead.FORCE_ENV, forced)
        with pytest.raises(IntegrityError) as exc:
            native.decrypt(tampered, [identity], path="x.env")
        errors.append((type(exc.value), str(exc.value), exc.value.exit_code))
    assert errors[0] == errors[1]
    assert "fails authentication" in errors[0][1]


def test_evp_only_where_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    # A library process keeps AESGCM (faster per value once imported); `secretsafe run`
    # (prefer_evp) and SECRETSAFE_AES=openssl take EVP; SECRETSAFE_AES=cryptography never.
    monkeypatch.setattr(aead, "_preferred", False)
    assert aead.decrypt_backend() == "cryptography"
    monkeypatch.setenv(aead.FORCE_ENV, "openssl")
    assert aead.decrypt_backend() == "openssl"
    monkeypatch.setenv(aead.FORCE_ENV, "cryptography")
    aead.prefer_evp()
    assert aead.decrypt_backend() == "cryptography"
    monkeypatch.delenv(aead.FORCE_ENV)
    assert aead.decrypt_backend() == "openssl"


def test_run_path_decrypts_without_cryptography(tmp_path: Path, age_key: AgeKey) -> None:
    # The point of the module: `secretsafe run` never loads cryptography.
    from secretsafe.envfile import encrypt_file

    (tmp_path / ".env").write_text("A=1\n")
    encrypt_file(tmp_path / ".env", recipients=[age_key.recipient])
    enc = str(tmp_path / ".env.enc")
    code = (
        "import sys\n"
        "from secretsafe.sops.aead import prefer_evp\n"
        "from secretsafe.run import build_environment\n"
        "prefer_evp()  # as the run fast path does\n"
        f"assert build_environment([{enc!r}], base_env={{}}) == {{'A': '1'}}\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'cryptography'))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_files_from_real_sops_decrypt_alike_on_both_paths(
    sops_bin: Path,
    sops_env: dict[str, str],
    age_key: AgeKey,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import pyrage

    plain = tmp_path / "plain.env"
    plain.write_text("".join(f"K{i}=value {i} " + "x" * i + "\n" for i in range(40)))
    text = subprocess.run(
        [
            *(str(sops_bin), "encrypt", "--input-type", "dotenv", "--output-type", "dotenv"),
            *("--age", age_key.recipient, str(plain)),
        ],
        env=sops_env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    identity = pyrage.x25519.Identity.from_str(age_key.identity)
    got = []
    for forced in ("openssl", "cryptography"):
        monkeypatch.setenv(aead.FORCE_ENV, forced)
        got.append(native.decrypt(text, [identity]).values.reveal())
    assert got[0] == got[1]
    assert got[0]["K39"] == "value 39 " + "x" * 39
    assert isinstance(aead._evp, aead._Evp)


@settings(max_examples=500, derandomize=True, deadline=None)
@given(
    raw=st.one_of(
        st.text(alphabet="ABCab+/=09\n é-_", max_size=24),
        st.binary(max_size=40).map(lambda b: base64.b64encode(b).decode()),
    )
)
def test_value_base64_equals_the_base64_module(raw: str) -> None:
    # crypto.b64 uses binascii directly (base64's import is start-up time): same answers as
    # base64.b64decode(validate=True) plus the canonical re-encoding check.
    try:
        want: bytes | None = base64.b64decode(raw, validate=True)
    except ValueError:
        want = None
    if want is not None and base64.b64encode(want).decode() != raw:
        want = None
    assert crypto.b64(raw) == want
