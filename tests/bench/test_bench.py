"""`interseg bench`: the tiny profile end to end, and the label-quality judge on hand-made cases.

The end-to-end test checks the JSON's shape and that every AP in it is what pycocotools gives
when it is recomputed from the COCO files the run saved (so the table cannot drift from the
detections behind it)."""

from __future__ import annotations

import contextlib
import io
import json
import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from interseg.evaluation.bench.methods import preload_torchvision_ops
from interseg.evaluation.bench.profiles import METHODS
from interseg.evaluation.bench.scoring import judge_example, summarize_labels
from interseg.learning.checkpoint import list_checkpoints, read_checkpoint

preload_torchvision_ops()  # at collection, before any test creates an OpenGL context (see its docstring)


def _coco_ap(gt_path: Path, results_path: Path) -> dict[float, float]:
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    results = json.loads(results_path.read_text())
    if not results:
        return {0.3: 0.0, 0.5: 0.0}
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(str(gt_path))
        dt = gt.loadRes(results)
        evaluator = COCOeval(gt, dt, iouType="segm")
        evaluator.params.useCats = 0
        evaluator.params.iouThrs = np.array([0.3, 0.5])
        evaluator.params.areaRng = [[0.0, 1e10]]
        evaluator.params.areaRngLbl = ["all"]
        evaluator.params.maxDets = [100]
        evaluator.evaluate()
        evaluator.accumulate()
    precision = evaluator.eval["precision"][:, :, 0, 0, 0]
    return {t: float(np.mean(p[p > -1])) for t, p in zip((0.3, 0.5), precision)}


@pytest.mark.slow
def test_tiny_profile_end_to_end(tmp_path):
    from interseg.evaluation.bench.cli import main

    out = tmp_path / "results"
    code = main(
        [
            "--profile",
            "tiny",
            "--out",
            str(out),
            "--work",
            str(tmp_path / "work"),
            "--eval-root",
            str(tmp_path / "eval"),
            "--markdown",
            str(tmp_path / "RESULTS.md"),
            "--pretrain-cache",
            str(tmp_path / "pretrain-cache"),
            "--quiet",
        ]
    )
    assert code == 0
    numbers = json.loads((out / "bench.json").read_text())
    # every learner started from the profile's pre-training (Algorithm 1's step 1)
    start = numbers["start"]
    assert start["kind"] == "pretrained" and not start["cached"] and start["cost_s"] > 0
    assert start["setting"]["frames"] == numbers["profile_settings"]["pretrain_frames"]
    pretrained = read_checkpoint(start["checkpoint"])["model"]
    for learner in ("rsl", "ce", "oracle"):
        first = read_checkpoint(list_checkpoints(tmp_path / "work" / "seed0" / learner)[0][1])
        assert first["version"] == 1 and first["step"] == 0
        assert all(torch.equal(pretrained[k], first["model"][k]) for k in pretrained), learner
    for key in ("ap", "labels", "throughput", "curve", "machine", "profile", "wall_s"):
        assert key in numbers, key
    assert numbers["profile"] == "tiny"
    assert set(numbers["ap"]) == set(METHODS)
    for method in METHODS:
        entry = numbers["ap"][method]
        assert len(entry["per_seed"]) == len(numbers["seeds"]) >= 1
        for key in ("ap30", "ap50"):
            assert 0.0 <= entry[key] <= 1.0, (method, key, entry[key])
        for run in entry["per_seed"]:
            recomputed = _coco_ap(out / run["coco_gt"], out / run["coco_results"])
            assert math.isclose(recomputed[0.3], run["ap30"], abs_tol=1e-9), (method, recomputed, run)
            assert math.isclose(recomputed[0.5], run["ap50"], abs_tol=1e-9), (method, recomputed, run)
        assert math.isclose(entry["ap30"], float(np.mean([r["ap30"] for r in entry["per_seed"]])), abs_tol=1e-12)
    for key in ("median_iou", "fp_rate", "fn_rate"):
        assert key in numbers["labels"]
    for key in ("interactions_per_hour", "hypothesis_ms", "trainer_samples_per_s", "labeller_ms"):
        assert numbers["throughput"][key] is not None and numbers["throughput"][key] > 0, key
    assert numbers["curve"] and all(0.0 <= v <= 1.0 for v in numbers["curve"].values())
    assert "0" in numbers["curve"]  # the initial weights, before any interaction
    end = numbers["curve_analysis"]
    assert str(end["interactions_to_95_percent_of_final"]) in numbers["curve"]
    assert end["final_ap"] == list(numbers["curve"].values())[-1]
    assert numbers["machine"]["cpu_count"] >= 1 and "gpu" in numbers["machine"]
    assert numbers["seeds"][0]["counts"]["executed"] == numbers["profile_settings"]["interactions"]
    for name in ("index.html", "RESULTS.md", "ap_table.png", "ap_vs_interactions.png", "pr_curves.png", "efficacy.png"):
        assert (out / name).stat().st_size > 0, name
    assert "Table 1" in (tmp_path / "RESULTS.md").read_text()
    assert "starts from passive pre-training" in (tmp_path / "RESULTS.md").read_text()
    # the page and markdown regenerate from the JSON alone
    (out / "index.html").unlink()
    assert main(["--from-json", str(out / "bench.json")]) == 0
    assert (out / "index.html").is_file()


