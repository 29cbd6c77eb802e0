"""What limits mask quality at IoU 0.5: the hypothesis network trained on ground-truth masks (the
oracle: the architecture's ceiling, no label noise) in several configurations, scored on the test
split, with the inference cost of each at 640x480.

Each variant changes ModelConfig fields (``name:field=value,field=value``; ``network_width`` sets
the input scale for the camera size, ``steps`` the training length) and is trained with the same
seed, examples and schedule as the others (cross-entropy on the oracle's examples, as the bench's
oracle). Besides AP it reports, per ground-truth object of the test images, the best IoU any of
the top hypotheses reaches (recall at IoU 0.3 and 0.5, median best IoU): a median between 0.3 and
0.5 means the masks find the objects but their outlines are too coarse.

    .venv/bin/python benchmarks/mask_bench.py --quick        # ~4 min on 2 cores
    .venv/bin/python benchmarks/mask_bench.py --variants base mask48:mask_size=48 --steps 1200 --scenes 40

Writes masks.json and masks.png under --out (default benchmarks/results/masks).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from dataclasses import fields, replace
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

from noise_bench import clean_examples, render_scenes, test_split, write_store  # noqa: E402 -- a sibling script

QUICK = {"variants": ["base", "mask48:mask_size=48"], "steps": 60, "scenes": 6, "test_limit": 10}
TIMING_SIZE = (640, 480)


def parse_variant(text: str) -> tuple[str, dict]:
    """``name`` or ``name:field=value,field=value`` -> (name, overrides)."""
    name, _, rest = text.partition(":")
    overrides: dict = {}
    known = {f.name for f in fields(_model_config_type())} | {"network_width", "steps"}
    for item in filter(None, rest.split(",")):
        key, sep, value = item.partition("=")
        if not sep or key not in known:
            raise argparse.ArgumentTypeError(
                f"{item!r} in {text!r}: expected field=value with a field of {sorted(known)}"
            )
        if value in ("true", "false"):
            overrides[key] = value == "true"
        else:
            overrides[key] = float(value) if "." in value else int(value)
    if not name:
        raise argparse.ArgumentTypeError(f"{text!r}: a variant needs a name")
    return name, overrides


def _model_config_type():
    from interseg.learning.model import ModelConfig

    return ModelConfig


def model_config(overrides: dict, width: int, height: int):
    """The bench's network configuration for a camera of width x height, with the overrides."""
    config = {k: v for k, v in overrides.items() if k not in ("network_width", "steps")}
    network_width = overrides.get("network_width", 320)
    base = _model_config_type()(input_scale=network_width / width, expected_size=(width, height))
    return replace(base, **config)


def best_ious(predict, images, gt_masks, top: int = 10) -> list[float]:
    """For every ground-truth object: the best IoU among the image's first ``top`` hypotheses."""
    from interseg.learning.hypothesis import mask_iou_matrix

    best = []
    for image, gts in zip(images, gt_masks):
        masks = [h.mask for h in predict(image)[:top]]
        if not gts:
            continue
        if not masks:
            best += [0.0] * len(gts)
            continue
        best += mask_iou_matrix(list(gts), masks).max(axis=1).tolist()
    return best


def inference_ms(config, camera_width: int, repeats: int = 10) -> float:
    """Median ms per 640x480 frame of the network and decoding, the network at the same resolution
    as for ``camera_width`` (weights do not change the cost)."""
    import torch

    from interseg.learning.model import HypothesisNetwork
    from interseg.learning.predictor import HypothesisPredictor

    width, height = TIMING_SIZE
    timed = replace(config, input_scale=config.input_scale * camera_width / width, expected_size=TIMING_SIZE)
    torch.manual_seed(0)
    predictor = HypothesisPredictor(HypothesisNetwork(timed))
    image = np.random.default_rng(0).integers(0, 255, (height, width, 3), dtype=np.uint8)
    predictor.predict(image)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        predictor.predict(image)
        times.append(1000 * (time.perf_counter() - t))
    return statistics.median(times)


def train_and_score(name: str, overrides: dict, store_root: Path, out: Path, args, test) -> dict:
    import shutil

    import torch

    from interseg.evaluation.bench.methods import records_of, train_round
    from interseg.learning.dataset import WindowDataset
    from interseg.learning.metrics import evaluate_predictor
    from interseg.learning.predictor import HypothesisPredictor
    from interseg.learning.trainer import Trainer
    from interseg.learning.trainer_config import TrainerConfig

    if out.exists():
        shutil.rmtree(out)
    config = model_config(overrides, args.width, args.height)
    steps = int(overrides.get("steps", args.steps))
    torch.manual_seed(args.seed)
    trainer = Trainer(
        out, config, TrainerConfig(mask_loss="ce", batch_size=args.batch, seed=args.seed, keep_checkpoints=1)
    )
    dataset = WindowDataset(store_root, config, augment=True, seed=args.seed)
    records = records_of(store_root)
    _, train_s = train_round(trainer, dataset, records, max(r.interaction_id for r in records), steps, args.batch)
    predictor = HypothesisPredictor(trainer.model)
    t = time.perf_counter()
    result = evaluate_predictor(predictor.predict, test.images, test.gt_masks)
    score_s = time.perf_counter() - t
    best = best_ious(predictor.predict, test.images, test.gt_masks)
    return {
        "variant": name,
        "overrides": overrides,
        "model_config": {k: v for k, v in config.to_dict().items() if k != "expected_size"},
        "steps": steps,
        "ap30": float(result.ap30),
        "ap50": float(result.ap50),
        "recall_iou30": float(np.mean([b >= 0.3 for b in best])) if best else 0.0,
        "recall_iou50": float(np.mean([b >= 0.5 for b in best])) if best else 0.0,
        "median_best_iou": float(np.median(best)) if best else 0.0,
        "objects": len(best),
        "train_s": round(train_s, 1),
        "score_s": round(score_s, 1),
        "inference_ms_640x480": round(inference_ms(config, args.width), 1),
    }


