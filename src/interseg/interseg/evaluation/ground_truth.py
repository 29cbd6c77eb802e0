"""Ground-truth instance masks and object geometry from the simulator, for evaluation only.

This is the one module allowed to read the arena's private physics state. The learning side
never imports it (a test walks the import graph of ``interseg.learning`` and ``interseg.nodes``
and fails on any import of this module), and the sim node does not serve it over ROS.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import interseg.sim  # noqa: F401  (selects the OpenGL backend before mujoco is imported)

# isort: split
import mujoco

from interseg.sim.arena import SimulatedArena, _Physics
from interseg.sim.scene import ARM_BODIES

_GEOM = int(mujoco.mjtObj.mjOBJ_GEOM)
MOVING_ARM_BODIES = tuple(b for b in ARM_BODIES if b not in ("panda0_link0", "panda0_link1"))


@dataclass(frozen=True)
class ObjectTruth:
    index: int  # position of the object in the arena (0 .. n-1); instance id is index + 1
    object_id: int  # catalogue id
    name: str
    centre: np.ndarray  # centre of the world-axis-aligned bounding box, metres
    top_z: float  # highest point above the table, metres
    extent: np.ndarray  # bounding-box size (x, y, z), metres


def _physics(arena: SimulatedArena) -> _Physics:
    physics = arena._physics  # noqa: SLF001  (this module is the sanctioned reader)
    if physics is None:
        raise RuntimeError("the arena is closed")
    return physics


def segmentation(arena: SimulatedArena, camera: str | int) -> np.ndarray:
    """Geom id per pixel (-1 for background) seen by a camera, rendered without noise."""
    physics = _physics(arena)
    name = arena.camera_names[camera] if isinstance(camera, int) else camera
    if name not in arena.camera_names:
        raise ValueError(f"unknown camera '{name}' (cameras: {', '.join(arena.camera_names)})")
    renderer = physics.renderer

    def render() -> np.ndarray:
        renderer.enable_segmentation_rendering()
        try:
            renderer.update_scene(physics.data, camera=name)
            return renderer.render()
        finally:
            renderer.disable_segmentation_rendering()

    seg = arena._on_gl(render)  # noqa: SLF001  (renderers live on the arena's OpenGL thread)
    ids, types = seg[..., 0], seg[..., 1]
    return np.where(types == _GEOM, ids, -1).astype(np.int32)


def instance_map(arena: SimulatedArena, camera: str | int) -> np.ndarray:
    """(H, W) int32: 0 for table, robot and background, k + 1 for the pixels of object k."""
    physics = _physics(arena)
    geoms = segmentation(arena, camera)
    lookup = np.zeros(physics.model.ngeom + 1, np.int32)
    body_to_instance = {body: k + 1 for k, body in enumerate(physics.object_bodies)}
    for geom in range(physics.model.ngeom):
        lookup[geom] = body_to_instance.get(int(physics.model.geom_bodyid[geom]), 0)
    return lookup[geoms]  # -1 indexes the last entry, which is 0


def instance_masks(arena: SimulatedArena, camera: str | int, min_pixels: int = 1) -> list[tuple[int, np.ndarray]]:
    """Visible objects in a view as (object index, boolean mask), skipping tiny slivers."""
    instances = instance_map(arena, camera)
    out = []
    for k in range(len(_physics(arena).objects)):
        mask = instances == k + 1
        if int(mask.sum()) >= min_pixels:
            out.append((k, mask))
    return out


def visible_arm_bodies(arena: SimulatedArena, camera: str | int) -> set[str]:
    """Names of the arm's moving bodies visible in a view (should be empty when parked)."""
    physics = _physics(arena)
    geoms = np.unique(segmentation(arena, camera))
    names = {physics.model.body(int(physics.model.geom_bodyid[g])).name for g in geoms if g >= 0}
    return names & set(MOVING_ARM_BODIES)


def objects(arena: SimulatedArena) -> list[ObjectTruth]:
    """Pose summary of every object (bounding boxes from the geoms' own boxes)."""
    physics = _physics(arena)
    model, data = physics.model, physics.data
    truths = []
    for k, body in enumerate(physics.object_bodies):
        lo, hi = np.full(3, np.inf), np.full(3, -np.inf)
        for geom in np.flatnonzero(model.geom_bodyid == body):
            centre, half = model.geom_aabb[geom, :3], model.geom_aabb[geom, 3:]
            corners = centre + half * np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)])
            world = data.geom_xpos[geom] + corners @ data.geom_xmat[geom].reshape(3, 3).T
            lo, hi = np.minimum(lo, world.min(axis=0)), np.maximum(hi, world.max(axis=0))
        spec = physics.objects[k]
        truths.append(ObjectTruth(k, spec.object_id, spec.name, (lo + hi) / 2, float(hi[2]), hi - lo))
    return truths


def object_positions(arena: SimulatedArena) -> np.ndarray:
    """(n, 3) body origins of the objects (for measuring whether an object moved)."""
    physics = _physics(arena)
    return physics.data.xpos[physics.object_bodies].copy()
