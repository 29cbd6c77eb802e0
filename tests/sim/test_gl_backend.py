"""MuJoCo picks its OpenGL backend from MUJOCO_GL once, when it is first imported; interseg.sim sets
it (EGL, else OSMesa) when imported. A module that imported mujoco before interseg.sim would leave
MuJoCo on GLFW, which needs a display: the renderer then fails on a headless machine. The tests'
conftest sets MUJOCO_GL, so these checks clear it."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "interseg" / "interseg"


def _top_level_imports(path: Path) -> list[str]:
    names = []
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.append(node.module)
    return names


def test_every_module_outside_the_simulator_imports_it_before_mujoco():
    """Inside interseg.sim the package's __init__ always runs first; elsewhere the order of the
    imports decides (an import sorter moving `import mujoco` up breaks rendering)."""
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if (PACKAGE / "sim") in path.parents:
            continue
        imports = _top_level_imports(path)
        if "mujoco" not in imports:
            continue
        first_sim = next(
            (i for i, name in enumerate(imports) if name == "interseg.sim" or name.startswith("interseg.sim.")), None
        )
        if first_sim is None or first_sim > imports.index("mujoco"):
            wrong.append(str(path.relative_to(PACKAGE)))
    assert not wrong, f"import interseg.sim before mujoco in: {wrong}"


@pytest.mark.slow
def test_the_ground_truth_renders_without_a_display_or_mujoco_gl(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("MUJOCO_GL", "PYOPENGL_PLATFORM", "DISPLAY")}
    script = (
        "import interseg.evaluation.ground_truth as truth\n"
        "from interseg.sim.arena import ArenaConfig, SimulatedArena\n"
        "arena = SimulatedArena(ArenaConfig(width=64, height=48), seed=3)\n"
        "print(int(truth.instance_map(arena, 'cam0').max()))\n"
        "arena.close()\n"
    )
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert int(result.stdout.split()[-1]) >= 1  # objects were rendered into the instance map
