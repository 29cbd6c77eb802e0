"""The slow mark is applied by one rule (pytest.ini): a test that starts ROS processes or a ROS
node is slow, so `make test-fast` (-m "not slow") never starts one. Checked on the source: a test
that takes the ``processes`` or ``ros_node`` fixture, or opens ``spinning_node``, must be in a
module marked ``pytestmark = pytest.mark.slow`` or carry ``@pytest.mark.slow`` itself."""

from __future__ import annotations

import ast

from conftest import REPO

ROS_FIXTURES = {"processes", "ros_node"}


def _is_slow_mark(node: ast.AST) -> bool:
    return "mark.slow" in ast.unparse(node)


def _module_is_slow(tree: ast.Module) -> bool:
    return any(
        isinstance(n, ast.Assign)
        and any(getattr(t, "id", "") == "pytestmark" for t in n.targets)
        and _is_slow_mark(n.value)
        for n in tree.body
    )


def _starts_ros(function: ast.FunctionDef) -> bool:
    if ROS_FIXTURES & {a.arg for a in function.args.args}:
        return True
    return any(isinstance(n, ast.Call) and getattr(n.func, "id", "") == "spinning_node" for n in ast.walk(function))


def test_every_test_that_starts_ros_is_marked_slow():
    unmarked = []
    for path in sorted((REPO / "tests").rglob("test_*.py")):
        tree = ast.parse(path.read_text())
        if _module_is_slow(tree):
            continue
        functions = [n for n in tree.body if isinstance(n, ast.FunctionDef)]
        functions += [
            m for c in tree.body if isinstance(c, ast.ClassDef) for m in c.body if isinstance(m, ast.FunctionDef)
        ]
        for function in functions:
            if (
                function.name.startswith("test")
                and _starts_ros(function)
                and not any(map(_is_slow_mark, function.decorator_list))
            ):
                unmarked.append(f"{path.relative_to(REPO)}::{function.name}")
    assert not unmarked, "tests that start ROS but are not marked slow:\n" + "\n".join(unmarked)


def test_the_check_sees_fixtures_and_marks():
    tree = ast.parse(
        "import pytest\n\ndef test_a(processes):\n    pass\n\n@pytest.mark.slow\ndef test_b(ros_node):\n    pass\n"
    )
    first, second = (n for n in tree.body if isinstance(n, ast.FunctionDef))
    assert _starts_ros(first) and _starts_ros(second) and _is_slow_mark(second.decorator_list[0])
    assert not _module_is_slow(tree) and _module_is_slow(ast.parse("import pytest\npytestmark = [pytest.mark.slow]\n"))
