"""What a worker process carries (issue 15, item 6): secrets' cryptography is loaded at first
use, a key is checked as ``Fernet`` checks it, and freed heap can be given back."""

from __future__ import annotations

import base64
import subprocess
import sys

import pytest
from cryptography.fernet import Fernet

from worker.app.heap import release_free_heap
from worker.security.encryption import MissingEncryptionKey, SecretBox


def _imports(code: str) -> set[str]:
    script = f"import sys\n{code}\nprint('\\n'.join(sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", script], check=True, capture_output=True, text=True
    ).stdout
    return set(out.split())


def test_making_a_box_does_not_load_cryptography() -> None:
    key = Fernet.generate_key().decode()
    loaded = _imports(f"from worker.security.encryption import SecretBox; SecretBox([{key!r}])")
    assert "cryptography.fernet" not in loaded


@pytest.mark.parametrize(
    "key",
    [
        "not base64 at all!",
        base64.urlsafe_b64encode(b"x" * 31).decode(),
        base64.urlsafe_b64encode(b"x" * 33).decode(),
        "",
    ],
)
def test_a_key_fernet_refuses_is_refused_when_the_box_is_made(key: str) -> None:
    with pytest.raises((ValueError, TypeError)):
        Fernet(key.strip())
    with pytest.raises(MissingEncryptionKey, match="key 1 of 1 is not a valid Fernet key"):
        SecretBox([key])


def test_a_key_with_surrounding_blanks_still_works() -> None:
    key = Fernet.generate_key().decode()
    box = SecretBox([f"  {key}\n"])
    assert Fernet(key).decrypt(box.encrypt("s3cret")) == b"s3cret"


def test_free_heap_is_given_back_on_glibc() -> None:
    assert release_free_heap() is (sys.platform == "linux")