def plot(runs: list[dict], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from interseg.evaluation.plots import save_figure

    fig, ax = plt.subplots(figsize=(max(5, 1.2 * len(runs) + 2), 3.4))
    x = np.arange(len(runs))
    for offset, key, colour, label in ((-0.2, "ap30", "tab:blue", "AP@0.3"), (0.2, "ap50", "tab:orange", "AP@0.5")):
        ax.bar(x + offset, [r[key] for r in runs], 0.4, color=colour, label=label)
    ax.set_xticks(x)
    ax.set_xticklabels([f"{r['variant']}\n{r['inference_ms_640x480']:.0f} ms" for r in runs], fontsize=8)
    ax.set_ylabel("oracle mask AP (test split)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, axis="y")
    ax.set_title(title, fontsize=9)
    save_figure(fig, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--variants", type=parse_variant, nargs="+", default=None, help="name[:field=value,...] (default: base)"
    )
    parser.add_argument("--steps", type=int, default=1200, help="training steps per variant (a variant may override)")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--scenes", type=int, default=40, help="training arrangements (four views each)")
    parser.add_argument("--width", type=int, default=320)
    parser.add_argument("--height", type=int, default=240)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--test-per-background", type=int, default=3)
    parser.add_argument("--test-limit", type=int, default=None, help="score on the first N test images only")
    parser.add_argument("--out", type=Path, default=None, help="default benchmarks/results/masks (--quick: its quick/)")
    parser.add_argument("--work", type=Path, default=REPO / "runs" / "masks")
    parser.add_argument("--cache", type=Path, default=REPO / "runs" / "noise-cache", help="rendered scenes")
    parser.add_argument("--eval-root", type=Path, default=REPO / "runs" / "eval", help="cached evaluation sets")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--quick", action="store_true", help=f"the ~4 min setting: {QUICK}")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    if args.quick:
        args.variants = [parse_variant(v) for v in QUICK["variants"]]
        args.steps, args.scenes, args.test_limit = QUICK["steps"], QUICK["scenes"], QUICK["test_limit"]
    args.variants = args.variants or [("base", {})]
    if len({name for name, _ in args.variants}) != len(args.variants):
        parser.error("variant names must differ")
    if args.out is None:
        args.out = REPO / "benchmarks" / "results" / "masks" / ("quick" if args.quick else "")
    import torch

    torch.set_num_threads(max(1, args.threads))

    from interseg.evaluation.bench.methods import preload_torchvision_ops

    preload_torchvision_ops()  # before the simulator's OpenGL context (see its docstring)
    started = time.time()
    test = test_split(args.eval_root, args.width, args.height, args.test_per_background, args.test_limit)
    scenes = render_scenes(args.scenes, args.width, args.height, args.cache, not args.quiet)
    examples, rows = clean_examples(scenes, args.seed)
    store_root = args.work / "oracle_examples"
    write_store(store_root, examples, rows)
    print(
        f"[masks] {len(scenes)} scenes, {len(examples)} oracle examples; {len(args.variants)} variant(s); "
        f"test: {len(test.images)} images",
        flush=True,
    )
    runs = []
    for name, overrides in args.variants:
        run = train_and_score(name, overrides, store_root, args.work / name, args, test)
        runs.append(run)
        print(
            f"[masks] {name:<12} AP@0.3 {run['ap30']:.3f} AP@0.5 {run['ap50']:.3f}  "
            f"recall@0.5 {run['recall_iou50']:.2f} "
            f"median best IoU {run['median_best_iou']:.2f}  {run['inference_ms_640x480']:.0f} ms/frame "
            f"(train {run['train_s']:.0f} s)",
            flush=True,
        )
        numbers = {
            "setting": "quick" if args.quick else "custom",
            "command": " ".join(["benchmarks/mask_bench.py", *(argv if argv is not None else sys.argv[1:])]),
            "config": {
                "steps": args.steps,
                "batch": args.batch,
                "scenes": args.scenes,
                "width": args.width,
                "height": args.height,
                "seed": args.seed,
                "threads": args.threads,
                "test_images": len(test.images),
                "loss": "ce (oracle: ground-truth masks)",
            },
            "definitions": (
                "oracle = the hypothesis network trained with cross-entropy on ground-truth masks (every visible "
                "object of every view); AP on the test split (cam0); recall_iou30/50 and median_best_iou: per "
                "ground-truth object, the best IoU among the image's top-10 hypotheses; inference_ms_640x480: median "
                "of network + decoding per 640x480 frame on this machine's threads, with the network at the same "
                "scale relative to 320 px wide as the variant"
            ),
            "runs": runs,
            "machine": {"python": platform.python_version(), "processor": platform.processor() or platform.machine()},
            "wall_s": round(time.time() - started, 1),
        }
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "masks.json").write_text(json.dumps(numbers, indent=1) + "\n")
        plot(runs, args.out / "masks.png", f"oracle ceiling: {args.scenes} scenes, {args.steps} steps x {args.batch}")
    print(f"[masks] {args.out / 'masks.json'}, {args.out / 'masks.png'} ({(time.time() - started) / 60:.1f} min)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
