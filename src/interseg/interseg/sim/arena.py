"""SimulatedArena: the embedded robot cell as the rest of the stack sees it (ROS-free).

It offers exactly what a real cell offers: calibrated cameras and their (noisy) images, the
arm's own joint state, and a pick-and-place skill. It has no public API for object poses or
segmentation; the evaluation-only module :mod:`interseg.evaluation.ground_truth` reaches the
private physics state (``_physics``) and is never imported by learning code (a test checks).

Typical use::

    arena = SimulatedArena(ArenaConfig(width=320, height=240), seed=3)
    views = arena.render_views()          # {"cam0": rgb, ...}, views.depth (cam0, metres)
    result = arena.pick_place([0.5, 0.0, 0.03], yaw=0.3, place_xyz=[0.55, 0.1, 0.04])
    arena.close()
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TypeVar

import mujoco
import numpy as np

import interseg.sim  # noqa: F401  (selects the OpenGL backend before mujoco is imported)
from interseg.geometry import Box, PinholeCamera
from interseg.sim.arrangement import plan_arrangement
from interseg.sim.catalog import ObjectSpec, make_background, object_split
from interseg.sim.controller import (
    FINGER_OPEN,
    PARK_CONFIGURATION,
    ArmKinematics,
    PickPlaceController,
    PickPlaceResult,
    RobotInterface,
    default_workspace,
)
from interseg.sim.culling import ArmCulling, leave_out
from interseg.sim.randomisation import RandomisationConfig, draw_variation
from interseg.sim.realism import CameraSensor, LightingJitter, RealismConfig
from interseg.sim.scene import (
    ARM_BODIES,
    ARM_JOINTS,
    FINGER_JOINTS,
    FLOOR_Z,
    CameraRig,
    build_scene,
    default_camera_rig,
)

T = TypeVar("T")


@dataclass(frozen=True)
class ArenaConfig:
    width: int = 640
    height: int = 480
    split: str = "train"
    min_objects: int = 4
    max_objects: int = 8
    shadows: bool = True
    shadow_size: int = 1024
    realism: RealismConfig = field(default_factory=RealismConfig)
    randomisation: RandomisationConfig = field(default_factory=RandomisationConfig)  # training only
    calibration_error_m: float = 0.002  # std of the arm's base offset error (per reset), metres
    touching_probability: float = 0.3  # chance an object is dropped right next to another
    settle_seconds: float = 0.6
    workspace: Box = field(default_factory=default_workspace)

    def __post_init__(self) -> None:
        if self.width < 16 or self.height < 16:
            raise ValueError(f"image size {self.width}x{self.height} too small (at least 16x16)")
        if not 1 <= self.min_objects <= self.max_objects <= 12:
            raise ValueError(
                f"object count range {self.min_objects}..{self.max_objects} must satisfy 1 <= min <= max <= 12"
            )
        object_split(self.split)  # validates the split name


@dataclass
class Views:
    """One synchronized set of renders: rgb per camera (H, W, 3 uint8), cam0 depth (metres)."""

    rgb: dict[str, np.ndarray]
    depth: np.ndarray | None
    sim_time: float


@dataclass
class _Physics:
    """Private simulator state. Only the arena and the evaluation ground-truth module use it."""

    model: mujoco.MjModel
    data: mujoco.MjData
    objects: list[ObjectSpec]
    object_bodies: list[int]
    background_id: int
    arm_qpos: np.ndarray
    arm_dof: np.ndarray
    finger_qpos: np.ndarray
    finger_dof: np.ndarray
    arm_actuators: np.ndarray
    finger_actuators: np.ndarray
    renderer: mujoco.Renderer


class _SimulatedRobot:
    """The arm's drivers: joint state and commands only (no access to anything else)."""

    def __init__(self, physics: _Physics, advance: Callable[[float], None]):
        self._physics = physics
        self._advance = advance

    def arm_joint_positions(self) -> np.ndarray:
        return self._physics.data.qpos[self._physics.arm_qpos].copy()

    def finger_positions(self) -> np.ndarray:
        return self._physics.data.qpos[self._physics.finger_qpos].copy()

    def command(self, arm_positions: np.ndarray, finger_opening: float) -> None:
        self._physics.data.ctrl[self._physics.arm_actuators] = arm_positions
        self._physics.data.ctrl[self._physics.finger_actuators] = finger_opening

    def step(self, seconds: float) -> None:
        self._advance(seconds)

    def settle_exactly(self, arm_positions: np.ndarray, finger_opening: float) -> None:
        physics = self._physics
        physics.data.qpos[physics.arm_qpos] = arm_positions
        physics.data.qvel[physics.arm_dof] = 0.0
        physics.data.qpos[physics.finger_qpos] = finger_opening
        physics.data.qvel[physics.finger_dof] = 0.0
        self.command(arm_positions, finger_opening)
        mujoco.mj_forward(physics.model, physics.data)


