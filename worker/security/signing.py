"""Signing a broker submission with a tenant API key (HMAC-SHA256); the key never travels.

A signed message's kwargs carry one more field, ``auth``::

    {"key": "awk_3f2A9bQz", "timestamp": 1764676800, "nonce": "5f1c…", "signature": "9a0b…"}

``key`` is the key's prefix, ``timestamp`` unix seconds (an integer), ``nonce`` 16 to 128
characters used once, ``signature`` the lower-case hex HMAC-SHA256, keyed with the whole API
key (its UTF-8 bytes), of the *canonical form*: the UTF-8 bytes of the JSON text of ::

    {"task": TASK NAME, "kwargs": KWARGS WITHOUT "auth",
     "timestamp": TIMESTAMP, "nonce": NONCE, "key": PREFIX}

with object keys sorted (by code point) at every level, no whitespace (``,`` and ``:``
separators), and non-ASCII characters written as themselves (not ``\\u`` escapes). That is
Python's ``json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)``, and
JavaScript's ``JSON.stringify`` of the body with keys sorted recursively. Numbers in the kwargs
are safest as integers: the worker re-serialises the kwargs as it decoded them (``1.0`` stays
``1.0`` in Python, JavaScript writes ``1``).

Only the standard library: services import this through ``worker.client`` without the worker.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Mapping
from typing import Any

__all__ = ["AUTH_FIELD", "canonical_form", "sign_kwargs", "signature_of"]

AUTH_FIELD = "auth"
_PREFIX_LENGTH = 12  # "awk_" + 8 characters (worker.security.credentials.PREFIX_LENGTH)


def canonical_form(
    task_name: str, kwargs: Mapping[str, Any], *, key: str, timestamp: int, nonce: str
) -> bytes:
    """The bytes a signature covers (see the module's docstring)."""
    body = {
        "task": task_name,
        "kwargs": {name: value for name, value in kwargs.items() if name != AUTH_FIELD},
        "timestamp": timestamp,
        "nonce": nonce,
        "key": key,
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8"
    )


def signature_of(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def sign_kwargs(
    task_name: str,
    kwargs: Mapping[str, Any],
    key: str,
    *,
    timestamp: int | None = None,
    nonce: str | None = None,
) -> dict[str, Any]:
    """``kwargs`` with an ``auth`` field signing them for ``task_name`` with the API key
    ``key`` (the whole key, as ``agentworker keys issue`` printed it)::

        app.send_task("agents.run_task", kwargs=sign_kwargs("agents.run_task", kwargs, key))
    """
    prefix = key[:_PREFIX_LENGTH]
    stamp = int(time.time()) if timestamp is None else timestamp
    once = secrets.token_hex(16) if nonce is None else nonce
    message = canonical_form(task_name, kwargs, key=prefix, timestamp=stamp, nonce=once)
    signed = {name: value for name, value in kwargs.items() if name != AUTH_FIELD}
    signed[AUTH_FIELD] = {
        "key": prefix,
        "timestamp": stamp,
        "nonce": once,
        "signature": signature_of(key, message),
    }
    return signed
