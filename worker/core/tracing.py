"""Traces: OpenTelemetry spans for a submission, the Celery task, each agent step, each LLM
call and each tool call, in OpenTelemetry's GenAI semantic conventions (``SEMCONV_VERSION``).

Off by default, and free when off: ``ENABLED`` is the one switch, a module-level boolean each
helper checks first; off, a helper returns a shared do-nothing context (no span, no tracer,
no provider; the SDK is not even imported). ``configure`` turns tracing on once per process
as the settings say (``OTEL_TRACES_EXPORTER``: ``otlp`` or ``console``; the exporter reads
its own ``OTEL_EXPORTER_OTLP_*``), or with an exporter given (tests, the bench).

Trace context crosses the broker in the message headers (W3C ``traceparent``): every
publish of this process injects the current context (whoever sends: ``send_task`` through
our publisher, a foreign-looking ``send_task``, Celery's own retries) and the Celery
instrumentation's task span continues it, so a foreign ``send_task`` that sets a
``traceparent`` header joins its caller's trace.

No prompt or completion text is recorded unless content capture is on
(``AGENTWORKER_TRACE_CONTENT=1``, the GenAI conventions' opt-in); never a secret: provider
keys and headers are not read here, and what is recorded is what the run already persists
(scrubbed at the edge).
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:  # the API is imported on first use: off, nothing of OpenTelemetry loads
    from opentelemetry.sdk.trace.export import SpanExporter
    from opentelemetry.trace import Span

    from worker.core.settings import Settings

#: The version of OpenTelemetry's GenAI semantic conventions our spans follow. Attribute and
#: span names are those of this version; a change of version is a change of this module.
SEMCONV_VERSION = "1.38.0"
SCHEMA_URL = f"https://opentelemetry.io/schemas/{SEMCONV_VERSION}"
#: ``gen_ai.provider.name`` (and the older ``gen_ai.system``): we speak OpenAI's protocol.
PROVIDER = "openai"
#: The key under which a parking span's W3C traceparent is kept (an approval's ``policy``).
TRACEPARENT = "traceparent"

#: The switch: read by every helper before it does anything. Set by ``configure`` only.
ENABLED = False
#: Prompt, completion and tool argument/result text in spans (opt-in).
CAPTURE_CONTENT = False

_OFF = contextlib.nullcontext()
_api: Any = None  # the OpenTelemetry functions the spans use, looked up once (``configure``)
_lock = threading.Lock()
_tracer: Any = None
_provider: Any = None
_instrumentor: Any = None


def configure(settings: Settings, *, exporter: SpanExporter | None = None) -> bool:
    """Turn tracing on if the settings say so (``traces_exporter``) or an ``exporter`` is
    given; once per process: later calls change nothing until ``shutdown``. Whether on."""
    global ENABLED, CAPTURE_CONTENT, _tracer, _provider, _instrumentor, _api
    with _lock:
        if ENABLED:
            return True
        if exporter is None and settings.traces_exporter == "none":
            return False
        from opentelemetry import trace
        from opentelemetry.instrumentation.celery import CeleryInstrumentor
        from opentelemetry.sdk.resources import SERVICE_NAME, Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        provider = TracerProvider(resource=Resource.create({SERVICE_NAME: settings.service_name}))
        provider.add_span_processor(BatchSpanProcessor(exporter or _exporter(settings)))
        if exporter is None:  # the process's own provider, for any other instrumentation
            trace.set_tracer_provider(provider)
        _provider = provider
        _tracer = provider.get_tracer("agentworker", schema_url=SCHEMA_URL)
        _api = _Api()
        CAPTURE_CONTENT = settings.trace_content
        _instrumentor = CeleryInstrumentor()
        _instrumentor.instrument(tracer_provider=provider)
        _publish_with_context(_instrumentor)
        ENABLED = True
        return True


def shutdown() -> None:
    """Export what is pending and turn tracing off (tests, the bench, a process's end)."""
    global ENABLED, CAPTURE_CONTENT, _tracer, _provider, _instrumentor
    with _lock:
        if not ENABLED:
            return
        ENABLED = CAPTURE_CONTENT = False
        _restore_publish_hooks(_instrumentor)
        _instrumentor.uninstrument()
        _provider.shutdown()
        _tracer = _provider = _instrumentor = None


def flush() -> None:
    """Export the spans ended so far."""
    if ENABLED:
        _provider.force_flush()


class _Api:
    """The OpenTelemetry API's functions, imported when tracing is turned on (never when off)."""

    def __init__(self) -> None:
        from opentelemetry import context, trace
        from opentelemetry.propagate import extract
        from opentelemetry.trace import SpanKind, Status, StatusCode

        self.attach, self.detach = context.attach, context.detach
        self.set_span_in_context = trace.set_span_in_context
        self.extract = extract
        self.kinds = {kind.name: kind for kind in SpanKind}
        self.error_status = lambda description: Status(StatusCode.ERROR, description)


def _exporter(settings: Settings) -> SpanExporter:
    if settings.traces_exporter == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return ConsoleSpanExporter()
    # otlp: OTLP over HTTP/protobuf, configured by OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT,
    # _HEADERS, _TIMEOUT, _COMPRESSION, _CERTIFICATE as the OpenTelemetry spec says.
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter()


# --- trace context through the broker -------------------------------------------------------


def _inject_current_context(headers: dict[str, Any] | None = None, **_: Any) -> None:
    """Celery's ``before_task_publish``: the current context goes into the message headers."""
    if headers is not None:
        from opentelemetry.propagate import inject

        inject(headers)


def _publish_with_context(instrumentor: Any) -> None:
    """The Celery instrumentation's own publish hooks start a span and make it current, and
    end it only when the sender's app knows the task: for ``send_task`` (which is how every
    message of ours is sent, from apps that register no tasks) that span would never end and
    would stay current for the rest of the thread. Our publisher opens its own span around
    each send (``publishing``), and every send injects the current context."""
    from celery import signals

    signals.before_task_publish.disconnect(instrumentor._trace_before_publish)
    signals.after_task_publish.disconnect(instrumentor._trace_after_publish)
    signals.before_task_publish.connect(
        _inject_current_context, weak=False, dispatch_uid="agentworker.tracing.inject"
    )


def _restore_publish_hooks(instrumentor: Any) -> None:
    from celery import signals

    signals.before_task_publish.disconnect(dispatch_uid="agentworker.tracing.inject")


def traceparent() -> str | None:
    """The current span's W3C traceparent, to keep with something that waits (an approval)."""
    if not ENABLED:
        return None
    from opentelemetry.propagate import inject

    carrier: dict[str, str] = {}
    inject(carrier)
    return carrier.get("traceparent")


def link_to_parked(parked: Mapping[str, Any] | None, **attributes: Any) -> None:
    """Link the current span to the span that parked something (its kept traceparent)."""
    if not ENABLED or not parked or not isinstance(parked.get(TRACEPARENT), str):
        return
    from opentelemetry import trace
    from opentelemetry.propagate import extract

    context = trace.get_current_span(extract({"traceparent": parked[TRACEPARENT]}))
    span_context = context.get_span_context()
    if span_context.is_valid:
        named = {key.replace("__", "."): value for key, value in attributes.items()}
        trace.get_current_span().add_link(
            span_context, {"agentworker.link": "approval_wait", **_clean(named)}
        )


# --- spans ----------------------------------------------------------------------------------


class _Span:
    """A span made current for a ``with`` block: what ``start_as_current_span`` does, without
    its two generator-based context managers (this is the hot path when tracing is on)."""

    __slots__ = ("_span", "_token")

    def __init__(
        self,
        name: str,
        attributes: Mapping[str, Any],
        kind: str = "INTERNAL",
        carrier: Mapping[str, str] | None = None,
    ) -> None:
        api = _api
        self._span = _tracer.start_span(
            name,
            context=api.extract(carrier) if carrier else None,
            kind=api.kinds[kind],
            attributes=_clean(attributes),
        )
        self._token: object = None

    def __enter__(self) -> Span:
        self._token = _api.attach(_api.set_span_in_context(self._span))
        return self._span

    def __exit__(self, _type: Any, error: BaseException | None, _traceback: Any) -> None:
        span = self._span
        try:
            if error is not None:
                # Only the error's type and code: a message may quote what it was given.
                code = getattr(error, "code", None)
                span.set_attribute("error.type", code if isinstance(code, str) else _type_of(error))
                if getattr(error, "hands_back", False):  # parked, deferred, taken over
                    span.set_attribute("agentworker.handed_back", _type_of(error))
                else:
                    span.set_status(_api.error_status(_type_of(error)))
        finally:
            _api.detach(self._token)
            span.end()


_span = _Span


def publishing(name: str, *, task_id: str | None = None) -> contextlib.AbstractContextManager[Any]:
    """Around one publish of ours: a PRODUCER span whose context the message carries."""
    if not ENABLED:
        return _OFF
    attributes = {"messaging.system": "celery", "messaging.destination.name": name}
    return _span(f"send {name}", {**attributes, "messaging.message.id": task_id}, kind="PRODUCER")


def submission(
    task: str,
    *,
    channel: str,
    tenant: str | None = None,
    agent: str | None = None,
    carrier: Mapping[str, str] | None = None,
) -> contextlib.AbstractContextManager[Any]:
    """A submission (the client's ``submit``, the API's POST): its span starts the trace, or
    continues the caller's when ``carrier`` (an HTTP request's headers) has a traceparent."""
    if not ENABLED:
        return _OFF
    attributes = {
        "agentworker.submission.channel": channel,
        "agentworker.tenant": tenant,
        "gen_ai.agent.name": agent,
    }
    return _span(f"submit {task}", attributes, kind="PRODUCER", carrier=carrier)


def invoke_agent(agent: str, run_id: Any, model: str) -> contextlib.AbstractContextManager[Any]:
    """One drive of an agent run (to its end, or until it is parked or handed back)."""
    if not ENABLED:
        return _OFF
    return _span(
        f"invoke_agent {agent}",
        {
            "gen_ai.operation.name": "invoke_agent",
            "gen_ai.provider.name": PROVIDER,
            "gen_ai.agent.name": agent,
            "gen_ai.conversation.id": str(run_id),
            "gen_ai.request.model": model,
        },
    )


def workflow_advance(execution_id: Any) -> contextlib.AbstractContextManager[Any]:
    """One advance of a workflow execution (as far as it can go now)."""
    if not ENABLED:
        return _OFF
    return _span(
        "invoke_workflow advance",
        {"gen_ai.operation.name": "invoke_workflow", "agentworker.execution.id": str(execution_id)},
    )


def annotate(span: Span | None, **attributes: Any) -> None:
    """Attributes learnt inside a span (``.`` spelt ``__``: ``agentworker__task__id``)."""
    if span is not None:
        span.set_attributes(_clean({k.replace("__", "."): v for k, v in attributes.items()}))


def agent_step(
    agent: str, run_id: Any, kind: str, number: int
) -> contextlib.AbstractContextManager[Any]:
    """One step of an agent run: a model call or a batch of tool calls, or the finish."""
    if not ENABLED:
        return _OFF
    return _span(
        f"agent_step {kind}",
        {
            "gen_ai.agent.name": agent,
            "gen_ai.conversation.id": str(run_id),
            "agentworker.step.kind": kind,
            "agentworker.step.number": number,
        },
    )


def chat(
    model: str,
    *,
    base_url: str | None,
    temperature: float | None = None,
    max_tokens: int | None = None,
    messages: Sequence[Mapping[str, Any]] = (),
) -> contextlib.AbstractContextManager[Any]:
    """One LLM call (its retries included): ``chat {model}``, CLIENT."""
    if not ENABLED:
        return _OFF
    attributes: dict[str, Any] = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": PROVIDER,
        "gen_ai.system": PROVIDER,
        "gen_ai.request.model": model,
        "gen_ai.request.temperature": temperature,
        "gen_ai.request.max_tokens": max_tokens,
        **_server(base_url),
    }
    if CAPTURE_CONTENT:
        attributes["gen_ai.input.messages"] = _json([_message(m) for m in messages])
    return _span(f"chat {model}", attributes, kind="CLIENT")


