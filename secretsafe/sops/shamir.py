"""Shamir secret sharing over GF(2^8), byte-compatible with sops' ``shamir`` package.

sops vendors HashiCorp Vault's scheme: the field is GF(2^8) with the AES polynomial
x^8 + x^4 + x^3 + x + 1 (0x11B); every byte of the secret gets its own random polynomial of
degree ``threshold - 1`` whose constant term is that byte; share ``i`` (0-based) is the
polynomial evaluated at x = i + 1 for every byte, followed by one byte holding x itself. So a
share is ``len(secret) + 1`` bytes, and sops gives key group ``i`` the share with x = i + 1.
Combining is Lagrange interpolation at x = 0 over all shares given.

Multiplication here uses log/antilog tables of the generator 3; the field is the same as the
bitwise multiplication in sops, so results are identical (tested against the real binary).
"""

from __future__ import annotations

import os

__all__ = ["combine", "split"]


def _tables() -> tuple[list[int], list[int]]:
    exp = [0] * 512
    log = [0] * 256
    x = 1
    for i in range(255):
        exp[i] = x
        log[x] = i
        # multiply by the generator 3 = x + 1: x*2 (reduced mod 0x11B) xor x
        x2 = (x << 1) ^ (0x11B if x & 0x80 else 0)
        x = x2 ^ x
    for i in range(255, 512):
        exp[i] = exp[i - 255]
    return exp, log


_EXP, _LOG = _tables()


def _mul(a: int, b: int) -> int:
    if a == 0 or b == 0:
        return 0
    return _EXP[_LOG[a] + _LOG[b]]


def _div(a: int, b: int) -> int:
    if b == 0:
        raise ZeroDivisionError("division by zero in GF(2^8)")
    if a == 0:
        return 0
    return _EXP[_LOG[a] + 255 - _LOG[b]]


def _evaluate(coefficients: list[int], x: int) -> int:
    out = 0
    for c in reversed(coefficients):  # Horner's rule, highest degree first
        out = _mul(out, x) ^ c
    return out


def split(secret: bytes, parts: int, threshold: int) -> list[bytes]:
    """Split ``secret`` into ``parts`` shares, any ``threshold`` of which recover it."""
    if parts < threshold:
        raise ValueError("parts cannot be less than threshold")
    if parts > 255:
        raise ValueError("parts cannot exceed 255")
    if threshold < 2:
        raise ValueError("threshold must be at least 2")
    if not secret:
        raise ValueError("cannot split an empty secret")
    out = [bytearray(len(secret) + 1) for _ in range(parts)]
    for i in range(parts):
        out[i][len(secret)] = i + 1
    for idx, byte in enumerate(secret):
        coefficients = [byte, *os.urandom(threshold - 1)]
        for i in range(parts):
            out[i][idx] = _evaluate(coefficients, i + 1)
    return [bytes(p) for p in out]


def combine(parts: list[bytes]) -> bytes:
    """Recover the secret from shares (sops passes every share it could decrypt)."""
    if len(parts) < 2:
        raise ValueError("less than two parts cannot be used to reconstruct the secret")
    length = len(parts[0])
    if length < 2:
        raise ValueError("parts must be at least two bytes")
    if any(len(p) != length for p in parts):
        raise ValueError("all parts must be the same length")
    xs = [p[-1] for p in parts]
    if len(set(xs)) != len(xs):
        raise ValueError("duplicate part detected")
    if 0 in xs:
        raise ValueError("a part has x coordinate 0")
    # Lagrange basis polynomials evaluated at 0: prod_j x_j / (x_i + x_j) (+ is xor).
    basis = []
    for i, xi in enumerate(xs):
        b = 1
        for j, xj in enumerate(xs):
            if i != j:
                b = _mul(b, _div(xj, xi ^ xj))
        basis.append(b)
    secret = bytearray(length - 1)
    for idx in range(length - 1):
        acc = 0
        for i, part in enumerate(parts):
            acc ^= _mul(part[idx], basis[i])
        secret[idx] = acc
    return bytes(secret)
