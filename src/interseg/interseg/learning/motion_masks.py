"""Noisy object masks from pushing videos: what moved, minus the robot (passive pre-training).

For each pair of consecutive frames of one camera:

1. Checks: both frames RGB uint8 of the camera's size, strictly increasing time stamps, a finite
   joint state for each. A pair that fails is dropped with a counted reason, never guessed at.
2. Self-filter: the robot's own model (the arm-only MJCF the IK uses, at the recorded joint
   states) is rendered from the calibrated camera; the union of its silhouettes in both frames,
   dilated by a margin for calibration error, is ignored. Real robots do the same with their URDF.
   The renderer is the caller's (:class:`RobotSilhouettes`; in simulation
   :class:`interseg.sim.self_filter.SelfFilter`).
3. Dense optical flow (OpenCV DIS, or Farneback) on grey images at a reduced width, for speed.
4. Checks on the flow: any NaN/inf outside the robot drops the pair; a large median flow over
   the whole static scene means the camera moved (shake) and drops it too.
5. Pixels whose flow exceeds a threshold, opened and closed, split into connected components.
   A component is kept as an object mask when it is large enough but not huge, moves coherently
   (its mean flow vector is long compared to its mean flow length: an object slides, noise
   does not) and is not mostly bordered by the robot (the arm covering the object would leave a
   partial mask). Holes are filled.

The masks are noisy by nature (two objects pushed together give one mask, a rotating object's
flow is not uniform, the flow smears over edges); the Robust Set Loss is meant for that.
"""

from __future__ import annotations

from collections import Counter

import cv2
import numpy as np
from scipy import ndimage

from interseg.geometry import PinholeCamera
from interseg.learning.motion_frames import (
    ARM_COVERS_OBJECT,
    ARM_COVERS_VIEW,
    BAD_IMAGE,
    CAMERA_SHAKE,
    DROP_REASONS,
    FAR_FROM_PUSH,
    INCOHERENT_MOTION,
    MISSING_JOINT_STATE,
    NAN_FLOW,
    OUT_OF_ORDER,
    REFERENCE_HEIGHT,
    REFERENCE_WIDTH,
    SHADOW,
    SIZE_MISMATCH,
    THIN,
    TOO_LITTLE_MOTION,
    MotionFrame,
    MotionMaskConfig,
    MotionMasks,
    RobotSilhouettes,
    valid_joints,
    valid_rgb,
)


