"""Top-down pick-and-place for the Panda, using only what a real robot knows.

The controller sees the world through :class:`RobotInterface`: its own joint and finger
positions, joint-position commands, and the passage of time. It never reads object poses. Inverse
kinematics runs on a separate arm-only MuJoCo model (the robot's own kinematic description), so
the solver cannot touch, or learn about, the objects; that model's base may be offset from the
true one by a small calibration error, which is one reason grasps sometimes miss, as on a real
robot.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import mujoco
import numpy as np
from scipy.spatial.transform import Rotation

import interseg.sim  # noqa: F401  (selects the OpenGL backend before mujoco is imported)
from interseg.constants import WORKSPACE
from interseg.geometry import Box
from interseg.sim.scene import ARM_JOINTS, FINGER_JOINTS, FINGERTIP_BELOW_GRASP_POINT, build_scene

# Parked configuration: folded up behind the table, outside all four camera views (checked by a
# test with the segmentation renderer). The arm always returns to exactly this pose.
PARK_CONFIGURATION = np.array([0.0, -1.2, 0.0, -2.9, 0.0, 1.7, 0.785])
FINGER_OPEN = 0.04  # per finger, metres (0.08 between the fingers)
LIFTED_GAP_THRESHOLD = 0.004  # finger gap after lifting above which something is held, metres
# Franka Emika Panda joint limits (datasheet): velocity rad/s and acceleration rad/s^2 per joint.
PANDA_JOINT_SPEED_LIMITS = np.array([2.175, 2.175, 2.175, 2.175, 2.61, 2.61, 2.61])
PANDA_JOINT_ACCELERATION_LIMITS = np.array([15.0, 7.5, 10.0, 12.5, 15.0, 20.0, 20.0])

PHASES = ("approach", "descend", "close", "lift", "hold", "carry", "place", "release", "retreat", "park")


def default_workspace() -> Box:
    """The box (world frame, metres) that grasp and place points must lie in: the shared
    workspace, its floor raised so that the fingertips (below the grasp point) clear the table."""
    x_min, y_min, _, x_max, y_max, z_max = WORKSPACE
    return Box((x_min, y_min, FINGERTIP_BELOW_GRASP_POINT + 0.001), (x_max, y_max, z_max))


class RobotInterface(Protocol):
    """What the arm's own drivers offer: joint state, joint commands, time."""

    def arm_joint_positions(self) -> np.ndarray: ...

    def finger_positions(self) -> np.ndarray: ...

    def command(self, arm_positions: np.ndarray, finger_opening: float) -> None: ...

    def step(self, seconds: float) -> None: ...

    def settle_exactly(self, arm_positions: np.ndarray, finger_opening: float) -> None:
        """Finish a motion at rest exactly at the commanded joints (a real arm's repeatability)."""


class PickPlaceRejected(ValueError):
    """A goal that is not executed: outside the workspace, unreachable or malformed."""


@dataclass
class PickPlaceResult:
    success: bool
    object_lifted: bool
    message: str
    phases: list[str] = field(default_factory=list)
    sim_seconds: float = 0.0


PhaseCallback = Callable[[str, float], bool]  # (phase, progress 0..1) -> keep going?


def _top_down_rotation(yaw: float) -> np.ndarray:
    return (Rotation.from_euler("z", yaw) * Rotation.from_euler("x", np.pi)).as_matrix()


