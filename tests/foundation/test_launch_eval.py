"""``$(eval)`` is ROS 2 launch's PythonExpression (Jazzy/Kilted): the same expression language,
names and quoting, with a bound on time and memory that upstream lacks.

Upstream (launch/substitutions/python_expression.py) calls ``eval(text, {}, names)``: builtins
are there, ``names`` holds the modules of the second argument (default ``math``, whose
contents are also bound without the prefix); the grammar (launch/frontend/grammar.lark) decides
what a quoted or unquoted argument may hold."""

from __future__ import annotations

import os
import subprocess
import textwrap
import time
from pathlib import Path

import pytest
from conftest import interseg_command

from interseg.supervision import python_expression
from interseg.supervision.launch_file import read_launch_file
from interseg.supervision.plan import LaunchError

pytestmark = pytest.mark.slow


def write(tmp_path: Path, text: str, name: str = "eval.launch.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def messages(tmp_path: Path, *logs: str, arguments: dict[str, str] | None = None, head: str = "") -> list[str]:
    """The log messages of a file with ``head`` lines, one ``log`` per message, and a node."""
    body = "".join(f"- log:\n    message: {message}\n" for message in logs)
    path = write(tmp_path, "launch:\n" + textwrap.dedent(head) + body + "- node: {pkg: interseg, exec: talker_node}\n")
    return read_launch_file(path, arguments).messages


def test_parentheses_inside_a_quoted_expression(tmp_path):
    # SINGLE_QUOTED_STRING / DOUBLE_QUOTED_STRING take parentheses and spaces as they are.
    assert messages(tmp_path, "\"$(eval '(1 + 2) * (3 + 4)')\"", "'$(eval \"min((1, 5), (2, 0))\")'") == [
        "21",
        "(1, 5)",
    ]


def test_parentheses_in_an_unquoted_argument(tmp_path):
    # UNQUOTED_RSTRING: a '(' or ')' must be escaped with a backslash; unescaped it ends the parse.
    assert messages(tmp_path, r"'$(eval \(1+2\)*3)'") == ["9"]
    with pytest.raises(LaunchError, match=r"eval\.launch\.yaml: log \(entry 1\).*inside an unquoted argument"):
        messages(tmp_path, "'$(eval (1+2)*3)'")


def test_string_comparison_of_substituted_values(tmp_path):
    head = """\
    - arg: {name: mode, default: sim}
    - node: {pkg: interseg, exec: listener_node, if: "$(eval \\"'$(var mode)' == 'sim'\\")"}
    """
    compared = [
        "\"$(eval \\\"'$(var mode)' == 'sim'\\\")\"",  # double-quoted argument, single quotes inside
        r"'$(eval ''\''$(var mode)\'' != \''sim\'''')'",
    ]  # single-quoted argument, escaped quotes inside
    assert messages(tmp_path, *compared, head=head) == ["True", "False"]
    assert messages(tmp_path, *compared, head=head, arguments={"mode": "real robot"}) == ["False", "True"]
    plan = read_launch_file(tmp_path / "eval.launch.yaml", {"mode": "sim"})
    assert [p.name for p in plan.processes] == ["listener_node", "talker_node"]
    plan = read_launch_file(tmp_path / "eval.launch.yaml", {"mode": "real"})
    assert [p.name for p in plan.processes] == ["talker_node"]


def test_math_is_there_with_and_without_its_prefix(tmp_path):
    assert messages(
        tmp_path,
        "\"$(eval 'sqrt(16) + floor(pi)')\"",
        "\"$(eval 'math.hypot(3, 4)')\"",
        "\"$(eval 'round(degrees(math.atan2(1, 1)))')\"",
        "\"$(eval '2 ** 10')\"",
    ) == ["7.0", "5.0", "45", "1024"]


def test_only_the_listed_modules_are_bound(tmp_path):
    # Default: math only. A second argument replaces the default; names are bound under
    # module.__name__ and only math's contents are unprefixed.
    with pytest.raises(LaunchError, match=r"NameError: name 'os' is not defined"):
        messages(tmp_path, "\"$(eval 'os.sep')\"")
    assert messages(tmp_path, "\"$(eval 'os.sep + str(math.floor(2.7))' 'math, os')\"") == ["/2"]
    with pytest.raises(LaunchError, match=r"NameError: name 'sqrt' is not defined"):
        messages(tmp_path, "\"$(eval 'sqrt(4)' 'os')\"")
    with pytest.raises(LaunchError, match=r"NameError: name 'math' is not defined"):
        messages(tmp_path, "\"$(eval 'math.pi' '')\"")  # an empty list: no module at all
    with pytest.raises(
        LaunchError, match=r"cannot import module: ModuleNotFoundError: No module named 'no_such_module'"
    ):
        messages(tmp_path, "\"$(eval '1' 'no_such_module')\"")


def test_the_module_list_is_plain_text_checked_before_anything_runs(tmp_path):
    # PythonExpression.parse reads it with perform(None) at parse time: a substitution there
    # cannot work, and 'math,' names an empty module. Both fail even behind a false 'if'.
    substituted = write(
        tmp_path,
        """\
        launch:
        - arg: {name: modules, default: math}
        - log: {message: "$(eval 'pi' '$(var modules)')", if: "false"}
        - node: {pkg: interseg, exec: talker_node}
        """,
    )
    with pytest.raises(LaunchError, match=r"log \(entry 2\):.*module list must be plain text"):
        read_launch_file(substituted)
    empty = write(
        tmp_path,
        """\
        launch:
        - log: {message: "$(eval 'pi' 'math,')", if: "false"}
        - node: {pkg: interseg, exec: talker_node}
        """,
    )
    with pytest.raises(LaunchError, match=r"log \(entry 1\):.*modules 'math,': empty module name"):
        read_launch_file(empty)


def test_nine_to_the_nine_to_the_nine_fails_within_the_bound(tmp_path, ros_env):
    # Upstream evaluates in the launch process and hangs here. The command must end on its own,
    # with exit 2 and one line naming the file and the entry.
    path = write(
        tmp_path,
        """\
        launch:
        - arg: {name: n, default: "9"}
        - node: {pkg: interseg, exec: talker_node, name: "t$(eval '$(var n)**$(var n)**$(var n)')"}
        """,
    )
    start = time.monotonic()
    result = subprocess.run(
        interseg_command("launch", str(path), "--print"),
        env=ros_env,
        capture_output=True,
        text=True,
        timeout=python_expression.EVAL_TIMEOUT_S + 40,
    )
    elapsed = time.monotonic() - start
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and str(path) in lines[0] and "node (entry 2)" in lines[0], lines
    assert f"$(eval 9**9**9): not finished after {python_expression.EVAL_TIMEOUT_S:g} s" in lines[0]
    assert elapsed < python_expression.EVAL_TIMEOUT_S + 30
    assert result.stdout == ""


def test_memory_blow_up_is_stopped(tmp_path):
    start = time.monotonic()
    with pytest.raises(
        LaunchError,
        match=r"log \(entry 1\): \$\(eval len\('x' \* 2\*\*31\)\) failed: MemoryError: needs more than 1024 MiB",
    ):
        messages(tmp_path, "\"$(eval \\\"len('x' * 2**31)\\\")\"")
    assert time.monotonic() - start < 20


def test_the_bound_applies_to_the_expression_not_to_importing_its_modules():
    # A module that takes long to import (torch: seconds) does not count against the expression.
    assert python_expression.evaluate("str(1 + 1) + os.sep", ["os", "json"], timeout=0.5) == "2/"
    with pytest.raises(python_expression.ExpressionError, match=r"not finished after 0.5 s"):
        python_expression.evaluate("time.sleep(30)", ["time"], timeout=0.5)


def test_builtins_and_attribute_access_work_as_upstream(tmp_path):
    # Upstream passes empty globals to eval, so Python inserts the builtins: __import__,
    # open and attribute walks all work in ros2 launch. A launch file is code (it can run any
    # `executable`), so they stay; the child process keeps their side effects out of the
    # launch process.
    assert messages(
        tmp_path,
        "\"$(eval \\\"__import__('os').sep\\\")\"",
        "\"$(eval '().__class__.__bases__[0].__name__')\"",
        "\"$(eval \\\"len([c for c in ().__class__.__mro__[-1].__subclasses__()]) > 10\\\")\"",
        "\"$(eval \\\"__import__('os').environ.setdefault('INTERSEG_EVAL_SIDE_EFFECT', 'set')\\\")\"",
    ) == ["/", "object", "True", "set"]
    assert "INTERSEG_EVAL_SIDE_EFFECT" not in os.environ


def test_errors_are_one_line_and_name_the_file(tmp_path):
    path = write(
        tmp_path,
        """\
        launch:
        - log:
            message: |-
              $(eval '1 +
                 * 2')
        - node: {pkg: interseg, exec: talker_node}
        """,
    )
    with pytest.raises(LaunchError) as raised:
        read_launch_file(path)
    text = str(raised.value)
    assert "\n" not in text and text.startswith(f"{path}: log (entry 1): $(eval 1 + * 2) failed: SyntaxError")
    with pytest.raises(LaunchError, match=r"ZeroDivisionError: division by zero"):
        messages(tmp_path, "\"$(eval '1 / 0')\"")


def test_prints_inside_an_expression_do_not_change_its_value(tmp_path):
    # print() returns None; upstream prints to the launch's output and the value stays str(...).
    assert messages(tmp_path, "\"$(eval \\\"print('noise') or 7\\\")\"", "\"$(eval \\\"print('noise')\\\")\"") == [
        "7",
        "None",
    ]
