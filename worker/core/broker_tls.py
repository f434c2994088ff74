"""TLS for the broker: ``rediss://`` and ``amqps://`` URLs verify the server's certificate.

kombu's default for a ``rediss://`` URL without options is *no* verification (it logs a
warning and uses ``CERT_NONE``). We require a certificate signed by a trusted CA instead:
the system's CAs, or the file named by ``AGENTWORKER_BROKER_CA_FILE``. An explicit
``?ssl_cert_reqs=…`` in a ``rediss://`` URL still wins (kombu applies the URL's query last).
"""

from __future__ import annotations

import ssl
from typing import Any
from urllib.parse import urlsplit

TLS_SCHEMES = frozenset({"rediss", "amqps"})


def broker_ssl_options(broker_url: str | None, ca_file: str | None = None) -> dict[str, Any] | None:
    """Celery's ``broker_use_ssl`` for ``broker_url``: ``None`` unless it is a TLS URL.

    Several URLs (``;``-separated failover) must all use the same scheme.
    """
    if not broker_url:
        return None
    schemes = {urlsplit(part.strip()).scheme for part in broker_url.split(";") if part.strip()}
    tls = schemes & TLS_SCHEMES
    if not tls:
        return None
    if len(schemes) > 1:
        raise ValueError(
            f"the broker URLs mix schemes {sorted(schemes)}: use rediss:// or amqps:// for all"
        )
    if "rediss" in tls:
        options: dict[str, Any] = {"ssl_cert_reqs": ssl.CERT_REQUIRED}
        if ca_file:
            options["ssl_ca_certs"] = ca_file
        return options
    # py-amqp: server_hostname None means "the host being connected to" (SNI and name check).
    options = {"cert_reqs": ssl.CERT_REQUIRED, "server_hostname": None}
    if ca_file:
        options["ca_certs"] = ca_file
    return options


def configure_broker_tls(app: Any) -> None:
    """Give ``app`` the ``broker_use_ssl`` of its final broker URL.

    Lazily: reading ``app.conf`` loads ``celeryconfig``, which may raise for a bad variable,
    and that must happen when a setting is first read (where ``agentworker health`` reports
    it), not when the app is made. A ``broker_url`` set before then is taken into account.
    """

    def apply(*_args: Any, **_kwargs: Any) -> None:
        ca_file = app.conf.get("agentworker_broker_ca_file")
        app.conf.broker_use_ssl = broker_ssl_options(str(app.conf.broker_url or ""), ca_file)

    if app.configured:
        apply()
    else:
        app.on_after_configure.connect(apply, weak=False)
