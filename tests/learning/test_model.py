import math
from dataclasses import replace

import numpy as np
import pytest
import torch

from interseg.learning.hypothesis import grasp_from_mask, mask_nms
from interseg.learning.model import HypothesisNetwork, ModelConfig
from interseg.learning.predictor import HypothesisPredictor, decode_hypotheses

SMALL = ModelConfig(expected_size=(160, 120), input_scale=0.5, window=48, mask_size=8, min_mask_area=10)


def test_dense_and_window_outputs_have_the_documented_shapes():
    net = HypothesisNetwork(SMALL).eval()
    with torch.inference_mode():
        obj, masks = net(net.normalize(torch.zeros(1, 3, 64, 96, dtype=torch.uint8)))
        assert obj.shape == (1, 4, 6) and masks.shape == (1, 8, 8, 4, 6)
        wobj, wmasks = net.forward_windows(net.normalize(torch.rand(2, 3, 48, 48)))
        assert wobj.shape == (2,) and wmasks.shape == (2, 8, 8)
        with pytest.raises(ValueError, match="48x48"):
            net.forward_windows(torch.rand(1, 3, 32, 32))


def test_window_of_the_centre_cell_matches_dense_output():
    """Training windows and dense inference read the same location: the centre cell of a
    window crop equals the dense output at that cell when the crop is the whole receptive input."""
    net = HypothesisNetwork(replace(SMALL, refine=False)).eval()
    x = torch.rand(1, 3, 48, 48)
    with torch.inference_mode():
        dense_obj, dense_masks = net(net.normalize(x))
        win_obj, win_masks = net.forward_windows(net.normalize(x))
    assert torch.allclose(dense_obj[0, 1, 1], win_obj[0])
    assert torch.allclose(dense_masks[0, :, :, 1, 1], win_masks[0])


def test_refined_window_of_the_centre_cell_matches_the_refinement_at_inference():
    """The refinement reads the same features in training (the window's own) and at inference (cut
    out of the frame's at the chosen cell)."""
    torch.manual_seed(0)
    net = HypothesisNetwork(replace(SMALL, refine=True, refine_channels=8)).eval()
    x = torch.rand(1, 3, 48, 48)
    with torch.inference_mode():
        win_obj, win_masks = net.forward_windows(net.normalize(x))
        f4, f8, f16 = net.trunk_stages(net.normalize(x))
        dense_obj, coarse = net.heads(f16)
        refined = net.refine_cells(f4, f8, torch.tensor([1]), torch.tensor([1]), coarse[:, :, :, 1, 1])
    assert torch.allclose(dense_obj[0, 1, 1], win_obj[0])
    assert torch.allclose(refined, win_masks, atol=1e-5)
    assert not torch.allclose(coarse[:, :, :, 1, 1], win_masks, atol=1e-3)  # the refinement does something
    predictor = HypothesisPredictor(net)
    image = (np.random.default_rng(0).random((120, 160, 3)) * 255).astype(np.uint8)
    hyps = predictor.predict(image)
    assert all(h.mask.shape == (120, 160) and h.mask.any() for h in hyps)


