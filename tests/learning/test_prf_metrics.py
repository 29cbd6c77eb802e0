"""Overlap / boundary P/R/F on hand-made label images whose scores are worked out by hand in the
comments (the definitions are in interseg.learning.prf_metrics)."""

import numpy as np
import pytest

from interseg.learning.prf_metrics import boundary_map, image_prf, label_image, masks_of, mean_prf


def labels(shape, *boxes):
    """A label image with box (id, row0, row1, col0, col1) painted in order (inclusive ends)."""
    image = np.zeros(shape, dtype=np.uint16)
    for i, r0, r1, c0, c1 in boxes:
        image[r0 : r1 + 1, c0 : c1 + 1] = i
    return image


def test_boundary_of_a_square_is_the_ring_offset_half_a_pixel_towards_the_origin():
    # A 4x4 square at rows/cols 2..5: the mask differs from its east/south/south-east neighbour
    # on the ring of the 5x5 square at rows/cols 1..5, which has 16 pixels.
    square = labels((10, 10), (1, 2, 5, 2, 5)) > 0
    ring = np.zeros((10, 10), dtype=bool)
    ring[1:6, 1:6] = True
    ring[2:5, 2:5] = False
    assert np.array_equal(boundary_map(square), ring)
    assert boundary_map(square).sum() == 16


def test_the_image_frame_is_not_a_boundary():
    full = np.ones((6, 8), dtype=bool)
    assert not boundary_map(full).any()
    right_half = np.zeros((6, 8), dtype=bool)
    right_half[:, 4:] = True
    # Only the column left of the mask's left edge (column 3) is a boundary.
    assert np.array_equal(np.nonzero(boundary_map(right_half).any(axis=0))[0], [3])


def test_partial_object_exact_object_and_a_false_positive():
    # GT: object 1 = 4x4 at rows 0-3, cols 0-3 (16 px); object 2 = 4x4 at rows 6-9, cols 6-9 (16 px).
    # Prediction: id 5 = the left half of object 1 (8 px), id 7 = object 2 exactly, id 9 = 2x2 of
    # background (4 px). Pairwise F: (1, 5) = 2 * 1 * 0.5 / 1.5 = 2/3, (2, 7) = 1, the rest 0.
    # Overlap P = (8 + 16) / (8 + 16 + 4) = 6/7, R = 24 / 32 = 3/4, F = 2PR / (P + R) = 0.8.
    # Objects at F >= 0.75: object 2 only, 1 of 2.
    truth = labels((10, 10), (1, 0, 3, 0, 3), (2, 6, 9, 6, 9))
    predicted = labels((10, 10), (5, 0, 3, 0, 1), (7, 6, 9, 6, 9), (9, 0, 1, 8, 9))
    s = image_prf(predicted, truth)
    assert s.overlap_precision == pytest.approx(6 / 7)
    assert s.overlap_recall == pytest.approx(0.75)
    assert s.overlap_f == pytest.approx(0.8)
    assert s.objects_at_075 == 0.5 and s.num_at_075 == 1
    assert (s.num_objects, s.num_predicted) == (2, 3)


def test_boundary_scores_with_and_without_tolerance():
    # GT: 4x4 at rows 2-5, cols 2-5 (boundary ring rows/cols 1..5, 16 px); prediction: the same
    # square one column to the right (ring rows 1..5, cols 2..6, 16 px). Exactly shared boundary
    # pixels: rows 1 and 5 at cols 2..5, 8 px -> boundary P = R = F = 0.5 at tolerance 0. At
    # tolerance 1 (a plus-shaped disk) every ring pixel has the other ring next to it -> 1.0.
    # Overlap: 12 of 16 pixels shared -> P = R = F = 0.75, which counts as segmented (>= 0.75).
    truth = labels((10, 10), (1, 2, 5, 2, 5))
    predicted = labels((10, 10), (3, 2, 5, 3, 6))
    exact = image_prf(predicted, truth, tolerance=0)
    assert (exact.boundary_precision, exact.boundary_recall, exact.boundary_f) == (0.5, 0.5, 0.5)
    assert exact.overlap_f == pytest.approx(0.75) and exact.objects_at_075 == 1.0
    loose = image_prf(predicted, truth, tolerance=1)
    assert (loose.boundary_precision, loose.boundary_recall, loose.boundary_f) == (1.0, 1.0, 1.0)
    # The default tolerance is ceil(0.003 x diagonal): 1 px for 10x10, so the same as `loose`.
    assert image_prf(predicted, truth).boundary_f == 1.0


def test_an_over_segmented_object_matches_one_piece_only():
    # GT: one object over columns 0-9 of a 10x10 image (100 px). Prediction: columns 0-5 (id 1,
    # 60 px, pairwise F = 2 * 1 * 0.6 / 1.6 = 0.75) and columns 6-9 (id 2, 40 px, F = 0.571).
    # The matching takes id 1 only: P = 60 / 100, R = 60 / 100, F = 0.6.
    truth = labels((10, 10), (4, 0, 9, 0, 9))
    predicted = labels((10, 10), (1, 0, 9, 0, 5), (2, 0, 9, 6, 9))
    s = image_prf(predicted, truth)
    assert (s.overlap_precision, s.overlap_recall) == (pytest.approx(0.6), pytest.approx(0.6))
    assert s.overlap_f == pytest.approx(0.6)
    assert s.num_at_075 == 1


