"""The digest a tool approval is bound to: one canonical form of the tool and its arguments."""

from __future__ import annotations

import hashlib

import pytest

from worker.approvals.digests import (
    call_arguments,
    canonical_json,
    check_edited_arguments,
    tool_call_digest,
)
from worker.approvals.errors import InvalidEditedArguments


def test_the_digest_is_sha256_of_the_documented_canonical_form() -> None:
    document = '{"arguments":{"body":"café","to":"a@b.c"},"tool":"send"}'

    assert tool_call_digest("send", {"to": "a@b.c", "body": "café"}) == (
        hashlib.sha256(document.encode()).hexdigest()
    )


def test_key_order_and_whitespace_of_the_model_s_json_do_not_change_the_digest() -> None:
    one = call_arguments('{"to": "a@b.c",  "body": {"x": 1, "y": [1, 2]}}')
    other = call_arguments('{"body":{"y":[1,2],"x":1},"to":"a@b.c"}')

    assert tool_call_digest("send", one) == tool_call_digest("send", other)


def test_another_tool_value_or_type_changes_the_digest() -> None:
    base = tool_call_digest("send", {"n": 1})

    assert base != tool_call_digest("post", {"n": 1})
    assert base != tool_call_digest("send", {"n": 2})
    assert base != tool_call_digest("send", {"n": "1"})


def test_a_secret_reference_is_digested_as_the_reference() -> None:
    arguments = call_arguments('{"token": {"$secret": "tenant:crm"}}')

    assert arguments == {"token": {"$secret": "tenant:crm"}}
    assert "tenant:crm" in canonical_json({"tool": "t", "arguments": arguments})


def test_text_that_is_not_a_json_object_is_digested_as_text() -> None:
    assert call_arguments("not json") == "not json"
    assert call_arguments("[1, 2]") == "[1, 2]"


def test_edited_arguments_are_checked_against_the_tool_s_schema() -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}

    check_edited_arguments("t", schema, {"n": 3})
    with pytest.raises(InvalidEditedArguments, match="n: 'x' is not of type 'integer'"):
        check_edited_arguments("t", schema, {"n": "x"})
    with pytest.raises(InvalidEditedArguments, match="must be a JSON object"):
        check_edited_arguments("t", schema, ["n"])


def test_edited_arguments_over_the_input_limit_are_refused_saying_the_limit() -> None:
    from worker.core.limits import DEFAULT_MAX_INPUT_BYTES

    schema = {"type": "object", "properties": {"body": {"type": "string"}}}
    huge = {"body": "x" * (DEFAULT_MAX_INPUT_BYTES + 1)}

    with pytest.raises(InvalidEditedArguments, match="the limit is"):
        check_edited_arguments("send", schema, huge)
    check_edited_arguments("send", schema, {"body": "short"})
