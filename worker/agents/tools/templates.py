"""Seed 001's ``content_templates`` as ``save_draft_content`` uses them: a template is named by
its ``template_name`` (case-insensitive), the tenant's own first, else the system-wide one
(``tenant_id`` NULL); its ``template_content`` has ``{{ name }}`` placeholders, filled from the
call's ``variables``. A placeholder with no variable is refused, naming the template's declared
``variables``, so the model can call again.

``usage_count`` goes up when an approved call writes its ``ai_generated_content`` row (in that
transaction, as one ``UPDATE … SET usage_count = usage_count + 1``); ``success_rate`` is
computed from the approvals of the calls that named the template (``proposal_counts``, run by
``worker.ops.agent_performance``).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from models import Approval, ApprovalKind, ApprovalStatus, ContentTemplate

#: The tool whose calls name a template.
TEMPLATE_TOOL = "save_draft_content"
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_.-]*)\s*\}\}")


@dataclass(frozen=True)
class Template:
    id: uuid.UUID
    tenant_id: uuid.UUID | None
    name: str
    template_type: str
    content: str
    variables: tuple[str, ...]


def normalised(name: str) -> str:
    return name.strip().lower()


def find_templates(session: Any, tenant_id: uuid.UUID, names: Iterable[str]) -> dict[str, Template]:
    """The templates ``names`` name (by normalised name): the tenant's own, else the
    system-wide one; the newest where several share a name. Names that match none are
    absent."""
    wanted = {normalised(name) for name in names}
    if not wanted:
        return {}
    key = sa.func.lower(sa.func.btrim(ContentTemplate.template_name))
    rows = session.execute(
        sa.select(
            ContentTemplate.id,
            ContentTemplate.tenant_id,
            ContentTemplate.template_name,
            ContentTemplate.template_type,
            ContentTemplate.template_content,
            ContentTemplate.variables,
        )
        .where(
            key.in_(wanted),
            sa.or_(ContentTemplate.tenant_id == tenant_id, ContentTemplate.tenant_id.is_(None)),
        )
        # Shared rows (NULL tenant) sort last, so the tenant's own template is met first.
        .order_by(ContentTemplate.tenant_id.is_(None), ContentTemplate.created_at.desc())
    )
    found: dict[str, Template] = {}
    for row in rows:
        found.setdefault(
            normalised(row.template_name),
            Template(
                id=row.id,
                tenant_id=row.tenant_id,
                name=row.template_name,
                template_type=row.template_type,
                content=row.template_content,
                variables=tuple(_variable_names(row.variables)),
            ),
        )
    return found


def find_template(session: Any, tenant_id: uuid.UUID, name: str) -> Template:
    found = find_templates(session, tenant_id, [name]).get(normalised(name))
    if found is None:
        known = session.scalars(
            sa.select(ContentTemplate.template_name)
            .where(
                sa.or_(ContentTemplate.tenant_id == tenant_id, ContentTemplate.tenant_id.is_(None))
            )
            .order_by(ContentTemplate.template_name)
            .limit(20)
        ).all()
        raise ValueError(
            f"no content template named {name!r} for this tenant; known templates: "
            + (", ".join(sorted(set(known))) or "none")
        )
    return found


def render(template: Template, variables: Mapping[str, Any]) -> str:
    """The template's content with every ``{{ name }}`` filled from ``variables``."""
    used = list(dict.fromkeys(_PLACEHOLDER.findall(template.content)))
    missing = [name for name in used if name not in variables]
    if missing:
        declared = ", ".join(template.variables or tuple(used))
        raise ValueError(
            f"template {template.name!r} needs variables {', '.join(missing)} "
            f"(missing); its variables are: {declared}; pass them all in variables"
        )
    return _PLACEHOLDER.sub(lambda match: str(variables[match.group(1)]), template.content)


def count_use(session: Any, template_id: uuid.UUID) -> None:
    """One more use of the template, in the caller's transaction (no lost update)."""
    session.execute(
        sa.update(ContentTemplate)
        .where(ContentTemplate.id == template_id)
        .values(usage_count=ContentTemplate.usage_count + 1)
        .execution_options(synchronize_session=False)
    )


def proposal_counts(connection: Any, tenant_id: uuid.UUID) -> dict[uuid.UUID, tuple[int, int]]:
    """Template id -> (approved, proposed) over the tenant's decided approvals of
    ``save_draft_content`` calls whose (the model's) arguments name a template.

    Proposed: approved or rejected by a person (pending, expired and cancelled calls were
    never judged); approved: approved with the same template (an approver's edit may name
    another). Names are resolved as the tool resolves them, in the tenant's view."""
    arguments = Approval.payload["arguments"]
    proposed_name = sa.func.lower(sa.func.btrim(arguments["template"].astext))
    approved_name = sa.func.lower(
        sa.func.btrim(sa.func.coalesce(Approval.approved_arguments, arguments)["template"].astext)
    )
    rows = connection.execute(
        sa.select(
            proposed_name.label("name"),
            sa.func.count().label("proposed"),
            sa.func.count()
            .filter(
                Approval.status == ApprovalStatus.APPROVED,
                approved_name == proposed_name,
            )
            .label("approved"),
        )
        .where(
            Approval.tenant_id == tenant_id,
            Approval.kind == ApprovalKind.TOOL_CALL,
            Approval.payload["tool"].astext == TEMPLATE_TOOL,
            Approval.status.in_((ApprovalStatus.APPROVED, ApprovalStatus.REJECTED)),
            proposed_name.is_not(None),
        )
        .group_by(proposed_name)
    ).all()
    templates = find_templates(connection, tenant_id, [row.name for row in rows])
    counts: dict[uuid.UUID, tuple[int, int]] = {}
    for row in rows:
        template = templates.get(row.name)
        if template is None:
            continue  # a name that matches no template (any more)
        approved, proposed = counts.get(template.id, (0, 0))
        counts[template.id] = (approved + row.approved, proposed + row.proposed)
    return counts


def shared_template_ids(connection: Any, ids: Iterable[uuid.UUID]) -> set[uuid.UUID]:
    wanted = list(ids)
    if not wanted:
        return set()
    return set(
        connection.execute(
            sa.select(ContentTemplate.id).where(
                ContentTemplate.id.in_(wanted), ContentTemplate.tenant_id.is_(None)
            )
        ).scalars()
    )


def write_success_rates(connection: Any, counts: Mapping[uuid.UUID, tuple[int, int]]) -> int:
    """Set each template's ``success_rate`` to approved / proposed; rows written."""
    written = 0
    for template_id, (approved, proposed) in counts.items():
        if proposed == 0:
            continue
        rate = round(approved / proposed, 2)
        written += connection.execute(
            sa.update(ContentTemplate.__table__)
            .where(ContentTemplate.__table__.c.id == template_id)
            .values(success_rate=rate)
        ).rowcount
    return written


def _variable_names(declared: Any) -> list[str]:
    """The names in a template's ``variables`` (a list of names, or of ``{"name": …}``)."""
    names: list[str] = []
    for item in declared or []:
        if isinstance(item, str):
            names.append(item)
        elif isinstance(item, Mapping) and isinstance(item.get("name"), str):
            names.append(item["name"])
    return names
