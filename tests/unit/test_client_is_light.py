"""The Python client is light: a service that imports it and builds one from its environment
loads neither the openai SDK nor the worker's runtime, and no Celery signal hook is installed
in its process.

Each probe runs in a fresh interpreter, so what the test process imported does not count. The
same probe is also run on what must trip it, so the probe itself is shown to work.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.support.environment import without_services

ROOT = Path(__file__).resolve().parents[2]

#: Modules a light client must not load: the SDK, its retry library, the worker's runtime.
HEAVY = (
    "openai",
    "tenacity",
    "tasks",
    "worker.app",
    "worker.llm",
    "worker.agents.runner",
    "worker.agents.runtime",
    "worker.agents.tools",
    "worker.dev",
)
SIGNALS = (
    "setup_logging",
    "after_setup_logger",
    "task_prerun",
    "task_postrun",
    "worker_init",
    "worker_process_init",
    "worker_shutdown",
    "worker_process_shutdown",
)

PROBE = """
import json, sys
from celery import signals

def hooks():
    return {name: len(getattr(signals, name).receivers or []) for name in SIGNALS}

before = hooks()
exec(CODE)
after = hooks()
loaded = sorted(
    name for name in sys.modules
    if any(name == heavy or name.startswith(heavy + ".") for heavy in HEAVY)
)
print(json.dumps({
    "loaded": loaded,
    "hooked": {name: after[name] - before[name] for name in SIGNALS if after[name] != before[name]},
}))
"""


def _probe(code: str) -> dict[str, Any]:
    program = f"SIGNALS = {SIGNALS!r}\nHEAVY = {HEAVY!r}\nCODE = {code!r}\n{PROBE}"
    env = without_services(
        DATABASE_URL="postgresql://agentworker:unused@127.0.0.1:9/agentworker",
        REDIS_URL="redis://127.0.0.1:9/0",
    )
    done = subprocess.run(
        [sys.executable, "-c", program],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_importing_the_client_and_building_one_loads_no_runtime_and_hooks_nothing() -> None:
    result = _probe(
        "from worker.client import AgentWorkerClient\n"
        "client = AgentWorkerClient.from_env()\n"
        "client.close()\n"
    )
    assert result == {"loaded": [], "hooked": {}}


def test_the_probe_sees_the_sdk_and_the_hooks_when_the_worker_is_imported() -> None:
    result = _probe("import worker.app.process\nimport worker.agents.runner\n")
    assert "openai" in result["loaded"]
    assert "worker.app" in result["loaded"]
    assert result["hooked"].get("setup_logging") == 1
    assert result["hooked"].get("worker_shutdown") == 1
