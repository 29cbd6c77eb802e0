import numpy as np
import pytest

from interseg.learning.metrics import mask_ap, plot_pr_curves, recall_of_chosen, recall_over_time

H, W = 40, 60


def box(x0, y0, x1, y1):
    m = np.zeros((H, W), bool)
    m[y0:y1, x0:x1] = True
    return m


def reference_ap(gt, preds, scores, t):
    """Independent COCO-style AP: greedy matching by score, 101-point interpolated precision."""
    records = []
    for gts, ps, ss in zip(gt, preds, scores):
        order = np.argsort(-np.asarray(ss), kind="mergesort")
        used = set()
        for k in order:
            best, best_iou = None, t
            for g, gm in enumerate(gts):
                if g in used:
                    continue
                iou = (ps[k] & gm).sum() / max(1, (ps[k] | gm).sum())
                if iou >= best_iou:
                    best, best_iou = g, iou
            if best is not None:
                used.add(best)
            records.append((ss[k], best is not None))
    n_gt = sum(len(g) for g in gt)
    records.sort(key=lambda r: -r[0])
    tp = np.cumsum([r[1] for r in records])
    fp = np.cumsum([not r[1] for r in records])
    recall = tp / n_gt
    precision = tp / np.maximum(tp + fp, 1)
    for i in range(len(precision) - 2, -1, -1):
        precision[i] = max(precision[i], precision[i + 1])
    out = []
    for r in np.linspace(0, 1, 101):
        idx = np.searchsorted(recall, r, side="left")
        out.append(precision[idx] if idx < len(precision) else 0.0)
    return float(np.mean(out))


A, B, C = box(2, 2, 20, 20), box(30, 5, 50, 25), box(10, 25, 30, 38)


def check(gt, preds, scores, expected30, expected50):
    result = mask_ap(gt, preds, scores)
    assert result.ap30 == pytest.approx(expected30, abs=1e-9)
    assert result.ap50 == pytest.approx(expected50, abs=1e-9)
    assert result.ap30 == pytest.approx(reference_ap(gt, preds, scores, 0.3), abs=1e-9)
    assert result.ap50 == pytest.approx(reference_ap(gt, preds, scores, 0.5), abs=1e-9)
    return result


def test_perfect_predictions():
    check([[A, B], [C]], [[B, A], [C]], [[0.9, 0.8], [0.7]], 1.0, 1.0)


def test_shifted_prediction_counts_at_0_3_only():
    shifted = box(9, 2, 27, 20)  # overlap 11 of 18 columns: IoU 11/25 = 0.44
    check([[A]], [[shifted]], [[0.9]], 1.0, 0.0)


def test_missed_object_halves_recall():
    check([[A, B]], [[A]], [[0.9]], 51 / 101, 51 / 101)


def test_duplicated_prediction_is_a_false_positive_after_the_match():
    check([[A]], [[A, A]], [[0.9, 0.8]], 1.0, 1.0)
    # a confident false positive (C where there is no object) before the true match
    check([[A]], [[C, A]], [[0.95, 0.5]], 0.5, 0.5)


def test_random_cases_match_the_reference():
    rng = np.random.default_rng(0)
    for _ in range(5):
        gt, preds, scores = [], [], []
        for _ in range(3):
            g = []
            for _ in range(rng.integers(1, 4)):
                x, y = rng.integers(0, 40), rng.integers(0, 25)
                g.append(box(x, y, x + rng.integers(6, 20), y + rng.integers(6, 15)))
            p = [np.roll(m, rng.integers(-6, 7), axis=1) for m in g if rng.random() < 0.8]
            p += [box(0, 0, 10, 10)] * int(rng.integers(0, 2))
            gt.append(g)
            preds.append(p)
            scores.append(list(rng.random(len(p))))
        result = mask_ap(gt, preds, scores)
        for t in (0.3, 0.5):
            assert result.ap[t] == pytest.approx(reference_ap(gt, preds, scores, t), abs=1e-9)


def test_no_predictions_and_bad_input(tmp_path):
    assert mask_ap([[A]], [[]], [[]]).ap30 == 0.0
    assert np.isnan(mask_ap([[]], [[A]], [[0.5]]).ap50)
    with pytest.raises(ValueError, match="scores"):
        mask_ap([[A]], [[A]], [[]])
    with pytest.raises(ValueError, match="shape"):
        mask_ap([[A]], [[A[:10]]], [[0.5]])
    with pytest.raises(ValueError, match="non-finite"):
        mask_ap([[A]], [[A]], [[float("nan")]])
    result = mask_ap([[A, B]], [[A]], [[0.9]])
    plot_pr_curves(result, tmp_path / "pr.png")
    result.save_json(tmp_path / "coco.json")
    assert (tmp_path / "pr.png").stat().st_size > 1000 and (tmp_path / "coco_results.json").exists()


def test_recall_of_chosen_hypotheses():
    shifted = box(9, 2, 27, 20)  # IoU 0.44 with A
    far = box(0, 30, 5, 35)
    result = recall_of_chosen([[shifted], [far]], [[A, B], [C]])
    assert (result.found, result.num_gt) == (1, 3) and result.recall == pytest.approx(1 / 3)
    over_time = recall_over_time([shifted, far, B], [[A, B], [C], [A, B]], window=2)
    assert list(over_time) == [1.0, 0.5, 0.5]


def test_evaluate_predictor_runs_a_hypothesis_source():
    from interseg.learning.hypothesis import hypothesis_from_mask
    from interseg.learning.metrics import evaluate_predictor

    images = [np.zeros((H, W, 3), np.uint8)] * 2
    gt = [[A, B], [C]]
    result = evaluate_predictor(lambda image: [hypothesis_from_mask(A, 0.9), hypothesis_from_mask(C, 0.4)], images, gt)
    assert result.num_predictions == 4 and result.num_gt == 3
    assert result.ap50 == pytest.approx(reference_ap(gt, [[A, C], [A, C]], [[0.9, 0.4], [0.9, 0.4]], 0.5))


def test_empty_ground_truth_mask_is_rejected():
    with pytest.raises(ValueError, match="empty ground-truth"):
        mask_ap([[np.zeros((H, W), bool)]], [[A]], [[0.5]])
