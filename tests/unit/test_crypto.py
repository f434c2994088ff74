from __future__ import annotations

import pytest

from worker.core.errors import AgentWorkerError, ConfigurationError
from worker.core.settings import Settings
from worker.security.encryption import (
    GENERATE_KEY_COMMAND,
    MissingEncryptionKey,
    SecretBox,
    UndecryptableSecret,
    generate_key,
)

OLD_KEY = generate_key()
NEW_KEY = generate_key()


def test_a_secret_round_trips() -> None:
    box = SecretBox([OLD_KEY])

    token = box.encrypt("sk-provider-key-ünïcode")

    assert box.decrypt(token) == "sk-provider-key-ünïcode"


def test_ciphertext_is_bytes_and_does_not_contain_the_plaintext() -> None:
    token = SecretBox([OLD_KEY]).encrypt("sk-provider-key")

    assert isinstance(token, bytes)
    assert b"sk-provider-key" not in token


def test_a_token_encrypted_under_an_old_key_still_decrypts_after_a_new_key_is_added() -> None:
    old_token = SecretBox([OLD_KEY]).encrypt("sk-old")

    assert SecretBox([NEW_KEY, OLD_KEY]).decrypt(old_token) == "sk-old"


def test_a_token_under_an_old_key_needs_rotation() -> None:
    old_token = SecretBox([OLD_KEY]).encrypt("sk-old")

    assert SecretBox([NEW_KEY, OLD_KEY]).needs_rotation(old_token)


def test_a_token_under_the_first_key_needs_no_rotation() -> None:
    box = SecretBox([NEW_KEY, OLD_KEY])

    assert not box.needs_rotation(box.encrypt("sk-new"))


def test_a_rotated_token_decrypts_with_only_the_new_key() -> None:
    old_token = SecretBox([OLD_KEY]).encrypt("sk-old")

    rotated = SecretBox([NEW_KEY, OLD_KEY]).rotate(old_token)

    assert SecretBox([NEW_KEY]).decrypt(rotated) == "sk-old"


def test_encryption_uses_the_first_key() -> None:
    token = SecretBox([NEW_KEY, OLD_KEY]).encrypt("sk-new")

    assert SecretBox([NEW_KEY]).decrypt(token) == "sk-new"


def test_decrypting_with_the_wrong_key_says_the_key_is_not_configured() -> None:
    token = SecretBox([OLD_KEY]).encrypt("sk-old")

    with pytest.raises(UndecryptableSecret) as caught:
        SecretBox([NEW_KEY]).decrypt(token)

    assert "not among AGENTWORKER_ENCRYPTION_KEYS" in str(caught.value)
    assert caught.value.code == "undecryptable_secret"
    assert isinstance(caught.value, AgentWorkerError)


def test_a_tampered_token_is_undecryptable() -> None:
    box = SecretBox([OLD_KEY])
    token = bytearray(box.encrypt("sk-old"))
    token[-5] ^= 1

    with pytest.raises(UndecryptableSecret):
        box.decrypt(bytes(token))


def test_rotating_a_token_under_no_configured_key_is_undecryptable() -> None:
    token = SecretBox([OLD_KEY]).encrypt("sk-old")

    with pytest.raises(UndecryptableSecret):
        SecretBox([NEW_KEY]).rotate(token)


def test_no_keys_says_how_to_generate_one() -> None:
    with pytest.raises(MissingEncryptionKey) as caught:
        SecretBox([])

    message = str(caught.value)
    assert GENERATE_KEY_COMMAND in message
    assert "Fernet.generate_key().decode()" in message
    assert "AGENTWORKER_ENCRYPTION_KEYS" in message


def test_a_missing_key_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError) as caught:
        SecretBox(())

    assert caught.value.code == "configuration"


def test_a_malformed_key_is_reported_by_its_position() -> None:
    with pytest.raises(MissingEncryptionKey, match="key 2 of 3 is not a valid Fernet key"):
        SecretBox([NEW_KEY, "not-a-fernet-key", OLD_KEY])


def test_the_malformed_key_itself_is_not_in_the_message() -> None:
    with pytest.raises(MissingEncryptionKey) as caught:
        SecretBox(["my-secret-but-wrong-key"])

    assert "my-secret-but-wrong-key" not in str(caught.value)


def test_a_single_string_of_keys_is_refused() -> None:
    with pytest.raises(TypeError, match="split AGENTWORKER_ENCRYPTION_KEYS on commas"):
        SecretBox(NEW_KEY)


def test_the_box_is_built_from_settings() -> None:
    settings = Settings(encryption_keys=(NEW_KEY, OLD_KEY))
    old_token = SecretBox([OLD_KEY]).encrypt("sk-old")

    assert SecretBox.from_settings(settings).decrypt(old_token) == "sk-old"


def test_the_repr_hides_the_keys() -> None:
    assert NEW_KEY not in repr(SecretBox([NEW_KEY]))


def test_generated_keys_are_distinct_and_usable() -> None:
    first, second = generate_key(), generate_key()

    assert first != second
    assert SecretBox([first, second]).decrypt(SecretBox([second]).encrypt("x")) == "x"