def test_the_matching_maximises_the_total_not_the_best_pair_first():
    # 10 rows x 14 columns, objects and predictions as column ranges. GT a = columns 0-9, b = 10-13;
    # prediction y = columns 0-3, x = columns 4-13. Pairwise F: (a, x) = 2 * 0.6 * 0.6 / 1.2 = 0.6,
    # (a, y) = 2 * 1 * 0.4 / 1.4 = 4/7, (b, x) = 2 * 0.4 * 1 / 1.4 = 4/7, (b, y) = 0. Taking the best
    # pair first (a-x) leaves b-y, total 0.6; the Hungarian matching a-y, b-x totals 8/7 and shares
    # 40 + 40 px: P = 80 / 140, R = 80 / 140 (the greedy one would share 60).
    truth = labels((10, 14), (1, 0, 9, 0, 9), (2, 0, 9, 10, 13))
    predicted = labels((10, 14), (1, 0, 9, 0, 3), (2, 0, 9, 4, 13))
    s = image_prf(predicted, truth)
    assert s.overlap_precision == pytest.approx(80 / 140)
    assert s.overlap_recall == pytest.approx(80 / 140)
    assert s.num_at_075 == 0


@pytest.mark.parametrize(
    "truth_boxes, predicted_boxes, expected",
    [
        ((), (), (1.0, 1.0, 1.0, 1.0)),  # nothing to find, nothing found
        (((1, 0, 3, 0, 3),), (), (1.0, 0.0, 0.0, 0.0)),  # missed everything
        ((), ((1, 0, 3, 0, 3),), (0.0, 1.0, 0.0, 0.0)),  # found what is not there
    ],
)
def test_edge_cases_as_published(truth_boxes, predicted_boxes, expected):
    s = image_prf(labels((8, 8), *predicted_boxes), labels((8, 8), *truth_boxes))
    assert (s.overlap_precision, s.overlap_recall, s.overlap_f, s.objects_at_075) == expected
    assert (s.boundary_precision, s.boundary_recall, s.boundary_f) == expected[:3]


def test_bad_label_images_are_refused():
    with pytest.raises(ValueError, match="differ|ground truth"):
        image_prf(np.zeros((4, 4), np.uint16), np.zeros((4, 5), np.uint16))
    with pytest.raises(ValueError, match="integer"):
        image_prf(np.zeros((4, 4), np.float32), np.zeros((4, 4), np.uint16))
    with pytest.raises(ValueError, match="2-D"):
        image_prf(np.zeros((4, 4, 3), np.uint8), np.zeros((4, 4), np.uint16))


def test_mean_over_images():
    perfect = image_prf(labels((8, 8), (1, 0, 3, 0, 3)), labels((8, 8), (1, 0, 3, 0, 3)))
    missed = image_prf(labels((8, 8)), labels((8, 8), (1, 0, 3, 0, 3)))
    summary = mean_prf([perfect, missed])
    assert summary["overlap_f"] == 0.5 and summary["overlap_precision"] == 1.0
    assert summary["objects_at_075"] == 0.5 and summary["objects"] == 2 and summary["images"] == 2
    assert np.isnan(mean_prf([])["overlap_f"])


def test_label_image_lets_the_better_mask_win_overlaps():
    a = np.zeros((6, 6), dtype=bool)
    a[0:4, 0:4] = True
    b = np.zeros((6, 6), dtype=bool)
    b[2:6, 2:6] = True
    image = label_image([a, b], [0.2, 0.9], (6, 6))
    assert image.dtype == np.uint16
    assert image[3, 3] == 1  # b (the better) owns the overlap, and is id 1
    assert image[0, 0] == 2 and image[5, 5] == 1
    assert [m.sum() for m in masks_of(image)] == [16, 12]
    with pytest.raises(ValueError, match="scores"):
        label_image([a], [0.1, 0.2], (6, 6))


def test_prf_of_an_ap_evaluation_reads_its_coco_ground_truth_and_results():
    # Objects: 8x8 (64 px) and 6x6 (36 px); predictions: both exactly, scored 0.9 and 0.3. At the
    # default min_score 0.5 only the first counts: P = 64 / 64, R = 64 / 100, one object of two.
    from interseg.learning.metrics import mask_ap, prf_of

    a = np.zeros((20, 20), bool)
    a[2:10, 2:10] = True
    b = np.zeros((20, 20), bool)
    b[12:18, 12:18] = True
    result = mask_ap([[a, b]], [[a, b]], [[0.9, 0.3]])
    half = prf_of(result)
    assert (half["overlap_precision"], half["overlap_recall"], half["objects_at_075"]) == (1.0, 0.64, 0.5)
    everything = prf_of(result, min_score=0.0)
    assert everything["overlap_f"] == 1.0 and everything["boundary_f"] == 1.0 and everything["objects"] == 2