def chat_reply(span: Span | None, result: Any) -> None:
    """What the call got back (a ``ChatResult``): model, usage, finish reason."""
    if span is None:
        return
    span.set_attributes(
        _clean(
            {
                "gen_ai.response.model": result.model,
                "gen_ai.usage.input_tokens": result.prompt_tokens,
                "gen_ai.usage.output_tokens": result.completion_tokens,
                "gen_ai.response.finish_reasons": [result.finish_reason or "unknown"],
                "agentworker.llm.attempts": len(result.attempts),
                "agentworker.llm.cost_usd": float(result.cost),
            }
        )
    )
    if CAPTURE_CONTENT:
        output = {**_message(result.message), "finish_reason": result.finish_reason}
        span.set_attribute("gen_ai.output.messages", _json([output]))


def tool_call(
    name: str, call_id: str, arguments: Any = None
) -> contextlib.AbstractContextManager[Any]:
    """One tool call: ``execute_tool {name}``."""
    if not ENABLED:
        return _OFF
    attributes = {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": name,
        "gen_ai.tool.call.id": call_id,
        "gen_ai.tool.type": "function",
    }
    if CAPTURE_CONTENT:
        attributes["gen_ai.tool.call.arguments"] = _text(arguments)
    return _span(f"execute_tool {name}", attributes)


