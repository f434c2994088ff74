"""Human-in-the-loop approvals (DESIGN §4-5): request and notify, decide (through a verified
principal, bound to what was shown, by a quorum of approvers), expire, cancel, and read.

While an approval is pending nothing runs for it and no worker slot is held; its decision or
its expiry wakes what it gates (a workflow step, or an agent's tool call).
"""

from worker.core.exports import exports

__all__, __getattr__, __dir__ = exports(
    __name__,
    {
        "errors": [
            "AlreadyDecided",
            "ApprovalError",
            "ApprovalNotFound",
            "DuplicateVote",
            "InvalidEditedArguments",
            "NotAllowed",
            "StaleRequest",
        ],
        "digests": ["tool_call_digest"],
        "deciders": ["cli_principal"],
        "roles": ["ROLE_RANK"],
        "requests": ["eligible_approvers", "request_approval"],
        "decisions": ["Decision", "resolve"],
        "expiry": ["expire_due"],
        "cancelling": ["cancel_pending"],
        "views": ["ApprovalView", "VoteView", "get_approval", "list_approvals"],
    },
)
