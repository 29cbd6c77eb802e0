"""Random pushes for passive pre-training (step 1 of Algorithm 1), using only what a robot knows.

The arm closes its fingers, descends beside a random table point and sweeps in a straight line
at table height through it (random direction, length and speed), then rises and parks. While it
sweeps, the cameras record frames at a fixed rate of simulated time, each with the robot's own
joint state and the fingertip position its kinematic model predicts; after parking, one more
frame shows the scene with the arm out of view. Nothing here reads object poses: the push points
are drawn blindly over the table area the cameras see, so many pushes move nothing, as on a real
robot. Turning frames into masks is :mod:`interseg.learning.motion_masks`' job.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from interseg.sim.controller import (
    PARK_CONFIGURATION,
    ArmKinematics,
    PickPlaceController,
    PickPlaceRejected,
    RobotInterface,
    default_workspace,
)

UP = np.array([0.0, 0.0, 1.0])


@dataclass(frozen=True)
class PushConfig:
    """Where, how far and how fast the arm pushes, and how the cameras record it."""

    frame_rate: float = 10.0  # frames per second of simulated time while sweeping
    cameras: tuple[str, ...] = ("cam0",)  # views recorded (the main view by default)
    depth: bool = False  # also record cam0's depth image
    region_x: tuple[float, float] = (0.36, 0.72)  # push points are drawn here (world, metres):
    region_y: tuple[float, float] = (-0.25, 0.25)  # the table area every camera sees
    length: tuple[float, float] = (0.12, 0.30)  # sweep length, metres
    speed: tuple[float, float] = (0.08, 0.16)  # sweep speed, m/s (a few pixels of flow per frame)
    height: float = 0.012  # fingertip centre above the table while sweeping (finger ends 5 mm above)
    approach_height: float = 0.12  # above the start point before descending, metres
    settle_frames: int = 3  # frames recorded after the sweep ends (objects slide a little further)
    max_tries: int = 20  # random draws before giving up on finding a reachable sweep

    def __post_init__(self) -> None:
        if not 0.5 <= self.frame_rate <= 60.0:
            raise ValueError(f"frame_rate must be in [0.5, 60] Hz, got {self.frame_rate}")
        if not self.cameras:
            raise ValueError("at least one camera must be recorded")
        for name, (lo, hi) in (
            ("length", self.length),
            ("speed", self.speed),
            ("region_x", self.region_x),
            ("region_y", self.region_y),
        ):
            if not lo <= hi:
                raise ValueError(f"{name} range must satisfy low <= high, got {(lo, hi)}")
        if self.length[0] <= 0 or self.speed[0] <= 0:
            raise ValueError("sweep length and speed must be positive")


@dataclass(frozen=True)
class PushPlan:
    start: np.ndarray  # fingertip centre where the sweep begins (world, metres)
    end: np.ndarray
    yaw: float  # gripper yaw during the sweep
    speed: float  # m/s

    @property
    def length(self) -> float:
        return float(np.linalg.norm(self.end - self.start))


@dataclass
class PushFrame:
    """One recorded instant: the images and everything the robot knows about itself then."""

    push_id: int
    index: int  # order within the push
    stamp: float  # simulated seconds (monotonic across the whole collection)
    images: dict[str, np.ndarray]  # camera name -> RGB uint8
    depth: np.ndarray | None  # cam0 depth in metres when recorded
    arm_joints: np.ndarray | None  # 7 joint angles, radians (None: the joint state was not available)
    finger_joints: np.ndarray | None  # 2 finger positions, metres
    tip_xyz: np.ndarray | None  # fingertip centre from the robot's own forward kinematics
    arm_parked: bool = False  # the arm is out of every view (the frame after the push)


@dataclass
class PushRecord:
    push_id: int
    plan: PushPlan
    frames: list[PushFrame] = field(default_factory=list)  # during the sweep, at the fixed rate
    after: PushFrame | None = None  # arm parked again
    message: str = "ok"


class _RecordingMotion(PickPlaceController):
    """The pick-and-place controller's motion primitives, with a camera trigger on the clock."""

    def __init__(self, robot: RobotInterface, kinematics: ArmKinematics, period: float, trigger: Callable[[], None]):
        super().__init__(robot, kinematics, default_workspace())
        self.period = period
        self.trigger = trigger
        self.recording = False
        self._next_frame = 0.0

    def start_recording(self) -> None:
        self.recording = True
        self._next_frame = self._sim_time
        self.trigger()
        self._next_frame += self.period

    def _tick(self, q: np.ndarray, opening: float) -> bool:
        keep_going = super()._tick(q, opening)
        if self.recording and self._sim_time + 1e-9 >= self._next_frame:
            self.trigger()
            self._next_frame += self.period
        return keep_going

    def plan_push(self, plan: PushPlan) -> dict[str, np.ndarray]:
        """Joint targets of the approach, descent, sweep and rise; raises PickPlaceRejected."""
        for name, point in (("start", plan.start), ("end", plan.end)):
            if not self.workspace.contains(point):
                raise PickPlaceRejected(f"push {name} {np.round(point, 3).tolist()} is outside the workspace")
        above_start = plan.start + UP * self.approach_height
        above_end = plan.end + UP * self.approach_height
        joints = {"pre": self._solve("approach", above_start, plan.yaw, PARK_CONFIGURATION)}
        joints["descend"] = self._cartesian_line(above_start, plan.start, plan.yaw, joints["pre"], "descend")
        joints["sweep"] = self._cartesian_line(plan.start, plan.end, plan.yaw, joints["descend"][-1], "sweep")
        joints["rise"] = self._cartesian_line(plan.end, above_end, plan.yaw, joints["sweep"][-1], "rise")
        return joints


