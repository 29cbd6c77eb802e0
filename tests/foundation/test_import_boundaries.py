"""Import boundaries between the parts of interseg, checked on the source (ast), every import
statement counted, also those inside functions:

* ROS (rclpy, message and interface packages, ament) is imported only in ``interseg.nodes``;
  the rest of the package is ROS-free.
* The simulator's ground truth (``interseg.evaluation.ground_truth``) is imported only inside
  ``interseg.evaluation``; learning, the nodes and the top-level modules reach nothing of
  ``interseg.evaluation`` at all, nor the arena's private physics state, and the simulator
  package does not re-export it. The arena's public API offers no object poses or masks.
* ``interseg.learning`` does not import the simulator (``interseg.sim``): learning works on
  images, masks and examples, whichever robot made them.
"""

from __future__ import annotations

import ast
from pathlib import Path

import interseg

PACKAGE = Path(interseg.__file__).resolve().parent
EVALUATION = "interseg.evaluation"
GROUND_TRUTH = "interseg.evaluation.ground_truth"
ROS_PACKAGES = {
    "rclpy",
    "rcl",
    "rcutils",
    "rmw",
    "rosidl_runtime_py",
    "rosidl_parser",
    "ament_index_python",
    "tf2_ros",
    "launch",
    "launch_ros",
    "message_filters",
    "cv_bridge",
    "moveit",
    "rosbag2_py",
}
ROS_SUFFIXES = ("_msgs", "_srvs", "_interfaces")  # message packages (interseg_interfaces, rcl_interfaces, ...)


def _modules(*folders: str) -> list[Path]:
    files: list[Path] = []
    for folder in folders:
        path = PACKAGE / folder
        files += sorted(path.rglob("*.py")) if path.is_dir() else []
    return files


def _all_modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def _inside(path: Path, folder: str) -> bool:
    return path.resolve().is_relative_to(PACKAGE / folder)


def _package_of(path: Path) -> tuple[str, ...]:
    try:
        return path.resolve().parent.relative_to(PACKAGE.parent).parts
    except ValueError:  # a sample outside the tree: judge it as if in interseg/learning
        return ("interseg", "learning")


def imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every import in the file; ``from a import b`` gives ``a`` and ``a.b``."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative import: resolve against the file's package
                package = _package_of(path)
                base = ".".join(package[: len(package) - node.level + 1] + ((base,) if base else ()))
            found += [(node.lineno, base)] + [(node.lineno, f"{base}.{alias.name}") for alias in node.names]
    return found


def _within(name: str, module: str) -> bool:
    return name == module or name.startswith(module + ".")


def _is_ros(name: str) -> bool:
    top = name.split(".")[0]
    return top in ROS_PACKAGES or top.endswith(ROS_SUFFIXES)


def _name(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(PACKAGE.parent))
    except ValueError:
        return path.name


def imports_of(path: Path, module: str) -> list[str]:
    return [f"{_name(path)}:{line}: imports {name}" for line, name in imports(path) if _within(name, module)]


def ros_violations(path: Path) -> list[str]:
    return [f"{_name(path)}:{line}: imports {name}" for line, name in imports(path) if _is_ros(name)]


def sim_violations(path: Path) -> list[str]:
    return [f"{_name(path)}:{line}: imports {name}" for line, name in imports(path) if _within(name, "interseg.sim")]


def ground_truth_violations(path: Path, forbidden: str = EVALUATION) -> list[str]:
    """Imports of ``forbidden`` (a module and what is under it), module names of it in strings
    (importlib.import_module, __import__), and uses of the arena's private ``_physics``."""
    found = [f"{_name(path)}:{line}: imports {name}" for line, name in imports(path) if _within(name, forbidden)]
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and not any(c.isspace() for c in node.value):
            # a module name in a string; prose is fine
            if "ground_truth" in node.value or node.value.startswith(forbidden):
                found.append(f"{_name(path)}:{node.lineno}: string '{node.value}'")
        elif isinstance(node, ast.Attribute) and node.attr == "_physics":
            found.append(f"{_name(path)}:{node.lineno}: access to the arena's private _physics")
    return found


# -- ROS stays in interseg.nodes ---------------------------------------------------------------


def test_ros_is_imported_only_by_the_nodes():
    files = [p for p in _all_modules() if not _inside(p, "nodes")]
    assert any(p.name == "rosenv.py" for p in files) and any(p.name == "synchronizer.py" for p in files)
    problems = [v for f in files for v in ros_violations(f)]
    assert not problems, "ROS imported outside interseg.nodes:\n" + "\n".join(problems)


# -- the ground truth stays in interseg.evaluation ----------------------------------------------


def test_ground_truth_is_imported_only_inside_evaluation():
    files = [p for p in _all_modules() if not _inside(p, "evaluation")]
    problems = [v for f in files for v in imports_of(f, GROUND_TRUTH)]
    assert not problems, "ground truth imported outside interseg.evaluation:\n" + "\n".join(problems)


def test_learning_and_nodes_never_reach_ground_truth():
    # Top-level modules too (geometry, grasping, ...), except the command dispatcher, whose table
    # names every command module (make-eval-set included) without importing it.
    files = _modules("learning", "nodes") + [p for p in PACKAGE.glob("*.py") if p.name != "cli.py"]
    assert any(p.name == "sim_node.py" for p in files), "the sim node must be covered by this check"
    problems = [v for f in files for v in ground_truth_violations(f)]
    assert not problems, "ground truth reachable from learning code:\n" + "\n".join(problems)


def test_simulator_package_does_not_reexport_ground_truth():
    problems = [
        v for path in _modules("sim") for v in ground_truth_violations(path) if "_physics" not in v
    ]  # the arena itself owns _physics
    assert not problems, "\n".join(problems)


def test_arena_public_api_has_no_object_state():
    from interseg.sim.arena import SimulatedArena

    public = {name for name in dir(SimulatedArena) if not name.startswith("_")}
    leaks = {
        n for n in public if any(word in n for word in ("object_pose", "segment", "mask", "truth", "physics", "model"))
    }
    assert not leaks, leaks


# -- learning does not know the simulator ---------------------------------------------------------


def test_learning_does_not_import_the_simulator():
    problems = [v for f in _modules("learning") for v in sim_violations(f)]
    assert not problems, "interseg.learning imports the simulator:\n" + "\n".join(problems)


# -- the checks themselves ----------------------------------------------------------------------


def test_the_checks_catch_forbidden_imports(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        "from interseg.evaluation import ground_truth\nimport interseg.evaluation.ground_truth as g\n"
        "import importlib\nimportlib.import_module('interseg.evaluation.ground_truth')\n"
        "from ..evaluation import ground_truth\n"
        "def later():\n    import rclpy\n    from sensor_msgs.msg import Image\n"
        "    from interseg_interfaces.srv import Capture\n"
        "from interseg import sim\nfrom ..sim.arena import SimulatedArena\nimport interseg.sim.scene\n"
    )
    assert len(ground_truth_violations(sample)) >= 4
    assert len(imports_of(sample, GROUND_TRUTH)) == 3  # the string is not an import
    assert [v.split("imports ")[1] for v in ros_violations(sample)] == [
        "rclpy",
        "sensor_msgs.msg",
        "sensor_msgs.msg.Image",
        "interseg_interfaces.srv",
        "interseg_interfaces.srv.Capture",
    ]
    assert len(sim_violations(sample)) >= 3
    assert not (PACKAGE / "learning" / "sample.py").exists()
