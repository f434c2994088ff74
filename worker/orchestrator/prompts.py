"""Composable, versioned prompts (seed 004's "Prompter architecture").

A prompt has a ``type`` ("task", "conventions" ...) and a ``version``: saving a prompt of a type
the project has already makes the next version, its ``parent`` the latest one, so versions
form a chain that ``history`` walks. A reusable prompt is a component: other prompts list it in
``components`` (by id, type and version, so a later version of the component does not change a
prompt that was composed with an earlier one), and ``compose`` writes a prompt's full text:
its components' text first, then its own. Prompt writes of one project take its row's lock, so
two writers never number the same version.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from models import Project, Prompt
from worker.orchestrator.errors import InvalidPrompt, NotFound

_prompts = Prompt.__table__
_projects = Project.__table__
MAX_PROMPT_CHARS = 100_000


@dataclass(frozen=True)
class SavedPrompt:
    id: uuid.UUID
    project_id: uuid.UUID
    type: str
    version: int
    parent_id: uuid.UUID | None
    is_reusable: bool
    components: tuple[dict[str, Any], ...]
    content: str

    @classmethod
    def of(cls, row: sa.Row[Any]) -> SavedPrompt:
        return cls(
            id=row.id,
            project_id=row.project_id,
            type=row.type,
            version=row.version,
            parent_id=row.parent_id,
            is_reusable=row.is_reusable,
            components=tuple(row.components or ()),
            content=row.content,
        )


def save_prompt(
    connection: sa.Connection,
    *,
    tenant_id: uuid.UUID,
    project_id: uuid.UUID,
    content: str,
    prompt_type: str,
    is_reusable: bool = False,
    components: Sequence[uuid.UUID] = (),
    interview_id: uuid.UUID | None = None,
) -> SavedPrompt:
    """The next version of the project's ``prompt_type`` prompt (version 1 if it has none),
    composed of the reusable prompts ``components`` names."""
    if not content.strip():
        raise InvalidPrompt("a prompt needs content; give the text the model should follow")
    if len(content) > MAX_PROMPT_CHARS:
        raise InvalidPrompt(
            f"a prompt holds at most {MAX_PROMPT_CHARS} characters; this one has "
            f"{len(content)}: split it into reusable components"
        )
    _lock_project(connection, project_id)
    parent = latest(connection, project_id, prompt_type)
    row = connection.execute(
        sa.insert(_prompts)
        .values(
            tenant_id=tenant_id,
            project_id=project_id,
            created_from_interview_id=interview_id,
            parent_id=parent.id if parent else None,
            content=content,
            type=prompt_type,
            is_reusable=is_reusable,
            components=[_reference(c) for c in _components(connection, project_id, components)],
            version=parent.version + 1 if parent else 1,
        )
        .returning(*_prompts.c)
    ).one()
    return SavedPrompt.of(row)


def latest(
    connection: sa.Connection, project_id: uuid.UUID, prompt_type: str
) -> SavedPrompt | None:
    row = connection.execute(
        sa.select(_prompts)
        .where(_prompts.c.project_id == project_id, _prompts.c.type == prompt_type)
        .order_by(_prompts.c.version.desc())
        .limit(1)
    ).one_or_none()
    return SavedPrompt.of(row) if row else None


def reusable_components(connection: sa.Connection, project_id: uuid.UUID) -> list[SavedPrompt]:
    """The latest version of each reusable prompt type of the project."""
    rows = connection.execute(
        sa.select(_prompts)
        .distinct(_prompts.c.type)
        .where(_prompts.c.project_id == project_id, _prompts.c.is_reusable.is_(True))
        .order_by(_prompts.c.type, _prompts.c.version.desc())
    ).all()
    return [SavedPrompt.of(row) for row in rows]


def load_prompt(connection: sa.Connection, prompt_id: uuid.UUID) -> SavedPrompt:
    row = connection.execute(sa.select(_prompts).where(_prompts.c.id == prompt_id)).one_or_none()
    if row is None:
        raise NotFound(f"no prompt {prompt_id} in this tenant; list them with GET /v1/prompts")
    return SavedPrompt.of(row)


def compose(connection: sa.Connection, prompt_id: uuid.UUID) -> str:
    """The prompt's full text: each component's text (the version it was composed with), then
    its own."""
    prompt = load_prompt(connection, prompt_id)
    ids = [uuid.UUID(str(c["prompt_id"])) for c in prompt.components]
    texts = dict(
        connection.execute(
            sa.select(_prompts.c.id, _prompts.c.content).where(_prompts.c.id.in_(ids))
        ).all()
    )
    parts = [texts[i] for i in ids if i in texts]
    return "\n\n".join([*parts, prompt.content])


def history(connection: sa.Connection, prompt_id: uuid.UUID) -> list[SavedPrompt]:
    """The prompt and its ancestors, newest first (its ``parent_id`` chain)."""
    chain = [load_prompt(connection, prompt_id)]
    while chain[-1].parent_id is not None and len(chain) < 1000:
        chain.append(load_prompt(connection, chain[-1].parent_id))
    return chain


def _components(
    connection: sa.Connection, project_id: uuid.UUID, ids: Sequence[uuid.UUID]
) -> list[SavedPrompt]:
    found = {p.id: p for p in (load_prompt(connection, i) for i in dict.fromkeys(ids))}
    for component in found.values():
        if component.project_id != project_id or not component.is_reusable:
            raise InvalidPrompt(
                f"prompt {component.id} ({component.type} v{component.version}) is not a "
                "reusable prompt of this project; only this project's reusable prompts can be "
                "components (save it with is_reusable true first)"
            )
    return list(found.values())


def _reference(component: SavedPrompt) -> dict[str, Any]:
    return {"prompt_id": str(component.id), "type": component.type, "version": component.version}


def _lock_project(connection: sa.Connection, project_id: uuid.UUID) -> None:
    found = connection.execute(
        sa.select(_projects.c.id).where(_projects.c.id == project_id).with_for_update()
    ).scalar_one_or_none()
    if found is None:
        raise NotFound(f"no project {project_id} in this tenant; create it with POST /v1/projects")
