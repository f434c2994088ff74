"""Secret references: what is granted, how values are concealed, and that redaction keeps a
reference (it names a secret, it does not hold one)."""

from __future__ import annotations

import pytest

from worker.agents.definitions import AgentConfiguration
from worker.security.redact import REDACTED, redact
from worker.security.secret_refs import conceal, granted_references, references_in


def test_references_are_found_at_any_depth() -> None:
    value = {"a": [{"b": {"$secret": "tenant:crm"}}], "c": {"$secret": "env:X"}, "d": "text"}
    assert references_in(value) == {"tenant:crm", "env:X"}


def test_a_task_is_granted_its_inputs_references_and_its_agents() -> None:
    granted = granted_references({"input": {"t": {"$secret": "tenant:a"}}}, ("env:B",))
    assert granted == {"tenant:a", "env:B"}


def test_conceal_replaces_a_value_in_text_keys_and_nested_json() -> None:
    secret = "s3cr3t-value"
    result = conceal({"x": f"got {secret}!", secret: [secret, 1, None, ("t", secret)]}, {secret})
    assert secret not in repr(result)
    assert result == {
        "x": f"got {REDACTED}!",
        REDACTED: [REDACTED, 1, None, ("t", REDACTED)],
    }


def test_redaction_keeps_a_reference_but_not_a_secret_under_a_secret_key() -> None:
    assert redact({"token": {"$secret": "tenant:crm"}}) == {"token": {"$secret": "tenant:crm"}}
    assert redact({"$secret": "x", "other": 1})["$secret"] == REDACTED


def test_an_agent_may_name_only_well_formed_references() -> None:
    assert AgentConfiguration(secrets=("tenant:crm", "env:CRM")).secrets == (
        "tenant:crm",
        "env:CRM",
    )
    with pytest.raises(ValueError, match="use tenant:<name> or env:<name>"):
        AgentConfiguration(secrets=("vault:crm",))
