import numpy as np
import pytest

from interseg.learning.baselines import BottomUpConfig, bottom_up_proposals
from interseg.learning.metrics import recall_of_chosen
from interseg.learning.synthetic import default_cameras, random_objects, render, table_texture


def test_bottom_up_proposals_find_distinct_objects():
    rng = np.random.default_rng(0)
    cam = default_cameras(320, 240)[0]
    image, masks = render(cam, random_objects(rng, 4), table_texture(0), noise_sigma=2.0, rng=rng)
    hyps = bottom_up_proposals(image, BottomUpConfig(work_width=320))
    assert hyps and len(hyps) <= 30
    scores = [h.score for h in hyps]
    assert scores == sorted(scores, reverse=True) and all(0.0 <= s <= 1.0 for s in scores)
    assert all(h.mask.shape == (240, 320) and h.mask[round(h.grasp_v), round(h.grasp_u)] for h in hyps)
    recall = recall_of_chosen([[h.mask for h in hyps]], [masks], iou_threshold=0.5)
    assert recall.recall >= 0.75, recall


def test_bottom_up_rejects_bad_images():
    with pytest.raises(ValueError, match="uint8"):
        bottom_up_proposals(np.zeros((60, 80, 3), np.float64))
