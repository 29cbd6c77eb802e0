"""package.xml's exec_depend lists exactly what the nodes import: every top-level package that a
module in interseg/nodes, or any interseg module they import (at module level or inside a
function), imports. ROS packages map 1:1; Python packages map to their rosdep keys. Static (ast).
"""

from __future__ import annotations

import ast
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SOURCE = REPO / "src" / "interseg"
PACKAGE_XML = SOURCE / "package.xml"

# Python packages -> rosdep keys (ros/rosdistro rosdep/python.yaml). The "-pip" keys install
# from PyPI: no distribution packages exist for them.
ROSDEP_KEYS = {
    "numpy": "python3-numpy",
    "cv2": "python3-opencv",
    "yaml": "python3-yaml",
    "scipy": "python3-scipy",
    "torch": "python3-torch",
    "torchvision": "python3-torchvision",
    "tqdm": "python3-tqdm",
    "mujoco": "python3-mujoco-pip",
    "rosbags": "python3-rosbags-pip",
    "skimage": "python3-skimage",
}
# ROS packages that are not message packages (those end in _msgs / _srvs / _interfaces).
ROS_PACKAGES = {"rclpy", "ament_index_python", "moveit"}
# The MoveIt arm backend: moveit_py and the message packages only it uses are needed only where
# it runs (package.xml: condition="$INTERSEG_WITH_MOVEIT == 1").
ROS_NAMES = {"moveit": "moveit_py"}
CONDITIONAL = {"moveit_py", "moveit_msgs", "shape_msgs", "ros_gz_interfaces"}  # MoveIt, and Gazebo's reset node


def _module_file(name: str) -> Path | None:
    path = SOURCE / name.replace(".", "/")
    if path.with_suffix(".py").is_file():
        return path.with_suffix(".py")
    if (path / "__init__.py").is_file():
        return path / "__init__.py"
    return None


def _imports(path: Path, module: str):
    """Every module name an import statement in the file names (not under ``if TYPE_CHECKING``)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    tree = ast.parse(path.read_text(), filename=str(path))
    skipped = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(n) for stmt in node.body for n in ast.walk(stmt))
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1])
                name = f"{base}.{node.module}" if node.module else base
            else:
                name = node.module
            yield name
            yield from (f"{name}.{alias.name}" for alias in node.names)  # a submodule imported by name


def imported_packages() -> dict[str, set[str]]:
    """Top-level non-interseg packages -> the interseg modules (reached from the nodes) importing them."""
    todo = [f"interseg.nodes.{p.stem}" for p in sorted((SOURCE / "interseg" / "nodes").glob("*.py"))]
    seen, found = set(), {}
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        parts = module.split(".")
        todo += [".".join(parts[:i]) for i in range(1, len(parts))]  # its packages' __init__ run first
        path = _module_file(module)
        if path is None:
            continue
        for name in _imports(path, module):
            top = name.split(".")[0]
            if top == "interseg":
                if _module_file(name) is not None:
                    todo.append(name)
            elif top not in sys.stdlib_module_names and top != "__future__":
                found.setdefault(top, set()).add(module)
    return found


def _rosdep_key(package: str) -> str:
    if package in ROSDEP_KEYS:
        return ROSDEP_KEYS[package]
    assert package in ROS_PACKAGES or package.endswith(("_msgs", "_srvs", "_interfaces")), (
        f"'{package}' is imported by the nodes but neither a ROS package nor in ROSDEP_KEYS: add its rosdep key"
    )
    return ROS_NAMES.get(package, package)


def test_exec_depends_are_exactly_what_the_nodes_import():
    root = ElementTree.parse(PACKAGE_XML).getroot()
    declared = {e.text.strip(): e.get("condition") for e in root.findall("exec_depend")}
    for tag in ("depend", "run_depend"):
        assert not root.findall(tag), f"package.xml: use exec_depend, not <{tag}>"
    imported = imported_packages()
    needed = {_rosdep_key(p): sorted(modules) for p, modules in imported.items()}
    missing = [f"{key} (imported by {', '.join(needed[key])})" for key in sorted(set(needed) - set(declared))]
    unused = sorted(set(declared) - set(needed))
    assert not missing and not unused, f"package.xml lacks: {missing}; declares what no node imports: {unused}"
    wrong_condition = [k for k, condition in declared.items() if (k in CONDITIONAL) != (condition is not None)]
    assert not wrong_condition, f"only the MoveIt backend's dependencies are conditional: {wrong_condition}"
