"""The published JSON Schemas in ``worker/schemas/`` equal the contract's pydantic models.

After changing ``worker/core/contract.py``, regenerate them with::

    agentworker schemas --write
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from worker.cli.schemas import SCHEMA_DIR, json_schemas, render
from worker.core.contract import INGEST_KNOWLEDGE, RUN_TASK

REGENERATE = "agentworker schemas --write"
RUN_TASK_FILE = f"{RUN_TASK}.v1.json"
INGEST_FILE = f"{INGEST_KNOWLEDGE}.v1.json"


def write_schemas(directory: Path = SCHEMA_DIR) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, schema in sorted(json_schemas().items()):
        path = directory / name
        path.write_text(render(schema), encoding="utf-8")
        written.append(path)
    return written


def committed(name: str) -> dict[str, Any]:
    return json.loads((SCHEMA_DIR / name).read_text(encoding="utf-8"))


def is_valid(name: str, payload: Any) -> bool:
    schema = committed(name)
    validator_class = jsonschema.validators.validator_for(schema)
    return validator_class(schema).is_valid(payload)


# --- the committed files match the code -------------------------------------------------------


@pytest.mark.parametrize("name", sorted(json_schemas()))
def test_the_committed_schema_equals_the_one_generated_from_the_code(name: str) -> None:
    path = SCHEMA_DIR / name
    assert path.is_file(), f"{path} is missing: regenerate it by running `{REGENERATE}`"

    assert path.read_text(encoding="utf-8") == render(json_schemas()[name]), (
        f"{path} differs from worker/core/contract.py: regenerate it by running `{REGENERATE}`"
    )


def test_no_schema_file_is_published_that_the_code_does_not_generate() -> None:
    stale = sorted({path.name for path in SCHEMA_DIR.glob("*.json")} - set(json_schemas()))

    assert stale == [], f"stale schema files {stale}: regenerate by running `{REGENERATE}`"


@pytest.mark.parametrize("name", sorted(json_schemas()))
def test_the_committed_schema_is_a_valid_draft_2020_12_schema(name: str) -> None:
    jsonschema.Draft202012Validator.check_schema(committed(name))


@pytest.mark.parametrize("name", sorted(json_schemas()))
def test_each_schema_names_its_task_and_contract_version(name: str) -> None:
    schema = committed(name)

    assert schema["$id"] == f"agentworker/{name}"
    if name != "workflow-steps.v1.json":  # a data format, not a task's payload
        assert schema["description"].startswith(f"Celery task '{name.removesuffix('.v1.json')}'")


def test_write_schemas_reproduces_the_committed_files(tmp_path: Path) -> None:
    written = write_schemas(tmp_path)

    assert {path.name: path.read_text(encoding="utf-8") for path in written} == {
        name: (SCHEMA_DIR / name).read_text(encoding="utf-8") for name in json_schemas()
    }


# --- example payloads against the committed files ---------------------------------------------


VALID_RUN_TASK = [
    pytest.param(
        {"tenant": "acme", "agent": "assistant", "input": "Plan a venue shortlist"},
        id="readme-example",
    ),
    pytest.param(
        {"tenant": "acme", "agent": "venue.finder-v2", "input": {"city": "Lyon", "guests": 120}},
        id="object-input",
    ),
    pytest.param(
        {
            "tenant": "0b0e7f3c-8f5e-4a57-9a43-8f2d3f6a1c11",
            "agent": "assistant",
            "input": "hi",
            "idempotency_key": "order-42",
            "priority": 9,
            "metadata": {"source": "crm"},
        },
        id="every-field",
    ),
    pytest.param(
        {"tenant": "acme", "agent": "assistant", "input": "hi", "idempotency_key": None},
        id="null-idempotency-key",
    ),
]

INVALID_RUN_TASK = [
    pytest.param({"tenant": "acme", "agent": "assistant"}, id="missing-input"),
    pytest.param({"agent": "assistant", "input": "hi"}, id="missing-tenant"),
    pytest.param(
        {"tenant": "acme", "agent": "assistant", "input": "hi", "prompt": "hi"}, id="unknown-field"
    ),
    pytest.param({"tenant": "acme", "agent": "-assistant", "input": "hi"}, id="bad-agent-name"),
    pytest.param({"tenant": "acme", "agent": "assistant", "input": 5}, id="numeric-input"),
    pytest.param({"tenant": "acme", "agent": "assistant", "input": ["hi"]}, id="list-input"),
    pytest.param(
        {"tenant": "acme", "agent": "assistant", "input": "hi", "priority": 10}, id="priority-10"
    ),
    pytest.param(
        {"tenant": "acme", "agent": "assistant", "input": "hi", "priority": -1},
        id="priority-negative",
    ),
    pytest.param(
        {"tenant": "acme", "agent": "assistant", "input": "hi", "metadata": []}, id="list-metadata"
    ),
    pytest.param({"tenant": "", "agent": "assistant", "input": "hi"}, id="empty-tenant"),
]

VALID_INGEST = [
    pytest.param({"tenant": "acme", "name": "faq", "text": "Doors open at 9."}, id="inline"),
    pytest.param(
        {
            "tenant": "acme",
            "name": "handbook",
            "path": "/data/handbook.md",
            "source_type": "markdown",
            "chunk_size": 400,
            "chunk_overlap": 50,
            "metadata": {"lang": "en"},
        },
        id="by-path",
    ),
]

INVALID_INGEST = [
    pytest.param({"tenant": "acme", "text": "hi"}, id="missing-name"),
    pytest.param({"tenant": "acme", "name": "x", "source_type": "pdf"}, id="unknown-source-type"),
    pytest.param({"tenant": "acme", "name": "x", "chunk_size": 0}, id="chunk-size-0"),
    pytest.param({"tenant": "acme", "name": "x", "chunk_size": 20001}, id="chunk-size-too-big"),
    pytest.param({"tenant": "acme", "name": "x", "chunk_overlap": -1}, id="negative-overlap"),
    pytest.param({"tenant": "acme", "name": "x", "url": "http://x"}, id="unknown-field"),
]


@pytest.mark.parametrize("payload", VALID_RUN_TASK)
def test_valid_run_task_payloads_pass_the_published_schema(payload: dict[str, Any]) -> None:
    assert is_valid(RUN_TASK_FILE, payload)


@pytest.mark.parametrize("payload", INVALID_RUN_TASK)
def test_invalid_run_task_payloads_fail_the_published_schema(payload: dict[str, Any]) -> None:
    assert not is_valid(RUN_TASK_FILE, payload)


@pytest.mark.parametrize("payload", VALID_INGEST)
def test_valid_ingest_payloads_pass_the_published_schema(payload: dict[str, Any]) -> None:
    assert is_valid(INGEST_FILE, payload)


@pytest.mark.parametrize("payload", INVALID_INGEST)
def test_invalid_ingest_payloads_fail_the_published_schema(payload: dict[str, Any]) -> None:
    assert not is_valid(INGEST_FILE, payload)


if __name__ == "__main__":
    for path in write_schemas():
        print(f"wrote {path}")
