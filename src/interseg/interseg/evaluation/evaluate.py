"""Scoring models on a saved evaluation set (evaluation only: reads ground truth from the set's
COCO files, never from a running simulator)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np


@dataclass
class EvalSet:
    directory: Path
    view: str
    images: list[np.ndarray]  # RGB uint8
    gt_masks: list[list[np.ndarray]]  # per image, one bool mask per object
    file_names: list[str]

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the images."""
        return self.images[0].shape[1], self.images[0].shape[0]


def load_eval_set(directory: str | Path, view: str = "cam0", limit: int | None = None) -> EvalSet:
    """Images and ground-truth masks of one view of a set written by `interseg make-eval-set`."""
    from pycocotools import mask as mask_utils

    directory = Path(directory)
    annotations_file = directory / f"instances_{view}.json"
    if not annotations_file.is_file():
        raise FileNotFoundError(f"{annotations_file}: not an evaluation set (run `interseg make-eval-set`)")
    coco = json.loads(annotations_file.read_text())
    by_image: dict[int, list[np.ndarray]] = {image["id"]: [] for image in coco["images"]}
    for annotation in coco["annotations"]:
        by_image[annotation["image_id"]].append(mask_utils.decode(annotation["segmentation"]).astype(bool))
    images, masks, names = [], [], []
    for image in sorted(coco["images"], key=lambda i: i["id"])[:limit]:
        bgr = cv2.imread(str(directory / image["file_name"]), cv2.IMREAD_COLOR)
        if bgr is None:
            raise FileNotFoundError(f"{directory / image['file_name']}: missing or unreadable image")
        images.append(np.ascontiguousarray(bgr[..., ::-1]))
        masks.append(by_image[image["id"]])
        names.append(image["file_name"])
    if not images:
        raise ValueError(f"{annotations_file}: no images")
    return EvalSet(directory, view, images, masks, names)


def ensure_eval_set(
    split: str, directory: Path, width: int, height: int, per_background: int = 5, realism: str = "default"
) -> EvalSet:
    """Load the set at ``directory``, generating it first when it is missing or of another size
    (``realism``: the camera model it is rendered with, interseg.sim.realism.REALISM_PRESETS)."""
    try:
        eval_set = load_eval_set(directory)
        if eval_set.size == (width, height) and len(eval_set.images) >= per_background:
            return eval_set
    except (FileNotFoundError, ValueError):
        pass
    from interseg.evaluation.eval_set import make_eval_set

    make_eval_set(split, directory, per_background=per_background, width=width, height=height, realism=realism)
    return load_eval_set(directory)


def evaluate_bottom_up(eval_set: EvalSet, config=None):
    from interseg.learning.baselines import bottom_up_proposals
    from interseg.learning.metrics import evaluate_predictor

    return evaluate_predictor(lambda image: bottom_up_proposals(image, config), eval_set.images, eval_set.gt_masks)
