"""Who decides: the verified principal behind a decision, and the approver it names, checked
against the approval's tenant and required role inside the decision's own transaction.

- ``USER``: a signed-in user decides as themself (``principal.user_id``); an approver named
  beside it must be the same user. A user principal that carries scopes (a token) needs
  ``decide``.
- ``SERVICE_KEY``: a tenant key with the ``decide`` scope, acting for the approver it names.
- ``BROKER``: a message of a tenant in ``trusted`` mode (the broker's authentication is the
  boundary), acting for the approver it names; ``tenant_id`` None means the approval's tenant.
- ``CLI``: an operator with database access, acting for the approver named; the OS user is
  recorded beside them.

Whoever is named must be an active user with a membership of the approval's tenant at or above
its required role. The user row and the membership are read ``FOR SHARE``: a revocation (the
membership deleted, its role lowered, the user deactivated) committed first is seen, and one
begun meanwhile waits for the decision to commit, so none can slip in between check and vote.
"""

from __future__ import annotations

import getpass
import os
import uuid
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from models import MembershipRole, Tenant, TenantMembership, User
from worker.approvals.roles import ranks_below
from worker.security.principals import Principal, PrincipalKind, Scope


@dataclass(frozen=True)
class Decider:
    user_id: uuid.UUID
    email: str
    role: MembershipRole


class Refused(Exception):
    """A decision refused for who made it; ``user_id`` is the named user, when known."""

    def __init__(self, reason: str, user_id: uuid.UUID | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.user_id = user_id


def verify_decider(
    connection: sa.Connection, approval: sa.Row[Any], principal: Principal, user: str | None
) -> Decider:
    """The approver who decides ``approval`` through ``principal``, or ``Refused``."""
    tenant = connection.execute(
        sa.select(Tenant.slug).where(Tenant.id == approval.tenant_id)
    ).scalar_one()
    _check_channel(principal, approval.tenant_id, tenant)
    named = _named_user(connection, principal, user)
    if named is None:
        return _refuse(f"unknown user '{user}': approvers are users of tenant '{tenant}'")
    if principal.kind == PrincipalKind.USER and named.id != principal.user_id:
        return _refuse(
            f"signed in as user {principal.user_id}, so cannot decide as {named.email}", named.id
        )
    if not named.is_active:
        return _refuse(f"{named.email} is deactivated, so cannot decide approvals", named.id)
    role = connection.execute(
        sa.select(TenantMembership.role)
        .where(
            TenantMembership.tenant_id == approval.tenant_id,
            TenantMembership.user_id == named.id,
        )
        .with_for_update(read=True)
    ).scalar_one_or_none()
    required = MembershipRole(approval.required_role)
    if role is None:
        return _refuse(
            f"{named.email} is not a user of tenant '{tenant}', so cannot decide its approvals",
            named.id,
        )
    if ranks_below(MembershipRole(role), required):
        return _refuse(
            f"{named.email} is '{role}' in tenant '{tenant}'; deciding this approval needs "
            f"'{required.value}' or above",
            named.id,
        )
    return Decider(named.id, named.email, MembershipRole(role))


def _check_channel(principal: Principal, tenant_id: uuid.UUID, tenant: str) -> None:
    """Refuse a principal that may not decide for ``tenant`` at all."""
    other_tenant = principal.tenant_id is not None and principal.tenant_id != tenant_id
    if other_tenant:
        _refuse(
            f"{_describe(principal)} belongs to another tenant, so cannot decide "
            f"approvals of tenant '{tenant}'"
        )
    if principal.kind == PrincipalKind.SERVICE_KEY:
        if principal.tenant_id is None:
            _refuse(f"{_describe(principal)} names no tenant, so cannot decide approvals")
        if not principal.allows(Scope.DECIDE):
            _refuse(
                f"{_describe(principal)} lacks the 'decide' scope; issue a key with "
                "--scope decide to decide approvals for a named user"
            )
    if principal.kind == PrincipalKind.USER:
        if principal.user_id is None:
            _refuse("a user principal without a user id cannot decide")
        if principal.scopes and not principal.allows(Scope.DECIDE):
            _refuse(f"{_describe(principal)}'s token lacks the 'decide' scope")


def _named_user(
    connection: sa.Connection, principal: Principal, user: str | None
) -> sa.Row[Any] | None:
    """The user the decision names (``user``, else the principal's own), locked FOR SHARE."""
    if user:
        try:
            condition = User.id == uuid.UUID(user)
        except ValueError:
            condition = sa.func.lower(User.email) == user.lower()
    elif principal.user_id is not None:
        condition = User.id == principal.user_id
    else:
        _refuse(
            f"{_describe(principal)} decides for a named approver: give the approver's "
            "email or id (user)"
        )
    return connection.execute(
        sa.select(User.id, User.email, User.is_active).where(condition).with_for_update(read=True)
    ).one_or_none()


def _describe(principal: Principal) -> str:
    return principal.label or principal.kind.value


def _refuse(reason: str, user_id: uuid.UUID | None = None) -> Any:
    raise Refused(reason, user_id)


def cli_principal() -> Principal:
    """An operator deciding at ``agentworker`` (or through the Python client) with database
    access: recorded as the CLI and the operating-system user, beside the approver named."""
    try:
        os_user = getpass.getuser()
    except (OSError, KeyError):  # no login name (a container without a passwd entry)
        os_user = f"uid {os.getuid()}"
    return Principal(
        kind=PrincipalKind.CLI, tenant_id=None, os_user=os_user, label=f"cli ({os_user})"
    )
