"""Motion masks from frame pairs: a synthetic moving pattern, the real robot's self-filter, and
bad input that must be dropped with a counted reason (never a crash, never a wrong mask)."""

from __future__ import annotations

import numpy as np
import pytest

from interseg.learning.motion_frames import (
    BAD_IMAGE,
    CAMERA_SHAKE,
    MISSING_JOINT_STATE,
    NAN_FLOW,
    OUT_OF_ORDER,
    SIZE_MISMATCH,
    TOO_LITTLE_MOTION,
    MotionFrame,
    MotionMaskConfig,
)
from interseg.learning.motion_masks import MotionMaskExtractor
from interseg.sim.self_filter import SelfFilter

W, H = 320, 240


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


def textured_background(rng: np.random.Generator) -> np.ndarray:
    """A smooth, mildly textured table (low contrast, as a real table top)."""
    import cv2

    noise = rng.normal(0, 1, (H // 8, W // 8, 3)).astype(np.float32)
    smooth = cv2.resize(noise, (W, H), interpolation=cv2.INTER_CUBIC)
    base = np.array([150, 120, 90], np.float32)
    return np.clip(base + 12 * smooth, 0, 255).astype(np.uint8)


def pattern_frames(shift: tuple[int, int] = (5, 2), seed: int = 0):
    """A checkered square moving by ``shift`` pixels over a static background, with sensor noise."""
    rng = np.random.default_rng(seed)
    background = textured_background(rng)
    tile = np.kron((np.indices((5, 5)).sum(0) % 2), np.ones((8, 8)))[:, :, None]
    square = (tile * np.array([40, 90, 220]) + (1 - tile) * np.array([230, 220, 40])).astype(np.uint8)
    x0, y0 = 120, 90
    frames, masks = [], []
    for dx, dy in ((0, 0), shift):
        image = background.copy()
        image[y0 + dy : y0 + dy + 40, x0 + dx : x0 + dx + 40] = square
        noisy = np.clip(image + rng.normal(0, 2.0, image.shape), 0, 255).astype(np.uint8)
        mask = np.zeros((H, W), bool)
        mask[y0 + dy : y0 + dy + 40, x0 + dx : x0 + dx + 40] = True
        frames.append(noisy)
        masks.append(mask)
    return frames, masks


@pytest.mark.parametrize("method, min_iou", [("dis", 0.8), ("farneback", 0.65)])  # Farneback's flow is smoother
def test_flow_masks_match_a_moving_pattern(method, min_iou):
    (a, b), (mask_a, _) = pattern_frames()
    extractor = MotionMaskExtractor(MotionMaskConfig(method=method))
    result = extractor.process(MotionFrame(a, 0.0), MotionFrame(b, 0.1))
    assert result.dropped is None, result.detail
    assert len(result.masks) == 1
    assert iou(result.masks[0], mask_a) > min_iou
    # Nothing moves between identical frames: dropped, counted, no mask.
    still = extractor.process(MotionFrame(a, 0.2), MotionFrame(a.copy(), 0.3))
    assert still.masks == [] and still.dropped == TOO_LITTLE_MOTION
    assert extractor.drop_counts[TOO_LITTLE_MOTION] == 1 and extractor.masks_found == 1


def test_whole_image_motion_is_camera_shake():
    (a, _), _ = pattern_frames()
    shaken = np.roll(a, (4, 6), axis=(0, 1))
    extractor = MotionMaskExtractor()
    result = extractor.process(MotionFrame(a, 0.0), MotionFrame(shaken, 0.1))
    assert result.masks == [] and result.dropped == CAMERA_SHAKE


def test_bad_input_is_dropped_with_a_counted_reason():
    (a, b), _ = pattern_frames()
    extractor = MotionMaskExtractor()
    cases = [
        (MotionFrame(a, 1.0), MotionFrame(b, 0.5), OUT_OF_ORDER),
        (MotionFrame(a, 1.0), MotionFrame(b, 1.0), OUT_OF_ORDER),
        (MotionFrame(a, float("nan")), MotionFrame(b, 1.0), OUT_OF_ORDER),
        (MotionFrame(a, "soon"), MotionFrame(b, 1.0), OUT_OF_ORDER),  # type: ignore[arg-type]
        (MotionFrame(a, 0.0), MotionFrame(b[:200], 0.1), SIZE_MISMATCH),
        (MotionFrame(a.astype(np.float32), 0.0), MotionFrame(b, 0.1), BAD_IMAGE),
        (MotionFrame(a[..., :2].copy(), 0.0), MotionFrame(b, 0.1), BAD_IMAGE),
        (MotionFrame(None, 0.0), MotionFrame(b, 0.1), BAD_IMAGE),  # type: ignore[arg-type]
    ]
    for frame_a, frame_b, reason in cases:
        result = extractor.process(frame_a, frame_b)
        assert result.masks == [] and result.dropped == reason, (reason, result.detail)
    assert extractor.drop_counts == {OUT_OF_ORDER: 4, SIZE_MISMATCH: 1, BAD_IMAGE: 3}
    # A flow field with NaNs (a broken flow backend) is never turned into a mask.
    flow = np.zeros((H, W, 2), np.float32)
    flow[100:140, 100:140] = 5.0
    flow[0, 0, 0] = np.nan
    assert extractor.masks_from_flow(flow, (H, W)).dropped == NAN_FLOW
    flow[0, 0, 0] = 0.0
    assert len(extractor.masks_from_flow(flow, (H, W)).masks) == 1


def test_missing_joint_state_is_dropped():
    from interseg.sim.scene import default_camera_rig

    (a, b), _ = pattern_frames()
    camera = default_camera_rig().pinhole(W, H)[0]
    with SelfFilter([camera]) as self_filter:
        extractor = MotionMaskExtractor(self_filter=self_filter)
        q = np.zeros(7)
        for arm_a, arm_b, fingers in (
            (None, q, None),
            (q, np.full(7, np.nan), None),
            (q, q[:6], None),
            (q, q, np.array([0.04])),
        ):
            result = extractor.process(MotionFrame(a, 0.0, arm_a, fingers), MotionFrame(b, 0.1, arm_b), camera)
            assert result.masks == [] and result.dropped == MISSING_JOINT_STATE
        assert extractor.drop_counts[MISSING_JOINT_STATE] == 4
