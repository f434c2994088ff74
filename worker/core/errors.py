"""The one root exception and its meaningful subclasses.

Messages say what went wrong and what to do about it. ``retryable`` tells the task layer
whether the same message may succeed later; ``code`` is stable and machine-readable.
"""

from __future__ import annotations


class AgentWorkerError(Exception):
    code = "error"
    retryable = False

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""


class ConfigurationError(AgentWorkerError):
    code = "configuration"
