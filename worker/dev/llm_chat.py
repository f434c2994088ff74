"""The local LLM server's deterministic chat completions: the same request, the same reply.

When tools are offered and no tool results have come back since the last user message, the
assistant calls every offered tool (``[[tools: a, b]]`` in the user's message picks some,
``[[no-tools]]`` none), with arguments generated from each tool's JSON Schema
(``[[tool-rounds: N]]`` asks for them N times, one round of calls per reply, before it
answers: a run of N + 1 model calls); otherwise it
answers ``"Answer to: <user text>"``, plus ``" | Based on: <tool results>"`` once tools have
answered, shaped by ``response_format`` when one is given. Token usage counts words, so tests
can predict it.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from dataclasses import dataclass
from typing import Any

from worker.dev.llm_errors import ApiError
from worker.dev.llm_schema import (
    ANSWER_TEXT_PROPERTIES,
    TOOL_TEXT_PROPERTIES,
    TextSource,
    example_value,
)

_DIRECTIVE = re.compile(r"\[\[(.*?)\]\]", re.DOTALL)
_TOOLS_DIRECTIVE = re.compile(r"^\s*tools\s*:(.*)$", re.IGNORECASE | re.DOTALL)
_ROUNDS_DIRECTIVE = re.compile(r"^\s*tool-rounds\s*:\s*(\d+)\s*$", re.IGNORECASE)


def _text_of(content: object) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


def _words(text: str) -> int:
    return len(text.split())


def _sha1(*parts: str) -> str:
    return hashlib.sha1("\x1f".join(parts).encode()).hexdigest()


@dataclass(frozen=True)
class Conversation:
    last_user: str
    tool_results: list[str]
    tools: list[dict[str, Any]]
    #: Replies with tool calls since the last user message.
    rounds: int = 0

    @classmethod
    def from_messages(cls, messages: list[Any], tools: list[Any]) -> Conversation:
        last_user_index = max(
            (i for i, m in enumerate(messages) if isinstance(m, dict) and m.get("role") == "user"),
            default=-1,
        )
        last_user = (
            _text_of(messages[last_user_index].get("content")) if last_user_index >= 0 else ""
        )
        results = [
            _text_of(m.get("content"))
            for m in messages[last_user_index + 1 :]
            if isinstance(m, dict) and m.get("role") == "tool"
        ]
        functions = [
            t["function"]
            for t in tools
            if isinstance(t, dict) and isinstance(t.get("function"), dict)
        ]
        rounds = sum(
            1
            for m in messages[last_user_index + 1 :]
            if isinstance(m, dict) and m.get("role") == "assistant" and m.get("tool_calls")
        )
        return cls(last_user, results, functions, rounds)

    @property
    def rounds_wanted(self) -> int:
        for directive in _DIRECTIVE.findall(self.last_user):
            if match := _ROUNDS_DIRECTIVE.match(directive):
                return int(match.group(1))
        return 1

    @property
    def clean_user_text(self) -> str:
        return _DIRECTIVE.sub("", self.last_user).strip()[:500]

    def tools_to_call(self, tool_choice: object) -> list[str]:
        offered = [str(t.get("name")) for t in self.tools]
        if not offered or tool_choice == "none":
            return []
        if self.tool_results and self.rounds >= self.rounds_wanted:
            return []
        if isinstance(tool_choice, dict):
            return [str((tool_choice.get("function") or {}).get("name"))]
        for directive in _DIRECTIVE.findall(self.last_user):
            if directive.strip().lower() == "no-tools":
                return []
            if match := _TOOLS_DIRECTIVE.match(directive):
                return [name.strip() for name in match.group(1).split(",") if name.strip()]
        return offered

    def answer(self) -> str:
        answer = f"Answer to: {self.clean_user_text}"
        if self.tool_results:
            answer += " | Based on: " + " ; ".join(r[:300] for r in self.tool_results)
        return answer


def _tool_call(
    conversation: Conversation,
    model: str,
    name: str,
    index: int,
    scripted: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A call to ``name``; a name that was not offered (via ``[[tools: …]]``) gets ``{}``,
    which lets tests exercise a model calling an unknown tool. ``scripted`` arguments replace
    the generated ones of the same name."""
    schema = next((t.get("parameters") for t in conversation.tools if t.get("name") == name), None)
    source = TextSource(conversation.clean_user_text, conversation.last_user, TOOL_TEXT_PROPERTIES)
    arguments = example_value(schema, source) if isinstance(schema, dict) else {}
    if scripted and isinstance(arguments, dict):
        arguments = {**arguments, **scripted}
    # A later round's calls get ids of their own (the first round's are as they always were).
    round_ = f"#{conversation.rounds}" if conversation.rounds else ""
    return {
        "id": "call_" + _sha1(model, conversation.last_user, name, str(index) + round_)[:24],
        "type": "function",
        "function": {"name": name, "arguments": json.dumps(arguments)},
    }


def _content_for(answer: str, conversation: Conversation, response_format: object) -> str:
    if not isinstance(response_format, dict):
        return answer
    schema = (response_format.get("json_schema") or {}).get("schema")
    if response_format.get("type") == "json_schema" and isinstance(schema, dict):
        source = TextSource(answer, conversation.last_user, ANSWER_TEXT_PROPERTIES)
        return json.dumps(example_value(schema, source))
    if response_format.get("type") in ("json_object", "json_schema"):
        return json.dumps({"answer": answer})
    return answer


def _prompt_tokens(messages: list[Any], tools: list[Any]) -> int:
    words = 0
    for message in (m for m in messages if isinstance(m, dict)):
        words += _words(_text_of(message.get("content")))
        for call in message.get("tool_calls") or []:
            words += _words(str((call.get("function") or {}).get("arguments", "")))
    return max(1, words + 10 * len(tools))


def _require_chat_fields(body: dict[str, Any]) -> None:
    if not isinstance(body.get("model"), str) or not body["model"]:
        raise ApiError(400, "you must provide a model parameter", param="model")
    if not isinstance(body.get("messages"), list):
        raise ApiError(400, "'messages' must be a list of message objects", param="messages")
    if body.get("stream"):
        raise ApiError(
            400,
            "streaming is not supported by the local LLM server; call without stream=True",
            param="stream",
        )


def chat_completion(
    body: dict[str, Any], *, scripted_arguments: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The deterministic answer to a chat completions request body; ``scripted_arguments``
    go into every tool call it makes."""
    _require_chat_fields(body)
    model, messages = body["model"], body["messages"]
    tools: list[Any] = body["tools"] if isinstance(body.get("tools"), list) else []
    conversation = Conversation.from_messages(messages, tools)
    names = conversation.tools_to_call(body.get("tool_choice"))
    message: dict[str, Any] = {"role": "assistant", "refusal": None, "annotations": []}
    if names:
        calls = [
            _tool_call(conversation, model, name, i, scripted_arguments)
            for i, name in enumerate(names)
        ]
        message |= {"content": None, "tool_calls": calls}
        output = " ".join(c["function"]["arguments"] for c in calls)
    else:
        output = _content_for(conversation.answer(), conversation, body.get("response_format"))
        message["content"] = output
    prompt_tokens = _prompt_tokens(messages, tools)
    completion_tokens = max(1, _words(output))
    return {
        "id": "chatcmpl-" + _sha1(json.dumps(body, sort_keys=True))[:24],
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "system_fingerprint": "fp_agentworker_local",
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": "tool_calls" if names else "stop",
                "logprobs": None,
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }
