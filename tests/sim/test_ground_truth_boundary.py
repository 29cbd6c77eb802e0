"""The ground truth is structurally unreachable from the learning side.

Walks the source of every learning and node module (and the simulator package itself, which
must not re-export it) and fails on any import of ``interseg.evaluation`` or any mention of the
arena's private physics state. The arena's public API offers no object poses or masks.
"""
from __future__ import annotations

import ast
from pathlib import Path

import interseg
from interseg.sim.arena import SimulatedArena

PACKAGE = Path(interseg.__file__).resolve().parent
FORBIDDEN_MODULE = "interseg.evaluation"


def _modules(*folders: str) -> list[Path]:
    files: list[Path] = []
    for folder in folders:
        path = PACKAGE / folder
        files += sorted(path.rglob("*.py")) if path.is_dir() else []
    return files


def _violations(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative import: resolve against the file's package
                try:
                    package = path.parent.relative_to(PACKAGE.parent).parts
                except ValueError:  # a sample outside the tree: judge it as if in interseg/learning
                    package = ("interseg", "learning")
                base = ".".join(package[: len(package) - node.level + 1] + ((base,) if base else ()))
            names = [base] + [f"{base}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and not any(c.isspace() for c in node.value):
            # a module name in a string (importlib.import_module, __import__); prose is fine
            if "ground_truth" in node.value or node.value.startswith(FORBIDDEN_MODULE):
                found.append(f"{path.name}:{node.lineno}: string '{node.value}'")
        elif isinstance(node, ast.Attribute) and node.attr == "_physics":
            found.append(f"{path.name}:{node.lineno}: access to the arena's private _physics")
        found += [f"{path.name}:{node.lineno}: imports {n}" for n in names
                  if n == FORBIDDEN_MODULE or n.startswith(FORBIDDEN_MODULE + ".") or n == "interseg.evaluation"]
    return found


def test_learning_and_nodes_never_reach_ground_truth():
    # Top-level modules too (geometry, grasping, ...), except the command dispatcher, whose table
    # names every command module (make-eval-set included) without importing it.
    files = _modules("learning", "nodes") + [p for p in PACKAGE.glob("*.py") if p.name != "cli.py"]
    assert any(p.name == "sim_node.py" for p in files), "the sim node must be covered by this check"
    problems = [v for f in files for v in _violations(f)]
    assert not problems, "ground truth reachable from learning code:\n" + "\n".join(problems)


def test_simulator_package_does_not_reexport_ground_truth():
    problems = []
    for path in _modules("sim"):
        for v in _violations(path):
            if "_physics" not in v:  # the arena itself owns _physics
                problems.append(v)
    assert not problems, "\n".join(problems)


def test_checker_catches_a_forbidden_import(tmp_path):
    bad = PACKAGE / "learning" / "x.py"
    sample = tmp_path / "sample.py"
    sample.write_text("from interseg.evaluation import ground_truth\nimport interseg.evaluation.ground_truth as g\n"
                      "import importlib\nimportlib.import_module('interseg.evaluation.ground_truth')\n"
                      "from ..evaluation import ground_truth\n")
    assert len(_violations(sample)) >= 4
    assert not bad.exists()


def test_arena_public_api_has_no_object_state():
    public = {name for name in dir(SimulatedArena) if not name.startswith("_")}
    leaks = {n for n in public if any(word in n for word in ("object_pose", "segment", "mask", "truth", "physics", "model"))}
    assert not leaks, leaks