@pytest.mark.parametrize("window, stride", [(80, 4), (80, 8), (112, 8), (48, 4)])
def test_window_features_cut_what_aligned_roi_align_samples_everywhere(window, stride):
    """The plain cut (exportable) reads every window, those over the frame's edges too, as
    torchvision's aligned roi_align with one sample per cell does: bit for bit."""
    from torchvision.ops import roi_align

    from interseg.learning.model import STRIDE, window_features

    torch.manual_seed(0)
    h, w = 6, 9
    features = torch.randn(1, 5, h * STRIDE // stride, w * STRIDE // stride)
    rows, cols = torch.arange(h).repeat_interleave(w), torch.arange(w).repeat(h)
    cx, cy = cols.float() * STRIDE + STRIDE / 2, rows.float() * STRIDE + STRIDE / 2
    half = window / 2
    boxes = torch.stack([torch.zeros_like(cx), cx - half, cy - half, cx + half, cy + half], 1)
    side = window // stride
    expected = roi_align(features, boxes, (side, side), spatial_scale=1 / stride, sampling_ratio=1, aligned=True)
    assert torch.equal(window_features(features, rows, cols, stride, window), expected)


def test_configs_written_before_the_refinement_have_none():
    saved = {k: v for k, v in SMALL.to_dict().items() if k not in ("refine", "refine_channels")}
    config = ModelConfig.from_dict(saved)
    assert config.refine is False and HypothesisNetwork(config).refiner is None


def test_predict_returns_valid_hypotheses():
    torch.manual_seed(0)
    predictor = HypothesisPredictor(HypothesisNetwork(SMALL))
    image = (np.random.default_rng(0).random((120, 160, 3)) * 255).astype(np.uint8)
    hyps = predictor.predict(image)
    assert 0 < len(hyps) <= SMALL.top_k
    scores = [h.score for h in hyps]
    assert scores == sorted(scores, reverse=True)
    for h in hyps:
        assert h.mask.shape == (120, 160) and h.mask.dtype == bool and h.mask.any()
        assert 0.0 <= h.score <= 1.0
        assert h.mask[int(round(h.grasp_v)), int(round(h.grasp_u))]
        assert -math.pi / 2 <= h.grasp_yaw < math.pi / 2
        u0, v0, u1, v1 = h.bbox
        assert h.mask[v0 : v1 + 1, u0 : u1 + 1].sum() == h.mask.sum()


def test_decoding_pastes_windows_where_the_cells_are():
    """A single confident cell with a full window mask lands at the documented window position."""
    cfg = ModelConfig(expected_size=None, input_scale=0.5, window=48, mask_size=8, min_mask_area=1, top_k=5)
    objectness = torch.full((4, 6), -10.0)
    objectness[2, 3] = 5.0
    masks = torch.full((8, 8, 4, 6), -10.0)
    masks[:, :, 2, 3] = 10.0
    hyps = decode_hypotheses(objectness, masks, (128, 192), cfg)
    best = hyps[0]
    # cell (2, 3): centre at network (56, 40) -> full (112, 80); window 48 -> 96 full pixels
    assert best.bbox == (112 - 48, 80 - 48, 112 + 47, 80 + 47)
    assert abs(best.grasp_u - 111.5) < 1 and abs(best.grasp_v - 79.5) < 1


@pytest.mark.parametrize(
    "bad, message",
    [
        (np.zeros((120, 160, 3), np.float32), "uint8"),
        (np.zeros((120, 160), np.uint8), r"\(H, W, 3\)"),
        (np.zeros((120, 160, 4), np.uint8), "RGBA"),
        (np.zeros((240, 320, 3), np.uint8), "expects 160x120"),
        ("not an image", "numpy array"),
    ],
)
def test_bad_images_are_rejected(bad, message):
    predictor = HypothesisPredictor(HypothesisNetwork(SMALL))
    with pytest.raises(ValueError, match=message):
        predictor.predict(bad)


def test_grasp_yaw_follows_the_major_axis():
    mask = np.zeros((100, 100), bool)
    mask[45:55, 10:90] = True  # long along u
    u, v, yaw, bbox = grasp_from_mask(mask)
    assert abs(yaw) < 1e-6 and abs(u - 49.5) < 1e-6 and abs(v - 49.5) < 1e-6 and bbox == (10, 45, 89, 54)
    diag = np.eye(60, dtype=bool) | np.eye(60, k=1, dtype=bool)  # along +u,+v (down-right)
    assert abs(grasp_from_mask(diag)[2] - math.pi / 4) < 0.05
    ring = np.zeros((50, 50), bool)
    ring[10:40, 10:40] = True
    ring[15:35, 15:35] = False  # centroid falls in the hole: moved onto the mask
    u, v, _, _ = grasp_from_mask(ring)
    assert ring[int(v), int(u)]
    with pytest.raises(ValueError, match="empty"):
        grasp_from_mask(np.zeros((5, 5), bool))


def test_mask_nms_drops_duplicates():
    a = np.zeros((3, 10, 10), bool)
    a[0, :5] = True
    a[1, :5] = True
    a[1, 5] = True  # near duplicate of 0
    a[2, 6:] = True
    kept = mask_nms(a, np.array([0.9, 0.8, 0.7]), 0.5)
    assert kept == [0, 2]


def test_training_window_targets_round_trip_through_decoding():
    """A mask target cut by the dataset at a cell's centre, emitted by that cell, decodes back
    onto the original full-resolution mask: training and inference share one geometry."""
    import cv2

    from interseg.learning.dataset import make_window

    cfg = ModelConfig()
    h, w = 480, 640
    mask = np.zeros((h, w), np.uint8)
    cv2.ellipse(mask, (300, 200), (60, 30), 30, 0, 360, 1, -1)
    mask = mask.astype(bool)
    i, j = 6, 9
    u, v = (16 * j + 8) / cfg.input_scale - 0.5, (16 * i + 8) / cfg.input_scale - 0.5
    target = make_window(np.zeros((h, w, 3), np.uint8), u, v, True, mask, cfg)["mask"]
    objectness = torch.full((15, 20), -10.0)
    objectness[i, j] = 10.0
    masks = torch.full((cfg.mask_size, cfg.mask_size, 15, 20), -10.0)
    masks[:, :, i, j] = target * 20 - 10
    best = decode_hypotheses(objectness, masks, (h, w), cfg)[0]
    assert (best.mask & mask).sum() / (best.mask | mask).sum() > 0.9


def test_mask_iou_is_one_function_for_arrays_sequences_and_empty_masks():
    import numpy as np

    from interseg.learning.hypothesis import mask_iou, mask_iou_matrix

    a = np.zeros((6, 6), bool)
    a[:3, :3] = True  # 9 px
    b = np.zeros((6, 6), bool)
    b[1:4, 1:4] = True  # 9 px, 4 shared
    empty = np.zeros((6, 6), bool)
    assert mask_iou(a, b) == pytest.approx(4 / 14)
    assert mask_iou(a, a) == 1.0
    assert mask_iou(empty, empty) == 0.0 and mask_iou(a, empty) == 0.0
    matrix = mask_iou_matrix([a, b], [b, a, empty])
    assert matrix.shape == (2, 3)
    assert matrix[0, 1] == 1.0 and matrix[1, 0] == 1.0 and matrix[0, 0] == pytest.approx(4 / 14)
    assert np.array_equal(mask_iou_matrix(np.stack([a, b]), np.stack([b, a, empty])), matrix)
    assert mask_iou_matrix([], [a]).shape == (0, 1) and mask_iou_matrix([a], []).shape == (1, 0)
