"""The constants of the robot's set-up that several parts of interseg share: each is written here
once, and every other place (node defaults, config/*.yaml, the simulator, the benchmarks) reads it
from here or is checked against it by a test.

Boxes are ``(x_min, y_min, z_min, x_max, y_max, z_max)`` in the world frame, metres: the layout
of the ``workspace`` and ``place_region`` parameters in config/*.yaml.
"""

from __future__ import annotations

WORLD_FRAME = "world"  # the fixed frame every camera pose, grasp and place pose is expressed in

CAMERA_NAMES = ("cam0", "cam1", "cam2", "cam3")  # the four views; the first is the main one (with depth)
MAIN_CAMERA = CAMERA_NAMES[0]

# Grasp points must lie in this box: in front of the arm's base, within its reach, over the table.
WORKSPACE = (0.30, -0.32, 0.0, 0.80, 0.32, 0.30)
# Place locations are drawn from this box (inside the workspace, away from its edges).
PLACE_REGION = (0.38, -0.22, 0.0, 0.68, 0.22, 0.1)
# A place location needs this free radius around it, metres.
PLACE_CLEARANCE = 0.06
