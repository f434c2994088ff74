"""worker/agents/loop.py: the loop's decisions as pure functions over the conversation."""

from __future__ import annotations

import json
from typing import Any

from worker.agents.definitions import AgentConfiguration
from worker.agents.loop import (
    CallModel,
    Finish,
    GiveUp,
    InvalidOutput,
    RunTools,
    ValidOutput,
    check_output,
    initial_messages,
    next_step,
    response_format,
    summarize,
)

SYSTEM = {"role": "system", "content": "You plan events."}
USER = {"role": "user", "content": "Plan a venue shortlist"}
TOOL_CALL = {
    "id": "call_1",
    "type": "function",
    "function": {"name": "search_venues", "arguments": '{"city": "Lyon"}'},
}
SHORTLIST_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["venues"],
    "properties": {
        "venues": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"name": {"type": "string"}, "capacity": {"type": "integer"}},
            },
        }
    },
}


# --- next_step --------------------------------------------------------------------------------


def test_a_user_message_last_calls_the_model() -> None:
    assert next_step([SYSTEM, USER], llm_calls=0, max_steps=8) == CallModel()


def test_a_tool_result_last_calls_the_model_again() -> None:
    messages = [
        SYSTEM,
        USER,
        {"role": "assistant", "content": None, "tool_calls": [TOOL_CALL]},
        {"role": "tool", "tool_call_id": "call_1", "content": "[]"},
    ]

    assert next_step(messages, llm_calls=1, max_steps=8) == CallModel()


def test_an_assistant_message_with_tool_calls_runs_those_tools() -> None:
    second = {**TOOL_CALL, "id": "call_2"}
    messages = [
        SYSTEM,
        USER,
        {"role": "assistant", "content": None, "tool_calls": [TOOL_CALL, second]},
    ]

    assert next_step(messages, llm_calls=1, max_steps=8) == RunTools((TOOL_CALL, second))


def test_an_assistant_message_with_text_finishes_with_that_text() -> None:
    messages = [SYSTEM, USER, {"role": "assistant", "content": "Hall A, Hall B"}]

    assert next_step(messages, llm_calls=1, max_steps=8) == Finish("Hall A, Hall B")


def test_an_assistant_message_with_an_empty_tool_call_list_finishes() -> None:
    messages = [SYSTEM, USER, {"role": "assistant", "content": "done", "tool_calls": []}]

    assert next_step(messages, llm_calls=1, max_steps=8) == Finish("done")


def test_an_assistant_message_without_content_finishes_with_empty_text() -> None:
    messages = [SYSTEM, USER, {"role": "assistant", "content": None}]

    assert next_step(messages, llm_calls=1, max_steps=8) == Finish("")


def test_reaching_the_step_limit_gives_up_naming_max_steps() -> None:
    step = next_step([SYSTEM, USER], llm_calls=3, max_steps=3)

    assert isinstance(step, GiveUp)
    assert "step limit (3 model calls)" in step.reason
    assert "max_steps" in step.reason


def test_one_call_below_the_step_limit_still_calls_the_model() -> None:
    assert next_step([SYSTEM, USER], llm_calls=2, max_steps=3) == CallModel()


def test_a_final_answer_at_the_step_limit_still_finishes() -> None:
    messages = [SYSTEM, USER, {"role": "assistant", "content": "Hall A"}]

    assert next_step(messages, llm_calls=3, max_steps=3) == Finish("Hall A")


def test_tool_calls_at_the_step_limit_still_run() -> None:
    messages = [SYSTEM, USER, {"role": "assistant", "content": None, "tool_calls": [TOOL_CALL]}]

    assert next_step(messages, llm_calls=3, max_steps=3) == RunTools((TOOL_CALL,))


# --- check_output -----------------------------------------------------------------------------


def test_without_a_schema_the_output_is_the_text() -> None:
    assert check_output("Hall A, Hall B", None) == ValidOutput("Hall A, Hall B")


def test_without_a_schema_text_that_looks_like_json_stays_text() -> None:
    assert check_output('{"a": 1}', None) == ValidOutput('{"a": 1}')


