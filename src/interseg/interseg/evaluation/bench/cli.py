"""`interseg bench`: the paper's Table 1 and Figure 2 on the held-out test split, with baselines,
label quality, throughput and seed variance, in one command.

The whole run (collection, training and scoring of every method for every seed, the bottom-up
baselines once, throughput and label quality) and its command line; see
:mod:`interseg.evaluation.bench` for what is measured and how."""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

from interseg.cli_args import ArgumentParser, random_seed
from interseg.evaluation.bench.collection import collect
from interseg.evaluation.bench.methods import (
    mask_rcnn_predictor,
    preload_torchvision_ops,
    train_mask_rcnn,
    train_replay,
)
from interseg.evaluation.bench.profiles import (
    METHODS,
    PAPER_TABLE1,
    PROFILES,
    Profile,
    bottom_up_grid,
    pretrain_setting,
)
from interseg.evaluation.bench.provenance import json_default, machine_info, versions
from interseg.evaluation.bench.report import table_text, write_outputs
from interseg.evaluation.bench.scoring import add_missing_prf, curve_analysis, mean_spread, score, summarize_labels
from interseg.evaluation.pretrained_start import START_KINDS
from interseg.experiment import POLICIES
from interseg.sim.realism import REALISM_PRESETS


def run_benchmark(
    profile: Profile,
    out: Path,
    work: Path,
    eval_root: Path,
    progress: bool = True,
    start_kind: str = "pretrained",
    pretrain_cache: Path | None = None,
) -> dict:
    """Everything ``interseg bench`` measures, for ``profile``; the learners start from passive
    pre-training (``start_kind`` "pretrained", cached in ``pretrain_cache``) or random weights."""
    preload_torchvision_ops()

    from interseg.evaluation.evaluate import ensure_eval_set
    from interseg.learning.baselines import bottom_up_proposals
    from interseg.learning.checkpoint import list_checkpoints
    from interseg.learning.metrics import evaluate_predictor, prf_of
    from interseg.learning.predictor import HypothesisPredictor
    from interseg.learning.prf_metrics import KEYS as PRF_KEYS

    started = time.time()
    out.mkdir(parents=True, exist_ok=True)
    coco_dir = out / "coco"
    coco_dir.mkdir(exist_ok=True)
    machine = machine_info()
    size = f"{profile.width}x{profile.height}"
    phase_s: dict[str, float] = {}

    t = time.perf_counter()
    suffix = "" if profile.test_realism == "default" else f"-{profile.test_realism}"
    test, val = (
        ensure_eval_set(
            split,
            eval_root / f"{split}-{size}-{per_background}{suffix}",
            profile.width,
            profile.height,
            per_background,
            realism=profile.test_realism,
        )
        for split, per_background in (("test", profile.test_per_background), ("val", profile.val_per_background))
    )
    for subset, limit in ((test, profile.test_limit), (val, profile.val_limit)):
        if limit is not None:
            subset.images, subset.gt_masks, subset.file_names = (
                subset.images[:limit],
                subset.gt_masks[:limit],
                subset.file_names[:limit],
            )
    phase_s["eval_sets"] = time.perf_counter() - t

    # bottom-up: untuned, and tuned on the validation split
    t = time.perf_counter()
    grid = bottom_up_grid(profile.bottom_up_grid)
    tuning = []
    for index, config in enumerate(grid):
        result = evaluate_predictor(lambda image, c=config: bottom_up_proposals(image, c), val.images, val.gt_masks)
        tuning.append(
            {
                "candidate": index,
                "val_ap30": result.ap30,
                "val_ap50": result.ap50,
                "config": {k: v for k, v in asdict(config).items() if k != "extra"},
            }
        )
        if progress:
            print(f"[bench] bottom-up candidate {index}: val AP@0.3 {result.ap30:.3f}", flush=True)
    best = max(range(len(grid)), key=lambda i: (tuning[i]["val_ap30"], -i))
    bottom_up = score(lambda image: bottom_up_proposals(image, grid[0]), test, coco_dir / "bottom_up-seed0.json")
    bottom_up_tuned = score(
        lambda image: bottom_up_proposals(image, grid[best]), test, coco_dir / "bottom_up_tuned-seed0.json"
    )
    phase_s["bottom_up"] = time.perf_counter() - t

    start_info: dict = {"kind": "random"}
    start_weights = None
    if start_kind == "pretrained":
        from interseg.evaluation.pretrained_start import ensure_pretrained

        t = time.perf_counter()
        start = ensure_pretrained(pretrain_setting(profile), pretrain_cache or work / "pretrain-cache", progress)
        phase_s["pretraining"] = time.perf_counter() - t
        start_weights, start_info = start.checkpoint, start.to_dict()
        print(
            f"[bench] start: pre-trained checkpoint {start.checkpoint} "
            f"({'cached; it cost' if start.cached else 'made in'} {start.cost_s / 60:.1f} min)",
            flush=True,
        )

    per_seed: dict[str, list[dict]] = {m: [] for m in METHODS}
    curves, efficacy, label_records, seed_info = [], [], [], []
    pr_curves = {}
    for seed in profile.seeds:
        seed_start = time.perf_counter()
        seed_work = work / f"seed{seed}"
        run = collect(profile, seed, seed_work, progress, start_weights)
        t = time.perf_counter()
        learners = [("self_sup_rsl", "rsl")]
        ce_s = oracle_s = rcnn = rcnn_info = None
        samples_each = sum(steps for _, steps in run.schedule) * profile.batch_size
        if profile.replays:
            ce_s, samples_each = train_replay(
                profile, run, seed_work / "examples", seed_work / "ce", "ce", start_weights
            )
            # the oracle's labels are clean: plain cross-entropy, as DeepMask was trained
            oracle_s, _ = train_replay(
                profile, run, seed_work / "oracle_examples", seed_work / "oracle", "ce", start_weights
            )
            rcnn, rcnn_info = train_mask_rcnn(profile, run, oracle_s, progress)
            learners += [("self_sup_ce", "ce"), ("supervised_oracle", "oracle")]
        train_s = time.perf_counter() - t
        t = time.perf_counter()
        results = {}
        for method, folder in learners:
            final = list_checkpoints(seed_work / folder)[-1][1]
            predictor = HypothesisPredictor.from_checkpoint(final)
            results[method] = score(predictor.predict, test, coco_dir / f"{method}-seed{seed}.json")
        if rcnn is not None:
            results["mask_rcnn"] = score(mask_rcnn_predictor(rcnn), test, coco_dir / f"mask_rcnn-seed{seed}.json")
        results["bottom_up"], results["bottom_up_tuned"] = bottom_up, bottom_up_tuned
        for method in results:
            coco_seed = 0 if method.startswith("bottom_up") else seed
            per_seed[method].append(
                {
                    "seed": seed,
                    "ap30": results[method].ap30,
                    "ap50": results[method].ap50,
                    "prf": prf_of(results[method]),
                    "coco_gt": f"coco/{method}-seed{coco_seed}.json",
                    "coco_results": f"coco/{method}-seed{coco_seed}_results.json",
                }
            )
        if seed == profile.seeds[0]:
            pr_curves = {m: {str(th): results[m].precision[th].tolist() for th in (0.3, 0.5)} for m in results}
        # AP versus interactions along the run (every checkpoint of both self-supervised learners)
        # (the final checkpoints were scored above; the cross-entropy curve only when the profile asks)
        curve = {"seed": seed, "interactions": [], "rsl_ap30": [], "rsl_ap50": []} | (
            {"ce_ap30": []} if profile.ce_curve else {}
        )
        rsl_checkpoints, ce_checkpoints = list_checkpoints(seed_work / "rsl"), list_checkpoints(seed_work / "ce")
        for index, (last_interaction, _) in enumerate(run.schedule):
            last = index == len(run.schedule) - 1
            r = (
                results["self_sup_rsl"]
                if last
                else evaluate_predictor(
                    HypothesisPredictor.from_checkpoint(rsl_checkpoints[index][1]).predict, test.images, test.gt_masks
                )
            )
            curve["interactions"].append(last_interaction)
            curve["rsl_ap30"].append(r.ap30)
            curve["rsl_ap50"].append(r.ap50)
            if profile.ce_curve:
                c = (
                    results["self_sup_ce"]
                    if last
                    else evaluate_predictor(
                        HypothesisPredictor.from_checkpoint(ce_checkpoints[index][1]).predict,
                        test.images,
                        test.gt_masks,
                    )
                )
                curve["ce_ap30"].append(c.ap30)
        curves.append(curve)
        eval_s = time.perf_counter() - t
        efficacy.append({"seed": seed, "hits": run.chosen_hits, "model_version": run.interaction_versions})
        label_records += [r | {"seed": seed} for r in run.label_records]
        seed_info.append(
            {
                "seed": seed,
                "counts": {k: v for k, v in run.counts.items() if k != "rejections"},
                "rejection_examples": run.counts.get("rejections", [])[:5],
                "schedule": run.schedule,
                "timings": run.timings
                | {
                    "train_s_ce": ce_s,
                    "train_s_oracle": oracle_s,
                    "train_samples_each": samples_each,
                    "mask_rcnn": rcnn_info,
                    "replay_and_mask_rcnn_s": train_s,
                    "evaluation_s": eval_s,
                    "seed_wall_s": time.perf_counter() - seed_start,
                },
            }
        )
        if progress:
            print(
                f"[bench] seed {seed}: "
                + ", ".join(f"{m} {results[m].ap30:.3f}/{results[m].ap50:.3f}" for m in METHODS if m in results),
                flush=True,
            )

    ap = {}
    for method in METHODS:
        values = per_seed[method]
        ap[method] = {
            "ap30": mean_spread([v["ap30"] for v in values])["mean"],
            "ap50": mean_spread([v["ap50"] for v in values])["mean"],
            "ap30_spread": mean_spread([v["ap30"] for v in values]),
            "ap50_spread": mean_spread([v["ap50"] for v in values]),
            # the unseen-object segmentation metrics (interseg evaluate-images reports the same)
            "prf": {k: mean_spread([v["prf"][k] for v in values])["mean"] for k in PRF_KEYS},
            "per_seed": values,
        }
    ap["bottom_up"]["note"] = ap["bottom_up_tuned"]["note"] = "deterministic: scored once, the same for every seed"
    for method in METHODS:
        if not per_seed[method]:
            ap[method]["note"] = f"not run: the {profile.name} profile measures the in-loop learner only (no replays)"

    # Figure 2a: mean over seeds at each round (rounds fall on the same interaction counts)
    points = sorted({n for c in curves for n in c["interactions"]})
    curve_summary = {"interactions": points}
    for key in ("rsl_ap30", "rsl_ap50") + (("ce_ap30",) if profile.ce_curve else ()):
        curve_summary[key] = [
            float(np.mean([c[key][c["interactions"].index(n)] for c in curves if n in c["interactions"]]))
            for n in points
        ]
    curve_map = {str(n): v for n, v in zip(points, curve_summary["rsl_ap30"])}
    curve_end = curve_analysis(points, curve_summary["rsl_ap30"])

    def seed_mean(key: str):
        values = [s["timings"][key] for s in seed_info if s["timings"].get(key) is not None]
        return float(np.mean(values)) if values else None

    trained = ("train_s_rsl", "train_s_ce", "train_s_oracle")
    train_seconds = sum(s["timings"][k] for s in seed_info for k in trained if s["timings"][k] is not None)
    train_samples = sum(
        s["timings"]["train_samples_each"] for s in seed_info for k in trained if s["timings"][k] is not None
    )
    throughput = {
        "interactions_per_hour": seed_mean("interactions_per_hour"),
        "interactions_per_hour_with_training": seed_mean("interactions_per_hour_with_training"),
        "hypothesis_ms": seed_mean("hypothesis_ms"),
        "trainer_samples_per_s": train_samples / train_seconds if train_seconds else None,
        "labeller_ms": seed_mean("labeller_ms"),
        "notes": (
            f"in-process loop (no ROS transport) at {size}, shadows {'on' if profile.shadows else 'off'}; "
            "interactions_per_hour excludes the synchronous training rounds, the _with_training figure includes "
            "them; hypothesis_ms and labeller_ms are medians (labeller: all four views); trainer samples/s over "
            f"every training round of the {'three networks' if profile.replays else 'in-loop learner'}, "
            f"batch {profile.batch_size}, window {profile.window} px"
        ),
    }
    labels = summarize_labels(label_records)
    rsl, oracle_ap, tuned = ap["self_sup_rsl"], ap["supervised_oracle"], ap["bottom_up_tuned"]

    def ratio(a, b):
        return a / b if a is not None and b else None

    numbers = {
        "profile": profile.name,
        "profile_settings": asdict(profile) | {"input_scale": profile.input_scale},
        "start": start_info,
        "ap": ap,
        "ratios": {
            "rsl_over_oracle_ap30": ratio(rsl["ap30"], oracle_ap["ap30"]),
            "rsl_over_oracle_ap50": ratio(rsl["ap50"], oracle_ap["ap50"]),
            "rsl_over_bottom_up_tuned_ap30": ratio(rsl["ap30"], tuned["ap30"]),
            "rsl_minus_ce_ap30": (
                rsl["ap30"] - ap["self_sup_ce"]["ap30"]
                if rsl["ap30"] is not None and ap["self_sup_ce"]["ap30"] is not None
                else None
            ),
        },
        "targets": {
            "rsl_over_oracle_ap30": 0.9,
            "rsl_over_oracle_ap50": 0.7,
            "rsl_over_bottom_up_tuned_ap30": 2.5,
            "median_label_iou": 0.85,
            "paper": {
                "rsl_over_deepmask_tuned_ap30": 0.79,
                "rsl_over_deepmask_tuned_ap50": 0.52,
                "rsl_over_gop_tuned_ap30": 2.0,
            },
        },
        "paper_table1": {
            m: {"paper_method": v[0], "ap30": v[1] / 100, "ap50": v[2] / 100} for m, v in PAPER_TABLE1.items()
        },
        "curve": curve_map,
        "curve_analysis": curve_end,
        "curve_detail": {"mean": curve_summary, "per_seed": curves},
        "efficacy": {
            "iou_threshold": 0.3,
            "window": profile.efficacy_window,
            "per_seed": efficacy,
            "overall_recall": float(np.mean([h for e in efficacy for h in e["hits"]])) if efficacy else None,
        },
        "pr_curves_seed0": {"recall": np.linspace(0, 1, 101).tolist(), "precision": pr_curves},
        "labels": labels,
        "throughput": throughput,
        "bottom_up_tuning": {"split": "val", "images": len(val.images), "chosen": best, "candidates": tuning},
        "eval_set": {
            "split": "test",
            "view": "cam0",
            "images": len(test.images),
            "objects": sum(len(m) for m in test.gt_masks),
            "directory": str(test.directory),
        },
        "seeds": seed_info,
        "machine": machine,
        "versions": versions(),
        "phase_wall_s": phase_s,
        "wall_s": time.time() - started,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "command": "interseg bench "
        + " ".join(sys.argv[2:] if len(sys.argv) > 2 and sys.argv[1] == "bench" else sys.argv[1:]),
    }
    try:
        numbers["machine"]["load_average_at_end"] = os.getloadavg()
    except OSError:
        pass
    (out / "bench.json").write_text(json.dumps(numbers, indent=1, default=json_default) + "\n")
    write_outputs(numbers, out, label_records)
    return numbers


