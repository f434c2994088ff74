"""Standard Webhooks signatures (https://www.standardwebhooks.com): the headers a delivery
carries and how a receiver checks them.

The secret is ``whsec_`` and the base64 of random bytes; the signature of a message is
``v1,`` and the base64 HMAC-SHA256, keyed with those bytes, of ``{id}.{timestamp}.{body}``
(timestamp: whole seconds since the epoch). ``webhook-signature`` may carry several
space-separated signatures (during a secret's rotation); a receiver accepts any that matches.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Mapping

from worker.core.errors import AgentWorkerError

__all__ = [
    "SECRET_PREFIX",
    "InvalidSignature",
    "new_secret",
    "sign",
    "signed_headers",
    "verify",
]

SECRET_PREFIX = "whsec_"
_SECRET_BYTES = 32


class InvalidSignature(AgentWorkerError):
    """A webhook's headers do not prove it came from the holder of the secret."""

    code = "invalid_signature"


def new_secret() -> str:
    """A new endpoint secret: ``whsec_`` and 32 random bytes in base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(_SECRET_BYTES)).decode("ascii")


def _key(secret: str) -> bytes:
    raw = secret.removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(raw, validate=True)
    except ValueError as error:
        raise InvalidSignature(
            "a webhook secret is 'whsec_' followed by base64; copy it again from "
            "`agentworker webhooks add`"
        ) from error
    if not key:
        raise InvalidSignature("the webhook secret is empty")
    return key


def sign(secret: str, message_id: str, timestamp: int, body: bytes | str) -> str:
    """``v1,<base64 HMAC-SHA256 of "{message_id}.{timestamp}.{body}">``."""
    data = body.encode("utf-8") if isinstance(body, str) else body
    signed = f"{message_id}.{timestamp}.".encode() + data
    digest = hmac.new(_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def signed_headers(
    secret: str, message_id: str, body: bytes, *, timestamp: int | None = None
) -> dict[str, str]:
    """The three headers of one attempt (the timestamp is the attempt's, not the event's)."""
    when = int(time.time()) if timestamp is None else timestamp
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(when),
        "webhook-signature": sign(secret, message_id, when, body),
    }


def verify(
    secret: str,
    headers: Mapping[str, str],
    body: bytes | str,
    *,
    tolerance_seconds: float = 300.0,
    now: float | None = None,
) -> None:
    """Raise ``InvalidSignature`` unless ``headers`` sign ``body`` with ``secret`` and the
    timestamp is within ``tolerance_seconds`` of ``now`` (replays are refused)."""
    lowered = {name.lower(): value for name, value in headers.items()}
    message_id = lowered.get("webhook-id")
    stamp = lowered.get("webhook-timestamp")
    signatures = lowered.get("webhook-signature")
    if not message_id or not stamp or not signatures:
        raise InvalidSignature("missing webhook-id, webhook-timestamp or webhook-signature header")
    try:
        timestamp = int(stamp)
    except ValueError as error:
        raise InvalidSignature(f"webhook-timestamp {stamp!r} is not whole seconds") from error
    if abs((time.time() if now is None else now) - timestamp) > tolerance_seconds:
        raise InvalidSignature(
            f"webhook-timestamp {timestamp} is more than {tolerance_seconds:g}s away from now "
            "(a replay, or a clock that is off)"
        )
    expected = sign(secret, message_id, timestamp, body)
    for candidate in signatures.split():
        if candidate.startswith("v1,") and hmac.compare_digest(candidate, expected):
            return
    raise InvalidSignature("no v1 signature in webhook-signature matches the body and secret")
