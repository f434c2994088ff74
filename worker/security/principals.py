"""Who is acting: the verified principal behind a submission or a decision.

Every entry point turns what it was given (a signed message, an API key, a signed-in user, an
operator at the CLI) into one of these before it acts, and the audit trail records it. Nothing
downstream trusts a name it was merely told.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass, field

from models.principals import PrincipalKind


class Scope(enum.StrEnum):
    SUBMIT = "submit"
    READ = "read"
    DECIDE = "decide"
    ADMIN = "admin"


@dataclass(frozen=True)
class Principal:
    kind: PrincipalKind
    tenant_id: uuid.UUID | None
    #: The user acting, or acted for (a ``decide`` key or the CLI names one).
    user_id: uuid.UUID | None = None
    #: The API key's id, for SERVICE_KEY.
    key_id: uuid.UUID | None = None
    #: What the principal may do; USER and CLI principals are limited by their tenant role.
    scopes: frozenset[Scope] = field(default_factory=frozenset)
    #: The operating-system user at the CLI.
    os_user: str | None = None
    #: A readable name for audit rows and messages: "key aw_3f2a… (billing-service)".
    label: str = ""

    def allows(self, scope: Scope) -> bool:
        return Scope.ADMIN in self.scopes or scope in self.scopes

    def audit_fields(self) -> dict[str, str | None]:
        """What an audit row records of the principal (beside the approver it names)."""
        return {
            "principal_kind": self.kind.value,
            "principal": self.label,
            "key_id": str(self.key_id) if self.key_id else None,
            "user_id": str(self.user_id) if self.user_id else None,
            "os_user": self.os_user,
        }