class ArmKinematics:
    """Damped least-squares IK for the grasp site on an arm-only model of the Panda."""

    def __init__(self, base_offset: np.ndarray | None = None):
        xml, assets = build_scene([], [], None, None, width=64, height=64, arm_only=True)  # type: ignore[arg-type]
        self.model = mujoco.MjModel.from_xml_string(xml, assets)
        if base_offset is not None:
            self.model.body("robot_base").pos[:] = np.asarray(base_offset, dtype=np.float64)
        self.data = mujoco.MjData(self.model)
        self.site = self.model.site("grasp_site").id
        self.qadr = np.array([self.model.joint(j).qposadr[0] for j in ARM_JOINTS])
        self.dofadr = np.array([self.model.joint(j).dofadr[0] for j in ARM_JOINTS])
        ranges = np.array([self.model.joint(j).range for j in ARM_JOINTS])
        self.lower, self.upper = ranges[:, 0] + 0.01, ranges[:, 1] - 0.01
        # Each joint's position servo (gain kp against its velocity gain kv and the joint's own
        # damping) trails a moving target by (kv + damping) / kp seconds of its velocity: the
        # controller leads its commands by as much (velocity feed-forward).
        joint_ids = [self.model.joint(j).id for j in ARM_JOINTS]
        self.servo_lag = np.zeros(len(ARM_JOINTS))
        self.servo_speed_limit = np.full(len(ARM_JOINTS), np.inf)
        for a in range(self.model.nu):
            joint = int(self.model.actuator_trnid[a, 0])
            if joint in joint_ids and self.model.actuator_gainprm[a, 0] > 0:
                i = joint_ids.index(joint)
                kv = -float(self.model.actuator_biasprm[a, 2])
                damping = kv + float(self.model.dof_damping[self.dofadr[i]])
                self.servo_lag[i] = damping / float(self.model.actuator_gainprm[a, 0])
                # the fastest the servo keeps up with: its torque limit against the damping
                if damping > 0 and self.model.actuator_forcelimited[a]:
                    self.servo_speed_limit[i] = 0.9 * float(self.model.actuator_forcerange[a, 1]) / damping

    def forward(self, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        self.data.qpos[self.qadr] = q
        mujoco.mj_kinematics(self.model, self.data)
        mujoco.mj_comPos(self.model, self.data)
        return self.data.site_xpos[self.site].copy(), self.data.site_xmat[self.site].reshape(3, 3).copy()

    def solve(
        self, position: np.ndarray, rotation: np.ndarray, seed: np.ndarray, iterations: int = 150
    ) -> tuple[np.ndarray, float, float]:
        """Joint angles reaching (position, rotation); returns (q, position error m, angle error rad)."""
        q = np.clip(np.asarray(seed, dtype=np.float64).copy(), self.lower, self.upper)
        jac_pos = np.zeros((3, self.model.nv))
        jac_rot = np.zeros((3, self.model.nv))
        pos_err, rot_err = np.inf, np.inf
        for _ in range(iterations):
            current_pos, current_rot = self.forward(q)
            e_pos = position - current_pos
            e_rot = Rotation.from_matrix(rotation @ current_rot.T).as_rotvec()
            pos_err, rot_err = float(np.linalg.norm(e_pos)), float(np.linalg.norm(e_rot))
            if pos_err < 2e-4 and rot_err < 2e-3:
                break
            mujoco.mj_jacSite(self.model, self.data, jac_pos, jac_rot, self.site)
            jac = np.vstack([jac_pos[:, self.dofadr], jac_rot[:, self.dofadr]])
            error = np.concatenate([e_pos, 0.5 * e_rot])
            damping = 1e-3
            dq = jac.T @ np.linalg.solve(jac @ jac.T + damping * np.eye(6), error)
            # Weak pull towards the park posture in the null space keeps elbow and wrist sensible.
            null = np.eye(7) - np.linalg.pinv(jac) @ jac
            dq += null @ (0.05 * (PARK_CONFIGURATION - q))
            step = np.max(np.abs(dq))
            if step > 0.3:
                dq *= 0.3 / step
            q = np.clip(q + dq, self.lower, self.upper)
        return q, pos_err, rot_err


class PickPlaceController:
    """Scripted top-down pick and place with Cartesian descents and joint-space transfers."""

    control_period = 0.02  # s between joint commands
    speed_fraction = 0.8  # of the Panda's joint speed limits in joint-space moves
    acceleration_fraction = 0.5  # of its joint acceleration limits
    cartesian_acceleration = 2.5  # m/s^2 at the start and end of straight-line moves
    approach_height = 0.14  # above the grasp point, metres
    lift_height = 0.20  # fingertip-centre height while lifted and carrying, metres above the table

    def __init__(self, robot: RobotInterface, kinematics: ArmKinematics, workspace: Box | None = None):
        self.robot = robot
        self.kinematics = kinematics
        self.workspace = workspace or default_workspace()
        self._sim_time = 0.0

    # ------------------------------------------------------------------ planning
    def plan(
        self, grasp_xyz: np.ndarray, yaw: float, place_xyz: np.ndarray, place_yaw: float | None = None
    ) -> dict[str, np.ndarray]:
        """Joint targets of every waypoint; raises PickPlaceRejected when a goal is not executable."""
        grasp_xyz = np.asarray(grasp_xyz, dtype=np.float64)
        place_xyz = np.asarray(place_xyz, dtype=np.float64)
        for name, point in (("grasp", grasp_xyz), ("place", place_xyz)):
            if point.shape != (3,) or not np.all(np.isfinite(point)):
                raise PickPlaceRejected(f"{name} position must be 3 finite numbers, got {point!r}")
            if not self.workspace.contains(point):
                raise PickPlaceRejected(
                    f"{name} position {np.round(point, 3).tolist()} is outside the workspace "
                    f"({self.workspace.describe()})"
                )
        if not np.isfinite(yaw) or (place_yaw is not None and not np.isfinite(place_yaw)):
            raise PickPlaceRejected("yaw must be finite")
        best: dict[str, np.ndarray] | None = None
        best_cost, failure = np.inf, ""
        for candidate in (yaw, yaw + np.pi):  # a parallel gripper is symmetric under a half turn
            candidate = float(np.arctan2(np.sin(candidate), np.cos(candidate)))
            place_candidate = candidate if place_yaw is None else float(place_yaw)
            try:
                plan = self._plan_for_yaw(grasp_xyz, candidate, place_xyz, place_candidate)
            except PickPlaceRejected as error:
                failure = str(error)
                continue
            cost = abs(plan["grasp"][6] - PARK_CONFIGURATION[6]) + abs(plan["place"][6] - PARK_CONFIGURATION[6])
            if cost < best_cost:
                best, best_cost = plan, cost
        if best is None:
            raise PickPlaceRejected(failure or "unreachable")
        return best

    def _solve(self, name: str, position: np.ndarray, yaw: float, seed: np.ndarray) -> np.ndarray:
        q, pos_err, rot_err = self.kinematics.solve(position, _top_down_rotation(yaw), seed)
        if pos_err > 3e-3 or rot_err > 0.03:
            raise PickPlaceRejected(
                f"{name} pose {np.round(position, 3).tolist()} is unreachable "
                f"(IK residual {pos_err * 1000:.1f} mm, {np.degrees(rot_err):.1f} deg)"
            )
        return q

    def _plan_for_yaw(
        self, grasp: np.ndarray, yaw: float, place: np.ndarray, place_yaw: float
    ) -> dict[str, np.ndarray]:
        up = np.array([0.0, 0.0, 1.0])
        pre_grasp_xyz = grasp + up * self.approach_height
        lift_xyz = np.array([grasp[0], grasp[1], max(self.lift_height, grasp[2] + 0.1)])
        pre_place_xyz = np.array([place[0], place[1], max(self.lift_height, place[2] + 0.1)])
        plan = {"pre_grasp": self._solve("approach", pre_grasp_xyz, yaw, PARK_CONFIGURATION)}
        plan["descend"] = self._cartesian_line(pre_grasp_xyz, grasp, yaw, plan["pre_grasp"], "grasp")
        plan["grasp"] = plan["descend"][-1]
        plan["lift"] = self._cartesian_line(grasp, lift_xyz, yaw, plan["grasp"], "lift")
        # The place leg: IK seeded from the lift can settle in a wrist configuration from which the
        # carry pose is out of reach; retry from the parked arm, and with the place yaw turned by
        # half a turn (the same footprint on the table for a parallel gripper's hold).
        failure = None
        for place_candidate in (place_yaw, place_yaw + np.pi):
            place_candidate = float(np.arctan2(np.sin(place_candidate), np.cos(place_candidate)))
            for seed in (plan["lift"][-1], PARK_CONFIGURATION):
                try:
                    pre_place = self._solve("carry", pre_place_xyz, place_candidate, seed)
                    place_line = self._cartesian_line(pre_place_xyz, place, place_candidate, pre_place, "place")
                    retreat = self._cartesian_line(place, pre_place_xyz, place_candidate, place_line[-1], "retreat")
                except PickPlaceRejected as error:
                    failure = error
                    continue
                plan.update(pre_place=pre_place, place_line=place_line, place=place_line[-1], retreat=retreat)
                return plan
        raise failure

    def _cartesian_line(
        self, start: np.ndarray, end: np.ndarray, yaw: float, seed: np.ndarray, name: str, spacing: float = 0.03
    ) -> np.ndarray:
        count = max(2, int(np.ceil(np.linalg.norm(end - start) / spacing)) + 1)
        joints, q = [], seed
        for t in np.linspace(0.0, 1.0, count)[1:]:
            q = self._solve(name, start + t * (end - start), yaw, q)
            joints.append(q)
        return np.array(joints)

    # ------------------------------------------------------------------ execution
    def execute(
        self,
        grasp_xyz: np.ndarray,
        yaw: float,
        place_xyz: np.ndarray,
        *,
        place_yaw: float | None = None,
        gripper_width: float = 0.0,
        on_phase: PhaseCallback | None = None,
        on_hold: Callable[[], bool] | None = None,
    ) -> PickPlaceResult:
        """Run the whole motion. ``on_phase`` returning False cancels (the arm then parks).

        ``on_hold`` is called with the object lifted (the mid-grasp capture); returning False
        cancels as well. Raises PickPlaceRejected before moving when the goal is not executable.
        """
        if not np.isfinite(gripper_width) or gripper_width < 0 or gripper_width > 2 * FINGER_OPEN:
            raise PickPlaceRejected(f"gripper_width {gripper_width} outside 0..{2 * FINGER_OPEN} m")
        plan = self.plan(grasp_xyz, yaw, place_xyz, place_yaw)
        opening = FINGER_OPEN if gripper_width == 0 else gripper_width / 2
        self._sim_time, lifted = 0.0, False
        phases: list[str] = []
        steps = [  # (phase, action)
            ("approach", lambda: self.move_joints(plan["pre_grasp"], opening)),
            ("descend", lambda: self.follow(plan["descend"], opening, speed=0.6)),
            ("close", lambda: self.actuate_gripper(plan["grasp"], 0.0, 0.45)),
            ("lift", lambda: self.follow(plan["lift"], 0.0, speed=0.8)),
            ("hold", None),
            ("carry", lambda: self.move_joints(plan["pre_place"], 0.0)),
            ("place", lambda: self.follow(plan["place_line"], 0.0, speed=0.6)),
            ("release", lambda: self.actuate_gripper(plan["place"], FINGER_OPEN, 0.3)),
            ("retreat", lambda: self.follow(plan["retreat"], FINGER_OPEN, speed=1.0)),
            ("park", lambda: self._park()),
        ]
        for index, (phase, action) in enumerate(steps):
            phases.append(phase)
            if on_phase is not None and not on_phase(phase, index / len(steps)):
                return self._abort(phases, lifted, f"cancelled during {phase}")
            if phase == "hold":
                lifted = self.object_held()
                if on_hold is not None and not on_hold():
                    return self._abort(phases, lifted, "cancelled during hold")
                continue
            if not action():
                return self._abort(phases, lifted, f"cancelled during {phase}")
        if on_phase is not None:
            on_phase("park", 1.0)
        return PickPlaceResult(
            True, lifted, "ok" if lifted else "ok (nothing held after lifting)", phases, self._sim_time
        )

    def object_held(self) -> bool:
        """The finger gap after closing: fingers that stay apart are holding something."""
        return float(np.sum(self.robot.finger_positions())) > LIFTED_GAP_THRESHOLD

    def park(self) -> None:  # at start-up and after resets
        self._park()

    # Set by the owner: should_stop() True stops a motion; abort_instantly parks with no motion (sim ending).
    should_stop: Callable[[], bool] = staticmethod(lambda: False)  # type: ignore[assignment]
    abort_instantly = False

    def _abort(self, phases: list[str], lifted: bool, message: str) -> PickPlaceResult:
        """Safe stop: open, move straight up, park. Never leaves the arm in the views."""
        stop, self.should_stop = self.should_stop, (lambda: False)
        try:
            if self.abort_instantly:
                self.robot.settle_exactly(PARK_CONFIGURATION, FINGER_OPEN)
                return PickPlaceResult(False, lifted, message, phases, self._sim_time)
            q = self.robot.arm_joint_positions()
            self.actuate_gripper(q, FINGER_OPEN, 0.3)
            position, rotation = self.kinematics.forward(q)
            q_up, err, _ = self.kinematics.solve(position + np.array([0.0, 0.0, 0.12]), rotation, q)
            if err < 0.01:
                self.move_joints(q_up, FINGER_OPEN)
            self._park()
        finally:
            self.should_stop = stop
        return PickPlaceResult(False, lifted, message, phases, self._sim_time)

    def _park(self) -> bool:
        ok = self.move_joints(PARK_CONFIGURATION, FINGER_OPEN)
        self._wait_converged(PARK_CONFIGURATION, FINGER_OPEN, tolerance=2e-3, timeout=1.5)
        self.robot.settle_exactly(PARK_CONFIGURATION, FINGER_OPEN)
        return ok

    def _tick(self, q: np.ndarray, opening: float) -> bool:
        self.robot.command(q, opening)
        self.robot.step(self.control_period)
        self._sim_time += self.control_period
        return not self.should_stop()

    def _command(self, q: np.ndarray, previous: np.ndarray, opening: float) -> bool:
        """One control tick towards ``q``, led by the servo lag times the commanded velocity."""
        velocity = (q - previous) / self.control_period
        return self._tick(q + self.kinematics.servo_lag * velocity, opening)

    def move_joints(self, target: np.ndarray, opening: float) -> bool:
        """Joint-space move with a smooth trapezoidal velocity profile inside the Panda's speed
        and acceleration limits (all joints arrive together), then wait for the arm to arrive."""
        start = self.robot.arm_joint_positions()
        delta = target - start
        speed = np.minimum(PANDA_JOINT_SPEED_LIMITS * self.speed_fraction, self.kinematics.servo_speed_limit)
        duration, ramp = _profile_timing(
            np.abs(delta), speed, PANDA_JOINT_ACCELERATION_LIMITS * self.acceleration_fraction
        )
        ticks = max(1, int(np.ceil(duration / self.control_period)))
        previous = start
        for k in range(1, ticks + 1):
            q = start + _profile(k / ticks * duration, duration, ramp) * delta
            if not self._command(q, previous, opening):
                return False
            previous = q
        return self._wait_converged(target, opening)

    def follow(self, waypoints: np.ndarray, opening: float, speed: float) -> bool:
        """Track a Cartesian line (joint waypoints ~3 cm apart) at up to ``speed`` m/s, speeding
        up and slowing down smoothly at ``cartesian_acceleration``."""
        start = self.robot.arm_joint_positions()
        points = np.vstack([start, waypoints])
        tips = np.array([self.kinematics.forward(q)[0] for q in points])
        arc = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(tips, axis=0), axis=1))])
        if arc[-1] < 1e-6:
            return self._wait_converged(waypoints[-1], opening)
        duration, ramp = _profile_timing(
            np.array([arc[-1]]), np.array([speed]), np.array([self.cartesian_acceleration])
        )
        ticks = max(1, int(np.ceil(duration / self.control_period)))
        previous = start
        for k in range(1, ticks + 1):
            length = _profile(k / ticks * duration, duration, ramp) * arc[-1]
            segment = min(int(np.searchsorted(arc, length, side="right")) - 1, len(points) - 2)
            fraction = (length - arc[segment]) / max(arc[segment + 1] - arc[segment], 1e-9)
            q = points[segment] + np.clip(fraction, 0.0, 1.0) * (points[segment + 1] - points[segment])
            if not self._command(q, previous, opening):
                return False
            previous = q
        return self._wait_converged(waypoints[-1], opening)

    def actuate_gripper(self, q: np.ndarray, opening: float, seconds: float) -> bool:
        for _ in range(int(np.ceil(seconds / self.control_period))):
            if not self._tick(q, opening):
                return False
        return True

    def _wait_converged(
        self, target: np.ndarray, opening: float, tolerance: float = 0.01, timeout: float = 0.6
    ) -> bool:
        """Hold the target until the arm is within ``tolerance`` of it, or has stopped short of it
        (blocked by contact: an object under the fingers, the table under a placed object)."""
        waited = 0.0
        previous = self.robot.arm_joint_positions()
        while waited < timeout and np.max(np.abs(previous - target)) > tolerance:
            if not self._tick(target, opening):
                return False
            waited += self.control_period
            current = self.robot.arm_joint_positions()
            if waited >= 0.2 and np.max(np.abs(current - previous)) < 0.01 * self.control_period:
                break  # at rest (under 0.02 rad/s) short of the target
            previous = current
        return True


