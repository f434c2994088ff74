"""TLS broker URLs get verifying ``broker_use_ssl`` options; plain ones get none."""

from __future__ import annotations

import ssl
from collections.abc import Callable

import pytest
from celery import Celery

from worker.app.celery_app import create_app
from worker.core.broker_tls import broker_ssl_options
from worker.durable.publishing import publishing_app


def test_plain_urls_get_no_tls_options() -> None:
    assert broker_ssl_options(None) is None
    assert broker_ssl_options("redis://h:6379/0", "/ca.pem") is None
    assert broker_ssl_options("amqp://u:p@h:5672//", "/ca.pem") is None


def test_rediss_requires_a_certificate_and_uses_the_ca_file() -> None:
    assert broker_ssl_options("rediss://h:6380/0") == {"ssl_cert_reqs": ssl.CERT_REQUIRED}
    assert broker_ssl_options("rediss://u:p@h:6380/0", "/ca.pem") == {
        "ssl_cert_reqs": ssl.CERT_REQUIRED,
        "ssl_ca_certs": "/ca.pem",
    }


def test_amqps_requires_a_certificate_for_the_host_it_connects_to() -> None:
    assert broker_ssl_options("amqps://u:p@h:5671/tenant", "/ca.pem") == {
        "cert_reqs": ssl.CERT_REQUIRED,
        "server_hostname": None,  # kombu: the host of the URL in use (SNI, name check)
        "ca_certs": "/ca.pem",
    }


def test_failover_urls_must_agree_on_tls() -> None:
    assert broker_ssl_options("amqps://a//;amqps://b//") is not None
    with pytest.raises(ValueError, match="mix schemes"):
        broker_ssl_options("amqps://a//;amqp://b//")


@pytest.mark.parametrize("make", [create_app, publishing_app])
def test_both_apps_configure_tls_for_their_final_broker_url(
    make: Callable[[str], Celery],
) -> None:
    assert make("amqps://u:p@rabbit:5671/acme").conf.broker_use_ssl["cert_reqs"] == (
        ssl.CERT_REQUIRED
    )
    assert make("rediss://redis:6380/0").conf.broker_use_ssl["ssl_cert_reqs"] == (ssl.CERT_REQUIRED)
    assert make("redis://redis:6379/0").conf.broker_use_ssl is None
