"""How many approvers an approval needs: the quorum configuration a workflow gate and an agent's
tool approvals share.

``quorum`` distinct approvers must approve the same request (the first ``quorum`` approvals
win); ``rejections_needed`` rejections reject it (by default one: a single rejection rejects).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

#: More approvers than a tenant plausibly has is a configuration mistake, not a policy.
MAX_QUORUM = 50


class QuorumPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    quorum: Annotated[
        int, Field(ge=1, le=MAX_QUORUM, description="Distinct approvers who must approve.")
    ] = 1
    rejections_needed: Annotated[
        int, Field(ge=1, le=MAX_QUORUM, description="Rejections that reject (default: one).")
    ] = 1
