"""AGENTWORKER_TOOL_MODULES: a worker adds your tools, or says why it cannot."""

from __future__ import annotations

import sys
import types
from collections.abc import Iterator

import pytest

from worker.agents.tools import ToolContext, ToolRegistry
from worker.agents.tools.modules import register_tool_modules
from worker.core.errors import ConfigurationError
from worker.core.settings import Settings


@pytest.fixture
def tool_module() -> Iterator[str]:
    module = types.ModuleType("my_company_tools")

    def ping(context: ToolContext) -> str:
        """Answer pong."""
        return "pong"

    def register_tools(registry: ToolRegistry) -> None:
        registry.tool(side_effects=True, idempotent=True)(ping)

    module.register_tools = register_tools  # type: ignore[attr-defined]
    sys.modules[module.__name__] = module
    yield module.__name__
    del sys.modules[module.__name__]


def test_the_modules_named_in_the_setting_register_their_tools(tool_module: str) -> None:
    settings = Settings.from_env({"AGENTWORKER_TOOL_MODULES": f" {tool_module} ,"})
    assert settings.tool_modules == (tool_module,)
    registry = ToolRegistry()
    register_tool_modules(registry, settings.tool_modules)
    spec = registry.get("ping")
    assert (spec.side_effects, spec.idempotent, spec.transactional) == (True, True, False)


def test_a_module_that_cannot_be_imported_says_so() -> None:
    with pytest.raises(ConfigurationError, match="'no_such_tools_module', which cannot be"):
        register_tool_modules(ToolRegistry(), ["no_such_tools_module"])


def test_a_module_without_register_tools_says_what_to_define() -> None:
    with pytest.raises(ConfigurationError, match=r"has no register_tools\(registry\)"):
        register_tool_modules(ToolRegistry(), ["json"])


def test_transactional_and_idempotent_tools_have_side_effects() -> None:
    registry = ToolRegistry()

    @registry.tool(transactional=True)
    def save(context: ToolContext) -> str:
        """Save."""
        return "saved"

    assert registry.get("save").side_effects
