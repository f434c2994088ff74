"""``agentworker schemas``: the contract's published JSON Schemas (``worker/schemas/``).

The files are generated from the pydantic models of the payloads and of workflow steps; a test
keeps them equal to the code, and ``agentworker schemas --write`` brings them up to date.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from pydantic import BaseModel

from worker.core.contract import (
    CONTRACT_VERSION,
    INGEST_KNOWLEDGE,
    RESOLVE_APPROVAL,
    RUN_TASK,
    START_WORKFLOW,
    IngestKnowledgeRequest,
    ResolveApprovalRequest,
    RunTaskRequest,
    StartWorkflowRequest,
)
from worker.workflows.definition import definition_json_schema

SCHEMA_DIR = Path(__file__).resolve().parents[1] / "schemas"


def json_schemas() -> dict[str, dict[str, Any]]:
    """The published schemas, by file name."""

    def schema(model: type[BaseModel], task: str) -> dict[str, Any]:
        body = model.model_json_schema()
        return {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": f"agentworker/{task}.v{CONTRACT_VERSION}.json",
            "description": f"Celery task '{task}', kwargs, contract version {CONTRACT_VERSION}. "
            + (body.pop("description", "") or ""),
            **body,
        }

    return {
        f"{RUN_TASK}.v{CONTRACT_VERSION}.json": schema(RunTaskRequest, RUN_TASK),
        f"{INGEST_KNOWLEDGE}.v{CONTRACT_VERSION}.json": schema(
            IngestKnowledgeRequest, INGEST_KNOWLEDGE
        ),
        f"{START_WORKFLOW}.v{CONTRACT_VERSION}.json": schema(StartWorkflowRequest, START_WORKFLOW),
        f"{RESOLVE_APPROVAL}.v{CONTRACT_VERSION}.json": schema(
            ResolveApprovalRequest, RESOLVE_APPROVAL
        ),
        "workflow-steps.v1.json": definition_json_schema(),
    }


def render(schema: dict[str, Any]) -> str:
    """A schema as its published file holds it."""
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


@click.command()
@click.option("--write", is_flag=True, help="Rewrite the files that differ from the code.")
def schemas(write: bool) -> None:
    """Check (or --write) the published JSON Schemas against the code."""
    stale = [
        name
        for name, schema in json_schemas().items()
        if not (SCHEMA_DIR / name).is_file()
        or (SCHEMA_DIR / name).read_text(encoding="utf-8") != render(schema)
    ]
    if write:
        for name in stale:
            (SCHEMA_DIR / name).write_text(render(json_schemas()[name]), encoding="utf-8")
        click.echo(f"{len(stale)} schema file(s) rewritten in {SCHEMA_DIR}")
        return
    if stale:
        raise click.ClickException(
            f"out of date: {', '.join(stale)}; run `agentworker schemas --write`"
        )
    click.echo(f"{len(json_schemas())} schema files match the code")
