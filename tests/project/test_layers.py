"""The app's structure: no import cycle, leaves that import nothing of the app, no module over 700 lines.

`make lint` runs the import-linter contract of pyproject.toml (layers point down); these tests add what a
layers contract cannot see: cycles inside one layer or package, and imports inside functions or under
TYPE_CHECKING, which grimp counts like any other.
"""

from __future__ import annotations

import pathlib

import grimp
import pytest

APP = "attendance_push"
ROOT = pathlib.Path(__file__).resolve().parents[2] / APP
LEAVES = ["conf", "exceptions", "signals", "results", "locks", "bikram"]
# What each leaf may import of the app (conf raises the app's own error on a malformed rule).
LEAF_MAY_IMPORT = {"conf": {"exceptions"}}


def build_graph():
    return grimp.build_graph(APP, include_external_packages=False, exclude_type_checking_imports=False)


@pytest.fixture(scope="module")
def graph():
    return build_graph()


def _app_imports(graph, module: str) -> set[str]:
    return {imported for imported in graph.find_modules_directly_imported_by(module) if imported.startswith(APP)}


def _cycles(graph) -> list[list[str]]:
    """Return one cycle through each strongly connected group of modules (Tarjan), empty when there is none."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in _app_imports(graph, module):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == module:
                    break
            if len(group) > 1 or module in _app_imports(graph, module):
                groups.append(sorted(group))

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return groups


def test_no_import_cycle(graph):
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle():
    graph = build_graph()
    graph.add_import(importer=f"{APP}.models", imported=f"{APP}.push")
    assert any(f"{APP}.models" in group and f"{APP}.push" in group for group in _cycles(graph))


@pytest.mark.parametrize("leaf", LEAVES)
def test_a_leaf_imports_nothing_else_of_the_app(graph, leaf):
    allowed = {f"{APP}.{name}" for name in LEAF_MAY_IMPORT.get(leaf, set())}
    assert _app_imports(graph, f"{APP}.{leaf}") - allowed == set()


def test_models_import_only_leaves(graph):
    leaves = {f"{APP}.{leaf}" for leaf in LEAVES}
    assert _app_imports(graph, f"{APP}.models") - leaves == set()


def test_no_module_over_700_lines():
    sizes = {
        str(path.relative_to(ROOT)): len(path.read_text().splitlines())
        for path in ROOT.rglob("*.py")
        if "migrations" not in path.parts
    }
    assert sizes, "no module found"
    assert {name: lines for name, lines in sizes.items() if lines > 700} == {}
