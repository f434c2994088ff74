"""worker/durable/states.py: each state machine's table, read as a specification (no database)."""

from __future__ import annotations

import enum
from typing import Any

import pytest

from models import (
    AgentRunStatus,
    ApprovalStatus,
    ExecutionStatus,
    SourceStatus,
    StepRunStatus,
    TaskStatus,
)
from worker.durable.states import (
    AGENT_RUN,
    APPROVAL,
    EXECUTION,
    KNOWLEDGE_SOURCE,
    STEP_RUN,
    TASK,
    StateMachine,
)

MACHINES = [
    pytest.param(TASK, TaskStatus, TaskStatus.PENDING, id="task"),
    pytest.param(AGENT_RUN, AgentRunStatus, AgentRunStatus.STARTED, id="agent_run"),
    pytest.param(EXECUTION, ExecutionStatus, ExecutionStatus.PENDING, id="execution"),
    pytest.param(STEP_RUN, StepRunStatus, StepRunStatus.PENDING, id="step_run"),
    pytest.param(APPROVAL, ApprovalStatus, ApprovalStatus.PENDING, id="approval"),
]

EXPECTED_TERMINAL = [
    pytest.param(TASK, {TaskStatus.SUCCEEDED, TaskStatus.FAILED, TaskStatus.CANCELLED}, id="task"),
    pytest.param(
        AGENT_RUN,
        {AgentRunStatus.COMPLETED, AgentRunStatus.FAILED, AgentRunStatus.CANCELLED},
        id="agent_run",
    ),
    pytest.param(
        EXECUTION,
        {ExecutionStatus.COMPLETED, ExecutionStatus.FAILED, ExecutionStatus.CANCELLED},
        id="execution",
    ),
    pytest.param(
        STEP_RUN,
        {
            StepRunStatus.COMPLETED,
            StepRunStatus.FAILED,
            StepRunStatus.SKIPPED,
            StepRunStatus.CANCELLED,
        },
        id="step_run",
    ),
    pytest.param(
        APPROVAL,
        {
            ApprovalStatus.APPROVED,
            ApprovalStatus.REJECTED,
            ApprovalStatus.EXPIRED,
            ApprovalStatus.CANCELLED,
        },
        id="approval",
    ),
]


def reachable(machine: StateMachine[Any], start: enum.Enum) -> set[enum.Enum]:
    seen, frontier = {start}, [start]
    while frontier:
        for target in machine.transitions[frontier.pop()]:
            if target not in seen:
                seen.add(target)
                frontier.append(target)
    return seen


@pytest.mark.parametrize(("machine", "statuses", "initial"), MACHINES)
def test_every_status_has_a_row_in_the_table(
    machine: StateMachine[Any], statuses: type[enum.Enum], initial: enum.Enum
) -> None:
    assert set(machine.transitions) == set(statuses)


@pytest.mark.parametrize(("machine", "statuses", "initial"), MACHINES)
def test_every_target_is_a_status_of_the_same_machine(
    machine: StateMachine[Any], statuses: type[enum.Enum], initial: enum.Enum
) -> None:
    targets = set().union(*machine.transitions.values())

    assert targets <= set(statuses)


@pytest.mark.parametrize(("machine", "terminal"), EXPECTED_TERMINAL)
def test_the_terminal_states_are_the_final_outcomes(
    machine: StateMachine[Any], terminal: set[enum.Enum]
) -> None:
    assert machine.terminal == terminal


@pytest.mark.parametrize(("machine", "statuses", "initial"), MACHINES)
def test_no_terminal_state_can_move_anywhere(
    machine: StateMachine[Any], statuses: type[enum.Enum], initial: enum.Enum
) -> None:
    moves = [(s, t) for s in machine.terminal for t in statuses if machine.can(s, t)]

    assert moves == []


@pytest.mark.parametrize(("machine", "statuses", "initial"), MACHINES)
def test_no_terminal_state_is_a_source_of_any_transition(
    machine: StateMachine[Any], statuses: type[enum.Enum], initial: enum.Enum
) -> None:
    assert all(not (machine.sources(target) & machine.terminal) for target in statuses)


@pytest.mark.parametrize(("machine", "statuses", "initial"), MACHINES)
def test_sources_of_a_target_are_exactly_the_states_that_can_reach_it(
    machine: StateMachine[Any], statuses: type[enum.Enum], initial: enum.Enum
) -> None:
    for target in statuses:
        expected = {source for source in statuses if machine.can(source, target)}
        assert machine.sources(target) == expected, target


