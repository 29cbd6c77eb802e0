"""Generated training data for the learning tests (synthetic tabletop, top camera)."""
from __future__ import annotations

import numpy as np

from interseg.learning.store import ExampleStore
from interseg.learning.synthetic import default_cameras, random_objects, render, table_texture


def fill_store(root, scenes: int = 3, size=(320, 240), seed: int = 0, negatives_per_scene: int = 3) -> ExampleStore:
    """A writer store with one positive per object (true mask) and a few background negatives."""
    rng = np.random.default_rng(seed)
    store = ExampleStore(root, writer=True)
    cam = default_cameras(*size)[0]
    for scene in range(scenes):
        objects = random_objects(rng, 3)
        image, masks = render(cam, objects, table_texture(seed * 100 + scene), noise_sigma=2.0, rng=rng)
        occupied = np.zeros(image.shape[:2], bool)
        for k, mask in enumerate(masks):
            if mask.sum() < 50:
                continue
            vs, us = np.nonzero(mask)
            store.add(image=image, u=float(us.mean()), v=float(vs.mean()), positive=True, mask=mask,
                      reason="generated: true mask", interaction_id=scene, view=cam.name)
            occupied |= mask
        free_v, free_u = np.nonzero(~occupied)
        for j in rng.choice(len(free_u), negatives_per_scene, replace=False):
            store.add(image=image, u=float(free_u[j]), v=float(free_v[j]), positive=False, mask=None,
                      reason="generated: background", interaction_id=scene, view=cam.name)
    return store
