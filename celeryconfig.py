"""Every Celery setting, read from the environment with safe defaults (stdlib only).

State lives in PostgreSQL, so Celery results are ignored; the broker is only delivery.
"""

from __future__ import annotations

import os


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name, "")
    try:
        return int(raw) if raw else default
    except ValueError:
        raise ValueError(f"{name} must be a whole number, got {raw!r}") from None


def _float(name: str, default: float) -> float:
    raw = os.environ.get(name, "")
    try:
        return float(raw) if raw else default
    except ValueError:
        raise ValueError(f"{name} must be a number of seconds, got {raw!r}") from None


# Broker: CELERY_BROKER_URL wins, then REDIS_URL (redis:// or amqp:// both work).
broker_url = (
    os.environ.get("CELERY_BROKER_URL") or os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
)
broker_connection_retry_on_startup = True
# TLS (rediss://, amqps://): the server's certificate must verify against the system's CAs or
# this file; worker/core/broker_tls.py turns it into broker_use_ssl for the final broker URL.
agentworker_broker_ca_file = os.environ.get("AGENTWORKER_BROKER_CA_FILE") or None

# JSON only: no pickle ever crosses the broker.
task_serializer = "json"
result_serializer = "json"
event_serializer = "json"
accept_content = ["json"]

# At-least-once delivery; every handler is idempotent (DESIGN §5).
task_acks_late = True
task_reject_on_worker_lost = True
worker_prefetch_multiplier = _int("AGENTWORKER_PREFETCH_MULTIPLIER", 1)

# Results are read from our tables, never from a result backend.
task_ignore_result = True
result_backend = None

# Time limits (seconds). A run that waits (Retry-After, approvals) is re-published, so these
# bound one step of work, not a whole job.
task_soft_time_limit = _int("AGENTWORKER_TASK_SOFT_TIME_LIMIT", 600)
task_time_limit = _int("AGENTWORKER_TASK_TIME_LIMIT", task_soft_time_limit + 60)

worker_concurrency = _int("AGENTWORKER_CONCURRENCY", 32)
worker_pool = os.environ.get("AGENTWORKER_POOL", "threads")

# Redis hands a message out again when it has stayed unacked this long. A live worker renews
# the messages it holds (worker/app/visibility.py), so this bounds how long the message of a
# worker that died stays out of sight (e.g. a foreign job whose row was never written), not
# how long a task may run. RabbitMQ returns them when the worker's connection drops.
_visibility_timeout = _float("AGENTWORKER_BROKER_VISIBILITY_TIMEOUT_SECONDS", 30.0)

broker_transport_options = {
    "visibility_timeout": _visibility_timeout,
    # Look for such messages every sixth of the timeout, with a real scan every time (kombu
    # scans only every 10th sweep by default, every ~100 s).
    "unacked_restore_interval": max(1.0, _visibility_timeout / 6),
    "unacked_restore_throttle": 1,
    # A worker killed during a sweep holds the sweep's lock this long (kombu's default: 300).
    "unacked_mutex_expire": int(max(10.0, _visibility_timeout)),
    # Redis clients shared by the worker's threads must not run out (DESIGN §7).
    "max_connections": max(64, worker_concurrency * 2),
    "priority_steps": list(range(10)),
    # Take turns between queues, so a backlog of agent runs never delays workflow transitions
    # and approval decisions (priority order would drain `agents` first).
    "queue_order_strategy": "round_robin",
    # An idle worker looks at its queues at most this far apart (worker/app/lossless_redis.py:
    # a message is taken and recorded as unacked in one script, which cannot block).
    "idle_poll_max_seconds": _float("AGENTWORKER_BROKER_IDLE_POLL_SECONDS", 0.02),
}

# Flower and `celery events` see every task's life.
worker_send_task_events = True
task_send_sent_event = True
task_track_started = True

task_default_queue = "agents"
task_create_missing_queues = True
task_routes = {
    "agents.*": {"queue": "agents"},
    "knowledge.*": {"queue": "agents"},
    "workflows.*": {"queue": "workflows"},
    "approvals.*": {"queue": "workflows"},
    "maintenance.*": {"queue": "maintenance"},
    "notifications.*": {"queue": "maintenance"},
    "automation.*": {"queue": "maintenance"},
}

beat_schedule = {
    "reap-stranded-work": {
        "task": "maintenance.reap",
        "schedule": _float("AGENTWORKER_REAPER_INTERVAL_SECONDS", 10.0),
        "options": {"queue": "maintenance", "expires": 60},
    },
    "expire-approvals": {
        "task": "maintenance.expire_approvals",
        "schedule": _float("AGENTWORKER_APPROVAL_EXPIRY_INTERVAL_SECONDS", 30.0),
        "options": {"queue": "maintenance", "expires": 60},
    },
    "deliver-notifications": {
        "task": "notifications.sweep",
        "schedule": _float("AGENTWORKER_NOTIFICATION_SWEEP_INTERVAL_SECONDS", 5.0),
        "options": {"queue": "maintenance", "expires": 30},
    },
    "aggregate-agent-performance": {
        "task": "maintenance.aggregate_agent_performance",
        "schedule": _float("AGENTWORKER_AGENT_PERFORMANCE_INTERVAL_SECONDS", 900.0),
        "options": {"queue": "maintenance", "expires": 600},
    },
    # Deletes old history in small batches (worker.ops.retention); a run left unfinished by a
    # time limit is taken up by the next.
    "apply-retention": {
        "task": "maintenance.retention",
        "schedule": _float("AGENTWORKER_RETENTION_INTERVAL_SECONDS", 3600.0),
        "options": {"queue": "maintenance", "expires": 600},
    },
    # A scrape reads live rows only: settled history is folded into totals (issue 15).
    "fold-metrics-history": {
        "task": "maintenance.fold_metrics",
        "schedule": _float("AGENTWORKER_METRICS_FOLD_INTERVAL_SECONDS", 60.0),
        "options": {"queue": "maintenance", "expires": 60},
    },
    "run-automation-rules": {
        "task": "automation.sweep",
        "schedule": _float("AGENTWORKER_AUTOMATION_SWEEP_INTERVAL_SECONDS", 10.0),
        "options": {"queue": "maintenance", "expires": 30},
    },
}

worker_hijack_root_logger = False
