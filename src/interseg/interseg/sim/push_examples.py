"""Push examples for passive pre-training, collected in the simulator: the arm makes random
pushes (:mod:`interseg.sim.pushing`) while the cameras record; consecutive frames become noisy
object masks (:mod:`interseg.learning.motion_masks`, with the robot's own silhouette removed by
:class:`interseg.sim.self_filter.SelfFilter`), each mask a positive example at its grasp point.
After each push the arm parks, and points on the table that the fingertips swept through without
anything moving become negative examples (nothing stood there, or it would have been pushed).
Everything goes into an examples store with ``source="push"``.

``interseg pretrain`` (:mod:`interseg.pretrain_command`) and the push_collector node run
:func:`collect_push_examples`.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

import cv2
import numpy as np

from interseg.learning.hypothesis import grasp_from_mask
from interseg.learning.motion_frames import ARM_COVERS_OBJECT, MotionFrame, MotionMaskConfig
from interseg.learning.motion_masks import MotionMaskExtractor
from interseg.progress import progress_bar
from interseg.sim.arena import ArenaConfig, SimulatedArena
from interseg.sim.pushing import PushCollector, PushConfig
from interseg.sim.realism import RealismConfig
from interseg.sim.self_filter import SelfFilter


def import_torchvision_before_opengl() -> None:
    """torchvision's first import pulls in triton, which crashes the process (SIGSEGV) once an
    EGL context exists; importing it before any renderer is created avoids that."""
    import torchvision  # noqa: F401


# Views that face the arm: from above (cam0) the hand hides most of what it pushes, and the
# masks there are mostly wrong; the front and side views see the object ahead of the fingers.
DEFAULT_CAMERAS = ("cam1", "cam2")


@dataclass
class CollectionSummary:
    frames: int = 0
    pushes: int = 0
    unreachable_pushes: int = 0
    positives: int = 0
    negatives: int = 0
    seconds: float = 0.0
    mask_seconds: float = 0.0  # time spent turning frames into masks (flow, self-filter, components)
    extractor: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


def _negative_points(
    record, camera, union_mask: np.ndarray, count: int, clearance_px: int
) -> list[tuple[float, float]]:
    """Pixels (in the parked frame) on the swept path that nothing moved away from."""
    plan = record.plan
    points = []
    blocked = (
        cv2.dilate(
            union_mask.astype(np.uint8),
            cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * clearance_px + 1, 2 * clearance_px + 1)),
        )
        > 0
    )
    for t in np.linspace(0.15, 0.75, count):
        world = plan.start + t * (plan.end - plan.start)
        world = np.array([world[0], world[1], 0.0])
        uv, in_front = camera.project(world[None])
        if not in_front[0] or not camera.in_image(uv, margin=clearance_px)[0]:
            continue
        u, v = float(uv[0, 0]), float(uv[0, 1])
        if blocked[int(round(v)), int(round(u))]:
            continue
        points.append((u, v))
    return points


def collect_push_examples(
    store,
    frames: int,
    *,
    width: int = 640,
    height: int = 480,
    split: str = "train",
    shadows: bool = False,
    cameras: tuple[str, ...] = DEFAULT_CAMERAS,
    seed: int = 0,
    reset_every: int = 10,
    negatives_per_push: int = 2,
    mask_config: MotionMaskConfig | None = None,
    progress: bool = True,
    on_frame=None,
    on_masks=None,
    arena_hook=None,
    on_example=None,
    on_push=None,
) -> CollectionSummary:
    """Push until ``frames`` frames are recorded; write examples to ``store`` (an open writer).

    ``on_frame(frame)`` runs at each recorded frame with the simulation paused there,
    ``on_masks(frame, camera_name, result)`` after each frame pair is processed and
    ``arena_hook(arena)`` once after the arena is built (an evaluation harness uses these;
    pre-training itself never looks at anything but frames and joint states).
    ``on_example(key, push_id, view, positive, mask_area, reason)`` runs after each example is
    written (``key`` is its store key) and ``on_push(summary)`` after each push is processed (the
    push collector node announces both). An exception raised by any hook ends the collection
    (the arena is closed; examples already written stay in the store).
    """
    import_torchvision_before_opengl()
    if frames < 1:
        raise ValueError(f"frames must be at least 1, got {frames}")
    # Frames 0.1 s apart: the lights of a real cell barely change within one video.
    realism = RealismConfig(light_position_jitter_m=0.01, light_intensity_jitter=0.02)
    arena = SimulatedArena(
        ArenaConfig(width=width, height=height, split=split, shadows=shadows, realism=realism), seed=seed
    )
    summary = CollectionSummary()
    start = time.monotonic()
    existing = store.records(include_quarantined=True)
    push_offset = 1 + max((r.interaction_id for r in existing), default=-1)
    try:
        if arena_hook is not None:
            arena_hook(arena)
        collector = PushCollector(arena, PushConfig(cameras=tuple(cameras)), seed=seed)
        camera_by_name = {c.name: c for c in arena.cameras}
        self_filter = SelfFilter([camera_by_name[c] for c in cameras])
        extractor = MotionMaskExtractor(mask_config, self_filter)
        bar = progress_bar(total=frames, desc="push frames", unit="frame", disable=not progress)
        try:
            while summary.frames < frames:
                if summary.pushes and reset_every > 0 and summary.pushes % reset_every == 0:
                    arena.reset(seed + summary.pushes)
                record = collector.push(on_frame=on_frame)
                summary.pushes += 1
                if not record.frames:
                    summary.unreachable_pushes += 1
                    if on_push is not None:
                        on_push(summary)
                    continue
                push_id = push_offset + record.push_id
                new_frames = min(len(record.frames), frames - summary.frames)
                summary.frames += new_frames
                bar.update(new_frames)
                for name in cameras:
                    camera = camera_by_name[name]
                    union = np.zeros((height, width), bool)
                    occluded = False
                    t0 = time.monotonic()
                    results = []
                    for fa, fb in zip(record.frames[:new_frames], record.frames[1 : new_frames + 1]):
                        result = extractor.process(
                            MotionFrame(fa.images[name], fa.stamp, fa.arm_joints, fa.finger_joints, fa.tip_xyz),
                            MotionFrame(fb.images[name], fb.stamp, fb.arm_joints, fb.finger_joints, fb.tip_xyz),
                            camera,
                        )
                        results.append((fa, result))
                    summary.mask_seconds += time.monotonic() - t0
                    if on_masks is not None:
                        for fa, result in results:
                            on_masks(fa, name, result)
                    for fa, result in results:
                        occluded |= result.dropped == ARM_COVERS_OBJECT or result.rejected.get(ARM_COVERS_OBJECT, 0) > 0
                        for mask in result.masks:
                            union |= mask
                            u, v, _, _ = grasp_from_mask(mask)
                            area = int(mask.sum())
                            reason = f"push {push_id} frame {fa.index}: moving region of {area} px"
                            key = store.add(
                                image=fa.images[name],
                                u=u,
                                v=v,
                                positive=True,
                                mask=mask,
                                reason=reason,
                                interaction_id=push_id,
                                view=name,
                                kind="push",
                                source="push",
                            )
                            summary.positives += 1
                            if on_example is not None:
                                on_example(key, push_id, name, True, area, reason)
                    if record.after is not None and not occluded and negatives_per_push > 0:
                        clearance = max(4, int(round(24 * width / 640)))
                        for u, v in _negative_points(record, camera, union, negatives_per_push, clearance):
                            reason = f"push {push_id}: the fingertips swept here and nothing moved"
                            key = store.add(
                                image=record.after.images[name],
                                u=u,
                                v=v,
                                positive=False,
                                mask=None,
                                reason=reason,
                                interaction_id=push_id,
                                view=name,
                                kind="push",
                                source="push",
                            )
                            summary.negatives += 1
                            if on_example is not None:
                                on_example(key, push_id, name, False, 0, reason)
                bar.set_postfix_str(f"masks={summary.positives}, negatives={summary.negatives}")
                if on_push is not None:
                    on_push(summary)
        finally:
            bar.close()
            summary.extractor = extractor.summary()
            self_filter.close()
    finally:
        arena.close()
    summary.seconds = time.monotonic() - start
    return summary