def _profile_timing(distance: np.ndarray, max_speed: np.ndarray, max_acceleration: np.ndarray) -> tuple[float, float]:
    """(duration, ramp time) of the fastest shared profile (see :func:`_profile`) that moves every
    axis its ``distance`` within its speed and acceleration limits."""
    best = (np.inf, 0.0)
    for ramp in np.linspace(0.05, 1.5, 59):
        cruise_speed = np.max(distance / max_speed)  # duration - ramp must be at least this
        peak_acceleration = np.max(np.pi * distance / (2.0 * ramp * max_acceleration))
        duration = max(2.0 * ramp, ramp + cruise_speed, ramp + peak_acceleration)
        if duration < best[0]:
            best = (duration, ramp)
    return max(best[0], 0.1), best[1]


def _profile(t: float, duration: float, ramp: float) -> float:
    """Fraction of the way (0..1) at time t: velocity rises as a half cosine over ``ramp``
    seconds, cruises, and falls the same way (continuous acceleration, bounded jerk)."""
    t = min(max(t, 0.0), duration)
    ramp = min(ramp, duration / 2.0)
    speed = 1.0 / (duration - ramp)

    def rising(x: float) -> float:
        return speed * (x / 2.0 - ramp / (2.0 * np.pi) * np.sin(np.pi * x / ramp))

    if t < ramp:
        return rising(t)
    if t > duration - ramp:
        return 1.0 - rising(duration - t)
    return speed * (ramp / 2.0 + t - ramp)


__all__ = [
    "ArmKinematics",
    "PickPlaceController",
    "PickPlaceRejected",
    "PickPlaceResult",
    "RobotInterface",
    "default_workspace",
    "PARK_CONFIGURATION",
    "PHASES",
    "FINGER_JOINTS",
]
