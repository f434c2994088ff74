"""The demo approver's inbox sign-in, for ``agentworker dev`` and ``make demo``."""

from __future__ import annotations

import secrets

import sqlalchemy as sa

from worker.dev.seed import DEMO_APPROVER_EMAIL
from worker.security.passwords import MIN_PASSWORD_LENGTH
from worker.security.users import set_password


def demo_approver_sign_in(engine: sa.Engine) -> tuple[str, str]:
    """A fresh random password for the demo approver, set now and shown once: nothing fixed is
    written down anywhere, and each start of ``agentworker dev`` or the demo prints its own."""
    password = secrets.token_urlsafe(MIN_PASSWORD_LENGTH)
    with engine.begin() as connection:
        set_password(connection, DEMO_APPROVER_EMAIL, password)
    return DEMO_APPROVER_EMAIL, password