def test_with_a_schema_valid_json_is_the_parsed_value() -> None:
    content = '{"venues": [{"name": "Hall A", "capacity": 300}]}'

    assert check_output(content, SHORTLIST_SCHEMA) == ValidOutput(
        {"venues": [{"name": "Hall A", "capacity": 300}]}
    )


def test_with_a_schema_text_that_is_not_json_is_invalid_and_says_so() -> None:
    result = check_output("Here is your shortlist: Hall A", SHORTLIST_SCHEMA)

    assert isinstance(result, InvalidOutput)
    assert result.problem.startswith("it is not JSON (")


def test_with_a_schema_empty_text_is_invalid() -> None:
    assert isinstance(check_output("", SHORTLIST_SCHEMA), InvalidOutput)


def test_a_schema_violation_names_the_path_of_the_offending_value() -> None:
    content = '{"venues": [{"name": "Hall A", "capacity": "lots"}]}'

    result = check_output(content, SHORTLIST_SCHEMA)

    assert result == InvalidOutput("at venues/0/capacity: 'lots' is not of type 'integer'")


def test_a_schema_violation_at_the_root_says_the_top_level() -> None:
    result = check_output("{}", SHORTLIST_SCHEMA)

    assert result == InvalidOutput("at the top level: 'venues' is a required property")


def test_invalid_output_feedback_is_a_user_message_quoting_the_problem() -> None:
    feedback = InvalidOutput("at venues/0/capacity: 'lots' is not of type 'integer'").feedback()

    assert feedback == {
        "role": "user",
        "content": "Your answer does not match the required JSON Schema: "
        "at venues/0/capacity: 'lots' is not of type 'integer'. "
        "Reply again with only a JSON value that matches it.",
    }


# --- initial_messages and response_format -----------------------------------------------------


def test_initial_messages_are_the_system_prompt_then_the_text_input() -> None:
    configuration = AgentConfiguration(system_prompt="You plan events.")

    assert initial_messages(configuration, "Plan a venue shortlist", None) == [
        {"role": "system", "content": "You plan events."},
        {"role": "user", "content": "Plan a venue shortlist"},
    ]


def test_initial_messages_use_the_default_system_prompt() -> None:
    messages = initial_messages(AgentConfiguration(), "hi", None)

    assert messages[0] == {"role": "system", "content": "You are a helpful assistant."}


def test_an_object_input_is_sent_as_json_keeping_non_ascii_text() -> None:
    payload = {"city": "Zürich", "guests": 120}

    messages = initial_messages(AgentConfiguration(), None, payload)

    assert messages[1] == {"role": "user", "content": '{"city": "Zürich", "guests": 120}'}
    assert json.loads(messages[1]["content"]) == payload


def test_no_output_schema_means_no_response_format() -> None:
    assert response_format(AgentConfiguration()) is None


def test_an_output_schema_becomes_a_json_schema_response_format() -> None:
    configuration = AgentConfiguration(output_schema=SHORTLIST_SCHEMA)

    assert response_format(configuration) == {
        "type": "json_schema",
        "json_schema": {"name": "output", "schema": SHORTLIST_SCHEMA},
    }


# --- summarize --------------------------------------------------------------------------------


def test_short_text_is_summarized_unchanged() -> None:
    assert summarize("Hall A") == "Hall A"


def test_text_exactly_at_the_limit_is_not_truncated() -> None:
    assert summarize("x" * 10, limit=10) == "x" * 10


def test_long_text_is_cut_to_the_limit_ending_with_an_ellipsis() -> None:
    summary = summarize("abcdefghijkl", limit=5)

    assert summary == "abcd…"
    assert len(summary) == 5


def test_the_default_limit_is_500_characters() -> None:
    assert len(summarize("x" * 1000)) == 500


def test_structured_output_is_summarized_as_json() -> None:
    assert (
        summarize({"venue": "Zürich Hall", "seats": 300})
        == '{"venue": "Zürich Hall", "seats": 300}'
    )
