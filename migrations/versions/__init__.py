"""The revisions. Their file names start with digits, so one revision reaches another's
helpers through ``revision_module`` instead of an import."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType


def revision_module(file_name: str) -> ModuleType:
    """The revision in ``file_name`` (in this folder), loaded as a module of its own."""
    path = Path(__file__).with_name(file_name)
    spec = importlib.util.spec_from_file_location(f"_aw_revision_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
