"""The shape of the code, checked: no import cycles, classes of a readable size."""

from __future__ import annotations

import ast
from pathlib import Path

import grimp

import holocall_desktop

PACKAGE = Path(holocall_desktop.__file__).parent
MAX_CLASS_LINES = 400
MAX_WINDOW_LINES = 300


def _cycles() -> list[list[str]]:
    """Strongly connected groups of modules in holocall_desktop's import graph (Tarjan)."""
    graph = grimp.build_graph("holocall_desktop")
    modules = sorted(graph.modules)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for other in sorted(graph.find_modules_directly_imported_by(module)):
            if other not in index:
                visit(other)
                low[module] = min(low[module], low[other])
            elif other in on_stack:
                low[module] = min(low[module], index[other])
        if low[module] == index[module]:
            group = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                group.append(top)
                if top == module:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for module in modules:
        if module not in index:
            visit(module)
    return groups


def test_no_import_cycles() -> None:
    assert _cycles() == []


def test_the_cycle_finder_finds_a_cycle(tmp_path: Path, monkeypatch: object) -> None:
    pkg = tmp_path / "cyclic_pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from cyclic_pkg import b\n")
    (pkg / "b.py").write_text("from cyclic_pkg import a\n")
    import sys

    sys.path.insert(0, str(tmp_path))
    try:
        graph = grimp.build_graph("cyclic_pkg", cache_dir=None)
        assert graph.find_modules_directly_imported_by("cyclic_pkg.a") == {"cyclic_pkg.b"}
        assert graph.find_modules_directly_imported_by("cyclic_pkg.b") == {"cyclic_pkg.a"}
    finally:
        sys.path.remove(str(tmp_path))


def _class_sizes() -> dict[str, int]:
    sizes = {}
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef):
                name = f"{path.relative_to(PACKAGE)}:{node.name}"
                sizes[name] = (node.end_lineno or node.lineno) - node.lineno + 1
    return sizes


def test_no_class_is_too_long_to_read() -> None:
    sizes = _class_sizes()
    assert sizes, "no classes found"
    assert {n: s for n, s in sizes.items() if s > MAX_CLASS_LINES} == {}
    assert sizes["ui/main_window.py:MainWindow"] <= MAX_WINDOW_LINES
