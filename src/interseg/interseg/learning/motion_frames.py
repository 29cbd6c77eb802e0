"""What motion-mask extraction (:mod:`interseg.learning.motion_masks`) takes and gives: its
settings, one recorded frame, the outcome for a frame pair, the reasons a pair gives no mask, and
the self-filter it needs (:class:`RobotSilhouettes`)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

REFERENCE_WIDTH, REFERENCE_HEIGHT = 640, 480

# Why a frame pair gave no masks. Counted per reason by MotionMaskExtractor.drop_counts.
OUT_OF_ORDER = "frames out of order"
SIZE_MISMATCH = "frame size mismatch"
BAD_IMAGE = "not an RGB uint8 image"
MISSING_JOINT_STATE = "missing joint state"
NAN_FLOW = "non-finite optical flow"
CAMERA_SHAKE = "camera shake"
TOO_LITTLE_MOTION = "too little motion"
ARM_COVERS_OBJECT = "arm covering the moving object"
ARM_COVERS_VIEW = "arm covering most of the view"
INCOHERENT_MOTION = "incoherent motion"
SHADOW = "moving shadow"
FAR_FROM_PUSH = "motion far from the fingertip"
THIN = "thin moving rim"
DROP_REASONS = (
    OUT_OF_ORDER,
    SIZE_MISMATCH,
    BAD_IMAGE,
    MISSING_JOINT_STATE,
    NAN_FLOW,
    CAMERA_SHAKE,
    TOO_LITTLE_MOTION,
    ARM_COVERS_OBJECT,
    ARM_COVERS_VIEW,
    INCOHERENT_MOTION,
    SHADOW,
    FAR_FROM_PUSH,
    THIN,
)


@dataclass(frozen=True)
class MotionMaskConfig:
    """Thresholds at the 640x480 reference resolution (pixel sizes scale with the image)."""

    method: str = "dis"  # "dis" (fast) or "farneback"
    process_width: int = 320  # flow is computed at this width, masks are pasted back at full size
    min_flow: float = 3.0  # pixels per frame at 640 wide: slower than this is not motion (noise ~1-2)
    max_background_flow: float = 2.0  # length of the scene's median flow vector above this: shake
    max_moving_fraction: float = 0.3  # more of the scene than this moving (and changing colour): shake
    min_area: int = 250  # pixels at 640x480 (small objects seen from above are ~500)
    max_area_fraction: float = 0.12  # a region larger than this part of the image is not one object
    min_coherence: float = 0.6  # |mean flow| / mean |flow| of a component
    # pixels at 640 wide added around the robot's rendered silhouette: the pushed object touches the
    # fingertips, and a wide margin cuts its near half away (8 px: median IoU 0.45 with ground truth
    # on 300 recorded push frames; 2 px with colour_reach 2: 0.54, false positives 30% -> 7%)
    robot_margin: int = 2
    max_robot_fraction: float = 0.6  # robot silhouette covering more of the image: no masks
    max_arm_contact: float = 0.45  # share of a component's outline bordering the robot
    chroma_threshold: float = 0.02  # change of offset chromaticity that counts as a colour change
    min_colour_change: float = 0.15  # share of a component's pixels whose colour changed; below: shadow
    min_thickness: float = 12.0  # pixels at 640 wide: thinner regions are shadow rims or edge noise
    relative_flow: float = 0.5  # a region's pixels move at least this fraction of its median speed
    check_backward: bool = True  # forward-backward flow check: occluded pixels are not moving
    trim: int = 4  # pixels at 640 wide: flow spills over object edges by about DIS's half patch
    # pixels at 640 wide: moving pixels this far from a colour change count. DIS spreads an object's
    # motion over the plain table just ahead of it (the table does not change colour there); a
    # wide reach kept that spill as part of the mask
    colour_reach: int = 2
    push_reach_m: float = 0.12  # with a known fingertip: regions farther than this (on the table) are
    # not what the robot pushed (moving shadows of the arm, mostly); 0 disables the test
    open_radius: int = 2  # morphology at 640 wide
    close_radius: int = 4

    def __post_init__(self) -> None:
        if self.method not in ("dis", "farneback"):
            raise ValueError(f"method must be 'dis' or 'farneback', got {self.method!r}")
        if self.process_width < 32:
            raise ValueError(f"process_width must be at least 32 pixels, got {self.process_width}")
        if self.min_flow <= 0 or self.min_area < 1:
            raise ValueError("min_flow must be positive and min_area at least 1")


@dataclass
class MotionFrame:
    """One recorded frame of one camera with the robot's joint state at that instant."""

    image: np.ndarray  # (H, W, 3) uint8 RGB
    stamp: float  # seconds, strictly increasing within a sequence
    arm_joints: np.ndarray | None = None  # 7 angles (radians); None = not recorded
    finger_joints: np.ndarray | None = None  # 2 finger positions (metres)
    tip_xyz: np.ndarray | None = None  # fingertip centre from the robot's forward kinematics (world)


@dataclass
class MotionMasks:
    """The outcome for one frame pair: masks in the first frame, or why there are none."""

    masks: list[np.ndarray] = field(default_factory=list)  # (H, W) bool, full resolution
    dropped: str | None = None  # one of DROP_REASONS when the pair yields no mask
    detail: str = ""  # human-readable explanation (numbers behind the decision)
    rejected: Counter = field(default_factory=Counter)  # components left out, by reason
    robot_mask: np.ndarray | None = None  # (H, W) bool: ignored pixels (dilated self-filter)


def valid_rgb(image) -> bool:
    return (
        isinstance(image, np.ndarray)
        and image.dtype == np.uint8
        and image.ndim == 3
        and image.shape[2] == 3
        and image.shape[0] >= 32
        and image.shape[1] >= 32
    )


def valid_joints(values, size: int) -> bool:
    if values is None:
        return False
    array = np.asarray(values, dtype=np.float64) if not isinstance(values, np.ndarray) else values
    return array.shape == (size,) and bool(np.all(np.isfinite(array)))


class RobotSilhouettes(Protocol):
    """What the extractor needs of a self-filter: the pixels the robot covers in a camera."""

    def robot_mask(
        self, camera: str, arm_joints: np.ndarray, finger_joints: np.ndarray | None = None, width: int | None = None
    ) -> np.ndarray:
        """(H, W) bool for ``camera`` at these joint positions; ``width`` renders a smaller image
        of the same view (aspect ratio kept)."""
        ...
