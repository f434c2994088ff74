"""Password hashes: scrypt (memory-hard), with its parameters stored in the hash string.

A hash reads ``scrypt$n=32768,r=8,p=1$<salt>$<key>`` (salt and key url-safe base64), so raising
the cost later leaves the old hashes verifiable (``needs_rehash`` tells which to redo at the
next sign-in). Comparison is constant-time. ``hashlib.scrypt`` needs OpenSSL 1.1+, which every
supported Python has.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass

__all__ = ["MIN_PASSWORD_LENGTH", "ScryptParameters", "hash_password", "needs_rehash", "verify"]

#: Shorter passwords are refused when set.
MIN_PASSWORD_LENGTH = 12
_SCHEME = "scrypt"
_SALT_BYTES = 16
_KEY_BYTES = 32


@dataclass(frozen=True)
class ScryptParameters:
    #: CPU/memory cost (a power of two); memory used is 128 * n * r bytes (32 MiB here).
    n: int = 2**15
    r: int = 8
    p: int = 1

    def encode(self) -> str:
        return f"n={self.n},r={self.r},p={self.p}"

    @classmethod
    def decode(cls, text: str) -> ScryptParameters:
        fields = dict(part.split("=", 1) for part in text.split(","))
        return cls(n=int(fields["n"]), r=int(fields["r"]), p=int(fields["p"]))

    def maxmem(self) -> int:
        return 128 * self.n * self.r * (self.p + 1) + 1024 * 1024


DEFAULT_PARAMETERS = ScryptParameters()


def hash_password(password: str, parameters: ScryptParameters = DEFAULT_PARAMETERS) -> str:
    salt = secrets.token_bytes(_SALT_BYTES)
    key = _derive(password, salt, parameters)
    return "$".join((_SCHEME, parameters.encode(), _b64(salt), _b64(key)))


def verify(password: str, stored: str | None) -> bool:
    """Whether ``password`` matches ``stored``. A missing or malformed hash matches nothing,
    after the same work as a real comparison (no timing tells it apart)."""
    parsed = _parse(stored) if stored else None
    if parsed is None:
        _derive(password, b"\0" * _SALT_BYTES, DEFAULT_PARAMETERS)
        return False
    parameters, salt, expected = parsed
    return hmac.compare_digest(_derive(password, salt, parameters), expected)


def needs_rehash(stored: str, parameters: ScryptParameters = DEFAULT_PARAMETERS) -> bool:
    parsed = _parse(stored)
    return parsed is None or parsed[0] != parameters


def _derive(password: str, salt: bytes, parameters: ScryptParameters) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"),
        salt=salt,
        n=parameters.n,
        r=parameters.r,
        p=parameters.p,
        maxmem=parameters.maxmem(),
        dklen=_KEY_BYTES,
    )


def _parse(stored: str) -> tuple[ScryptParameters, bytes, bytes] | None:
    try:
        scheme, parameters, salt, key = stored.split("$")
        if scheme != _SCHEME:
            return None
        decoded = ScryptParameters.decode(parameters)
        n, r, p = decoded.n, decoded.r, decoded.p
        if n < 2 or n & (n - 1) or n > 2**20 or not 1 <= r <= 32 or not 1 <= p <= 16:
            return None
        return decoded, _unb64(salt), _unb64(key)
    except (ValueError, KeyError):
        return None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
