"""The simulated arena behind the backends of Algorithm 1's interaction step
(:mod:`interseg.interaction`): its four views and its pick-and-place, in-process."""

from __future__ import annotations

from interseg.interaction import Observed


class ArenaCameras:
    """The simulated arena's four views (rgb) and the main view's depth."""

    def __init__(self, arena) -> None:
        self.arena = arena

    def observe(self) -> Observed:
        views = self.arena.render_views(depth=True)
        return Observed(list(self.arena.cameras), views.rgb, views.depth)


class ArenaArm:
    """The simulated arena's pick-and-place (the arm of the sim node, in-process)."""

    def __init__(self, arena, gripper_width: float = 0.0) -> None:
        self.arena, self.gripper_width = arena, gripper_width

    def validate(self, grasp_xyz, yaw, place_xyz) -> None:
        self.arena.validate_goal(grasp_xyz, yaw, place_xyz)

    def pick_place(self, grasp_xyz, yaw, place_xyz):
        return self.arena.pick_place(grasp_xyz, yaw, place_xyz, gripper_width=self.gripper_width)
