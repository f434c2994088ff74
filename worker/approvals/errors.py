"""What can go wrong with an approval: the errors the CLI, the client and the handlers map to
messages and exit codes, and the check that an id names an approval at all. Each message names
the approval or the person, and what is allowed."""

from __future__ import annotations

import uuid

from worker.core.errors import AgentWorkerError


class ApprovalError(AgentWorkerError):
    code = "approval_error"
    #: Set once the refusal has its ``approval.refused`` audit row, so it is not written twice.
    audited = False


class ApprovalNotFound(ApprovalError):
    code = "approval_not_found"


class NotAllowed(ApprovalError):
    code = "not_allowed"


class AlreadyDecided(ApprovalError):
    code = "already_decided"


class DuplicateVote(ApprovalError):
    code = "duplicate_vote"


class StaleRequest(ApprovalError):
    """The decision was bound to a digest that is not the one pending now."""

    code = "stale_request"


class InvalidEditedArguments(ApprovalError):
    code = "invalid_arguments"


def approval_uuid(value: uuid.UUID | str) -> uuid.UUID:
    """The approval id ``value`` names; a string that is not a UUID names no approval."""
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(value)
    except ValueError:
        raise ApprovalNotFound(f"'{value}' is not an approval id (a UUID)") from None
