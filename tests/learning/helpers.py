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
        for _k, mask in enumerate(masks):
            if mask.sum() < 50:
                continue
            vs, us = np.nonzero(mask)
            store.add(
                image=image,
                u=float(us.mean()),
                v=float(vs.mean()),
                positive=True,
                mask=mask,
                reason="generated: true mask",
                interaction_id=scene,
                view=cam.name,
            )
            occupied |= mask
        free_v, free_u = np.nonzero(~occupied)
        for j in rng.choice(len(free_u), negatives_per_scene, replace=False):
            store.add(
                image=image,
                u=float(free_u[j]),
                v=float(free_v[j]),
                positive=False,
                mask=None,
                reason="generated: background",
                interaction_id=scene,
                view=cam.name,
            )
    return store


def damage_file(path, how: str) -> None:
    """Damage an example's PNG the ways disks, people and scripts do."""
    import cv2

    data = path.read_bytes()
    if how == "delete":
        path.unlink()
    elif how == "truncate":
        path.write_bytes(data[: len(data) // 2])
    elif how == "empty":
        path.write_bytes(b"")
    elif how == "garbage":
        path.write_bytes(np.random.default_rng(len(data)).integers(0, 256, len(data), dtype=np.uint8).tobytes())
    elif how == "flip":  # one bit of the compressed pixels
        damaged = bytearray(data)
        damaged[len(data) // 2] ^= 0x10
        path.write_bytes(bytes(damaged))
    elif how in ("resize", "grey", "other_mask"):
        original = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if how == "resize":
            replacement = cv2.resize(original, (original.shape[1] // 2, original.shape[0] // 2))
        elif how == "grey":
            replacement = cv2.cvtColor(original, cv2.COLOR_BGR2GRAY)
        else:
            replacement = np.zeros_like(original)
            replacement[: original.shape[0] // 2, : original.shape[1] // 2] = 255
        ok, encoded = cv2.imencode(".png", replacement)
        path.write_bytes(encoded.tobytes())
    else:
        raise ValueError(how)