def _disk(radius: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


class MotionMaskExtractor:
    """Frame pairs -> noisy object masks, with the reason whenever a pair gives none.

    ``self_filter`` may be None only when the robot is known to be out of view (a test, or a
    camera that never sees the arm); then joint states are not required.
    """

    def __init__(self, config: MotionMaskConfig | None = None, self_filter: RobotSilhouettes | None = None):
        self.config = config or MotionMaskConfig()
        self.self_filter = self_filter
        self.drop_counts: Counter = Counter()
        self.rejected_components: Counter = Counter()
        self.pairs = 0
        self.masks_found = 0
        self._dis = None
        self._table_points: dict[tuple, np.ndarray] = {}
        self._robot_cache: dict[tuple, np.ndarray] = {}  # the next pair's first frame is this pair's second

    # -- geometry of the processing resolution ------------------------------------------------
    def _scale(self, width: int) -> float:
        return min(1.0, self.config.process_width / width)

    def downscale(self, image: np.ndarray) -> np.ndarray:
        """The image at the processing width (flow and colour checks run there)."""
        h, w = image.shape[:2]
        s = self._scale(w)
        size = (max(8, int(round(w * s))), max(8, int(round(h * s))))
        return cv2.resize(image, size, interpolation=cv2.INTER_AREA) if size != (w, h) else image

    def compute_flow(self, small_a: np.ndarray, small_b: np.ndarray) -> np.ndarray:
        """Dense flow (H', W', 2) from a to b, both RGB at the processing width."""
        grey_a = cv2.cvtColor(small_a, cv2.COLOR_RGB2GRAY)
        grey_b = cv2.cvtColor(small_b, cv2.COLOR_RGB2GRAY)
        if self.config.method == "dis":
            if self._dis is None:
                self._dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
            return self._dis.calc(grey_a, grey_b, None)
        return cv2.calcOpticalFlowFarneback(grey_a, grey_b, None, 0.5, 3, 15, 3, 5, 1.2, 0)

    def colour_changed(self, small_a: np.ndarray, small_b: np.ndarray) -> np.ndarray:
        """Pixels whose chromaticity changed: an object's edge passing, not a shadow (a shadow
        scales all channels together and leaves chromaticity nearly intact)."""
        offset = 4.0  # dark pixels' chromaticity is mostly noise
        fa = cv2.GaussianBlur(small_a.astype(np.float32), (0, 0), 1.0) + offset
        fb = cv2.GaussianBlur(small_b.astype(np.float32), (0, 0), 1.0) + offset
        chroma_a = fa / fa.sum(axis=2, keepdims=True)
        chroma_b = fb / fb.sum(axis=2, keepdims=True)
        return np.abs(chroma_a - chroma_b).max(axis=2) > self.config.chroma_threshold

    # -- the whole pipeline for one pair -------------------------------------------------------
    def process(
        self, frame_a: MotionFrame, frame_b: MotionFrame, camera: PinholeCamera | str | None = None
    ) -> MotionMasks:
        """Masks of what moved between ``frame_a`` and ``frame_b`` (in ``frame_a``'s pixels).

        ``camera`` names the view for the self-filter (a PinholeCamera also fixes the expected
        image size). Never raises on bad input: the result carries the drop reason.
        """
        self.pairs += 1
        result = self._process(frame_a, frame_b, camera)
        if result.dropped is not None:
            self.drop_counts[result.dropped] += 1
        self.rejected_components.update(result.rejected)
        self.masks_found += len(result.masks)
        return result

    def _process(self, frame_a: MotionFrame, frame_b: MotionFrame, camera) -> MotionMasks:
        a, b = frame_a.image, frame_b.image
        if not (valid_rgb(a) and valid_rgb(b)):
            return MotionMasks(dropped=BAD_IMAGE, detail="frames must be (H, W, 3) uint8 RGB, at least 32x32")
        if a.shape != b.shape:
            return MotionMasks(
                dropped=SIZE_MISMATCH, detail=f"{a.shape[1]}x{a.shape[0]} then {b.shape[1]}x{b.shape[0]}"
            )
        if isinstance(camera, PinholeCamera) and (camera.width, camera.height) != (a.shape[1], a.shape[0]):
            return MotionMasks(
                dropped=SIZE_MISMATCH,
                detail=f"frames are {a.shape[1]}x{a.shape[0]}, {camera.name} is {camera.width}x{camera.height}",
            )
        try:
            stamp_a, stamp_b = float(frame_a.stamp), float(frame_b.stamp)
            order_ok = bool(np.isfinite(stamp_a) and np.isfinite(stamp_b) and stamp_b > stamp_a)
        except (TypeError, ValueError):
            order_ok = False
        if not order_ok:
            return MotionMasks(dropped=OUT_OF_ORDER, detail=f"stamps {frame_a.stamp!r} then {frame_b.stamp!r}")
        h, w = a.shape[:2]
        robot_full = np.zeros((h, w), bool)
        if self.self_filter is not None:
            name = camera.name if isinstance(camera, PinholeCamera) else camera
            if name is None:
                raise ValueError("a camera name is needed to self-filter the robot")
            for frame in (frame_a, frame_b):
                if not valid_joints(frame.arm_joints, 7) or (
                    frame.finger_joints is not None and not valid_joints(frame.finger_joints, 2)
                ):
                    return MotionMasks(
                        dropped=MISSING_JOINT_STATE,
                        detail=f"frame at {frame.stamp!r}: arm {frame.arm_joints!r}, fingers {frame.finger_joints!r}",
                    )
            process_width = max(8, int(round(w * self._scale(w))))
            for frame in (frame_a, frame_b):
                fingers = None if frame.finger_joints is None else np.asarray(frame.finger_joints, float)
                key = (
                    name,
                    float(frame.stamp),
                    process_width,
                    np.asarray(frame.arm_joints, float).tobytes(),
                    None if fingers is None else fingers.tobytes(),
                )
                robot = self._robot_cache.get(key)
                if robot is None:
                    robot = self.self_filter.robot_mask(
                        name, np.asarray(frame.arm_joints, float), fingers, width=process_width
                    )
                    self._robot_cache = {
                        k: v for k, v in self._robot_cache.items() if k[0] != name or k[1] >= frame_a.stamp
                    }
                    self._robot_cache[key] = robot
                if robot.shape != (h, w):
                    robot = cv2.resize(robot.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST) > 0
                robot_full |= robot
        push_zone = None
        if isinstance(camera, PinholeCamera) and self.config.push_reach_m > 0:
            tips = [f.tip_xyz for f in (frame_a, frame_b) if f.tip_xyz is not None]
            if tips:
                push_zone = self._push_zone(camera, tips)
        small_a, small_b = self.downscale(a), self.downscale(b)
        flow = self.compute_flow(small_a, small_b)
        if self.config.check_backward:
            flow = self.occlusions_removed(flow, self.compute_flow(small_b, small_a))
        return self.masks_from_flow(flow, (h, w), robot_full, self.colour_changed(small_a, small_b), push_zone)

    def occlusions_removed(self, forward: np.ndarray, backward: np.ndarray) -> np.ndarray:
        """Forward flow with zero where the backward flow disagrees (forward-backward check).

        Background just ahead of a moving object is covered in the next frame; its forward flow
        copies the object's, but following it lands on background whose backward flow does not
        point back. Such pixels are occluded, not moving."""
        fh, fw = forward.shape[:2]
        grid_x, grid_y = np.meshgrid(np.arange(fw, dtype=np.float32), np.arange(fh, dtype=np.float32))
        back = cv2.remap(
            backward,
            grid_x + forward[..., 0],
            grid_y + forward[..., 1],
            cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REPLICATE,
        )
        error = np.linalg.norm(forward + back, axis=2)
        tolerance = 0.5 + 0.3 * np.linalg.norm(forward, axis=2)
        out = forward.copy()
        with np.errstate(invalid="ignore"):
            out[error > tolerance] = 0.0  # NaN comparisons are False: NaNs stay and are caught later
        return out

    def _push_zone(self, camera: PinholeCamera, tips: list) -> np.ndarray | None:
        """(H', W') bool at the processing resolution: table pixels within ``push_reach_m`` of
        the fingertip's path between the two frames (what the push can have moved)."""
        points = np.array([np.asarray(t, dtype=np.float64) for t in tips])
        if points.shape[1:] != (3,) or not np.all(np.isfinite(points)):
            return None
        s = self._scale(camera.width)
        fw, fh = max(8, int(round(camera.width * s))), max(8, int(round(camera.height * s)))
        key = (camera.name, camera.width, camera.height, camera.world_from_camera.tobytes())
        table = self._table_points.get(key)
        if table is None:
            v, u = np.mgrid[0:fh, 0:fw]
            uv = np.stack([(u.ravel() + 0.5) / s - 0.5, (v.ravel() + 0.5) / s - 0.5], axis=1)
            table = camera.intersect_plane_z(uv, 0.0)[:, :2]  # every pixel's ray on the table plane
            self._table_points[key] = table
        a, b = points[0, :2], points[-1, :2]
        ab = b - a
        t = np.clip(((table - a) @ ab) / max(float(ab @ ab), 1e-12), 0.0, 1.0)
        distance = np.linalg.norm(table - (a + t[:, None] * ab), axis=1)
        with np.errstate(invalid="ignore"):
            zone = distance <= self.config.push_reach_m
        return zone.reshape(fh, fw)

    def masks_from_flow(
        self,
        flow: np.ndarray,
        full_shape: tuple[int, int],
        robot_full: np.ndarray | None = None,
        colour_changed: np.ndarray | None = None,
        push_zone: np.ndarray | None = None,
    ) -> MotionMasks:
        """Steps 4 and 5 of the module docstring on a given flow field (processing resolution).

        ``colour_changed`` (processing resolution, from :meth:`colour_changed`) enables the
        shadow test; ``push_zone`` (same resolution) keeps only regions that reach into it."""
        c = self.config
        h, w = full_shape
        fh, fw = flow.shape[:2]
        ref = fw / REFERENCE_WIDTH  # processing pixels per reference pixel
        area_scale = (fw * fh) / (REFERENCE_WIDTH * REFERENCE_HEIGHT)
        robot_full = np.zeros((h, w), bool) if robot_full is None else robot_full
        robot_fraction = float(robot_full.mean())
        margin = max(1, int(round(c.robot_margin * w / REFERENCE_WIDTH)))
        robot_dilated = cv2.dilate(robot_full.astype(np.uint8), _disk(margin)) > 0 if robot_full.any() else robot_full
        if robot_fraction > c.max_robot_fraction:
            return MotionMasks(
                dropped=ARM_COVERS_VIEW,
                detail=f"robot covers {robot_fraction:.0%} of the image",
                robot_mask=robot_dilated,
            )
        robot = cv2.resize(robot_dilated.astype(np.uint8), (fw, fh), interpolation=cv2.INTER_NEAREST) > 0
        scene = ~robot
        finite = np.all(np.isfinite(flow), axis=2)
        if not finite[scene].all():
            bad = int((~finite & scene).sum())
            return MotionMasks(
                dropped=NAN_FLOW, detail=f"{bad} scene pixels with NaN/inf flow", robot_mask=robot_dilated
            )
        magnitude = np.linalg.norm(flow, axis=2)
        if not scene.any():
            return MotionMasks(
                dropped=ARM_COVERS_VIEW, detail="no pixel left after the self-filter", robot_mask=robot_dilated
            )
        # A camera that moves shifts the whole scene one way; sensor noise on a plain table gives
        # flow of a pixel or so in random directions, which the median vector ignores.
        drift = float(np.linalg.norm(np.median(flow[scene], axis=0)))
        moving = (magnitude > c.min_flow * ref) & scene
        if colour_changed is not None:
            # A moving shadow changes brightness only; an object's edges change colour. Keep the
            # moving pixels near a colour change (the object's interior is filled in below).
            reach = max(1, int(round(c.colour_reach * ref)))
            near_colour = cv2.dilate((colour_changed & scene).astype(np.uint8), _disk(reach)) > 0
            moving &= near_colour
        moving_fraction = float(moving.sum()) / float(scene.sum())
        if drift > c.max_background_flow * ref or moving_fraction > c.max_moving_fraction:
            return MotionMasks(
                dropped=CAMERA_SHAKE,
                robot_mask=robot_dilated,
                detail=f"median scene flow vector {drift / ref:.2f} px, {moving_fraction:.0%} of the scene moving",
            )
        mask = moving.astype(np.uint8)
        open_r = int(round(c.open_radius * ref))
        close_r = int(round(c.close_radius * ref))
        if open_r > 0:
            mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, _disk(open_r))
        if close_r > 0:
            mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, _disk(close_r))
        mask &= scene.astype(np.uint8)
        count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        min_area = max(1.0, c.min_area * area_scale)
        max_area = c.max_area_fraction * fw * fh
        robot_ring = robot.astype(np.uint8)
        kept: list[np.ndarray] = []
        rejected: Counter = Counter()
        for label in range(1, count):
            area = stats[label, cv2.CC_STAT_AREA]
            if area < min_area:
                rejected["too small"] += 1
                continue
            if area > max_area:
                rejected["too large"] += 1
                continue
            x, y, bw, bh = (
                int(stats[label, k]) for k in (cv2.CC_STAT_LEFT, cv2.CC_STAT_TOP, cv2.CC_STAT_WIDTH, cv2.CC_STAT_HEIGHT)
            )
            x0, y0, x1, y1 = max(x - 2, 0), max(y - 2, 0), min(x + bw + 2, fw), min(y + bh + 2, fh)
            component = labels[y0:y1, x0:x1] == label
            vectors = flow[y0:y1, x0:x1][component]
            coherence = float(np.linalg.norm(vectors.mean(axis=0)) / max(np.linalg.norm(vectors, axis=1).mean(), 1e-6))
            if coherence < c.min_coherence:
                rejected[INCOHERENT_MOTION] += 1
                continue
            if push_zone is not None and not push_zone[y0:y1, x0:x1][component].any():
                rejected[FAR_FROM_PUSH] += 1
                continue
            if colour_changed is not None:
                colour = float(colour_changed[y0:y1, x0:x1][component].mean())
                if colour < c.min_colour_change:
                    rejected[SHADOW] += 1
                    continue
            outline = (cv2.dilate(component.astype(np.uint8), _disk(1)) > 0) & ~component
            contact = float(robot_ring[y0:y1, x0:x1][outline].mean()) if outline.any() else 0.0
            if contact > c.max_arm_contact:
                rejected[ARM_COVERS_OBJECT] += 1
                continue
            # Flow fades out over about a patch beyond the object's edge: keep the pixels moving at
            # least a fraction of the region's typical speed.
            speed = np.linalg.norm(flow[y0:y1, x0:x1], axis=2)
            core = component & (speed >= c.relative_flow * float(np.median(speed[component])))
            if core.any():
                core_count, core_labels, core_stats, _ = cv2.connectedComponentsWithStats(
                    core.astype(np.uint8), connectivity=8
                )
                component = core_labels == 1 + int(np.argmax(core_stats[1:, cv2.CC_STAT_AREA]))
            filled = ndimage.binary_fill_holes(component)
            trim = int(round(c.trim * ref))
            if trim > 0:
                filled = cv2.erode(filled.astype(np.uint8), _disk(trim), borderType=cv2.BORDER_REPLICATE) > 0
            thickness = float(cv2.distanceTransform(np.pad(filled, 1).astype(np.uint8), cv2.DIST_L2, 3).max())
            if thickness < c.min_thickness / 2 * ref:
                rejected[THIN] += 1
                continue
            small = np.zeros((fh, fw), np.uint8)
            small[y0:y1, x0:x1] = filled
            full = cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST) > 0 if (fw, fh) != (w, h) else small > 0
            full &= ~robot_dilated
            if full.any():
                kept.append(full)
        if kept:
            return MotionMasks(kept, None, f"{len(kept)} moving regions", rejected, robot_dilated)
        if rejected[ARM_COVERS_OBJECT]:
            reason = ARM_COVERS_OBJECT
        elif rejected[FAR_FROM_PUSH]:
            reason = FAR_FROM_PUSH
        elif rejected[THIN]:
            reason = THIN
        elif rejected[SHADOW]:
            reason = SHADOW
        elif rejected[INCOHERENT_MOTION]:
            reason = INCOHERENT_MOTION
        else:
            reason = TOO_LITTLE_MOTION
        detail = ", ".join(f"{n} {k}" for k, n in rejected.items()) or "no pixel above the flow threshold"
        return MotionMasks([], reason, detail, rejected, robot_dilated)

    def summary(self) -> dict:
        """Counts for logs and benchmarks."""
        return {
            "pairs": self.pairs,
            "masks": self.masks_found,
            "dropped": dict(self.drop_counts),
            "rejected_components": dict(self.rejected_components),
        }


__all__ = ["DROP_REASONS", "MotionFrame", "MotionMaskConfig", "MotionMaskExtractor", "MotionMasks", "RobotSilhouettes"]
