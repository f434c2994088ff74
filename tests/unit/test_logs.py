"""Structured logs (worker.ops.logs): JSON lines with stable, redacted fields and bound context."""

from __future__ import annotations

import io
import json
import logging
import threading
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
import structlog
from celery import Celery

from worker.core.errors import ConfigurationError
from worker.ops.logs import (
    JsonFormatter,
    TextFormatter,
    bind,
    configure_logging,
    current_context,
    install_celery_hooks,
    log_context,
    unbind,
    uninstall_celery_hooks,
)

OPENAI_KEY = "sk-proj-" + "A1b2C3d4E5f6G7h8I9j0K1l2"
KNOWN_SECRET = "hunter2-database-password"


class Capture:
    """A logger whose lines are JSON-formatted into a buffer."""

    def __init__(self, formatter: logging.Formatter) -> None:
        self.buffer = io.StringIO()
        self.handler = logging.StreamHandler(self.buffer)
        self.handler.setFormatter(formatter)
        self.logger = logging.getLogger(f"test.logs.{uuid.uuid4().hex}")
        self.logger.addHandler(self.handler)
        self.logger.setLevel(logging.DEBUG)
        self.logger.propagate = False

    def text(self) -> str:
        return self.buffer.getvalue()

    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.text().splitlines()]

    def last(self) -> dict[str, Any]:
        return self.lines()[-1]


@pytest.fixture
def capture() -> Iterator[Capture]:
    capture = Capture(JsonFormatter(known_secrets=[KNOWN_SECRET]))
    try:
        yield capture
    finally:
        capture.logger.removeHandler(capture.handler)


@pytest.fixture
def root_logger() -> Iterator[logging.Logger]:
    """The root logger, restored (level and handlers) after the test."""
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    try:
        yield root
    finally:
        for handler in [h for h in root.handlers if h not in handlers]:
            root.removeHandler(handler)
            handler.close()
        root.setLevel(level)


def test_every_line_is_one_json_object_with_the_core_fields(capture: Capture) -> None:
    capture.logger.info("first %s", "line")
    capture.logger.warning("second\nline")

    first, second = capture.lines()
    assert first["message"] == "first line"
    assert first["level"] == "INFO"
    assert first["logger"] == capture.logger.name
    assert second["message"] == "second\nline"
    assert second["level"] == "WARNING"
    assert len(capture.text().splitlines()) == 2


def test_the_timestamp_is_iso_8601_in_utc(capture: Capture) -> None:
    capture.logger.info("now")

    ts = capture.last()["ts"]
    assert ts.endswith("Z")
    parsed = datetime.fromisoformat(ts.replace("Z", "+00:00"))
    assert parsed.utcoffset() is not None and parsed.utcoffset().total_seconds() == 0


def test_lines_carry_the_ids_bound_by_log_context(capture: Capture) -> None:
    task_id, tenant_id, run_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()

    with log_context(task_id=task_id, tenant_id=tenant_id, agent_run_id=run_id, step="plan"):
        capture.logger.info("inside")
    capture.logger.info("outside")

    inside, outside = capture.lines()
    assert inside["task_id"] == str(task_id)
    assert inside["tenant_id"] == str(tenant_id)
    assert inside["agent_run_id"] == str(run_id)
    assert inside["step"] == "plan"
    assert "task_id" not in outside and "step" not in outside


def test_context_fields_come_in_a_stable_order(capture: Capture) -> None:
    with log_context(step="s", custom="c", tenant_id="t", task_id="k"):
        capture.logger.info("ordered")

    core = ["ts", "level", "logger", "message"]
    assert list(capture.last()) == [*core, "task_id", "tenant_id", "step", "custom"]


def test_other_bound_fields_follow_the_stable_ones_by_name(capture: Capture) -> None:
    with log_context(zone="z", agent_run_id="r", approval_id="a", task_id="k"):
        capture.logger.info("ordered", extra={"attempt": 1})

    core = ["ts", "level", "logger", "message"]
    expected = [*core, "task_id", "agent_run_id", "approval_id", "zone", "attempt"]
    assert list(capture.last()) == expected


def test_fields_bound_with_structlog_contextvars_are_on_the_line(capture: Capture) -> None:
    with structlog.contextvars.bound_contextvars(step="embed"):
        capture.logger.info("bound by structlog")
        assert current_context() == {"step": "embed"}

    assert capture.last()["step"] == "embed"


def test_nested_contexts_add_to_and_restore_the_outer_one(capture: Capture) -> None:
    with log_context(task_id="task-1", tenant_id="tenant-1"):
        with log_context(step="research", task_id="task-2", agent_run_id=None):
            capture.logger.info("inner")
        capture.logger.info("outer")

    inner, outer = capture.lines()
    assert inner["task_id"] == "task-2"
    assert inner["tenant_id"] == "tenant-1"
    assert inner["step"] == "research"
    assert "agent_run_id" not in inner
    assert outer["task_id"] == "task-1"
    assert "step" not in outer
    assert current_context() == {}


