"""Your own tools in a worker: ``AGENTWORKER_TOOL_MODULES=myapp.tools[,other.tools]``.

Each module defines ``register_tools(registry: ToolRegistry) -> None`` and registers its tools
there (``registry.tool(side_effects=True, idempotent=True)(notify)``), next to the built-in
ones. A module that cannot be imported, or has no ``register_tools``, stops the worker with
a message that says so.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable

from worker.agents.tools.registry import ToolRegistry
from worker.core.errors import ConfigurationError


def register_tool_modules(registry: ToolRegistry, modules: Iterable[str]) -> None:
    for name in modules:
        try:
            module = importlib.import_module(name)
        except ImportError as error:
            raise ConfigurationError(
                f"AGENTWORKER_TOOL_MODULES names {name!r}, which cannot be imported ({error}); "
                "check the name and that the worker's Python path has it"
            ) from error
        register = getattr(module, "register_tools", None)
        if not callable(register):
            raise ConfigurationError(
                f"tool module {name!r} has no register_tools(registry) function; define one "
                "that registers its tools"
            )
        register(registry)
