"""Scoring of `interseg bench`: mask AP on an evaluation set (with the COCO files behind it), the
labeller's masks judged against the simulator's ground truth, and means with their spread."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from interseg.learning.hypothesis import mask_iou


def judge_example(
    example,
    moved: list[int],
    before_map: np.ndarray,
    after_map: np.ndarray,
    lifted: bool,
    shadows: bool,
    near_px: float,
) -> dict:
    """Compare one labelled example with the ground truth of its view.

    ``moved``: indices of objects whose pose changed in the interaction. A pick example is about
    the before-image, a place example about the after-image. Returns the IoU with the matching
    moved object (positives), whether the label is a false positive / false negative, and the
    most likely cause of an error."""
    gt_map = before_map if example.kind == "pick" else after_map
    u, v = int(round(example.u)), int(round(example.v))
    h, w = gt_map.shape
    # the moved object the example is about: the one under (or nearest to) the point
    candidates = []
    for k in moved:
        mask = gt_map == k + 1
        if not mask.any():
            continue
        vs, us = np.nonzero(mask)
        distance = float(np.min((us - u) ** 2 + (vs - v) ** 2)) ** 0.5
        candidates.append((distance, k, mask))
    candidates.sort(key=lambda c: c[0])
    target = candidates[0] if candidates and candidates[0][0] <= near_px else None
    record = {
        "view": example.view,
        "kind": example.kind,
        "positive": bool(example.positive),
        "objects_moved": len(moved),
        "lifted": bool(lifted),
    }
    if example.positive:
        if target is None:
            record.update(
                iou=0.0,
                error="false_positive",
                cause=_cause(moved, lifted, shadows, example.mask, before_map, after_map),
            )
            return record
        iou = mask_iou(example.mask, target[2])
        if len(moved) > 1 and example.kind == "pick":  # the label may span the objects that moved together
            union = np.isin(gt_map, [k + 1 for k in moved])
            record["iou_with_all_moved"] = mask_iou(example.mask, union)
        record.update(iou=iou, error=None if iou >= 0.5 else "poor_mask")
        if record["error"]:
            record["cause"] = _cause(moved, lifted, shadows, example.mask & ~target[2], before_map, after_map)
        return record
    record.update(iou=None, error="false_negative" if target is not None else None)
    if target is not None:
        record["cause"] = "failed_grasp" if not lifted else "missed_change"
    return record


def _cause(moved: list[int], lifted: bool, shadows: bool, extra: np.ndarray | None, before_map, after_map) -> str:
    """Best guess of why a positive label is wrong: two objects moved together; a failed grasp
    that only nudged the object; changed pixels on the bare table in both images (a shadow when
    shadows are rendered, otherwise lighting or noise); otherwise unexplained."""
    if len(moved) > 1:
        return "two_objects_moved"
    if moved and not lifted:
        return "failed_grasp"
    if extra is not None and extra.any():
        on_table = (before_map[extra] == 0) & (after_map[extra] == 0)
        if on_table.mean() > 0.5:
            return "shadow" if shadows else "lighting_or_noise"
    if not moved:
        return "nothing_moved"
    return "other"


def summarize_labels(records: list[dict]) -> dict:
    """Median IoU on positives, false positive / negative rates, errors by cause."""
    positives = [r for r in records if r["positive"]]
    ious = [r["iou"] for r in positives]
    true_pos = [r["iou"] for r in positives if r["error"] != "false_positive"]
    fps = [r for r in positives if r["error"] == "false_positive"]
    fns = [r for r in records if r["error"] == "false_negative"]
    should_be_positive = len(positives) - len(fps) + len(fns)
    causes: dict[str, int] = {}
    for r in records:
        if r.get("error"):
            key = f"{r['error']}:{r.get('cause', 'unknown')}"
            causes[key] = causes.get(key, 0) + 1
    by_kind = {}
    for kind in ("pick", "place"):
        k_ious = [r["iou"] for r in positives if r["kind"] == kind]
        by_kind[kind] = {"positives": len(k_ious), "median_iou": float(np.median(k_ious)) if k_ious else None}
    return {
        "examples": len(records),
        "positives": len(positives),
        "negatives": len(records) - len(positives),
        "median_iou": float(np.median(ious)) if ious else None,
        "median_iou_true_positives": float(np.median(true_pos)) if true_pos else None,
        "fraction_iou_at_least_0_5": float(np.mean(np.asarray(ious) >= 0.5)) if ious else None,
        "fp_rate": len(fps) / len(positives) if positives else None,
        "fn_rate": len(fns) / should_be_positive if should_be_positive else None,
        "errors_by_cause": dict(sorted(causes.items())),
        "by_kind": by_kind,
        "ious": [round(float(v), 4) for v in ious],
        "definitions": (
            "median_iou over all positive labels (a positive where no object moved counts as IoU 0); "
            "fp_rate = positives where no moved object is near the point / positives; fn_rate = negatives "
            "at a point where an object did move / labels that should be positive"
        ),
    }


def score(predict, eval_set, coco_path: Path):
    from interseg.learning.metrics import evaluate_predictor

    result = evaluate_predictor(predict, eval_set.images, eval_set.gt_masks)
    result.save_json(coco_path)
    return result


def mean_spread(values: list[float]) -> dict:
    finite = [v for v in values if v is not None and np.isfinite(v)]
    return {
        "mean": float(np.mean(finite)) if finite else None,
        "std": float(np.std(finite)) if len(finite) > 1 else 0.0,
        "min": float(min(finite)) if finite else None,
        "max": float(max(finite)) if finite else None,
    }


def curve_analysis(interactions: list[int], ap: list[float], flat_per_100: float = 0.01) -> dict:
    """How an AP-versus-interactions curve ends: the first point reaching 95% of the final AP,
    and the least-squares slope over the last quarter of the interactions (AP per 100
    interactions); the curve has flattened when that slope is below ``flat_per_100``."""
    if len(interactions) != len(ap) or not ap:
        raise ValueError(f"{len(interactions)} interaction counts for {len(ap)} AP values")
    final = ap[-1]
    reached = next((n for n, value in zip(interactions, ap) if value >= 0.95 * final), interactions[-1])
    start = interactions[-1] - (interactions[-1] - interactions[0]) / 4
    tail = [(n, value) for n, value in zip(interactions, ap) if n >= start]
    slope = None
    if len(tail) >= 2:
        xs, ys = np.array([t[0] for t in tail], float), np.array([t[1] for t in tail], float)
        slope = float(np.polyfit(xs, ys, 1)[0] * 100)
    return {
        "final_ap": float(final),
        "interactions_to_95_percent_of_final": int(reached),
        "last_quarter_from": float(start),
        "last_quarter_points": len(tail),
        "last_quarter_slope_per_100": slope,
        "flattened": None if slope is None else bool(slope < flat_per_100),
        "flat_below_per_100": flat_per_100,
    }


def add_missing_prf(numbers: dict, folder: Path) -> bool:
    """A run written before bench.json carried the unseen-object metrics: compute them from its own
    COCO files (coco/<method>-seed<N>.json and _results.json, the predictions the AP was computed
    on) when they are there, and say so in the JSON. True when something was added."""
    from interseg.evaluation.bench.profiles import METHODS
    from interseg.learning.metrics import coco_ap, prf_of
    from interseg.learning.prf_metrics import KEYS

    entries = [e for method in METHODS for e in numbers["ap"][method]["per_seed"] if "prf" not in e]
    if not entries or not all((folder / e["coco_results"]).is_file() for e in entries):
        return False
    for entry in entries:
        gt = json.loads((folder / entry["coco_gt"]).read_text())
        results = json.loads((folder / entry["coco_results"]).read_text())
        entry["prf"] = prf_of(coco_ap(gt, results))
    for method in METHODS:
        values = numbers["ap"][method]["per_seed"]
        numbers["ap"][method]["prf"] = {k: mean_spread([v["prf"][k] for v in values])["mean"] for k in KEYS}
    numbers["prf_note"] = "unseen-object metrics computed afterwards from this run's COCO files (--from-json)"
    return True