def _example(kind: str, positive: bool, mask: np.ndarray | None, u: float = 10, v: float = 10):
    return SimpleNamespace(view="cam0", kind=kind, positive=positive, mask=mask, u=u, v=v)


def test_judge_example_scores_against_the_moved_object():
    before = np.zeros((40, 40), np.int32)
    before[5:15, 5:15] = 1  # object 0, moved
    before[25:35, 25:35] = 2  # object 1, still
    after = np.zeros_like(before)
    after[25:35, 25:35] = 2
    label = before == 1
    record = judge_example(_example("pick", True, label), [0], before, after, lifted=True, shadows=True, near_px=5)
    assert record["iou"] == 1.0 and record["error"] is None
    half = label.copy()
    half[:, 10:] = False
    record = judge_example(_example("pick", True, half), [0], before, after, lifted=False, shadows=True, near_px=5)
    assert record["iou"] == pytest.approx(0.5) and record["error"] is None
    partial = label.copy()
    partial[:, 8:] = False
    record = judge_example(_example("pick", True, partial), [0], before, after, lifted=False, shadows=True, near_px=5)
    assert record["error"] == "poor_mask" and record["cause"] == "failed_grasp"
    # something labelled positive where nothing moved: a false positive; on bare table with shadows on
    shadow = np.zeros((40, 40), bool)
    shadow[18:24, 0:6] = True
    record = judge_example(
        _example("pick", True, shadow, u=3, v=20), [], before, after, lifted=False, shadows=True, near_px=5
    )
    assert record["error"] == "false_positive" and record["cause"] == "shadow" and record["iou"] == 0.0
    # a negative where the object did move: a false negative, from a failed grasp
    record = judge_example(_example("pick", False, None), [0], before, after, lifted=False, shadows=True, near_px=5)
    assert record["error"] == "false_negative" and record["cause"] == "failed_grasp"
    # a negative where nothing moved is right
    record = judge_example(
        _example("pick", False, None, u=38, v=2), [0], before, after, lifted=False, shadows=True, near_px=5
    )
    assert record["error"] is None


def test_summarize_labels_rates():
    records = [
        {"positive": True, "iou": 0.9, "error": None, "kind": "pick"},
        {"positive": True, "iou": 0.8, "error": None, "kind": "place"},
        {"positive": True, "iou": 0.0, "error": "false_positive", "cause": "shadow", "kind": "pick"},
        {"positive": False, "iou": None, "error": "false_negative", "cause": "failed_grasp", "kind": "pick"},
        {"positive": False, "iou": None, "error": None, "kind": "pick"},
    ]
    summary = summarize_labels(records)
    assert summary["median_iou"] == pytest.approx(0.8)
    assert summary["median_iou_true_positives"] == pytest.approx(0.85)
    assert summary["fp_rate"] == pytest.approx(1 / 3)
    assert summary["fn_rate"] == pytest.approx(1 / 3)  # 1 missed of 2 true positives + 1 missed
    assert summary["errors_by_cause"] == {"false_negative:failed_grasp": 1, "false_positive:shadow": 1}


@pytest.mark.slow
def test_a_profile_without_replays_reports_the_in_loop_learner_only(tmp_path):
    """The long profile's shape (replays=False) on the tiny profile's sizes: no cross-entropy, oracle
    or Mask R-CNN training; their rows say why they are empty, the curve and report still come."""
    from dataclasses import replace

    from interseg.evaluation.bench.cli import run_benchmark
    from interseg.evaluation.bench.profiles import PROFILES
    from interseg.evaluation.bench.report import markdown

    profile = replace(PROFILES["tiny"], replays=False)
    out, work = tmp_path / "results", tmp_path / "work"
    numbers = run_benchmark(profile, out, work, tmp_path / "eval", progress=False, pretrain_cache=tmp_path / "cache")
    assert sorted(p.name for p in (work / "seed0").iterdir() if p.is_dir()) == ["examples", "oracle_examples", "rsl"]
    for method in ("self_sup_ce", "supervised_oracle", "mask_rcnn"):
        entry = numbers["ap"][method]
        assert entry["per_seed"] == [] and entry["ap30"] is None and "not run" in entry["note"], method
    for method in ("bottom_up", "bottom_up_tuned", "self_sup_rsl"):
        assert 0.0 <= numbers["ap"][method]["ap30"] <= 1.0, method
    assert numbers["ratios"]["rsl_minus_ce_ap30"] is None
    timings = numbers["seeds"][0]["timings"]
    assert timings["train_s_ce"] is None and timings["train_samples_each"] > 0
    assert numbers["throughput"]["trainer_samples_per_s"] > 0
    assert set(numbers["pr_curves_seed0"]["precision"]) == {"bottom_up", "bottom_up_tuned", "self_sup_rsl"}
    assert "| ours, self-supervised, cross-entropy | n/a | n/a |" in markdown(numbers)
    assert "| RSL minus cross-entropy, AP@0.3 | n/a | > 0 | n/a |" in markdown(numbers)
    for name in ("index.html", "RESULTS.md", "ap_vs_interactions.png", "pr_curves.png"):
        assert (out / name).stat().st_size > 0, name
