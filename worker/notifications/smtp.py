"""Sending one message through the SMTP server ``AGENTWORKER_SMTP_URL`` names.

``smtp://[user:password@]host[:port]`` (port 25; add ``?starttls=1`` to upgrade with
STARTTLS, usual on 587) or ``smtps://…`` (TLS from the start, port 465). User and password are
percent-decoded. Errors are classified: a 4xx reply, a refused or dropped connection or a
timeout may pass (``transient``); a 5xx reply will not.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from urllib.parse import parse_qs, unquote, urlsplit

from worker.core.errors import AgentWorkerError, ConfigurationError

__all__ = ["SmtpConfig", "SmtpFailure", "send_message"]

_TRUE = {"1", "true", "yes", "on"}


class SmtpFailure(AgentWorkerError):
    """The server did not take the message. ``transient``: trying later may work."""

    code = "smtp_failure"

    def __init__(self, message: str, *, transient: bool) -> None:
        super().__init__(message)
        self.transient = transient
        self.retryable = transient


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    username: str | None = None
    password: str | None = None
    implicit_tls: bool = False
    starttls: bool = False

    @classmethod
    def from_url(cls, url: str) -> SmtpConfig:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ConfigurationError(
                "AGENTWORKER_SMTP_URL must look like smtp://user:password@host:587?starttls=1, "
                "smtps://user:password@host:465 or smtp://host:25"
            )
        query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        implicit = parts.scheme == "smtps"
        try:
            port = parts.port or (465 if implicit else 25)
        except ValueError as error:
            raise ConfigurationError(f"AGENTWORKER_SMTP_URL has a bad port: {error}") from error
        return cls(
            host=parts.hostname,
            port=port,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            implicit_tls=implicit,
            starttls=not implicit and query.get("starttls", "").lower() in _TRUE,
        )

    def __repr__(self) -> str:
        return (
            f"SmtpConfig(host={self.host!r}, port={self.port}, username={self.username!r}, "
            f"password={'<hidden>' if self.password else None}, tls="
            f"{'implicit' if self.implicit_tls else 'starttls' if self.starttls else 'none'})"
        )


def send_message(config: SmtpConfig, message: EmailMessage, *, timeout: float) -> None:
    """Hand ``message`` to the server; raises ``SmtpFailure`` when it is not accepted."""
    where = f"{config.host}:{config.port}"
    try:
        client: smtplib.SMTP
        if config.implicit_tls:
            client = smtplib.SMTP_SSL(
                config.host, config.port, timeout=timeout, context=ssl.create_default_context()
            )
        else:
            client = smtplib.SMTP(config.host, config.port, timeout=timeout)
        with client:
            if config.starttls:
                client.starttls(context=ssl.create_default_context())
            if config.username:
                client.login(config.username, config.password or "")
            refused = client.send_message(message)
        if refused:
            raise SmtpFailure(
                f"the SMTP server at {where} refused recipient(s) {', '.join(refused)}",
                transient=all(400 <= code < 500 for code, _ in refused.values()),
            )
    except smtplib.SMTPRecipientsRefused as error:
        codes = [code for code, _ in error.recipients.values()]
        refusals = "; ".join(
            f"{to}: {code} {_text(reply)}" for to, (code, reply) in error.recipients.items()
        )
        raise SmtpFailure(
            f"the SMTP server at {where} refused the recipient(s): {refusals}",
            transient=all(400 <= code < 500 for code in codes),
        ) from error
    except smtplib.SMTPResponseException as error:
        raise SmtpFailure(
            f"the SMTP server at {where} answered {error.smtp_code} {_text(error.smtp_error)}",
            transient=400 <= error.smtp_code < 500,
        ) from error
    except (smtplib.SMTPException, OSError) as error:
        raise SmtpFailure(
            f"could not reach the SMTP server at {where}: {type(error).__name__}: {error}",
            transient=True,
        ) from error


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