@pytest.mark.parametrize(("machine", "statuses", "initial"), MACHINES)
def test_no_status_moves_to_itself(
    machine: StateMachine[Any], statuses: type[enum.Enum], initial: enum.Enum
) -> None:
    assert [s for s in statuses if machine.can(s, s)] == []


@pytest.mark.parametrize(("machine", "statuses", "initial"), MACHINES)
def test_every_status_is_reachable_from_the_initial_status(
    machine: StateMachine[Any], statuses: type[enum.Enum], initial: enum.Enum
) -> None:
    assert reachable(machine, initial) == set(statuses)


@pytest.mark.parametrize(("machine", "statuses", "initial"), MACHINES)
def test_every_non_terminal_status_can_still_end(
    machine: StateMachine[Any], statuses: type[enum.Enum], initial: enum.Enum
) -> None:
    for status in set(statuses) - machine.terminal:
        assert reachable(machine, status) & machine.terminal, status


@pytest.mark.parametrize(("machine", "statuses", "initial"), MACHINES)
def test_every_non_terminal_status_can_be_cancelled(
    machine: StateMachine[Any], statuses: type[enum.Enum], initial: enum.Enum
) -> None:
    cancelled = statuses["CANCELLED"]

    assert machine.sources(cancelled) == set(statuses) - machine.terminal


@pytest.mark.parametrize(
    ("machine", "statuses"),
    [
        pytest.param(TASK, TaskStatus, id="task"),
        pytest.param(AGENT_RUN, AgentRunStatus, id="agent_run"),
        pytest.param(EXECUTION, ExecutionStatus, id="execution"),
        pytest.param(STEP_RUN, StepRunStatus, id="step_run"),
    ],
)
def test_every_non_terminal_run_status_can_fail(
    machine: StateMachine[Any], statuses: type[enum.Enum]
) -> None:
    assert machine.sources(statuses["FAILED"]) == set(statuses) - machine.terminal


@pytest.mark.parametrize(("machine", "statuses", "initial"), MACHINES)
def test_each_machine_guards_a_table_with_a_status_column(
    machine: StateMachine[Any], statuses: type[enum.Enum], initial: enum.Enum
) -> None:
    assert "status" in machine.table.c
    assert "id" in machine.table.c


def test_approval_has_pending_as_its_only_non_terminal_state() -> None:
    assert set(ApprovalStatus) - APPROVAL.terminal == {ApprovalStatus.PENDING}


def test_a_pending_approval_can_move_to_every_other_state() -> None:
    others = set(ApprovalStatus) - {ApprovalStatus.PENDING}

    assert all(APPROVAL.can(ApprovalStatus.PENDING, status) for status in others)


def test_a_decided_approval_cannot_be_decided_again() -> None:
    assert not APPROVAL.can(ApprovalStatus.APPROVED, ApprovalStatus.REJECTED)


def test_can_allows_a_listed_transition() -> None:
    assert TASK.can(TaskStatus.PENDING, TaskStatus.RUNNING)


def test_can_refuses_an_unlisted_transition() -> None:
    assert not TASK.can(TaskStatus.PENDING, TaskStatus.SUCCEEDED)


def test_can_refuses_leaving_a_terminal_state() -> None:
    assert not TASK.can(TaskStatus.SUCCEEDED, TaskStatus.RUNNING)


def test_a_running_task_may_go_back_to_pending_when_deferred() -> None:
    assert TASK.can(TaskStatus.RUNNING, TaskStatus.PENDING)


def test_a_running_agent_run_may_go_back_to_started_when_deferred() -> None:
    assert AGENT_RUN.can(AgentRunStatus.RUNNING, AgentRunStatus.STARTED)


def test_only_a_running_task_can_succeed() -> None:
    assert TASK.sources(TaskStatus.SUCCEEDED) == {TaskStatus.RUNNING}


def test_a_task_awaits_approval_only_from_running() -> None:
    assert TASK.sources(TaskStatus.AWAITING_APPROVAL) == {TaskStatus.RUNNING}


def test_a_step_awaiting_approval_may_complete_or_be_skipped_directly() -> None:
    assert STEP_RUN.can(StepRunStatus.AWAITING_APPROVAL, StepRunStatus.COMPLETED)
    assert STEP_RUN.can(StepRunStatus.AWAITING_APPROVAL, StepRunStatus.SKIPPED)


def test_a_knowledge_source_is_ready_once_and_an_unfinished_one_can_be_finished() -> None:
    assert KNOWLEDGE_SOURCE.terminal == {SourceStatus.READY}
    assert KNOWLEDGE_SOURCE.sources(SourceStatus.READY) == {
        SourceStatus.PENDING,
        SourceStatus.FAILED,
    }
