"""Provider API keys encrypted at rest (``ai_models.api_key_encrypted``).

Fernet tokens under ``AGENTWORKER_ENCRYPTION_KEYS`` (comma-separated). The first key encrypts;
every key decrypts. To rotate: put a new key first, re-encrypt stored secrets with
``SecretBox.rotate`` (``needs_rotation`` finds them), then drop the old key.
"""

from __future__ import annotations

import base64
import binascii
import functools
from collections.abc import Sequence
from typing import TYPE_CHECKING

from worker.core.errors import AgentWorkerError, ConfigurationError
from worker.core.settings import Settings

if TYPE_CHECKING:
    from cryptography.fernet import Fernet, MultiFernet

__all__ = [
    "GENERATE_KEY_COMMAND",
    "MissingEncryptionKey",
    "SecretBox",
    "UndecryptableSecret",
    "generate_key",
]

GENERATE_KEY_COMMAND = (
    'python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"'
)
_KEYS_VARIABLE = "AGENTWORKER_ENCRYPTION_KEYS"


class MissingEncryptionKey(ConfigurationError):
    """No usable encryption key is configured (none at all, or one that is not a Fernet key)."""

    code = "configuration"


class UndecryptableSecret(AgentWorkerError):
    """A stored secret cannot be decrypted with any configured key."""

    code = "undecryptable_secret"
    retryable = False


def generate_key() -> str:
    """A new Fernet key, as text fit for ``AGENTWORKER_ENCRYPTION_KEYS``."""
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode("ascii")


class SecretBox:
    """Encrypts with the first key, decrypts with any of them.

    The keys are checked when the box is made; ``cryptography`` (~7 MiB of RSS) is loaded at
    the first encrypt or decrypt, so a worker whose runs never read a secret does not carry it.
    """

    def __init__(self, keys: Sequence[str]) -> None:
        if isinstance(keys, str):
            raise TypeError(f"keys must be a sequence of keys; split {_KEYS_VARIABLE} on commas")
        self._keys = [_checked(key, position, len(keys)) for position, key in enumerate(keys, 1)]
        if not self._keys:
            raise MissingEncryptionKey(
                f"no encryption key is configured, so provider API keys cannot be stored or read; "
                f"generate one with `{GENERATE_KEY_COMMAND}` and set {_KEYS_VARIABLE} to it"
            )
        self._key_count = len(self._keys)

    @functools.cached_property
    def _primary(self) -> Fernet:
        from cryptography.fernet import Fernet

        return Fernet(self._keys[0])

    @functools.cached_property
    def _all(self) -> MultiFernet:
        from cryptography.fernet import Fernet, MultiFernet

        return MultiFernet([Fernet(key) for key in self._keys])

    @classmethod
    def from_settings(cls, settings: Settings) -> SecretBox:
        return cls(settings.encryption_keys)

    def encrypt(self, plaintext: str) -> bytes:
        return self._all.encrypt(plaintext.encode("utf-8"))

    def decrypt(self, token: bytes) -> str:
        from cryptography.fernet import InvalidToken

        try:
            return self._all.decrypt(bytes(token)).decode("utf-8")
        except InvalidToken as error:
            raise _undecryptable() from error

    def rotate(self, token: bytes) -> bytes:
        """``token`` re-encrypted under the first key (its original timestamp is kept)."""
        from cryptography.fernet import InvalidToken

        try:
            return self._all.rotate(bytes(token))
        except InvalidToken as error:
            raise _undecryptable() from error

    def needs_rotation(self, token: bytes) -> bool:
        """True when the first key alone cannot decrypt ``token``."""
        from cryptography.fernet import InvalidToken

        try:
            self._primary.decrypt(bytes(token))
        except InvalidToken:
            return True
        return False

    def __repr__(self) -> str:
        return f"SecretBox(<{self._key_count} key(s) hidden>)"


def _checked(key: str, position: int, count: int) -> str:
    """``key`` stripped, when it is what ``Fernet`` accepts: 32 url-safe base64-encoded bytes."""
    try:
        stripped = key.strip()
        if len(base64.urlsafe_b64decode(stripped)) == 32:
            return stripped
        raise ValueError("not 32 bytes")
    except (ValueError, TypeError, binascii.Error) as error:
        raise MissingEncryptionKey(
            f"{_KEYS_VARIABLE}: key {position} of {count} is not a valid Fernet key "
            f"(32 url-safe base64-encoded bytes); replace it with the output of "
            f"`{GENERATE_KEY_COMMAND}`"
        ) from error


def _undecryptable() -> UndecryptableSecret:
    return UndecryptableSecret(
        f"cannot decrypt a stored secret: the key that encrypted it is not among "
        f"{_KEYS_VARIABLE} (or the stored bytes were altered); add that key back to "
        f"{_KEYS_VARIABLE}, or store the secret again"
    )
