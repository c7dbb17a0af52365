"""The house rules of DESIGN.md, checked on every module's imports (deferred and type-only ones too).

The shared core imports no tier; a tier imports neither the other tier nor the commands; the
escalation relay does not reach up into the gateway. Reading the source with ``ast`` finds an import
wherever it hides: inside a function, under ``TYPE_CHECKING``, or behind a condition.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

RULES: list[tuple[str, tuple[str, ...]]] = [
    ("triage", ("edge_node", "cloud_core", "commands", "demo_shop")),
    ("protos", ("triage", "edge_node", "cloud_core", "commands", "demo_shop")),
    ("edge_node", ("cloud_core", "commands", "demo_shop")),
    ("cloud_core", ("edge_node", "commands", "demo_shop")),
    # The demo shop stands where a real shop does: it knows the connector's contract and nothing of Triage's tiers.
    ("demo_shop", ("edge_node", "cloud_core", "commands")),
    ("edge_node.escalation", ("edge_node.gateway",)),
    ("edge_node.store", ("edge_node.gateway", "edge_node.escalation", "edge_node.service")),
    ("edge_node.frames", ("edge_node.gateway", "edge_node.escalation", "edge_node.service")),
]


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(source: str, module: str) -> set[str]:
    """Every module a source file imports, relative imports resolved against ``module``."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = module.split(".")[: -node.level]
                base = ".".join([*package, base] if base else package)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def _within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def violations(modules: dict[str, set[str]]) -> list[str]:
    broken = []
    for module, imports in sorted(modules.items()):
        for owner, forbidden in RULES:
            if not _within(module, owner):
                continue
            for name in sorted(imports):
                for banned in forbidden:
                    if _within(name, banned):
                        broken.append(f"{module} imports {name} ({owner} must not import {banned})")
    return broken


def _project_modules() -> dict[str, set[str]]:
    modules = {}
    for package in ("triage", "edge_node", "cloud_core", "commands", "protos", "demo_shop"):
        for path in sorted((ROOT / package).rglob("*.py")):
            name = _module_name(path)
            modules[name] = imported_modules(path.read_text(encoding="utf-8"), name)
    return modules


def test_no_module_imports_across_the_layers_of_the_house() -> None:
    modules = _project_modules()
    assert len(modules) > 50, "the walk found too few modules to mean anything"
    assert violations(modules) == []


def test_commands_sit_above_both_tiers() -> None:
    modules = _project_modules()
    commands = {name for imports in (v for k, v in modules.items() if _within(k, "commands")) for name in imports}
    assert any(_within(n, "edge_node") for n in commands) and any(_within(n, "cloud_core") for n in commands)


@pytest.mark.parametrize(("module", "source"), [
    ("triage.config", "def f():\n    from edge_node.store import SqliteEdgeStore\n"),
    ("triage.catalog.load", "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import cloud_core.llm\n"),
    ("edge_node.router", "import commands.main\n"),
    ("cloud_core.service", "from edge_node import frames\n"),
    ("edge_node.escalation.relay", "from ..gateway.connection import Connection\n"),
])
def test_the_check_catches_a_deferred_type_only_or_relative_import(module: str, source: str) -> None:
    assert violations({module: imported_modules(source, module)}) != []
