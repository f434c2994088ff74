from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from models import (
    AgentRun,
    AgentRunStatus,
    EventLog,
    EventType,
    Task,
    TaskStatus,
    Tenant,
    async_session_factory,
    create_async_db_engine,
)


async def _create_and_read(url: str) -> None:
    engine = create_async_db_engine(url)
    sessions = async_session_factory(engine)
    try:
        async with sessions() as session:
            tenant = Tenant(name="Acme", slug="acme")
            task = Task(tenant=tenant, input_prompt="plan the offsite", status=TaskStatus.RUNNING)
            run = AgentRun(tenant=tenant, agent_name="planner", status=AgentRunStatus.RUNNING)
            task.agent_runs.append(run)
            task.event_logs.extend(
                [
                    EventLog(tenant=tenant, agent_run=run, event_type=EventType.AGENT_START),
                    EventLog(tenant=tenant, agent_run=run, event_type=EventType.RESULT),
                ]
            )
            session.add(task)
            await session.commit()
            task_id = task.id

        async with sessions() as session:
            loaded = await session.scalar(
                sa.select(Task)
                .where(Task.id == task_id)
                .options(
                    selectinload(Task.agent_runs),
                    selectinload(Task.event_logs).selectinload(EventLog.agent_run),
                )
            )
            assert loaded is not None
            assert [r.agent_name for r in loaded.agent_runs] == ["planner"]
            assert [e.event_type for e in loaded.event_logs] == [
                EventType.AGENT_START,
                EventType.RESULT,
            ]
            assert loaded.event_logs[0].agent_run is loaded.agent_runs[0]

        async with sessions() as session:
            bare = await session.get(Task, task_id)
            assert bare is not None
            # An unloaded relationship raises instead of doing hidden IO in async code.
            with pytest.raises(sa.exc.InvalidRequestError, match="raise_on_sql"):
                _ = bare.event_logs
    finally:
        await engine.dispose()


def test_async_session_creates_and_reads_a_task_with_events_and_runs(database_url: str) -> None:
    asyncio.run(_create_and_read(database_url))
