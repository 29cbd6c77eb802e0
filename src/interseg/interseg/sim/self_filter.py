"""The robot's self-filter: renders the robot's own model from calibrated cameras, so that the
pixels the robot covers can be ignored (the motion masks of passive pre-training,
:class:`interseg.learning.motion_masks.MotionMaskExtractor`, take one of these). Real robots do
the same with their URDF.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import mujoco
import numpy as np

import interseg.sim  # noqa: F401  (selects the OpenGL backend before mujoco is imported)
from interseg.geometry import PinholeCamera
from interseg.sim.scene import ARM_JOINTS, FINGER_JOINTS, build_scene, mujoco_camera_quaternion


class SelfFilter:
    """Renders the robot's own model from calibrated cameras: the pixels the robot covers.

    Uses the same arm-only MJCF as the IK solver (optionally with the robot's believed base
    offset), with one MuJoCo camera per calibrated pinhole camera. Rendering happens on a
    dedicated thread, since an OpenGL context belongs to the thread that created it.
    """

    def __init__(self, cameras: list[PinholeCamera], base_offset: np.ndarray | None = None):
        if not cameras:
            raise ValueError("the self-filter needs at least one calibrated camera")
        self._mujoco = mujoco
        self.cameras = {c.name: c for c in cameras}
        width = max(c.width for c in cameras)
        height = max(c.height for c in cameras)
        xml, assets = build_scene([], [], None, None, width=width, height=height, arm_only=True)  # type: ignore[arg-type]
        camera_xml = []
        for cam in cameras:
            fovy = np.degrees(2.0 * np.arctan(cam.height / (2.0 * cam.fy)))
            pos = " ".join(f"{v:.6g}" for v in cam.world_from_camera[:3, 3])
            quat = " ".join(f"{v:.6g}" for v in mujoco_camera_quaternion(cam.world_from_camera))
            camera_xml.append(f'<camera name="{cam.name}" pos="{pos}" quat="{quat}" fovy="{fovy:.6g}"/>')
        if xml.count("<worldbody>") != 1:
            raise RuntimeError("unexpected arm-only MJCF: no single <worldbody>")
        xml = xml.replace("<worldbody>", "<worldbody>" + "".join(camera_xml))
        self.model = mujoco.MjModel.from_xml_string(xml, assets)
        if base_offset is not None:
            self.model.body("robot_base").pos[:] = np.asarray(base_offset, dtype=np.float64)
        self.data = mujoco.MjData(self.model)
        self.arm_qpos = np.array([self.model.joint(j).qposadr[0] for j in ARM_JOINTS])
        self.finger_qpos = np.array([self.model.joint(j).qposadr[0] for j in FINGER_JOINTS])
        self._gl = ThreadPoolExecutor(max_workers=1, thread_name_prefix="self-filter-gl")
        self._renderers: dict[tuple[int, int], object] = {}

    def robot_mask(
        self, camera: str, arm_joints: np.ndarray, finger_joints: np.ndarray | None = None, width: int | None = None
    ) -> np.ndarray:
        """(H, W) bool: pixels of ``camera`` covered by the robot at these joint positions.

        ``width`` renders a smaller image of the same view (the aspect ratio is kept), which is
        much cheaper on a software renderer."""
        if camera not in self.cameras:
            raise ValueError(f"unknown camera '{camera}' (self-filter cameras: {', '.join(self.cameras)})")
        arm = np.asarray(arm_joints, dtype=np.float64)
        if arm.shape != (7,) or not np.all(np.isfinite(arm)):
            raise ValueError(f"arm joint state must be 7 finite angles, got {arm_joints!r}")
        fingers = np.full(2, 0.04) if finger_joints is None else np.asarray(finger_joints, dtype=np.float64)
        if fingers.shape != (2,) or not np.all(np.isfinite(fingers)):
            raise ValueError(f"finger state must be 2 finite positions, got {finger_joints!r}")
        cam = self.cameras[camera]
        size = (cam.width, cam.height)
        if width is not None and 8 <= width < cam.width:
            size = (int(width), max(8, int(round(cam.height * width / cam.width))))
        return self._gl.submit(self._render, cam, arm, fingers, size).result()

    def _render(self, cam: PinholeCamera, arm: np.ndarray, fingers: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        mujoco = self._mujoco
        self.data.qpos[self.arm_qpos] = arm
        self.data.qpos[self.finger_qpos] = fingers
        mujoco.mj_kinematics(self.model, self.data)
        mujoco.mj_camlight(self.model, self.data)  # camera poses are not part of mj_kinematics
        renderer = self._renderers.get(size)
        if renderer is None:
            renderer = mujoco.Renderer(self.model, size[1], size[0])
            renderer.enable_segmentation_rendering()
            self._renderers[size] = renderer
        renderer.update_scene(self.data, camera=cam.name)
        segmentation = renderer.render()
        return segmentation[..., 0] >= 0

    def close(self) -> None:
        """Release the OpenGL contexts (required before exit with OSMesa)."""
        if self._gl is None:
            return
        for renderer in self._renderers.values():
            self._gl.submit(renderer.close).result()
        self._renderers.clear()
        self._gl.shutdown(wait=True)
        self._gl = None

    def __enter__(self) -> SelfFilter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
