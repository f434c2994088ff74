"""A wing's public names, loaded when first used (PEP 562).

Each wing's ``__init__.py`` names what it offers and the module that defines each name::

    __all__, __getattr__, __dir__ = exports(__name__, {"journal": ["Step", "append"]})

``from worker.durable import Step`` then imports ``worker.durable.journal`` and nothing else,
so a light caller (the client) can use one wing's names without loading all of that wing.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import Any


def exports(
    package: str, modules: Mapping[str, Iterable[str]]
) -> tuple[list[str], Callable[[str], Any], Callable[[], list[str]]]:
    """``__all__``, ``__getattr__`` and ``__dir__`` for ``package``: each name in
    ``modules[module]`` comes from ``package.module``."""
    home = {name: module for module, names in modules.items() for name in names}
    public = sorted(home)

    def __getattr__(name: str) -> Any:
        module = home.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{module}"), name)
        setattr(sys.modules[package], name, value)  # the next lookup is a plain attribute
        return value

    def __dir__() -> list[str]:
        return sorted({*public, *vars(sys.modules[package])})

    return public, __getattr__, __dir__
