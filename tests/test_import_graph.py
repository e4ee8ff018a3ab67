"""The package's import graph, read with ast (nothing imported): no import circle larger than five modules,
counting imports written inside functions, and no module over the size a maintainer can hold in mind.

This is the project's own check, so it runs wherever the tests run (CI included), not only beside the
shared tool it mirrors."""
from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx
import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "harness"
MAX_CIRCLE = 5
MAX_LINES = 500          # "about 450": the design rule, with a margin for a docstring or two


def modules(package: Path) -> dict[str, Path]:
    found = {}
    for path in package.rglob("*.py"):
        parts = list(path.relative_to(package.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def imported_names(module: str, path: Path) -> set[str]:
    """Every dotted name an import statement in the file may load, at any depth (functions included)."""
    base = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                head_parts = base[: len(base) - (node.level - 1)]
                head = ".".join(head_parts + ([node.module] if node.module else []))
            else:
                head = node.module or ""
            names.add(head)
            names.update(f"{head}.{alias.name}" for alias in node.names)
    return names


def import_graph(package: Path) -> nx.DiGraph:
    found = modules(package)

    def resolve(name: str) -> str | None:
        parts = name.split(".")
        while parts:
            if ".".join(parts) in found:
                return ".".join(parts)
            parts.pop()
        return None

    graph = nx.DiGraph()
    graph.add_nodes_from(found)
    for module, path in found.items():
        for name in imported_names(module, path):
            target = resolve(name) if name.split(".")[0] == package.name else None
            if target and target != module:
                graph.add_edge(module, target)
    return graph


def circles(graph: nx.DiGraph) -> list[set[str]]:
    return sorted((c for c in nx.strongly_connected_components(graph) if len(c) > 1), key=len, reverse=True)


def test_the_check_sees_a_circle_through_a_function_level_import(tmp_path):
    """The check itself can fail: a planted circle closed only by an import inside a function is found."""
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from pkg.sub import b\n")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "b.py").write_text("def late():\n    from ..c import x\n")
    (pkg / "c.py").write_text("def later():\n    import pkg.a\n")
    assert circles(import_graph(pkg)) == [{"pkg.a", "pkg.sub.b", "pkg.c"}]


def test_no_import_circle_larger_than_five_modules():
    """Counting imports written inside functions: the built-ins' registration, the run command's tail and
    the shard seam used to close a circle of 50 modules."""
    found = circles(import_graph(PACKAGE))
    too_big = [sorted(c) for c in found if len(c) > MAX_CIRCLE]
    assert not too_big, f"import circles larger than {MAX_CIRCLE} modules: {too_big}"


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_module_is_small_and_states_its_job(path):
    text = path.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= MAX_LINES, f"{path.name} has {len(text.splitlines())} lines"
    if text.strip():
        assert ast.get_docstring(ast.parse(text)), f"{path} has no docstring stating its job"
