"""The agent loop's decisions, as pure functions over the persisted conversation.

``next_step`` looks at the messages and says what happens next: call the model, run the tool
calls the model asked for, finish, or give up. The runner dispatches on that and persists each
step, so a redelivered task resumes from its last persisted message.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import jsonschema

from worker.agents.definitions import AgentConfiguration


@dataclass(frozen=True)
class CallModel:
    pass


@dataclass(frozen=True)
class RunTools:
    calls: tuple[dict[str, Any], ...]


@dataclass(frozen=True)
class Finish:
    content: str


@dataclass(frozen=True)
class GiveUp:
    reason: str


NextStep = CallModel | RunTools | Finish | GiveUp


def initial_messages(
    configuration: AgentConfiguration, input_prompt: str | None, input_payload: Any
) -> list[dict[str, Any]]:
    if input_prompt is None:
        input_prompt = json.dumps(input_payload, ensure_ascii=False, default=str)
    return [
        {"role": "system", "content": configuration.system_prompt},
        {"role": "user", "content": input_prompt},
    ]


def next_step(messages: list[dict[str, Any]], *, llm_calls: int, max_steps: int) -> NextStep:
    last = messages[-1]
    if last["role"] == "assistant":
        calls = last.get("tool_calls") or []
        if calls:
            return RunTools(tuple(calls))  # results are appended together, after all calls ran
        return Finish(last.get("content") or "")
    if llm_calls >= max_steps:
        return GiveUp(
            f"the agent reached its step limit ({max_steps} model calls) without a final "
            "answer; raise max_steps in its configuration or simplify the task"
        )
    return CallModel()


def response_format(configuration: AgentConfiguration) -> dict[str, Any] | None:
    if configuration.output_schema is None:
        return None
    return {
        "type": "json_schema",
        "json_schema": {"name": "output", "schema": configuration.output_schema},
    }


@dataclass(frozen=True)
class ValidOutput:
    value: Any


@dataclass(frozen=True)
class InvalidOutput:
    problem: str

    def feedback(self) -> dict[str, Any]:
        return {
            "role": "user",
            "content": f"Your answer does not match the required JSON Schema: {self.problem}. "
            "Reply again with only a JSON value that matches it.",
        }


def check_output(content: str, schema: dict[str, Any] | None) -> ValidOutput | InvalidOutput:
    """The run's output: the text, or, with an output schema, the validated JSON value."""
    if schema is None:
        return ValidOutput(content)
    try:
        value = json.loads(content)
    except ValueError as error:
        return InvalidOutput(f"it is not JSON ({error})")
    try:
        jsonschema.validate(value, schema)
    except jsonschema.ValidationError as error:
        where = "/".join(str(p) for p in error.absolute_path) or "the top level"
        return InvalidOutput(f"at {where}: {error.message}")
    return ValidOutput(value)


def summarize(output: Any, limit: int = 500) -> str:
    text = (
        output if isinstance(output, str) else json.dumps(output, ensure_ascii=False, default=str)
    )
    return text if len(text) <= limit else text[: limit - 1] + "…"