class SimulatedArena:
    """MuJoCo tabletop with a Panda and four cameras; see the module docstring."""

    def __init__(self, config: ArenaConfig | None = None, seed: int = 0, rig: CameraRig | None = None):
        self.config = config or ArenaConfig()
        self.rig = rig or default_camera_rig()
        self._cameras = self.rig.pinhole(self.config.width, self.config.height)
        self._lock = threading.RLock()
        # An OpenGL context belongs to one thread: every renderer call runs on this one, so that
        # the arena can be driven from any thread (a ROS executor's, for instance).
        self._gl_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="arena-gl")
        self._physics: _Physics | None = None
        self._sim_time_offset = 0.0
        self._seed = int(seed)
        self._stop_requested = False
        self.reset(seed)

    # ------------------------------------------------------------------ public API
    @property
    def cameras(self) -> list[PinholeCamera]:
        return list(self._cameras)

    @property
    def camera_names(self) -> list[str]:
        return [c.name for c in self._cameras]

    @property
    def seed(self) -> int:
        return self._seed

    @property
    def sim_time(self) -> float:
        """Seconds of simulated time since the arena was created (monotonic across resets)."""
        physics = self._require()
        return self._sim_time_offset + float(physics.data.time)

    @property
    def background_id(self) -> int:
        """Which table background is in use (the experimenter may log it; it is not ground truth)."""
        return self._require().background_id

    @property
    def num_objects(self) -> int:
        return len(self._require().objects)

    def arm_joint_positions(self) -> np.ndarray:
        return self._robot.arm_joint_positions()

    def finger_positions(self) -> np.ndarray:
        """The two finger joints' positions (metres from closed), as the gripper's driver reports them."""
        return self._robot.finger_positions()

    def reset(
        self, seed: int | None = None, *, background_id: int | None = None, object_ids: list[int] | None = None
    ) -> int:
        """Re-scatter a new set of objects of the split on a background of the split.

        Deterministic in ``seed``. ``background_id`` / ``object_ids`` pin the choice (they must
        belong to the configured split). Returns the number of objects.
        """
        with self._lock:
            if seed is None:
                seed = self._seed + 1
            if not isinstance(seed, (int, np.integer)) or seed < 0:
                raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
            self._seed = int(seed)
            cfg = self.config
            plan = plan_arrangement(
                cfg.split,
                self._seed,
                (cfg.min_objects, cfg.max_objects),
                cfg.touching_probability,
                background_id=background_id,
                object_ids=object_ids,
            )
            objects, poses, background_id, rng = plan.objects, plan.poses, plan.background_id, plan.rng
            self._build(objects, poses, background_id, rng)
            return len(objects)

    def render_views(self, depth: bool = True, cameras: Sequence[str] | None = None) -> Views:
        """Render all cameras once (lights jittered, sensor noise applied); cam0 also gives depth.

        ``cameras`` limits the set to the named views (recording a fast push with one view)."""
        if cameras is not None:
            unknown = [c for c in cameras if c not in self.camera_names]
            if unknown:
                raise ValueError(f"unknown cameras {unknown} (cameras: {', '.join(self.camera_names)})")
        with self._lock:
            return self._on_gl(lambda: self._render_views(depth, cameras))

    def run_motion(self, program: Callable[[RobotInterface, ArmKinematics], T]) -> T:
        """Run a motion program of the robot's own (pushing, for instance) on the arm.

        The program gets what a real robot has: the arm's drivers (joint states, commands, time)
        and its own kinematic model (with the same calibration error the pick-and-place skill
        has). The arena is locked meanwhile; the arm ends exactly parked, as after a pick.
        """
        with self._lock:
            try:
                return program(self._robot, self._controller.kinematics)
            finally:
                self._controller.park()

    def _on_gl(self, function: Callable[[], object]):
        """Run ``function`` on the arena's OpenGL thread and return its result."""
        return self._gl_thread.submit(function).result()

    def _render_views(self, depth: bool, cameras: Sequence[str] | None = None) -> Views:
        physics = self._require()
        renderer = physics.renderer
        self._lighting.apply()
        images: dict[str, np.ndarray] = {}
        depth_image = None
        for index, camera in enumerate(self._cameras):
            if cameras is not None and camera.name not in cameras:
                continue
            renderer.update_scene(physics.data, camera=camera.name)
            renderer.scene.flags[mujoco.mjtRndFlag.mjRND_SHADOW] = self.config.shadows
            hidden = self._culling.hidden(physics.data, renderer.scene, index, self.config.shadows)
            leave_out(renderer.scene, hidden)
            images[camera.name] = self._sensors[index].expose(renderer.render())
            if index == 0 and depth:
                renderer.enable_depth_rendering()
                renderer.update_scene(physics.data, camera=camera.name)
                leave_out(renderer.scene, hidden)
                raw = renderer.render()
                renderer.disable_depth_rendering()
                depth_image = self._depth_along_axis(raw, camera)
                depth_image = self._sensors[index].measure_depth(depth_image)
        return Views(images, depth_image, self.sim_time)

    def validate_goal(self, grasp_xyz, yaw: float, place_xyz, place_yaw: float | None = None) -> None:
        """Raise PickPlaceRejected with a reason when the goal is outside the workspace or unreachable."""
        with self._lock:
            self._controller.plan(np.asarray(grasp_xyz, float), float(yaw), np.asarray(place_xyz, float), place_yaw)

    def pick_place(
        self,
        grasp_xyz,
        yaw: float,
        place_xyz,
        *,
        place_yaw: float | None = None,
        gripper_width: float = 0.0,
        hold_callback: Callable[[], bool] | None = None,
        phase_callback: Callable[[str, float], bool] | None = None,
    ) -> PickPlaceResult:
        """Top-down pick at ``grasp_xyz`` (fingertip centre, world) with ``yaw``, place, park.

        ``hold_callback`` runs while the object is lifted (render the mid-grasp views there);
        either callback returning False cancels the motion and parks the arm. Raises
        PickPlaceRejected without moving when the goal is not executable.
        """
        with self._lock:
            self._stop_requested, self._controller.abort_instantly = False, False
            self._controller.should_stop = lambda: self._stop_requested
            try:
                return self._controller.execute(
                    np.asarray(grasp_xyz, float),
                    float(yaw),
                    np.asarray(place_xyz, float),
                    place_yaw=place_yaw,
                    gripper_width=gripper_width,
                    on_phase=phase_callback,
                    on_hold=hold_callback,
                )
            finally:
                self._controller.should_stop = lambda: False

    def request_stop(self, instantly: bool = False) -> None:
        """Ask a running pick_place (in another thread) to stop and park; returns at once.
        ``instantly`` (the simulation is ending): the arm is put at the park pose without moving
        there, so the stop does not wait for simulated motion."""
        self._controller.abort_instantly = instantly
        self._stop_requested = True

    def step_idle(self, seconds: float) -> None:
        """Let time pass with the arm holding its pose (objects keep settling)."""
        with self._lock:
            self._advance(seconds)

    def close(self) -> None:
        """Release the OpenGL context (required before exit with OSMesa)."""
        with self._lock:
            if self._physics is not None:
                self._on_gl(self._physics.renderer.close)
                self._physics = None
            self._gl_thread.shutdown(wait=True)

    def __enter__(self) -> SimulatedArena:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------ internals
    def _require(self) -> _Physics:
        if self._physics is None:
            raise RuntimeError("the arena is closed")
        return self._physics

    def _build(self, objects: list[ObjectSpec], poses, background_id: int, rng: np.random.Generator) -> None:
        cfg = self.config
        variation = draw_variation(
            cfg.randomisation, np.random.default_rng([self._seed, 47]), len(self._cameras), cfg.width
        )
        xml, assets = build_scene(
            objects,
            poses,
            make_background(background_id),
            self.rig,
            width=cfg.width,
            height=cfg.height,
            shadow_size=cfg.shadow_size,
            table_texture=variation.table_texture,
            clutter=variation.clutter,
        )
        model = mujoco.MjModel.from_xml_string(xml, assets)
        model.light_diffuse[:] *= variation.light_scale * np.asarray(variation.light_tint)
        if not all(model.body_gravcomp[model.body(body).id] == 1.0 for body in ARM_BODIES):
            raise RuntimeError("the arm bodies lack gravity compensation: the joints would sag")
        data = mujoco.MjData(model)
        if self._physics is not None:
            self._sim_time_offset += float(self._physics.data.time)
            self._on_gl(self._physics.renderer.close)
        physics = _Physics(
            model=model,
            data=data,
            objects=objects,
            object_bodies=[model.body(f"object_{i}").id for i in range(len(objects))],
            background_id=background_id,
            arm_qpos=np.array([model.joint(j).qposadr[0] for j in ARM_JOINTS]),
            arm_dof=np.array([model.joint(j).dofadr[0] for j in ARM_JOINTS]),
            finger_qpos=np.array([model.joint(j).qposadr[0] for j in FINGER_JOINTS]),
            finger_dof=np.array([model.joint(j).dofadr[0] for j in FINGER_JOINTS]),
            arm_actuators=np.array([model.actuator(f"panda0_joint{i}").id for i in range(1, 8)]),
            finger_actuators=np.array(
                [model.actuator(n).id for n in ("r_gripper_finger_joint", "l_gripper_finger_joint")]
            ),
            renderer=self._on_gl(lambda: mujoco.Renderer(model, cfg.height, cfg.width)),
        )
        self._physics = physics
        self._culling = ArmCulling(model, [model.body(b).id for b in ARM_BODIES], self._cameras, FLOOR_Z)
        self._robot = _SimulatedRobot(physics, self._advance)
        self._robot.settle_exactly(PARK_CONFIGURATION, FINGER_OPEN)
        calibration = np.zeros(3)
        calibration[:2] = rng.normal(0.0, cfg.calibration_error_m, 2)
        self._controller = PickPlaceController(self._robot, ArmKinematics(base_offset=calibration), cfg.workspace)
        noise_rng = np.random.default_rng([self._seed, 91])
        self._lighting = LightingJitter(model, cfg.realism, noise_rng)
        self._sensors = [
            CameraSensor(cfg.realism, noise_rng, *drawn)
            for drawn in zip(variation.exposure, variation.blur_sigma_px, variation.noise_scale)
        ]
        self._advance(cfg.settle_seconds)
        self._robot.settle_exactly(PARK_CONFIGURATION, FINGER_OPEN)

    def _advance(self, seconds: float) -> None:
        physics = self._require()
        steps = max(1, int(round(seconds / physics.model.opt.timestep)))
        mujoco.mj_step(physics.model, physics.data, nstep=steps)

    @staticmethod
    def _depth_along_axis(raw: np.ndarray, camera: PinholeCamera) -> np.ndarray:
        """MuJoCo's depth buffer is already linear distance along the optical axis, in metres."""
        return raw.astype(np.float32)
