"""Leaving out of a render the arm links that cannot show in it (a pure speed-up).

The Panda's visual meshes hold ~130k triangles; with shadows MuJoCo draws them three times per
camera (main pass, shadow map, lit pass), even when the arm is parked outside the view. A link is
left out of one camera's render only when neither the link nor its shadow can reach the image:
its bounding sphere lies outside the camera's view frustum, and so does the volume its shadow
sweeps from every shadow-casting light (at the light's current, jittered position) down to the
lowest surface that can receive a shadow. Both tests are conservative (bounding spheres, and one
frustum plane must separate the sphere and the far end of its shadow), so the image is unchanged;
a test renders both ways and compares the pixels.
"""

from __future__ import annotations

import mujoco
import numpy as np

import interseg.sim  # noqa: F401  (selects the OpenGL backend before mujoco is imported)
from interseg.geometry import PinholeCamera


def frustum_planes(camera: PinholeCamera) -> tuple[np.ndarray, np.ndarray]:
    """Inward unit normals (4, 3) and offsets (4,) of the side planes of a camera's view, world frame."""
    corners = np.array(
        [
            [-0.5, -0.5],
            [camera.width - 0.5, -0.5],
            [camera.width - 0.5, camera.height - 0.5],
            [-0.5, camera.height - 0.5],
        ]
    )
    rays = camera.pixel_rays(corners)
    normals = np.cross(rays, np.roll(rays, -1, axis=0))
    # orient inward: the optical axis (0, 0, 1) lies inside the view
    normals = np.where((normals @ np.array([0.0, 0.0, 1.0]))[:, None] < 0, -normals, normals)
    normals /= np.linalg.norm(normals, axis=1, keepdims=True)
    rotation = camera.world_from_camera[:3, :3]
    world = normals @ rotation.T
    return world, -(world @ camera.position)


class ArmCulling:
    """Decides, per camera render, which arm geoms can be left out; see the module docstring."""

    def __init__(self, model: mujoco.MjModel, arm_body_ids, cameras: list[PinholeCamera], lowest_receiver_z: float):
        arm = set(int(b) for b in arm_body_ids)
        self.geoms = np.array(
            [g for g in range(model.ngeom) if int(model.geom_bodyid[g]) in arm and model.geom_group[g] < 3], dtype=int
        )  # groups 0-2 are drawn
        self.geom_set = set(int(g) for g in self.geoms)
        self.radius = model.geom_rbound[self.geoms].copy()
        self.planes = [frustum_planes(c) for c in cameras]
        self.lowest_z = float(lowest_receiver_z)
        self.shadow_lights = [i for i in range(model.nlight) if model.light_castshadow[i]]

    def hidden(self, data: mujoco.MjData, scene: mujoco.MjvScene, camera_index: int, shadows: bool) -> set[int]:
        """Arm geom ids that cannot appear, themselves or by their shadow, in this camera's image.

        ``scene`` is the camera's freshly updated scene: its lights are the ones that will be drawn."""
        normals, offsets = self.planes[camera_index]
        centres = data.geom_xpos[self.geoms]
        r = self.radius
        outside = (centres @ normals.T + offsets[None, :]) < -r[:, None]  # (G, 4): beyond that plane
        if shadows:
            for i in range(scene.nlight):
                light = scene.lights[i]
                if not light.castshadow:
                    continue
                blur = float(light.bulbradius)  # soft shadows spread by the bulb's size
                if light.type == mujoco.mjtLightType.mjLIGHT_DIRECTIONAL:
                    direction = np.asarray(light.dir, dtype=np.float64)
                    direction = direction / np.linalg.norm(direction)
                    if direction[2] >= -1e-6:
                        return set()  # shadows reach sideways without bound
                    length = (centres[:, 2] + r - self.lowest_z) / -direction[2]
                    far, far_r = centres + length[:, None] * direction[None, :], r + blur
                else:
                    source = np.asarray(light.pos, dtype=np.float64)
                    above = source[2] - (centres[:, 2] + r)
                    if np.any(above <= 1e-3):  # a link level with the light: its shadow is unbounded
                        return set()
                    scale = (source[2] - self.lowest_z) / above
                    far, far_r = source + scale[:, None] * (centres - source), scale * (r + blur)
                outside &= (far @ normals.T + offsets[None, :]) < -far_r[:, None]
        return set(int(g) for g in self.geoms[outside.any(axis=1)])


def leave_out(scene: mujoco.MjvScene, geoms: set[int]) -> None:
    """Make the scene's entries of these model geoms draw nothing."""
    if not geoms:
        return
    for i in range(scene.ngeom):
        entry = scene.geoms[i]
        if entry.objtype == mujoco.mjtObj.mjOBJ_GEOM and entry.objid in geoms:
            entry.type = mujoco.mjtGeom.mjGEOM_NONE