def tool_result(span: Span | None, status: str, content: str | None = None) -> None:
    if span is None:
        return
    span.set_attribute("agentworker.tool.status", status)
    if status != "success":
        span.set_attribute("error.type", status)
    if CAPTURE_CONTENT and content is not None:
        span.set_attribute("gen_ai.tool.call.result", content)


# --- attribute helpers ----------------------------------------------------------------------


def _clean(attributes: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in attributes.items() if value is not None}


def _type_of(error: BaseException) -> str:
    return type(error).__qualname__


def _server(base_url: str | None) -> dict[str, Any]:
    parts = urlsplit(base_url or "https://api.openai.com/v1")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        port = None
    return {"server.address": parts.hostname, "server.port": port}


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else _json(value)


def _message(message: Mapping[str, Any]) -> dict[str, Any]:
    """An OpenAI chat message in the conventions' shape: a role and its parts."""
    parts: list[dict[str, Any]] = []
    content = message.get("content")
    if message.get("role") == "tool":
        parts.append(
            {"type": "tool_call_response", "id": message.get("tool_call_id"), "response": content}
        )
    elif content:
        parts.append({"type": "text", "content": _text(content)})
    for call in message.get("tool_calls") or ():
        function = call.get("function") or {}
        parts.append(
            {
                "type": "tool_call",
                "id": call.get("id"),
                "name": function.get("name"),
                "arguments": function.get("arguments"),
            }
        )
    return {"role": message.get("role"), "parts": parts}
