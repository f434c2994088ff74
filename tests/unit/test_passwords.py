"""Password hashes: scrypt with its parameters in the hash string, verified in constant time."""

from __future__ import annotations

from worker.security.passwords import ScryptParameters, hash_password, needs_rehash, verify

CHEAP = ScryptParameters(n=2**10, r=8, p=1)


def test_a_hash_names_scrypt_and_its_parameters_and_verifies_only_its_password() -> None:
    stored = hash_password("correct horse battery staple")

    scheme, parameters, _salt, _key = stored.split("$")
    assert (scheme, parameters) == ("scrypt", "n=32768,r=8,p=1")
    assert "correct horse" not in stored
    assert verify("correct horse battery staple", stored)
    assert not verify("correct horse battery stapler", stored)


def test_the_same_password_hashes_differently_each_time_salt() -> None:
    assert hash_password("same password", CHEAP) != hash_password("same password", CHEAP)


def test_a_hash_made_with_other_parameters_still_verifies_and_asks_to_be_redone() -> None:
    old = hash_password("an older passphrase", CHEAP)

    assert old.split("$")[1] == "n=1024,r=8,p=1"
    assert verify("an older passphrase", old)
    assert needs_rehash(old)
    assert not needs_rehash(hash_password("a newer passphrase"))


def test_a_missing_or_malformed_hash_matches_nothing() -> None:
    assert not verify("anything", None)
    assert not verify("anything", "")
    assert not verify("anything", "plain-text-password")
    assert not verify("anything", "scrypt$n=3,r=8,p=1$AAAA$AAAA")  # n not a power of two
    assert not verify("anything", "bcrypt$whatever$AAAA$AAAA")
