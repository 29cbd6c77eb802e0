"""The interseg package has no import cycle, counting imports inside functions too.

An import inside a function still ties the two modules together; it only moves the failure to
run time. The graph below has one node per module of ``src/interseg/interseg`` and an edge for
every ``import``/``from ... import`` of another interseg module anywhere in a module's source
(module level, functions, classes), except under ``if TYPE_CHECKING:``. Importing a module also
runs its packages' ``__init__``, so those are edges too.

Run as a script to print the cycles: ``.venv/bin/python tests/foundation/test_import_graph.py``.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

PACKAGE_ROOT = Path(__file__).resolve().parents[2] / "src" / "interseg" / "interseg"


def module_files(root: Path = PACKAGE_ROOT) -> dict[str, Path]:
    """Module name -> source file, for every module and package of ``interseg``."""
    modules = {}
    for path in sorted(root.rglob("*.py")):
        parts = ("interseg", *path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    found = []
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(node)
        stack.extend(ast.iter_child_nodes(node))
    return found


def _known(name: str, modules: dict[str, Path]) -> str | None:
    """The longest prefix of ``name`` that is an interseg module."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in modules:
            return candidate
    return None


def _with_packages(name: str, modules: dict[str, Path]) -> set[str]:
    """``name`` and the packages whose ``__init__`` importing it runs."""
    parts = name.split(".")
    return {".".join(parts[:end]) for end in range(1, len(parts) + 1) if ".".join(parts[:end]) in modules}


def import_graph(modules: dict[str, Path] | None = None) -> dict[str, set[str]]:
    """Module -> the interseg modules it imports (anywhere in its source)."""
    modules = module_files() if modules is None else modules
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        package = name if is_package else name.rpartition(".")[0]
        targets: set[str] = set()
        for node in _imports(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                bases = [alias.name for alias in node.names]
            else:
                if node.level:
                    anchor = package.split(".")
                    anchor = anchor[: len(anchor) - (node.level - 1)]
                    base = ".".join(anchor + ([node.module] if node.module else []))
                else:
                    base = node.module or ""
                # `from pkg import sub` imports the submodule sub when there is one
                bases = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names]
            for base in bases:
                target = _known(base, modules)
                if target is not None:
                    targets |= _with_packages(target, modules)
        # a package's own __init__ is not an import of it; neither is a module's own package
        graph[name] = targets - _with_packages(name, modules)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each as one cycle
    through some of its modules, sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    counter = 0

    def visit(root: str) -> None:  # iterative, so deep graphs do not hit the recursion limit
        nonlocal counter
        work = [(root, iter(sorted(graph.get(root, ()))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    components.append(sorted(component))

    for name in sorted(graph):
        if name not in index:
            visit(name)
    return sorted(_one_cycle(graph, component) for component in components)


def _one_cycle(graph: dict[str, set[str]], component: list[str]) -> list[str]:
    """A shortest path from the component's first module back to itself, inside the component."""
    members = set(component)
    start = component[0]
    previous: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for child in sorted(graph[node] & members):
                if child == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(previous[path[-1]])
                    return [start, *reversed(path[:-1]), start] if len(path) > 1 else [start, node, start]
                if child not in previous:
                    previous[child] = node
                    following.append(child)
        frontier = following
    return component


def test_the_graph_sees_imports_inside_functions(tmp_path):
    package = tmp_path / "interseg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "__init__.py").write_text("")
    (package / "sub" / "a.py").write_text("from interseg.sub import b\n")
    (package / "sub" / "b.py").write_text("def f():\n    from . import c\n")
    (package / "sub" / "c.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import interseg.sub.b\n"
        "def g():\n    import interseg.sub.a\n"
    )
    graph = import_graph(module_files(package))
    assert graph["interseg.sub.a"] == {"interseg.sub.b"}
    assert graph["interseg.sub.b"] == {"interseg.sub.c"}
    assert graph["interseg.sub.c"] == {"interseg.sub.a"}
    assert cycles(graph) == [["interseg.sub.a", "interseg.sub.b", "interseg.sub.c", "interseg.sub.a"]]


def test_learning_imports_neither_the_simulator_nor_ros():
    graph = import_graph()
    learning = [name for name in graph if name.startswith("interseg.learning")]
    assert learning
    for name in learning:
        bad = sorted(t for t in graph[name] if t.startswith(("interseg.sim", "interseg.nodes")))
        assert not bad, f"{name} imports {bad}"


def test_no_import_cycle_in_the_package():
    found = cycles(import_graph())
    assert not found, "import cycles (imports inside functions count):\n" + "\n".join(" -> ".join(c) for c in found)


if __name__ == "__main__":
    found = cycles(import_graph())
    for cycle in found:
        print(" -> ".join(cycle))
    print(f"{len(found)} cycle(s)")
    sys.exit(1 if found else 0)
