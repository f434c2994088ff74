"""Seed 004's orchestrator domain: projects' interviews, composable prompts, the Kanban board
and Conventional Commits, as plain functions over a tenant-scoped connection.

It sits below the agents (whose pipeline tools write prompts, cards and commits through it) and
the workflows (whose ``interview`` and ``board`` steps drive it); the HTTP API serves its rows.
"""

from worker.orchestrator.board import Card, add_card, cards_of, load_card, move_card
from worker.orchestrator.commits import WrittenCommit, conventional_message, write_commit
from worker.orchestrator.defaults import DEFAULTS, setting
from worker.orchestrator.errors import (
    InvalidAnswer,
    InvalidCommit,
    InvalidPrompt,
    MoveRefused,
    NotAwaitingAnswer,
    NotFound,
    OrchestratorError,
)
from worker.orchestrator.interviews import (
    TEXT_ANSWER,
    Answered,
    InterviewState,
    answer_interview,
    load_interview,
    open_interview,
)
from worker.orchestrator.prompts import (
    SavedPrompt,
    compose,
    history,
    latest,
    load_prompt,
    reusable_components,
    save_prompt,
)

__all__ = [
    "DEFAULTS",
    "TEXT_ANSWER",
    "Answered",
    "Card",
    "InterviewState",
    "InvalidAnswer",
    "InvalidCommit",
    "InvalidPrompt",
    "MoveRefused",
    "NotAwaitingAnswer",
    "NotFound",
    "OrchestratorError",
    "SavedPrompt",
    "WrittenCommit",
    "add_card",
    "answer_interview",
    "cards_of",
    "compose",
    "conventional_message",
    "history",
    "latest",
    "load_card",
    "load_interview",
    "load_prompt",
    "move_card",
    "open_interview",
    "reusable_components",
    "save_prompt",
    "setting",
    "write_commit",
]
