"""What one arena arrangement holds, decided from its seed alone (no simulator): the background,
the objects and where each is dropped. The MuJoCo arena builds it (interseg.sim.arena) and the
Gazebo world writer writes it (interseg.sim.gazebo_world), so both simulators show the same scene
for the same split and seed."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from interseg.sim.catalog import ObjectSpec, background_split, make_object, object_split

SCATTER_X = (0.38, 0.70)  # where objects are dropped, inside the workspace and all four views
SCATTER_Y = (-0.23, 0.23)
DROP_HEIGHT = 0.002  # metres above the table the objects' frames start at


@dataclass
class Arrangement:
    split: str
    seed: int
    background_id: int
    objects: list[ObjectSpec]
    poses: list[tuple[np.ndarray, np.ndarray]]  # per object: position, quaternion (w, x, y, z)
    rng: np.random.Generator  # the arrangement's generator, after the choices above (for the arena)


def plan_arrangement(
    split: str,
    seed: int,
    object_count: tuple[int, int] = (4, 8),
    touching_probability: float = 0.3,
    *,
    background_id: int | None = None,
    object_ids: list[int] | None = None,
) -> Arrangement:
    """The arrangement of ``seed`` in ``split`` (deterministic); ``background_id`` / ``object_ids``
    pin the choice and must belong to the split."""
    rng = np.random.default_rng([int(seed), 77])
    if background_id is None:
        background_id = int(rng.choice(background_split(split)))
    elif background_id not in background_split(split):
        raise ValueError(f"background {background_id} is not in the {split} split")
    if object_ids is None:
        count = int(rng.integers(object_count[0], object_count[1] + 1))
        object_ids = [int(i) for i in rng.choice(object_split(split), size=count, replace=False)]
    else:
        foreign = [i for i in object_ids if i not in object_split(split)]
        if foreign:
            raise ValueError(f"objects {foreign} are not in the {split} split")
    objects = [make_object(i) for i in object_ids]
    poses = scatter(objects, rng, touching_probability)
    return Arrangement(split, int(seed), int(background_id), objects, poses, rng)


def scatter(
    objects: list[ObjectSpec], rng: np.random.Generator, touching_probability: float
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Drop positions without overlap; some objects land touching a neighbour on purpose.

    Objects that find no free spot are left out (the list is shortened in place).
    """
    placed: list[tuple[np.ndarray, float]] = []
    poses = []
    for spec in list(objects):
        radius = spec.footprint_radius
        for attempt in range(500):
            if placed and rng.random() < touching_probability and attempt < 20:
                anchor, anchor_radius = placed[int(rng.integers(len(placed)))]
                angle = rng.uniform(0, 2 * np.pi)
                xy = anchor + (anchor_radius + radius + 0.002) * np.array([np.cos(angle), np.sin(angle)])
            else:
                xy = np.array([rng.uniform(*SCATTER_X), rng.uniform(*SCATTER_Y)])
            inside = SCATTER_X[0] <= xy[0] <= SCATTER_X[1] and SCATTER_Y[0] <= xy[1] <= SCATTER_Y[1]
            if inside and all(np.linalg.norm(xy - p) >= r + radius + 0.001 for p, r in placed):
                break
        else:
            objects.remove(spec)
            continue
        placed.append((xy, radius))
        yaw = rng.uniform(-np.pi, np.pi)
        poses.append((np.array([xy[0], xy[1], DROP_HEIGHT]), np.array([np.cos(yaw / 2), 0.0, 0.0, np.sin(yaw / 2)])))
    return poses
