"""AES-256-GCM for sops values: in ``secretsafe run``, decryption through OpenSSL's EVP API;
everywhere else, and for encryption, cryptography's public ``AESGCM``.

Why: ``secretsafe run`` sits on every container start and must start close to ``sops
exec-env``. Importing ``cryptography.hazmat.primitives.ciphers.aead`` loads cryptography's
Rust extension plus ``typing``/``enum``/``warnings`` through ``cryptography.utils``: about
17 ms in process (``-X importtime``) and 8-10 ms of wall time on the 2-core CI box, against a
whole ``sops exec-env`` of 13-18 ms. The interpreter already links OpenSSL's libcrypto for
``hashlib`` (``_hashlib``); binding five EVP functions of it with ``ctypes`` costs about 2 ms
(``benchmarks/bench_startup.py`` has the figures). The EVP functions used here
(``EVP_CIPHER_CTX_new/free``, ``EVP_aes_256_gcm``, ``EVP_DecryptInit_ex``,
``EVP_CIPHER_CTX_ctrl`` with ``EVP_CTRL_GCM_SET_IVLEN``/``SET_TAG``, ``EVP_DecryptUpdate``,
``EVP_DecryptFinal_ex``) are OpenSSL's documented, stable public API (1.1.0 to 3.x; LibreSSL).

Why not everywhere: each EVP decryption makes about ten ctypes calls, about 8 us a value
against 0.7 us in ``AESGCM``. That is nothing next to the import for a process that decrypts
one file and execs (``secretsafe run``: 50 values, 0.4 ms), but an application's ``load()``,
a Vault push or a test suite decrypting thousands of values is better served by ``AESGCM``
once its import is paid. So the EVP path is taken only after :func:`prefer_evp` (the ``run``
fast path calls it), or when ``SECRETSAFE_AES=openssl``; ``SECRETSAFE_AES=cryptography`` forces
``AESGCM`` everywhere.

What is guaranteed (``tests/sops/test_aead.py``):

- :meth:`Cipher.decrypt` returns exactly what ``AESGCM(key).decrypt`` returns, and fails when it
  fails, with the same exception types: ``cryptography.exceptions.InvalidTag`` when the tag does
  not authenticate (imported only then), the same ``ValueError``/``TypeError`` for bad
  arguments. A differential fuzz test over keys, IVs (sops' 32 bytes and others), additional
  data and plaintexts, with every single-bit change of ciphertext, tag, additional data and IV,
  holds the two paths equal.
- Only the documented case runs through EVP: a 32-byte key, an IV of 8 to 128 bytes (the
  range ``AESGCM`` accepts), ``bytes`` arguments, a ciphertext of at least the 16-byte tag and
  under 2 GiB. Anything else, a libcrypto or symbol that cannot be found, or any EVP call
  reporting something other than success (except the final tag check, which is the
  authentication result) goes to ``AESGCM``; after an unexpected report the EVP path is not
  used again in this process.
- Every buffer is sized exactly (the plaintext is the ciphertext's length: GCM is a stream
  mode), the EVP context is freed in ``finally``, and the plaintext buffer is zeroed after its
  bytes are copied out (also when authentication fails: no unauthenticated plaintext is kept).
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = ["FORCE_ENV", "Cipher", "decrypt_backend", "prefer_evp"]

#: ``SECRETSAFE_AES=cryptography``: every decryption uses cryptography's ``AESGCM``;
#: ``SECRETSAFE_AES=openssl``: every decryption uses EVP where it can (as after prefer_evp()).
FORCE_ENV = "SECRETSAFE_AES"
_TAG_SIZE = 16
_KEY_SIZE = 32
_EVP_CTRL_GCM_SET_IVLEN = 0x9
_EVP_CTRL_GCM_SET_TAG = 0x11
_EVP_MAX_BLOCK_LENGTH = 32
_INT_MAX = (1 << 31) - 1


class _Unexpected(Exception):
    """An EVP call reported something other than success: use ``AESGCM`` instead."""


class _Evp:
    """The EVP functions of the libcrypto ``hashlib`` already loaded, typed for ctypes."""

    def __init__(self) -> None:
        import _hashlib  # CPython's OpenSSL module: linked against the process's libcrypto
        import ctypes

        path = getattr(_hashlib, "__file__", None)
        if not path:
            raise OSError("_hashlib is built into the interpreter")  # symbols not reachable
        lib = ctypes.CDLL(path)
        vp, c_int, cp = ctypes.c_void_p, ctypes.c_int, ctypes.c_char_p
        int_p = ctypes.POINTER(c_int)
        self.ctypes = ctypes
        self.new = lib.EVP_CIPHER_CTX_new
        self.new.argtypes, self.new.restype = [], vp
        self.free = lib.EVP_CIPHER_CTX_free
        self.free.argtypes, self.free.restype = [vp], None
        self.aes_256_gcm = lib.EVP_aes_256_gcm
        self.aes_256_gcm.argtypes, self.aes_256_gcm.restype = [], vp
        self.init = lib.EVP_DecryptInit_ex
        self.init.argtypes, self.init.restype = [vp, vp, vp, cp, cp], c_int
        self.ctrl = lib.EVP_CIPHER_CTX_ctrl
        self.ctrl.argtypes, self.ctrl.restype = [vp, c_int, c_int, vp], c_int
        self.update = lib.EVP_DecryptUpdate
        self.update.argtypes, self.update.restype = [vp, vp, int_p, cp, c_int], c_int
        self.final = lib.EVP_DecryptFinal_ex
        self.final.argtypes, self.final.restype = [vp, vp, int_p], c_int

    def decrypt(self, key: bytes, iv: bytes, data: bytes, aad: bytes) -> bytes | None:
        """The plaintext, or None when the tag does not authenticate. Raises
        :class:`_Unexpected` when a call fails in a way authentication cannot explain."""
        ctypes = self.ctypes
        body, tag = data[:-_TAG_SIZE], data[-_TAG_SIZE:]
        size = len(body)
        out = ctypes.create_string_buffer(size or 1)  # exact: GCM outputs what it gets
        tag_buf = (ctypes.c_char * _TAG_SIZE).from_buffer_copy(tag)
        scratch = ctypes.create_string_buffer(_EVP_MAX_BLOCK_LENGTH)
        outl = ctypes.c_int(0)
        ctx = self.new()
        if not ctx:
            raise _Unexpected("EVP_CIPHER_CTX_new")
        try:
            cipher = self.aes_256_gcm()
            if not cipher or self.init(ctx, cipher, None, None, None) != 1:
                raise _Unexpected("EVP_DecryptInit_ex")
            if self.ctrl(ctx, _EVP_CTRL_GCM_SET_IVLEN, len(iv), None) != 1:
                raise _Unexpected("EVP_CTRL_GCM_SET_IVLEN")
            if self.init(ctx, None, None, key, iv) != 1:
                raise _Unexpected("EVP_DecryptInit_ex (key, iv)")
            if aad and (
                self.update(ctx, None, ctypes.byref(outl), aad, len(aad)) != 1
                or outl.value != len(aad)
            ):
                raise _Unexpected("EVP_DecryptUpdate (additional data)")
            written = 0
            if size:
                if self.update(ctx, out, ctypes.byref(outl), body, size) != 1:
                    raise _Unexpected("EVP_DecryptUpdate")
                written = outl.value
                if written != size:
                    raise _Unexpected("EVP_DecryptUpdate (length)")
            if self.ctrl(ctx, _EVP_CTRL_GCM_SET_TAG, _TAG_SIZE, ctypes.addressof(tag_buf)) != 1:
                raise _Unexpected("EVP_CTRL_GCM_SET_TAG")
            outl.value = 0
            ok = self.final(ctx, scratch, ctypes.byref(outl)) > 0
            if ok and outl.value != 0:
                raise _Unexpected("EVP_DecryptFinal_ex (length)")
            return ctypes.string_at(out, written) if ok else None
        finally:
            self.free(ctx)
            ctypes.memset(out, 0, len(out))


# None: not loaded yet; False: unavailable in this process (missing, or it misbehaved).
_evp: _Evp | bool | None = None
_preferred = False


def prefer_evp() -> None:
    """Decrypt through EVP from now on in this process: for a short-lived process that must
    start fast (``secretsafe run``), where the import of cryptography is the larger cost."""
    global _preferred  # noqa: PLW0603 - a process-wide choice, made once at start-up
    _preferred = True


def _loaded() -> _Evp | None:
    global _evp  # noqa: PLW0603 - loaded once per process, on first use
    if _evp is None:
        try:
            _evp = _Evp()
        except (ImportError, OSError, AttributeError):
            _evp = False  # no _hashlib, no libcrypto, or a symbol missing
    return _evp if isinstance(_evp, _Evp) else None


def _disable() -> None:
    global _evp  # noqa: PLW0603 - a libcrypto that misbehaved once is not used again
    _evp = False


def decrypt_backend() -> str:
    """``"openssl"`` when a :class:`Cipher` made now decrypts through EVP, else
    ``"cryptography"``."""
    forced = os.environ.get(FORCE_ENV)
    if forced == "cryptography" or (forced != "openssl" and not _preferred):
        return "cryptography"
    return "openssl" if _loaded() is not None else "cryptography"


class Cipher:
    """AES-GCM under ``key`` with the interface of cryptography's ``AESGCM`` (``encrypt`` and
    ``decrypt(nonce, data_with_tag, associated_data)``)."""

    __slots__ = ("_aesgcm", "_evp", "_key")

    def __init__(self, key: bytes) -> None:
        self._key = key
        self._aesgcm: AESGCM | None = None
        self._evp = decrypt_backend() == "openssl"
        if type(key) is not bytes or len(key) != _KEY_SIZE:
            self._evp = False
            self._cryptography()  # the same errors as AESGCM(key) for a key it refuses

    def _cryptography(self) -> AESGCM:
        if self._aesgcm is None:
            from cryptography.hazmat.primitives.ciphers.aead import AESGCM

            self._aesgcm = AESGCM(self._key)
        return self._aesgcm

    def encrypt(self, nonce: bytes, data: bytes, associated_data: bytes | None) -> bytes:
        return self._cryptography().encrypt(nonce, data, associated_data)

    def decrypt(self, nonce: bytes, data: bytes, associated_data: bytes | None) -> bytes:
        if not self._evp:  # the in-process path: straight to AESGCM
            return self._cryptography().decrypt(nonce, data, associated_data)
        aad = b"" if associated_data is None else associated_data
        evp = _loaded()
        if (
            evp is not None
            and type(nonce) is bytes
            and type(data) is bytes
            and type(aad) is bytes
            and 8 <= len(nonce) <= 128
            and _TAG_SIZE <= len(data) <= _INT_MAX
            and len(aad) <= _INT_MAX
        ):
            try:
                plain = evp.decrypt(self._key, nonce, data, aad)
            except _Unexpected:
                _disable()
            else:
                if plain is not None:
                    return plain
                from cryptography.exceptions import InvalidTag

                raise InvalidTag
        return self._cryptography().decrypt(nonce, data, associated_data)