def main(argv: list[str] | None = None) -> int:
    parser = ArgumentParser(prog="interseg bench", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--profile",
        choices=sorted(PROFILES),
        default="quick",
        help="tiny: CI smoke test; quick: ~35 min on 2 cores; standard: <= 2 h; long: one seed, 1,000 interactions, "
        "<= 2 h",
    )
    parser.add_argument("--out", type=Path, default=None, help="results folder (default benchmarks/results/PROFILE)")
    parser.add_argument("--work", type=Path, default=None, help="stores and checkpoints (default runs/bench-PROFILE)")
    parser.add_argument("--eval-root", type=Path, default=None, help="cached evaluation sets (default runs/eval)")
    parser.add_argument("--seeds", type=random_seed, nargs="+", default=None, help="override the profile's seeds")
    parser.add_argument(
        "--markdown", type=Path, default=None, help="also write the results section here (e.g. benchmarks/RESULTS.md)"
    )
    parser.add_argument(
        "--from-json",
        type=Path,
        default=None,
        help="only regenerate plots, HTML and markdown from an existing bench.json",
    )
    parser.add_argument(
        "--start",
        choices=START_KINDS,
        default="pretrained",
        help="where every learner starts: passive pre-training (Algorithm 1's step 1; made once per profile "
        "and cached) or random weights (the robot then tests bottom-up proposals until the first update)",
    )
    parser.add_argument(
        "--policy",
        choices=POLICIES,
        default="uniform",
        help="how the robot chooses among hypotheses: uniform (the paper), score_weighted, or uncertain (those "
        "the network is least sure of)",
    )
    parser.add_argument(
        "--pretrain-cache", type=Path, default=None, help="cached pre-trained checkpoints (default runs/pretrain-cache)"
    )
    parser.add_argument(
        "--randomise",
        action="store_true",
        help="domain randomisation of the arenas the robot interacts in (photo-like tables, clutter, lights, "
        "exposure, blur, noise); evaluation sets are never randomised",
    )
    parser.add_argument(
        "--test-realism",
        choices=REALISM_PRESETS,
        default="default",
        help="camera model of the evaluation sets: default, or strongest (more light change, drift, noise, blur)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    from interseg.paths import repo_root

    base = repo_root() or Path.cwd()
    if args.from_json is not None:
        numbers = json.loads(args.from_json.read_text())
        if add_missing_prf(numbers, args.from_json.parent):
            args.from_json.write_text(json.dumps(numbers, indent=1, default=json_default))
        write_outputs(numbers, args.from_json.parent, None)
        if args.markdown:
            args.markdown.write_text((args.from_json.parent / "RESULTS.md").read_text())
        print(f"[bench] regenerated {args.from_json.parent / 'index.html'}")
        return 0
    profile = PROFILES[args.profile]
    if args.seeds:
        profile = replace(profile, seeds=tuple(args.seeds))
    profile = replace(profile, policy=args.policy, randomise=args.randomise, test_realism=args.test_realism)
    out = (args.out or base / "benchmarks" / "results" / profile.name).resolve()
    work = (args.work or base / "runs" / f"bench-{profile.name}").resolve()
    eval_root = (args.eval_root or base / "runs" / "eval").resolve()
    print(
        f"[bench] profile {profile.name}: {len(profile.seeds)} seed(s) x {profile.interactions} interactions at "
        f"{profile.width}x{profile.height}, starting from {args.start} weights; results -> {out}; work -> {work}",
        flush=True,
    )
    pretrain_cache = (args.pretrain_cache or base / "runs" / "pretrain-cache").resolve()
    numbers = run_benchmark(
        profile, out, work, eval_root, progress=not args.quiet, start_kind=args.start, pretrain_cache=pretrain_cache
    )
    if args.markdown:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text((out / "RESULTS.md").read_text())
    print(table_text(numbers))
    print(f"[bench] {out / 'bench.json'}, {out / 'index.html'} ({numbers['wall_s'] / 60:.1f} min)")
    return 0