class PushCollector:
    """Draws random pushes, executes them on an arena and returns the recorded frames.

    ``arena`` is a :class:`interseg.sim.arena.SimulatedArena`; only its public, robot-side API is
    used (``run_motion``, ``render_views``, ``reset``, cameras).
    """

    def __init__(self, arena, config: PushConfig | None = None, seed: int = 0):
        self.arena = arena
        self.config = config or PushConfig()
        unknown = [c for c in self.config.cameras if c not in arena.camera_names]
        if unknown:
            raise ValueError(f"unknown cameras {unknown} (the arena has {', '.join(arena.camera_names)})")
        self.rng = np.random.default_rng([seed, 4242])
        self.next_push_id = 0

    def sample_plan(self) -> PushPlan:
        """A straight sweep at table height through a random point, random direction and length."""
        c = self.config
        through = np.array([self.rng.uniform(*c.region_x), self.rng.uniform(*c.region_y), c.height])
        direction = self.rng.uniform(-np.pi, np.pi)
        length = self.rng.uniform(*c.length)
        d = np.array([np.cos(direction), np.sin(direction), 0.0])
        offset = self.rng.uniform(0.3, 0.7)  # where along the sweep the random point lies
        start = through - d * length * offset
        end = through + d * length * (1.0 - offset)
        # Gripper yaw along the push direction: from above, the hand then hides less of what it pushes.
        yaw = float(np.arctan2(np.sin(direction), np.cos(direction)))
        return PushPlan(start, end, yaw, float(self.rng.uniform(*c.speed)))

    def push(self, plan: PushPlan | None = None, on_frame: Callable[[PushFrame], None] | None = None) -> PushRecord:
        """Execute one push (a random one unless ``plan`` is given) and record it.

        ``on_frame`` runs right after each frame is recorded, with the simulation paused at that
        instant (an evaluation harness may look at the scene there). A push whose sweep the arm
        cannot reach after ``max_tries`` draws returns a record with no frames and the reason.
        """
        push_id = self.next_push_id
        self.next_push_id += 1
        c = self.config

        def program(robot: RobotInterface, kinematics: ArmKinematics) -> PushRecord:
            frames: list[PushFrame] = []

            def capture() -> None:
                frames.append(self._frame(push_id, len(frames), robot, kinematics))
                if on_frame is not None:
                    on_frame(frames[-1])

            motion = _RecordingMotion(robot, kinematics, 1.0 / c.frame_rate, capture)
            candidates = [plan] if plan is not None else [self.sample_plan() for _ in range(c.max_tries)]
            joints, failure = None, ""
            for chosen in candidates:
                try:
                    joints = motion.plan_push(chosen)
                    break
                except PickPlaceRejected as error:
                    failure = str(error)
            if joints is None:
                return PushRecord(push_id, candidates[-1], message=f"no reachable sweep: {failure}")
            motion.move_joints(joints["pre"], 0.0)
            motion.follow(joints["descend"], 0.0, speed=0.3)
            motion.start_recording()
            motion.follow(joints["sweep"], 0.0, speed=chosen.speed)
            for _ in range(c.settle_frames):
                motion.actuate_gripper(joints["sweep"][-1], 0.0, 1.0 / c.frame_rate)
            motion.recording = False
            motion.follow(joints["rise"], 0.0, speed=0.3)
            return PushRecord(push_id, chosen, frames)

        record = self.arena.run_motion(program)
        if record.frames:
            # run_motion has parked the arm: one frame of the scene without it.
            record.after = self._parked_frame(push_id, len(record.frames))
        return record

    def _frame(self, push_id: int, index: int, robot: RobotInterface, kinematics: ArmKinematics) -> PushFrame:
        views = self.arena.render_views(depth=self.config.depth, cameras=self.config.cameras)
        arm = robot.arm_joint_positions()
        fingers = robot.finger_positions()
        tip, _ = kinematics.forward(arm)
        return PushFrame(push_id, index, views.sim_time, views.rgb, views.depth, arm, fingers, tip)

    def _parked_frame(self, push_id: int, index: int) -> PushFrame:
        views = self.arena.render_views(depth=self.config.depth, cameras=self.config.cameras)
        arm = self.arena.arm_joint_positions()
        return PushFrame(push_id, index, views.sim_time, views.rgb, views.depth, arm, None, None, arm_parked=True)


__all__ = ["PushCollector", "PushConfig", "PushFrame", "PushPlan", "PushRecord"]
