"""Does the whole learning core learn? A sanity run on generated tabletop data.

Interactions are simulated on the procedural tabletop (interseg.learning.synthetic): a random
object is picked (grasp point = its centre, as if a hypothesis were chosen), the frame-difference
labeller turns before/after images into noisy examples (pick and place, negatives when the
"grasp" hits background), the examples go through the store, the trainer trains on them, and
the network's hypotheses are scored with class-agnostic mask AP on held-out scenes, next to the
bottom-up baseline. Writes benchmarks/results/learning_synthetic_ap.json.

    .venv/bin/python benchmarks/learning_synthetic_ap.py [--interactions 150] [--steps 300]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--interactions", type=int, default=150)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--test-scenes", type=int, default=10)
    parser.add_argument("--mask-loss", choices=["rsl", "ce"], default="rsl")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "learning_synthetic_ap.json")
    args = parser.parse_args(argv)

    from torch.utils.data import DataLoader, RandomSampler

    from interseg.learning.baselines import bottom_up_proposals
    from interseg.learning.dataset import WindowDataset
    from interseg.learning.labelling import FrameDifferenceLabeller, ViewCapture
    from interseg.learning.metrics import evaluate_predictor
    from interseg.learning.model import ModelConfig
    from interseg.learning.predictor import HypothesisPredictor
    from interseg.learning.store import ExampleStore
    from interseg.learning.synthetic import default_cameras, random_objects, render, table_texture
    from interseg.learning.trainer import Trainer
    from interseg.learning.trainer_config import TrainerConfig

    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    cameras = default_cameras()
    labeller = FrameDifferenceLabeller()
    work = Path(tempfile.mkdtemp(prefix="interseg-synth-"))
    store = ExampleStore(work / "store", writer=True)
    counts = {"positive": 0, "negative": 0}
    t0 = time.perf_counter()
    shadow = (0.02, 0.015)
    for i in range(args.interactions):
        texture = table_texture(1000 + i // 5)  # a new table every 5 interactions
        objects = random_objects(rng, int(rng.integers(3, 7)))
        if rng.random() < 0.25:  # grasp on background: a negative
            grasp = np.array([*rng.uniform(-0.25, 0.25, 2), 0.0])
            after_objects, place = objects, None
        else:
            k = int(rng.integers(len(objects)))
            target = objects[k]
            grasp = np.array([target.x, target.y, 0.0])
            place_xy = rng.uniform(-0.3, 0.3, 2)
            after_objects = objects[:k] + objects[k + 1 :] + [target.moved_to(*place_xy)]
            place = np.array([*place_xy, 0.0])
        gain = float(rng.uniform(0.85, 1.15))
        views = []
        for cam in cameras:
            before, _ = render(cam, objects, texture, shadow_offset=shadow, noise_sigma=3, rng=rng)
            after, _ = render(cam, after_objects, texture, shadow_offset=shadow, gain=gain, noise_sigma=3, rng=rng)
            views.append(ViewCapture(cam, before, after))
        for view_labels in labeller.label_interaction(views, grasp, place):
            for example in view_labels.examples:
                store.add_example(example, interaction_id=i)
                counts["positive" if example.positive else "negative"] += 1
    store.close()
    labelling_s = time.perf_counter() - t0

    # held-out scenes (new tables), main view only, ground-truth masks for evaluation only
    test_images, test_gt = [], []
    for j in range(args.test_scenes):
        objects = random_objects(rng, int(rng.integers(3, 7)))
        image, masks = render(
            cameras[0], objects, table_texture(5000 + j), shadow_offset=shadow, noise_sigma=3, rng=rng
        )
        test_images.append(image)
        test_gt.append([m for m in masks if m.sum() >= 200])

    model_config = ModelConfig()
    trainer = Trainer(work / "run", model_config, TrainerConfig(batch_size=args.batch_size, mask_loss=args.mask_loss))
    predictor = HypothesisPredictor(trainer.model)
    before = evaluate_predictor(predictor.predict, test_images, test_gt)
    dataset = WindowDataset(work / "store", model_config, augment=True)
    sampler = RandomSampler(dataset, replacement=True, num_samples=args.steps * args.batch_size)
    t1 = time.perf_counter()
    stats = trainer.train_one_epoch(DataLoader(dataset, batch_size=args.batch_size, sampler=sampler), progress=True)
    training_s = time.perf_counter() - t1
    predictor = HypothesisPredictor(trainer.model.eval())
    after = evaluate_predictor(predictor.predict, test_images, test_gt)
    baseline = evaluate_predictor(bottom_up_proposals, test_images, test_gt)
    results = {
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "command": "python benchmarks/learning_synthetic_ap.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "interactions": args.interactions,
        "examples": counts,
        "labelling_s": round(labelling_s, 1),
        "steps": args.steps,
        "batch_size": args.batch_size,
        "mask_loss": args.mask_loss,
        "training_s": round(training_s, 1),
        "final_train_loss": round(stats.get("loss", float("nan")), 4),
        "test_images": len(test_images),
        "test_objects": sum(len(g) for g in test_gt),
        "ap_untrained": {"ap30": round(before.ap30, 4), "ap50": round(before.ap50, 4)},
        "ap_trained": {"ap30": round(after.ap30, 4), "ap50": round(after.ap50, 4)},
        "ap_bottom_up": {"ap30": round(baseline.ap30, 4), "ap50": round(baseline.ap50, 4)},
        "note": "procedural flat objects on textured tables; not comparable with the paper's real-image numbers",
    }
    print(json.dumps(results, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "2")
    sys.exit(main())
