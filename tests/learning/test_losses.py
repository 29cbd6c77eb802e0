import numpy as np
import pytest
import torch

from interseg.learning.losses import mask_cross_entropy, objectness_loss, robust_set_loss, robust_set_target


def iou(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.bool(), b.bool()
    return float((a & b).sum()) / max(1, float((a | b).sum()))


def square(n=32, x0=8, x1=24, y0=8, y1=24):
    m = torch.zeros(n, n)
    m[y0:y1, x0:x1] = 1
    return m


def reference_target(logits, mask, b=0.75, step=0.1, moves=25):
    """Per-image, loop-based transcription of the greedy search (independent of the batch code)."""
    f = logits.numpy().astype(np.float64)
    m = mask.numpy() > 0.5

    def iou_np(p):
        union = (p | m).sum()
        return (p & m).sum() / union if union else 1.0

    inside = outside = 0.0
    current = iou_np(f > 0)
    for _ in range(moves):
        if current >= b:
            break
        options = [(inside + step, outside), (inside, outside + step), (inside + step, outside + step)]
        scores = [iou_np(np.where(m, f + a, f - c) > 0) for a, c in options]
        best = int(np.argmax(scores))
        if scores[best] <= current:
            best = 2
        inside, outside = options[best]
        current = scores[best]
    return np.where(m, f + inside, f - outside) > 0


def test_target_equals_noisy_mask_when_prediction_agrees():
    mask = square()
    logits = (mask * 2 - 1) * 3.0  # confident and identical to the mask
    target, final_iou, biases = robust_set_target(logits[None], mask[None])
    assert torch.equal(target[0], mask)
    assert float(final_iou[0]) == 1.0
    assert torch.all(biases == 0)


def test_prediction_already_within_the_set_is_kept():
    mask = square()
    pred = square(x0=8, x1=22)  # IoU 14/16 = 0.875 >= 0.75: the constraint already holds
    logits = (pred * 2 - 1) * 0.5
    target, final_iou, _ = robust_set_target(logits[None], mask[None])
    assert torch.equal(target[0], pred)
    assert abs(float(final_iou[0]) - 0.875) < 1e-6


def test_target_reaches_iou_b_where_possible():
    torch.manual_seed(0)
    mask = square()
    logits = torch.randn(32, 32) * 0.3 - 0.6  # mostly background, far from the mask
    assert iou(logits > 0, mask) < 0.5
    target, final_iou, biases = robust_set_target(logits[None], mask[None])
    assert float(final_iou[0]) >= 0.75
    assert iou(target[0], mask) >= 0.75
    assert float(biases.sum()) > 0


def test_unreachable_target_stops_after_max_moves():
    mask = square()
    logits = torch.full((32, 32), -10.0)  # 25 moves of 0.1 cannot overcome a logit of -10
    target, final_iou, biases = robust_set_target(logits[None], mask[None], max_moves=25, unmet="slack")
    assert float(final_iou[0]) == 0.0 and not target.any()
    assert abs(float(biases.max()) - 2.5) < 1e-5
    # by default the set's constraint is kept: the noisy mask itself is the target
    target, final_iou, _ = robust_set_target(logits[None], mask[None], max_moves=25)
    assert torch.equal(target[0], mask) and float(final_iou[0]) == 1.0
    # an image that reaches the set keeps its own target beside one that falls back
    reachable = (square(x0=8, x1=22) * 2 - 1) * 0.5
    target, final_iou, _ = robust_set_target(torch.stack([logits, reachable]), torch.stack([mask, mask]))
    assert torch.equal(target[0], mask) and torch.equal(target[1], square(x0=8, x1=22))
    with pytest.raises(ValueError, match="unmet"):
        robust_set_target(logits[None], mask[None], unmet="ignore")


def test_batch_matches_single_images_and_reference():
    torch.manual_seed(1)
    masks = torch.stack([square(), square(x0=2, x1=12), square(y0=0, y1=30, x0=14, x1=31)])
    logits = torch.randn(3, 32, 32) * 0.5
    batch_target, _, _ = robust_set_target(logits, masks)
    for i in range(3):
        single, _, _ = robust_set_target(logits[i : i + 1], masks[i : i + 1])
        assert torch.equal(single[0], batch_target[i])
        assert np.array_equal(reference_target(logits[i], masks[i]), batch_target[i].numpy() > 0.5)
    loss_batch = robust_set_loss(logits, masks)
    loss_singles = torch.stack([robust_set_loss(logits[i : i + 1], masks[i : i + 1]) for i in range(3)]).mean()
    assert torch.allclose(loss_batch, loss_singles, atol=1e-6)


def test_gradients_flow_and_descend_towards_target():
    torch.manual_seed(2)
    mask = square()[None]
    logits = (torch.randn(1, 32, 32) * 0.3).requires_grad_()
    loss = robust_set_loss(logits, mask)
    loss.backward()
    assert logits.grad is not None and torch.isfinite(logits.grad).all() and logits.grad.abs().sum() > 0
    with torch.no_grad():
        stepped = logits - 50.0 * logits.grad
    assert iou(stepped[0] > 0, mask[0]) > iou(logits[0] > 0, mask[0])


def test_empty_noisy_mask_is_rejected():
    with pytest.raises(ValueError, match="non-empty"):
        robust_set_loss(torch.zeros(2, 8, 8), torch.stack([torch.ones(8, 8), torch.zeros(8, 8)]))
    with pytest.raises(ValueError, match=r"\[N, H, W\]"):
        robust_set_loss(torch.zeros(8, 8), torch.ones(8, 8))


def test_all_ones_mask_is_fine():
    target, final_iou, _ = robust_set_target(torch.zeros(1, 8, 8) - 0.05, torch.ones(1, 8, 8))
    assert float(final_iou[0]) == 1.0 and bool(target.all())


def test_plain_losses():
    logits = torch.tensor([10.0, -10.0])
    assert float(objectness_loss(logits, torch.tensor([1.0, 0.0]))) < 1e-3
    assert float(objectness_loss(logits, torch.tensor([0.0, 1.0]))) > 5
    m = square(8, 2, 6, 2, 6)[None]
    assert float(mask_cross_entropy((m * 2 - 1) * 20, m)) < 1e-6
    assert float(mask_cross_entropy(torch.zeros(0, 8, 8), torch.zeros(0, 8, 8))) == 0.0