def test_bind_lasts_until_unbind(capture: Capture) -> None:
    token = bind(workflow_execution_id="exec-1", action="send_email")
    try:
        capture.logger.info("bound")
    finally:
        unbind(token)
    capture.logger.info("unbound")

    bound, unbound = capture.lines()
    assert bound["workflow_execution_id"] == "exec-1"
    assert bound["action"] == "send_email"
    assert "workflow_execution_id" not in unbound


def test_each_thread_sees_only_its_own_context(capture: Capture) -> None:
    barrier = threading.Barrier(2)

    def work(task_id: str) -> None:
        with log_context(task_id=task_id):
            barrier.wait()  # both contexts are bound at the same time
            capture.logger.info("working on %s", task_id)
            barrier.wait()

    threads = [threading.Thread(target=work, args=(f"task-{i}",)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    lines = capture.lines()
    assert len(lines) == 2
    for line in lines:
        assert line["message"] == f"working on {line['task_id']}"


def test_secrets_in_the_message_are_redacted(capture: Capture) -> None:
    capture.logger.info("calling with %s and password=%s", OPENAI_KEY, "s3cr3t-pw")
    capture.logger.info("connecting with %s", KNOWN_SECRET)

    text = capture.text()
    assert OPENAI_KEY not in text
    assert "s3cr3t-pw" not in text
    assert KNOWN_SECRET not in text
    first, second = capture.lines()
    assert first["message"] == "calling with [REDACTED] and password=[REDACTED]"
    assert second["message"] == "connecting with [REDACTED]"


def test_extra_fields_are_included_and_redacted(capture: Capture) -> None:
    capture.logger.info(
        "provider configured",
        extra={
            "provider": "openai",
            "attempt": 2,
            "api_key": OPENAI_KEY,
            "headers": {"Authorization": f"Bearer {OPENAI_KEY}", "Accept": "json"},
            "note": f"password={KNOWN_SECRET}",
            "latency": 0.25,
            "run": uuid.UUID(int=7),
        },
    )

    line = capture.last()
    assert OPENAI_KEY not in capture.text() and KNOWN_SECRET not in capture.text()
    assert line["provider"] == "openai"
    assert line["attempt"] == 2
    assert line["latency"] == 0.25
    assert line["run"] == str(uuid.UUID(int=7))
    assert line["api_key"] == "[REDACTED]"
    assert line["headers"] == {"Authorization": "[REDACTED]", "Accept": "json"}
    assert line["note"] == "password=[REDACTED]"


def test_bound_context_is_redacted_too(capture: Capture) -> None:
    with log_context(step=f"token={OPENAI_KEY}"):
        capture.logger.info("step")

    assert OPENAI_KEY not in capture.text()
    assert capture.last()["step"] == "token=[REDACTED]"


def test_extra_fields_cannot_replace_the_core_fields(capture: Capture) -> None:
    capture.logger.info("real", extra={"level": "FAKE", "ts": "yesterday", "logger": "other"})

    line = capture.last()
    assert line["level"] == "INFO" and line["logger"] == capture.logger.name
    assert line["ts"] != "yesterday"


def test_values_json_cannot_write_become_text(capture: Capture) -> None:
    capture.logger.info("odd values", extra={"ratio": float("nan"), "seen": {3}})

    line = capture.last()
    assert line["ratio"] == "nan"
    assert line["seen"] == "{3}"


def test_exceptions_carry_their_type_and_redacted_traceback(capture: Capture) -> None:
    try:
        raise RuntimeError(f"provider rejected key {OPENAI_KEY} (password: {KNOWN_SECRET})")
    except RuntimeError:
        capture.logger.exception("LLM call failed for %s", "acme")

    line = capture.last()
    assert line["level"] == "ERROR"
    assert line["message"] == "LLM call failed for acme"
    assert line["exc_type"] == "RuntimeError"
    assert "Traceback (most recent call last)" in line["exc_info"]
    assert "RuntimeError: provider rejected key [REDACTED]" in line["exc_info"]
    assert OPENAI_KEY not in capture.text() and KNOWN_SECRET not in capture.text()


def test_lines_without_an_exception_have_no_exception_fields(capture: Capture) -> None:
    capture.logger.error("plain error")

    assert "exc_info" not in capture.last() and "exc_type" not in capture.last()


def test_the_text_formatter_redacts_and_shows_the_fields() -> None:
    capture = Capture(TextFormatter(known_secrets=[KNOWN_SECRET]))
    try:
        with log_context(task_id="task-9"):
            capture.logger.warning(
                "using %s and %s", OPENAI_KEY, KNOWN_SECRET, extra={"attempt": 3}
            )
    finally:
        capture.logger.removeHandler(capture.handler)

    text = capture.text()
    assert "WARNING" in text and "[task_id=task-9 attempt=3]" in text
    assert "using [REDACTED] and [REDACTED]" in text
    assert OPENAI_KEY not in text and KNOWN_SECRET not in text


def test_configure_logging_filters_by_level(root_logger: logging.Logger) -> None:
    stream = io.StringIO()
    configure_logging("warning", stream=stream)
    logger = logging.getLogger("test.logs.levels")

    logger.info("dropped")
    logger.warning("kept")
    logger.error("kept too")

    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [line["message"] for line in lines] == ["kept", "kept too"]
    assert root_logger.level == logging.WARNING


def test_configure_logging_is_idempotent(root_logger: logging.Logger) -> None:
    before = len(root_logger.handlers)
    first, second = io.StringIO(), io.StringIO()
    configure_logging("INFO", stream=first)
    configure_logging("DEBUG", stream=second)

    logging.getLogger("test.logs.idempotent").debug("once")

    assert len(root_logger.handlers) == before + 1
    assert first.getvalue() == ""
    assert [json.loads(line)["message"] for line in second.getvalue().splitlines()] == ["once"]


def test_configure_logging_can_write_text(root_logger: logging.Logger) -> None:
    stream = io.StringIO()
    configure_logging("INFO", json=False, stream=stream)

    logging.getLogger("test.logs.text").info("hello")

    assert stream.getvalue().rstrip().endswith("INFO     test.logs.text: hello")


def test_structlog_loggers_write_the_same_redacted_lines(root_logger: logging.Logger) -> None:
    stream = io.StringIO()
    configure_logging("INFO", stream=stream)
    log = structlog.get_logger("test.logs.structlog")

    with log_context(task_id="task-5"):
        log.info("claimed %s", "it", attempt=2, api_key=OPENAI_KEY)
        log.debug("below the level")
        try:
            raise ValueError(f"bad key {OPENAI_KEY}")
        except ValueError:
            log.exception("failed")

    claimed, failed = (json.loads(line) for line in stream.getvalue().splitlines())
    assert list(claimed) == ["ts", "level", "logger", "message", "task_id", "attempt", "api_key"]
    assert claimed["message"] == "claimed it" and claimed["logger"] == "test.logs.structlog"
    assert claimed["api_key"] == "[REDACTED]"
    assert failed["level"] == "ERROR" and failed["exc_type"] == "ValueError"
    assert "ValueError: bad key [REDACTED]" in failed["exc_info"]
    assert OPENAI_KEY not in stream.getvalue()


def test_an_unknown_level_is_a_configuration_error(root_logger: logging.Logger) -> None:
    with pytest.raises(ConfigurationError, match="unknown log level 'LOUD'"):
        configure_logging("LOUD")


@pytest.fixture
def celery_hooks() -> Iterator[None]:
    install_celery_hooks()
    install_celery_hooks()  # idempotent: one set of receivers
    try:
        yield
    finally:
        uninstall_celery_hooks()


def test_celery_tasks_log_with_their_ids(
    celery_hooks: None, root_logger: logging.Logger, capture: Capture
) -> None:
    app = Celery("test-logs", set_as_current=False)
    seen: list[dict[str, Any]] = []
    task_id, execution_id, tenant_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()

    @app.task(name="agents.run_task", shared=False)
    def run_task(**payload: Any) -> None:
        seen.append(current_context())
        capture.logger.info("running")

    run_task.apply(
        kwargs={
            "task_id": str(task_id),
            "execution_id": str(execution_id),
            "tenant": str(tenant_id),
        }
    )
    run_task.apply(kwargs={"tenant": "acme", "input": "a long input " * 40})
    capture.logger.info("after the tasks")

    first, second, after = capture.lines()
    assert first["celery_task_name"] == "agents.run_task"
    assert first["celery_task_id"] and first["celery_task_id"] != second["celery_task_id"]
    assert first["task_id"] == str(task_id)
    assert first["workflow_execution_id"] == str(execution_id)
    assert first["tenant_id"] == str(tenant_id)
    assert second["tenant"] == "acme"
    assert "task_id" not in second and "tenant_id" not in second and "input" not in second
    assert "celery_task_id" not in after and "task_id" not in after
    assert seen[0]["task_id"] == str(task_id)


def test_celery_setup_logging_installs_json_lines(
    celery_hooks: None, root_logger: logging.Logger
) -> None:
    from celery import signals

    signals.setup_logging.send(sender=None, loglevel=logging.DEBUG, logfile=None)

    ours = [h for h in root_logger.handlers if isinstance(h.formatter, JsonFormatter)]
    assert len(ours) == 1
    assert root_logger.level == logging.DEBUG  # the worker's --loglevel asked for more
