"""Provider API keys encrypted at rest (``ai_models.api_key_encrypted``).

Fernet tokens under ``AGENTWORKER_ENCRYPTION_KEYS`` (comma-separated). The first key encrypts;
every key decrypts. To rotate: put a new key first, re-encrypt stored secrets with
``SecretBox.rotate`` (``needs_rotation`` finds them), then drop the old key.
"""

from __future__ import annotations

from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from worker.core.errors import AgentWorkerError, ConfigurationError
from worker.core.settings import Settings

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
    return Fernet.generate_key().decode("ascii")


class SecretBox:
    """Encrypts with the first key, decrypts with any of them."""

    def __init__(self, keys: Sequence[str]) -> None:
        if isinstance(keys, str):
            raise TypeError(f"keys must be a sequence of keys; split {_KEYS_VARIABLE} on commas")
        fernets = [_fernet(key, position, len(keys)) for position, key in enumerate(keys, 1)]
        if not fernets:
            raise MissingEncryptionKey(
                f"no encryption key is configured, so provider API keys cannot be stored or read; "
                f"generate one with `{GENERATE_KEY_COMMAND}` and set {_KEYS_VARIABLE} to it"
            )
        self._primary = fernets[0]
        self._all = MultiFernet(fernets)
        self._key_count = len(fernets)

    @classmethod
    def from_settings(cls, settings: Settings) -> SecretBox:
        return cls(settings.encryption_keys)

    def encrypt(self, plaintext: str) -> bytes:
        return self._all.encrypt(plaintext.encode("utf-8"))

    def decrypt(self, token: bytes) -> str:
        try:
            return self._all.decrypt(bytes(token)).decode("utf-8")
        except InvalidToken as error:
            raise _undecryptable() from error

    def rotate(self, token: bytes) -> bytes:
        """``token`` re-encrypted under the first key (its original timestamp is kept)."""
        try:
            return self._all.rotate(bytes(token))
        except InvalidToken as error:
            raise _undecryptable() from error

    def needs_rotation(self, token: bytes) -> bool:
        """True when the first key alone cannot decrypt ``token``."""
        try:
            self._primary.decrypt(bytes(token))
        except InvalidToken:
            return True
        return False

    def __repr__(self) -> str:
        return f"SecretBox(<{self._key_count} key(s) hidden>)"


def _fernet(key: str, position: int, count: int) -> Fernet:
    try:
        return Fernet(key.strip())
    except (ValueError, TypeError) as error:
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
