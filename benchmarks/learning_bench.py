"""Speed of the learning core on CPU: inference per frame, training samples per second (1 and 2
threads; the default trunk width and, for comparison, the full-width ResNet-18), Robust Set Loss
overhead per batch, labeller time per interaction (four views), and the bottom-up baseline per
frame. Prints a table and writes benchmarks/results/learning.json.

    .venv/bin/python benchmarks/learning_bench.py [--cores 2] [--out benchmarks/results/learning.json]

``--cores N`` pins the process to N CPU cores (when the machine has more), so that figures from a
bigger machine describe the 2-core target.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parent.parent


def _timed(fn, repeats: int, warmup: int = 2) -> list[float]:
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000.0)
    return out


def _summary(samples: list[float]) -> dict:
    return {
        "median": round(statistics.median(samples), 2),
        "min": round(min(samples), 2),
        "max": round(max(samples), 2),
        "n": len(samples),
    }


def bench_inference(repeats: int, trunk_width: float | None = None) -> dict:
    from interseg.learning.model import HypothesisNetwork, ModelConfig
    from interseg.learning.predictor import HypothesisPredictor, decode_hypotheses
    from interseg.learning.synthetic import default_cameras, random_objects, render, table_texture

    torch.set_num_threads(2)
    torch.manual_seed(0)
    config = ModelConfig() if trunk_width is None else ModelConfig(trunk_width=trunk_width)
    predictor = HypothesisPredictor(HypothesisNetwork(config))
    rng = np.random.default_rng(0)
    image, _ = render(default_cameras()[0], random_objects(rng, 5), table_texture(0), noise_sigma=3, rng=rng)
    total = _timed(lambda: predictor.predict(image), repeats)
    x = predictor._network_input(image)  # noqa: SLF001 -- the forward pass timed alone needs its input
    with torch.inference_mode():
        forward = _timed(lambda: predictor.network(x), repeats)
        objectness, masks = predictor.network(x)
        decode = _timed(lambda: decode_hypotheses(objectness[0], masks[0], image.shape[:2], config), repeats)
    return {
        "resolution": "640x480",
        "input_scale": config.input_scale,
        "trunk_width": config.trunk_width,
        "threads": 2,
        "predict_ms": _summary(total),
        "forward_ms": _summary(forward),
        "decode_ms": _summary(decode),
        "target_ms": 60.0,
    }


def bench_training(threads: int, steps: int, trunk_width: float | None = None) -> dict:
    from interseg.learning.model import ModelConfig
    from interseg.learning.trainer import Trainer
    from interseg.learning.trainer_config import TrainerConfig

    torch.set_num_threads(threads)
    config = ModelConfig() if trunk_width is None else ModelConfig(trunk_width=trunk_width)
    trainer = Trainer(Path("/tmp/interseg-bench-run"), config, TrainerConfig(batch_size=32, mask_loss="rsl"))
    g = torch.Generator().manual_seed(0)
    batch = {
        "image": torch.rand(32, 3, config.window, config.window, generator=g),
        "objectness": (torch.rand(32, generator=g) > 0.5).float(),
        "mask": (torch.rand(32, config.mask_size, config.mask_size, generator=g) > 0.5).float(),
        "has_mask": torch.ones(32),
    }
    batch["has_mask"] = batch["objectness"].clone()
    trainer._log = lambda values: None  # noqa: SLF001 -- no CSV writes inside the timing

    def one_step():
        trainer.train_one_epoch([batch], progress=False)

    samples = _timed(one_step, steps, warmup=1)
    ms = statistics.median(samples)
    return {
        "threads": threads,
        "batch": 32,
        "window": config.window,
        "trunk_width": config.trunk_width,
        "step_ms": _summary(samples),
        "samples_per_s": round(32 / (ms / 1000.0), 1),
    }


def bench_rsl(repeats: int) -> dict:
    from interseg.learning.losses import robust_set_target

    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(0)
    m = 32
    masks = torch.zeros(32, m, m)
    masks[:, 8:24, 8:24] = 1
    hard = torch.randn(32, m, m, generator=g) * 0.3 - 0.6  # far from the mask: many moves
    easy = (masks * 2 - 1) * 2 + torch.randn(32, m, m, generator=g) * 0.2  # already agrees: none
    worst = torch.full((32, m, m), -10.0)  # never reaches b: all 25 moves
    out = {}
    for name, logits in (("far", hard), ("agreeing", easy), ("unreachable_25_moves", worst)):
        samples = _timed(lambda logits=logits: robust_set_target(logits, masks), repeats)
        med = statistics.median(samples)
        out[name] = {"batch_ms": round(med, 3), "per_image_ms": round(med / 32, 4)}
    return {"batch": 32, "mask_size": m, "threads": 1, **out}


def bench_labeller(repeats: int) -> dict:
    from interseg.learning.labelling import FrameDifferenceLabeller, ViewCapture, something_moved
    from interseg.learning.synthetic import default_cameras, random_objects, render, table_texture

    rng = np.random.default_rng(0)
    texture = table_texture(0)
    objects = random_objects(rng, 5)
    target = objects[0]
    after_objects = objects[1:] + [target.moved_to(0.3, 0.3)]
    views = []
    for cam in default_cameras():
        before, _ = render(cam, objects, texture, shadow_offset=(0.02, 0.015), noise_sigma=3, rng=rng)
        after, _ = render(cam, after_objects, texture, shadow_offset=(0.02, 0.015), gain=0.9, noise_sigma=3, rng=rng)
        views.append(ViewCapture(cam, before, after))
    labeller = FrameDifferenceLabeller()
    grasp, place = np.array([target.x, target.y, 0.0]), np.array([0.3, 0.3, 0.0])
    samples = _timed(lambda: labeller.label_interaction(views, grasp, place), repeats)
    moved = _timed(lambda: something_moved(views[0].before, views[0].after), repeats)
    return {
        "views": 4,
        "resolution": "640x480",
        "with_place": True,
        "threads": "opencv default",
        "interaction_ms": _summary(samples),
        "something_moved_ms": _summary(moved),
    }


def bench_bottom_up(repeats: int) -> dict:
    from interseg.learning.baselines import bottom_up_proposals
    from interseg.learning.synthetic import default_cameras, random_objects, render, table_texture

    rng = np.random.default_rng(1)
    image, _ = render(default_cameras()[0], random_objects(rng, 5), table_texture(1), noise_sigma=3, rng=rng)
    samples = _timed(lambda: bottom_up_proposals(image), repeats, warmup=1)
    return {"resolution": "640x480", "frame_ms": _summary(samples)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cores", type=int, default=2, help="pin to this many CPU cores (0: leave as is)")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--train-steps", type=int, default=5)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "learning.json")
    parser.add_argument("--note", default="", help="free text saved with the results (e.g. the machine)")
    args = parser.parse_args(argv)
    available = sorted(os.sched_getaffinity(0))
    if args.cores and len(available) > args.cores:
        os.sched_setaffinity(0, available[: args.cores])
    import cv2

    cv2.setNumThreads(min(2, len(os.sched_getaffinity(0))))
    results = {
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {
            "cpu_cores_used": len(os.sched_getaffinity(0)),
            "cpu_cores_total": os.cpu_count(),
            "processor": platform.processor() or platform.machine(),
            "python": sys.version.split()[0],
            "torch": torch.__version__,
            "note": args.note,
        },
        "command": "python benchmarks/learning_bench.py " + " ".join(argv if argv is not None else sys.argv[1:]),
    }
    results["inference"] = bench_inference(args.repeats)
    print(
        f"inference 640x480: predict median {results['inference']['predict_ms']['median']} ms, "
        f"min {results['inference']['predict_ms']['min']} ms "
        f"(forward {results['inference']['forward_ms']['median']}, "
        f"decode {results['inference']['decode_ms']['median']})"
    )
    results["training"] = [bench_training(t, args.train_steps) for t in (1, 2)]
    for r in results["training"]:
        print(f"training, {r['threads']} thread(s): {r['samples_per_s']} samples/s (step {r['step_ms']['median']} ms)")
    default_width = results["inference"]["trunk_width"]
    results["trunk_width_1.0"] = {
        "inference": bench_inference(args.repeats, 1.0),
        "training": bench_training(2, args.train_steps, 1.0),
    }
    full = results["trunk_width_1.0"]
    print(
        f"trunk width 1.0 (default {default_width}): predict median {full['inference']['predict_ms']['median']} ms, "
        f"training 2 threads {full['training']['samples_per_s']} samples/s"
    )
    results["robust_set_loss"] = bench_rsl(args.repeats)
    rsl = results["robust_set_loss"]
    print(
        "RSL per batch of 32 (ms): "
        + ", ".join(f"{k} {rsl[k]['batch_ms']}" for k in ("agreeing", "far", "unreachable_25_moves"))
    )
    results["labeller"] = bench_labeller(max(3, args.repeats // 2))
    print(
        f"labeller: {results['labeller']['interaction_ms']['median']} ms per interaction (4 views); "
        f"something_moved {results['labeller']['something_moved_ms']['median']} ms"
    )
    results["bottom_up_baseline"] = bench_bottom_up(3)
    print(f"bottom-up baseline: {results['bottom_up_baseline']['frame_ms']['median']} ms per frame")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
