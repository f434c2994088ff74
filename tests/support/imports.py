"""Our modules' imports, read with ``ast`` (imports inside functions included), and the layer
order they must follow (README "Layout", ``../shared/DESIGN.md`` §9).

Nothing is imported or run: a module's dependencies are the ``import`` statements in its text,
so an import hidden in a function, or one that only runs on some path, counts like any other.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

#: Our top-level packages whose imports are checked.
PACKAGES = ("worker", "tasks")

#: The wings from the bottom up: a module may import its own wing and the wings below it.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("core", ("worker.core",)),
    ("security", ("worker.security",)),
    ("durable", ("worker.durable",)),
    ("llm", ("worker.llm",)),
    ("notifications", ("worker.notifications",)),
    ("approvals", ("worker.approvals",)),
    ("orchestrator", ("worker.orchestrator",)),
    ("agents", ("worker.agents",)),
    ("workflows", ("worker.workflows",)),
    ("automation", ("worker.automation",)),
    ("ops", ("worker.ops",)),
    (
        "entry points",
        ("worker.app", "worker.api", "worker.inbox", "worker.cli", "worker.client", "tasks"),
    ),
)
#: Development tools: apart from the layers. They may use the core; of the runtime, only these
#: modules may import them.
DEV = "worker.dev"
DEV_MAY_IMPORT = ("worker.core", DEV)
MAY_IMPORT_DEV = (
    "worker.cli.dev",
    "worker.cli.demo",
    "worker.cli.demo_approver",
    "worker.cli.demo_pipeline",
)
#: Package roots that hold nothing but a docstring.
ROOTS = ("worker", "tasks")


@dataclass(frozen=True)
class Import:
    importer: str
    imported: str
    line: int


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules(root: Path, packages: Iterable[str] = PACKAGES) -> dict[str, Path]:
    """Every module of ``packages`` under ``root``, by dotted name."""
    found: dict[str, Path] = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            found[module_name(root, path)] = path
    return found


def imports(root: Path, packages: Iterable[str] = PACKAGES) -> list[Import]:
    """Each import of one of our modules by another, resolved to the module it loads."""
    known = modules(root, packages)
    ours = tuple(packages)
    found: list[Import] = []
    for name, path in known.items():
        is_package = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = _absolute(name, is_package, node.module, node.level)
                # ``from a.b import c`` loads a.b.c when c is a module, else a.b.
                targets = [
                    f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                    for alias in node.names
                ]
            else:
                continue
            for target in targets:
                if target.split(".")[0] in ours and target != name:
                    found.append(Import(name, _existing(target, known), node.lineno))
    return found


def _absolute(module: str, is_package: bool, target: str | None, level: int) -> str:
    if level == 0:
        return target or ""
    parts = module.split(".")
    if not is_package:
        parts = parts[:-1]
    parts = parts[: len(parts) - (level - 1)]
    return ".".join([*parts, target] if target else parts)


def _existing(target: str, known: Mapping[str, Path]) -> str:
    """The module ``target`` names, or its nearest package that exists."""
    while target not in known and "." in target:
        target = target.rpartition(".")[0]
    return target


def _within(module: str, prefixes: Iterable[str]) -> bool:
    return any(module == prefix or module.startswith(prefix + ".") for prefix in prefixes)


def layer_of(module: str) -> int | None:
    for position, (_, prefixes) in enumerate(LAYERS):
        if _within(module, prefixes):
            return position
    return None


def layer_violations(found: Iterable[Import], known: Iterable[str]) -> list[str]:
    """What breaks the layer order, one readable line each."""
    problems = [
        f"{module} is in no wing: move it into one of "
        + ", ".join(prefix for _, prefixes in LAYERS for prefix in prefixes)
        + f" or {DEV}"
        for module in sorted(known)
        if module not in ROOTS and layer_of(module) is None and not _within(module, [DEV])
    ]
    for item in found:
        source, target = item.importer, item.imported
        where = f"{source} (line {item.line}) imports {target}"
        if target in ROOTS:
            problems.append(f"{where}: import from a wing, not from the package root")
            continue
        if _within(target, [DEV]):
            if not _within(source, [DEV, *MAY_IMPORT_DEV]):
                problems.append(
                    f"{where}: the runtime never imports development tools; only "
                    + ", ".join(MAY_IMPORT_DEV)
                    + " (and the tests) may"
                )
            continue
        if _within(source, [DEV]):
            if not _within(target, DEV_MAY_IMPORT):
                problems.append(f"{where}: development tools may use only {DEV_MAY_IMPORT}")
            continue
        low, high = layer_of(target), layer_of(source)
        if low is not None and high is not None and low > high:
            problems.append(
                f"{where}: '{LAYERS[high][0]}' sits below '{LAYERS[low][0]}'; move the shared "
                f"code down, or pass it in"
            )
    return problems


def cycles(found: Iterable[Import]) -> list[list[str]]:
    """Groups of modules that import each other, directly or around a loop (Tarjan)."""
    graph: dict[str, set[str]] = {}
    for item in found:
        graph.setdefault(item.importer, set()).add(item.imported)
        graph.setdefault(item.imported, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for neighbour in sorted(graph[node]):
            if neighbour not in index:
                visit(neighbour)
                low[node] = min(low[node], low[neighbour])
            elif neighbour in on_stack:
                low[node] = min(low[node], index[neighbour])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups
