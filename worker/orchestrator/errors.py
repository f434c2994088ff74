"""What the orchestrator's domain refuses, each saying what to do instead."""

from __future__ import annotations

from worker.core.errors import AgentWorkerError


class OrchestratorError(AgentWorkerError):
    code = "orchestrator"


class NotFound(OrchestratorError):
    code = "not_found"


class MoveRefused(OrchestratorError):
    """A board move the seed's transitions do not allow."""

    code = "invalid_move"


class InvalidAnswer(OrchestratorError):
    """An interview answer that fails the question's schema; the question still waits."""

    code = "invalid_answer"

    def __init__(self, message: str, *, path: str = "") -> None:
        super().__init__(message)
        self.path = path


class NotAwaitingAnswer(OrchestratorError):
    """No question waits (the interview ended, or that question was answered already)."""

    code = "not_awaiting_answer"


class InvalidPrompt(OrchestratorError):
    code = "invalid_prompt"


class InvalidCommit(OrchestratorError):
    code = "invalid_commit"
