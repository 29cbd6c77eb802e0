"""interseg: an ament_python package that also installs with pip (`pip install -e src/interseg`)."""

import os
from pathlib import Path

from setuptools import find_packages, setup

PACKAGE = "interseg"
HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent


def _share_files(folder: str, pattern: str):
    """Launch and config files for `ros2 launch interseg ...` on a full ROS install (colcon)."""
    # colcon builds from src/interseg; the files live at the repository top level.
    files = sorted(os.path.relpath(p, HERE) for p in (REPO / folder).glob(pattern) if p.is_file())
    return [(f"share/{PACKAGE}/{folder}", files)] if files else []


# Node executables: `ros2 run interseg <name>` on a full install, and what launch files name in
# `exec=`. The project's own supervisor (`interseg launch`) resolves them from this same table.
NODES = {
    "sim_node": "interseg.nodes.sim_node:main",
    "capture_node": "interseg.nodes.capture:main",
    "hypotheses_node": "interseg.nodes.hypotheses:main",
    "grasp_planner_node": "interseg.nodes.grasp_planner:main",
    "labeller_node": "interseg.nodes.labeller:main",
    "trainer_node": "interseg.nodes.trainer:main",
    "store_writer_node": "interseg.nodes.store_writer:main",
    "experimenter_node": "interseg.nodes.experimenter:main",
    "push_collector_node": "interseg.nodes.push_collector:main",
    "moveit_pick_place_node": "interseg.nodes.moveit_pick_place:main",
    "gz_reset_arena_node": "interseg.nodes.gz_reset_arena:main",
    "static_transforms_node": "interseg.nodes.static_transforms:main",
    "talker_node": "interseg.nodes.demo_pair:talker_main",
    "listener_node": "interseg.nodes.demo_pair:listener_main",
}

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["test", "tests"]),
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        *_share_files("launch", "*.launch.*"),
        *_share_files("config", "*"),
    ],
    install_requires=["setuptools", "numpy", "pyyaml"],
    zip_safe=True,
    maintainer="interseg maintainers",
    maintainer_email="maintainers@interseg.invalid",
    description="Learning instance segmentation by interaction, on ROS 2.",
    license="Apache-2.0",
    python_requires=">=3.10",
    entry_points={"console_scripts": ["interseg = interseg.cli:main"] + [f"{k} = {v}" for k, v in NODES.items()]},
)
