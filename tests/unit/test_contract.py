"""worker/core/contract.py: the payloads other services send, validated at the edge."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from worker.core.contract import (
    IngestKnowledgeRequest,
    InvalidPayload,
    RunTaskRequest,
    TaskReference,
    parse_payload,
    payload_size,
)
from worker.core.errors import AgentWorkerError

README_EXAMPLE = {"tenant": "acme", "agent": "assistant", "input": "Plan a venue shortlist"}


def rejection(model: type[Any], payload: Any) -> str:
    with pytest.raises(InvalidPayload) as caught:
        parse_payload(model, payload)
    return str(caught.value)


# --- RunTaskRequest: accepted -----------------------------------------------------------------


def test_a_text_input_payload_is_accepted() -> None:
    request = parse_payload(RunTaskRequest, README_EXAMPLE)

    assert (request.tenant, request.agent, request.input) == (
        "acme",
        "assistant",
        "Plan a venue shortlist",
    )


def test_an_object_input_payload_is_accepted_as_a_dict() -> None:
    payload = {**README_EXAMPLE, "input": {"city": "Lyon", "guests": 120}}

    assert parse_payload(RunTaskRequest, payload).input == {"city": "Lyon", "guests": 120}


def test_optional_fields_take_their_defaults() -> None:
    request = parse_payload(RunTaskRequest, README_EXAMPLE)

    assert (request.idempotency_key, request.priority, request.metadata) == (None, 0, {})


def test_all_optional_fields_are_accepted() -> None:
    payload = {
        **README_EXAMPLE,
        "idempotency_key": "order-42",
        "priority": 9,
        "metadata": {"source": "crm"},
    }

    request = parse_payload(RunTaskRequest, payload)

    assert (request.idempotency_key, request.priority, request.metadata) == (
        "order-42",
        9,
        {"source": "crm"},
    )


def test_agent_names_may_contain_dots_dashes_and_underscores() -> None:
    payload = {**README_EXAMPLE, "agent": "venue.finder-v2_beta"}

    assert parse_payload(RunTaskRequest, payload).agent == "venue.finder-v2_beta"


def test_names_with_surrounding_whitespace_are_rejected_as_the_schema_does() -> None:
    text = rejection(RunTaskRequest, {**README_EXAMPLE, "tenant": " acme", "agent": " assistant"})

    assert "field 'tenant': String should match pattern" in text
    assert "field 'agent': String should match pattern" in text


def test_a_priority_given_as_text_is_rejected_as_the_schema_does() -> None:
    text = rejection(RunTaskRequest, {**README_EXAMPLE, "priority": "5"})

    assert "field 'priority': Input should be a valid integer" in text


def test_a_parsed_request_is_immutable() -> None:
    request = parse_payload(RunTaskRequest, README_EXAMPLE)

    with pytest.raises(ValueError, match="frozen"):
        request.priority = 5  # type: ignore[misc]


# --- RunTaskRequest: rejected -----------------------------------------------------------------


def test_a_missing_field_is_named_as_required() -> None:
    payload = {"tenant": "acme", "agent": "assistant"}

    assert rejection(RunTaskRequest, payload) == (
        "invalid RunTaskRequest payload: field 'input' is required"
    )


def test_every_missing_field_is_listed() -> None:
    assert rejection(RunTaskRequest, {}) == (
        "invalid RunTaskRequest payload: field 'tenant' is required; "
        "field 'agent' is required; field 'input' is required"
    )


def test_an_unknown_field_is_named_as_not_part_of_the_contract() -> None:
    payload = {**README_EXAMPLE, "prompt": "hi"}

    assert rejection(RunTaskRequest, payload) == (
        "invalid RunTaskRequest payload: unknown field 'prompt' (not part of the contract)"
    )


@pytest.mark.parametrize("agent", ["-planner", "plan ner", "planner!", "_planner"])
def test_an_agent_name_outside_the_pattern_is_rejected_quoting_the_pattern(agent: str) -> None:
    text = rejection(RunTaskRequest, {**README_EXAMPLE, "agent": agent})

    assert text == (
        "invalid RunTaskRequest payload: field 'agent': "
        r"String should match pattern '^[A-Za-z0-9][A-Za-z0-9_.\-]*$'"
    )


def test_a_priority_above_nine_is_rejected_with_the_bound() -> None:
    assert rejection(RunTaskRequest, {**README_EXAMPLE, "priority": 10}) == (
        "invalid RunTaskRequest payload: field 'priority': Input should be less than or equal to 9"
    )


def test_a_negative_priority_is_rejected_with_the_bound() -> None:
    assert rejection(RunTaskRequest, {**README_EXAMPLE, "priority": -1}) == (
        "invalid RunTaskRequest payload: field 'priority': "
        "Input should be greater than or equal to 0"
    )


def test_metadata_of_the_wrong_type_is_rejected() -> None:
    assert rejection(RunTaskRequest, {**README_EXAMPLE, "metadata": ["crm"]}) == (
        "invalid RunTaskRequest payload: field 'metadata': Input should be a valid dictionary"
    )


def test_a_tenant_of_the_wrong_type_is_rejected() -> None:
    assert rejection(RunTaskRequest, {**README_EXAMPLE, "tenant": 42}) == (
        "invalid RunTaskRequest payload: field 'tenant': Input should be a valid string"
    )


def test_an_input_that_is_neither_text_nor_an_object_is_rejected_naming_input() -> None:
    text = rejection(RunTaskRequest, {**README_EXAMPLE, "input": ["a", "b"]})

    assert text.startswith("invalid RunTaskRequest payload: field 'input")
    assert "valid string" in text
    assert "valid dictionary" in text


def test_a_blank_tenant_is_rejected() -> None:
    assert "field 'tenant': String should match pattern" in rejection(
        RunTaskRequest, {**README_EXAMPLE, "tenant": "   "}
    )


def test_an_empty_idempotency_key_is_rejected() -> None:
    text = rejection(RunTaskRequest, {**README_EXAMPLE, "idempotency_key": ""})

    assert "field 'idempotency_key': String should have at least 1 character" in text


def test_an_over_long_agent_name_is_rejected() -> None:
    text = rejection(RunTaskRequest, {**README_EXAMPLE, "agent": "a" * 101})

    assert "field 'agent': String should have at most 100 characters" in text


@pytest.mark.parametrize("payload", [None, "run it", ["acme"]])
def test_a_payload_that_is_not_an_object_is_rejected_as_a_whole(payload: Any) -> None:
    assert rejection(RunTaskRequest, payload).startswith(
        "invalid RunTaskRequest payload: field 'payload': Input should be a valid dictionary"
    )


def test_an_invalid_payload_is_a_non_retryable_agentworker_error() -> None:
    with pytest.raises(AgentWorkerError) as caught:
        parse_payload(RunTaskRequest, {})

    assert (caught.value.code, caught.value.retryable) == ("invalid_payload", False)


def test_an_invalid_payload_keeps_the_validation_error_as_its_cause() -> None:
    with pytest.raises(InvalidPayload) as caught:
        parse_payload(RunTaskRequest, {})

    assert caught.value.__cause__ is not None


# --- TaskReference ----------------------------------------------------------------------------


def test_a_task_reference_parses_its_uuid() -> None:
    task_id = uuid.uuid4()

    assert parse_payload(TaskReference, {"task_id": str(task_id)}).task_id == task_id


def test_a_task_reference_with_a_malformed_id_is_rejected() -> None:
    text = rejection(TaskReference, {"task_id": "task-42"})

    assert text.startswith(
        "invalid TaskReference payload: field 'task_id': Input should be a valid UUID"
    )


def test_a_task_reference_with_extra_fields_is_rejected() -> None:
    text = rejection(TaskReference, {"task_id": str(uuid.uuid4()), "tenant": "acme"})

    assert text == (
        "invalid TaskReference payload: unknown field 'tenant' (not part of the contract)"
    )


# --- IngestKnowledgeRequest -------------------------------------------------------------------


def test_an_inline_document_is_accepted_with_defaults() -> None:
    request = parse_payload(
        IngestKnowledgeRequest, {"tenant": "acme", "name": "faq", "text": "Doors open at 9."}
    )

    assert request.text == "Doors open at 9."
    assert (request.path, request.source_type, request.chunk_size, request.chunk_overlap) == (
        None,
        "text",
        None,
        None,
    )
    assert request.metadata == {}


def test_a_document_by_path_with_chunking_options_is_accepted() -> None:
    request = parse_payload(
        IngestKnowledgeRequest,
        {
            "tenant": "acme",
            "name": "handbook",
            "path": "/data/handbook.md",
            "source_type": "markdown",
            "chunk_size": 400,
            "chunk_overlap": 50,
        },
    )

    assert (request.path, request.source_type, request.chunk_size, request.chunk_overlap) == (
        "/data/handbook.md",
        "markdown",
        400,
        50,
    )


def test_an_unknown_source_type_is_rejected() -> None:
    text = rejection(IngestKnowledgeRequest, {"tenant": "acme", "name": "x", "source_type": "pdf"})

    assert text == (
        "invalid IngestKnowledgeRequest payload: field 'source_type': "
        "String should match pattern '^(text|markdown|file)$'"
    )


def test_a_chunk_size_of_zero_is_rejected() -> None:
    text = rejection(IngestKnowledgeRequest, {"tenant": "acme", "name": "x", "chunk_size": 0})

    assert "field 'chunk_size': Input should be greater than 0" in text


def test_a_chunk_size_above_twenty_thousand_is_rejected() -> None:
    text = rejection(IngestKnowledgeRequest, {"tenant": "acme", "name": "x", "chunk_size": 20001})

    assert "field 'chunk_size': Input should be less than or equal to 20000" in text


def test_a_negative_chunk_overlap_is_rejected() -> None:
    text = rejection(IngestKnowledgeRequest, {"tenant": "acme", "name": "x", "chunk_overlap": -1})

    assert "field 'chunk_overlap': Input should be greater than or equal to 0" in text


def test_an_ingest_request_without_a_name_is_rejected() -> None:
    assert rejection(IngestKnowledgeRequest, {"tenant": "acme", "text": "hi"}) == (
        "invalid IngestKnowledgeRequest payload: field 'name' is required"
    )


# --- payload_size -----------------------------------------------------------------------------


def test_payload_size_is_the_length_of_the_json_encoding() -> None:
    assert payload_size({"a": 1}) == len('{"a": 1}')


def test_payload_size_counts_utf8_bytes_not_characters() -> None:
    assert payload_size("é") == len('"é"'.encode())


def test_payload_size_encodes_unknown_types_as_strings() -> None:
    value = uuid.UUID(int=0)

    assert payload_size(value) == len(f'"{value}"')
