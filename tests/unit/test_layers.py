"""The house's shape holds: every module sits in a wing, imports run down the layer order, no
module imports itself around a loop, and the runtime never imports the development tools.

The checker reads imports with ``ast`` (imports inside functions count), so the rules are
tested on small trees made here first: a check that cannot fail proves nothing.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.imports import cycles, imports, layer_violations, modules

ROOT = Path(__file__).resolve().parents[2]


def _tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    for package in ("worker", "tasks"):
        (root / package).mkdir(exist_ok=True)
        for folder in [root / package, *(p for p in (root / package).rglob("*") if p.is_dir())]:
            (folder / "__init__.py").touch()
    return root


def _problems(root: Path) -> list[str]:
    return layer_violations(imports(root), modules(root))


def test_an_upward_import_inside_a_function_is_found(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            "worker/durable/records.py": "def write():\n    from worker.llm import gateway\n",
            "worker/llm/gateway.py": "",
        },
    )
    (problem,) = _problems(root)
    assert "worker.durable.records (line 2) imports worker.llm.gateway" in problem
    assert "'durable' sits below 'llm'" in problem


def test_a_downward_import_is_allowed(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            "worker/agents/runner.py": "from worker.durable import journal\n",
            "worker/durable/journal.py": "from . import states\n",
            "worker/durable/states.py": "",
        },
    )
    assert _problems(root) == []


def test_a_module_outside_every_wing_is_named(tmp_path: Path) -> None:
    root = _tree(tmp_path, {"worker/helpers.py": ""})
    (problem,) = _problems(root)
    assert problem.startswith("worker.helpers is in no wing")


def test_the_runtime_may_not_import_development_tools(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            "worker/agents/runtime.py": "import worker.dev.llm_server\n",
            "worker/cli/demo.py": "from worker.dev.llm_server import LocalLLMServer\n",
            "worker/dev/llm_server.py": "",
        },
    )
    (problem,) = _problems(root)
    assert problem.startswith("worker.agents.runtime (line 1) imports worker.dev.llm_server")


def test_relative_imports_resolve_to_their_modules(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            "worker/core/settings.py": "from ..agents import runner\n",
            "worker/agents/runner.py": "",
        },
    )
    assert [item.imported for item in imports(root)] == ["worker.agents.runner"]


def test_a_cycle_through_a_function_level_import_is_found(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            "worker/core/a.py": "from worker.core import b\n",
            "worker/core/b.py": "def later():\n    from worker.core.c import x\n",
            "worker/core/c.py": "import worker.core.a\nx = 1\n",
        },
    )
    assert cycles(imports(root)) == [["worker.core.a", "worker.core.b", "worker.core.c"]]


def test_our_modules_follow_the_layer_order() -> None:
    problems = layer_violations(imports(ROOT), modules(ROOT))
    assert problems == [], "\n".join(problems)


def test_our_modules_import_each_other_without_cycles() -> None:
    found = cycles(imports(ROOT))
    assert found == [], "modules that import each other: " + "; ".join(
        " -> ".join(group) for group in found
    )


@pytest.mark.parametrize("wing", ["core", "security", "durable", "llm", "approvals", "agents"])
def test_each_wing_exports_its_public_names(wing: str) -> None:
    init = ROOT / "worker" / wing / "__init__.py"
    assert "__all__" in init.read_text(encoding="utf-8"), f"{init} declares no __all__"
