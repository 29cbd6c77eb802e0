"""The noise experiment for the Robust Set Loss: the ground-truth masks of simulated training
scenes corrupted at known rates in the ways frame differencing fails (interseg.learning.mask_noise:
dilate, erode, shift, merge with the neighbour, half missing, a false mask on the table), the same
network trained on each corrupted store with cross-entropy and with the Robust Set Loss (same seed,
steps and data, the schedule of `interseg bench`'s replayed methods), mask AP on the test split.
Writes noise.json and noise.png (AP@0.3 against the noise rate, one panel per kind).

    .venv/bin/python benchmarks/noise_bench.py --quick            # ~5 min on 2 cores
    .venv/bin/python benchmarks/noise_bench.py --levels 0 0.25 0.5 --steps 600 --scenes 40

The training examples are the bench oracle's (interseg.evaluation.bench.collection: every visible
object's ground-truth mask with its grasp point, two table points per view) on scenes rendered
directly with the arena (ground truth is allowed here: this is evaluation code). Rendered scenes
are cached under --cache; the stores and checkpoints go to --work.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
QUICK = {"levels": [0.0, 0.5], "steps": 60, "scenes": 6, "seeds": [0], "test_limit": None, "batch": 16}
SCENE_SEED_OFFSET = 5_000_000  # train-split arrangements of this experiment (the eval sets use 7M and 9M)


def render_scenes(count: int, width: int, height: int, cache: Path, progress: bool) -> list[dict]:
    """``count`` train-split arrangements, four views each: rgb and ground-truth instance map (cached)."""
    folder = cache / f"scenes-{width}x{height}"
    folder.mkdir(parents=True, exist_ok=True)
    missing = [i for i in range(count) if not (folder / f"scene{i:04d}.npz").is_file()]
    if missing:
        from interseg.evaluation import ground_truth
        from interseg.progress import progress_bar
        from interseg.sim.arena import ArenaConfig, SimulatedArena

        arena = SimulatedArena(ArenaConfig(width=width, height=height, split="train"), seed=SCENE_SEED_OFFSET)
        bar = progress_bar(total=len(missing), desc="render training scenes", disable=not progress)
        try:
            for i in missing:
                arena.reset(SCENE_SEED_OFFSET + i)
                views = arena.render_views(depth=False)
                names = arena.camera_names
                np.savez_compressed(
                    folder / f"scene{i:04d}.npz",
                    names=np.array(names),
                    rgb=np.stack([views.rgb[n] for n in names]),
                    instance=np.stack([ground_truth.instance_map(arena, n).astype(np.uint8) for n in names]),
                )
                bar.update(1)
        finally:
            bar.close()
            arena.close()
    scenes = []
    for i in range(count):
        with np.load(folder / f"scene{i:04d}.npz") as data:
            scenes.append({"names": [str(n) for n in data["names"]], "rgb": data["rgb"], "instance": data["instance"]})
    return scenes


def test_split(eval_root: Path, width: int, height: int, per_background: int, limit: int | None):
    """The test split's evaluation images (made once, cached under ``eval_root``), the first
    ``limit`` only when given."""
    from interseg.evaluation.evaluate import ensure_eval_set

    folder = eval_root / f"test-{width}x{height}-{per_background}"
    test = ensure_eval_set("test", folder, width, height, per_background)
    if limit:
        test.images, test.gt_masks = test.images[:limit], test.gt_masks[:limit]
    return test


class _Recorder:
    """Stands in for the oracle's store: keeps what the bench would write."""

    def __init__(self) -> None:
        self.rows: list[dict] = []

    def add(self, **row) -> None:
        self.rows.append(row)


def clean_examples(scenes: list[dict], seed: int) -> tuple[list, list[dict]]:
    """The oracle's examples of every view (the bench's own function), as NoisyExamples plus the
    rest of each row (image, view, interaction id)."""
    from interseg.evaluation.bench.collection import _add_oracle_examples
    from interseg.learning.mask_noise import NoisyExample

    examples, rows = [], []
    for i, scene in enumerate(scenes):
        for j, name in enumerate(scene["names"]):
            recorder = _Recorder()
            instance = scene["instance"][j]
            rng = np.random.default_rng([seed, i, j])
            _add_oracle_examples(recorder, scene["rgb"][j], instance, name, i + 1, rng)
            for row in recorder.rows:
                mask = None if row["mask"] is None else np.asarray(row["mask"], bool)
                examples.append(NoisyExample(row["u"], row["v"], row["positive"], mask, instance))
                rows.append(row)
    return examples, rows


def write_store(root: Path, examples: list, rows: list[dict]) -> None:
    from interseg.learning.store import ExampleStore

    if root.exists():
        shutil.rmtree(root)
    with ExampleStore(root, writer=True) as store:
        for example, row in zip(examples, rows):
            reason = row["reason"] + (f" + noise: {', '.join(example.corruptions)}" if example.corruptions else "")
            store.add(**(row | {"positive": example.positive, "mask": example.mask, "reason": reason}))


def train_and_score(profile, store_root: Path, out: Path, loss: str, seed: int, steps: int, last: int, test) -> dict:
    """Train as `interseg bench` replays a method (its train_replay), score the final checkpoint."""
    from interseg.evaluation.bench.collection import SeedRun
    from interseg.evaluation.bench.methods import train_replay
    from interseg.learning.checkpoint import list_checkpoints
    from interseg.learning.metrics import evaluate_predictor
    from interseg.learning.predictor import HypothesisPredictor

    if out.exists():
        shutil.rmtree(out)
    run = SeedRun(seed, out, schedule=[(last, steps)])
    train_s, samples = train_replay(profile, run, store_root, out, loss)
    predictor = HypothesisPredictor.from_checkpoint(list_checkpoints(out)[-1][1])
    t = time.perf_counter()
    result = evaluate_predictor(predictor.predict, test.images, test.gt_masks)
    return {
        "ap30": float(result.ap30),
        "ap50": float(result.ap50),
        "train_s": round(train_s, 2),
        "samples": samples,
        "score_s": round(time.perf_counter() - t, 2),
    }


def labeller_noise(path: Path) -> dict | None:
    """The noise our labeller really produces, as `interseg bench` measured it (its label quality)."""
    if not path.is_file():
        return None
    labels = json.loads(path.read_text()).get("labels") or {}
    keys = ("positives", "median_iou", "fraction_iou_at_least_0_5", "fp_rate", "fn_rate", "errors_by_cause")
    return {"source": str(path.relative_to(REPO)), **{k: labels.get(k) for k in keys}}


def aggregate(runs: list[dict], kinds: list[str], levels: list[float]) -> dict:
    """Mean (and min, max) over seeds of AP per (kind, level, loss); level 0 is the shared clean store."""
    table: dict = {}
    for kind in kinds:
        table[kind] = {}
        for loss in ("ce", "rsl"):
            rows = []
            for level in levels:
                hits = [r for r in runs if r["loss"] == loss and r["level"] == level and r["kind"] in (kind, "clean")]
                hits = [r for r in hits if (r["kind"] == "clean") == (level == 0)]
                entry = {"level": level}
                for metric in ("ap30", "ap50"):
                    values = [r[metric] for r in hits]
                    entry[metric] = float(np.mean(values)) if values else None
                    entry[f"{metric}_min"] = float(min(values)) if values else None
                    entry[f"{metric}_max"] = float(max(values)) if values else None
                rows.append(entry)
            table[kind][loss] = rows
    return table


def plot(table: dict, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from interseg.evaluation.plots import save_figure

    kinds = list(table)
    cols = min(3, len(kinds))
    rows = (len(kinds) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, 3.0 * rows), squeeze=False, sharey=True)
    for ax, kind in zip(axes.flat, kinds):
        for loss, colour, label in (("ce", "tab:orange", "cross-entropy"), ("rsl", "tab:blue", "Robust Set Loss")):
            entries = [e for e in table[kind][loss] if e["ap30"] is not None]
            x = [e["level"] for e in entries]
            y = [e["ap30"] for e in entries]
            err = [[e["ap30"] - e["ap30_min"] for e in entries], [e["ap30_max"] - e["ap30"] for e in entries]]
            ax.errorbar(x, y, yerr=err, color=colour, marker="o", capsize=3, label=label)
        ax.set_title(kind)
        levels = [e["level"] for e in table[kind]["ce"]]
        ax.set_xlim(-0.04, max(levels) + 0.04)
        ax.set_xlabel("fraction of examples corrupted")
        ax.grid(alpha=0.3)
    for ax in axes[:, 0]:
        ax.set_ylabel("test AP@0.3")
    for ax in list(axes.flat)[len(kinds) :]:
        ax.axis("off")
    axes[0, 0].legend(fontsize=8)
    fig.suptitle(title, fontsize=9)
    save_figure(fig, path)


def summary_text(table: dict) -> str:
    lines = [f"{'kind':<8} {'rate':>5} {'CE AP30':>8} {'RSL AP30':>9} {'CE AP50':>8} {'RSL AP50':>9}"]
    for kind, losses in table.items():
        for ce, rsl in zip(losses["ce"], losses["rsl"]):

            def f(v):
                return "    -" if v is None else f"{v:.3f}"

            lines.append(
                f"{kind:<8} {ce['level']:>5.2f} {f(ce['ap30']):>8} {f(rsl['ap30']):>9} "
                f"{f(ce['ap50']):>8} {f(rsl['ap50']):>9}"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from interseg.learning.mask_noise import DEFAULT_STRENGTH, KINDS

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--levels", type=float, nargs="+", default=[0.0, 0.25, 0.5], help="noise rates (0 = clean)")
    parser.add_argument("--kinds", nargs="+", choices=KINDS, default=list(KINDS))
    parser.add_argument("--steps", type=int, default=400, help="training steps per run")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--scenes", type=int, default=24, help="training arrangements (four views each)")
    parser.add_argument("--width", type=int, default=320)
    parser.add_argument("--height", type=int, default=240)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--test-per-background", type=int, default=3)
    parser.add_argument("--test-limit", type=int, default=None, help="score on the first N test images only")
    parser.add_argument("--strength", type=float, default=None, help="pixels for dilate/erode/shift/false blobs")
    parser.add_argument(
        "--out", type=Path, default=None, help="default benchmarks/results/noise (with --quick: its quick/ folder)"
    )
    parser.add_argument("--work", type=Path, default=REPO / "runs" / "noise")
    parser.add_argument("--cache", type=Path, default=REPO / "runs" / "noise-cache", help="rendered scenes")
    parser.add_argument("--eval-root", type=Path, default=REPO / "runs" / "eval", help="cached evaluation sets")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch CPU threads (1: on two cores shared with another torch process, two threads each run ~10x slower)",
    )
    parser.add_argument("--quick", action="store_true", help=f"the ~5 min setting: {QUICK}")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    if args.quick:
        args.levels, args.steps, args.scenes = QUICK["levels"], QUICK["steps"], QUICK["scenes"]
        args.seeds, args.test_limit, args.batch = QUICK["seeds"], QUICK["test_limit"], QUICK["batch"]
    if args.out is None:
        args.out = REPO / "benchmarks" / "results" / "noise" / ("quick" if args.quick else "")
    levels = sorted({float(v) for v in args.levels} | {0.0})
    if any(not 0 <= v <= 1 for v in levels):
        parser.error("--levels are fractions in [0, 1]")
    progress = not args.quiet
    import torch

    torch.set_num_threads(max(1, args.threads))

    from interseg.evaluation.bench.methods import preload_torchvision_ops
    from interseg.evaluation.bench.profiles import PROFILES
    from interseg.learning.mask_noise import NoiseSpec, apply_noise_all, noise_summary
    from interseg.progress import progress_bar

    preload_torchvision_ops()  # before the simulator's OpenGL context (see its docstring)
    started = time.time()
    test = test_split(args.eval_root, args.width, args.height, args.test_per_background, args.test_limit)
    scenes = render_scenes(args.scenes, args.width, args.height, args.cache, progress)
    profile = replace(
        PROFILES["quick"],
        name="noise",
        width=args.width,
        height=args.height,
        batch_size=args.batch,
        seeds=tuple(args.seeds),
    )
    # the strongest noise first: a run cut short still compares the losses on every kind
    stores = [("clean", 0.0)] + [(k, v) for v in sorted(levels, reverse=True) if v > 0 for k in args.kinds]
    jobs = [(kind, level, seed, loss) for seed in args.seeds for kind, level in stores for loss in ("ce", "rsl")]
    print(
        f"[noise] {len(scenes)} scenes, {len(stores)} stores x {len(args.seeds)} seed(s) x 2 losses = {len(jobs)} "
        f"runs of {args.steps} steps x {args.batch}; test: {len(test.images)} images",
        flush=True,
    )
    setting = "quick" if args.quick else "custom"
    config = {
        "levels": levels,
        "kinds": args.kinds,
        "strength_px": {k: (args.strength if args.strength is not None else DEFAULT_STRENGTH[k]) for k in args.kinds},
        "steps": args.steps,
        "batch": args.batch,
        "scenes": args.scenes,
        "views_per_scene": len(scenes[0]["names"]) if scenes else 0,
        "width": args.width,
        "height": args.height,
        "seeds": args.seeds,
        "threads": args.threads,
        "test_images": len(test.images),
        "test_set": str(test.directory),
    }
    runs, store_info = [], {}

    def write(complete: bool) -> dict:
        """noise.json and noise.png of the runs so far (rewritten after every run)."""
        table = aggregate(runs, args.kinds, levels)
        numbers = {
            "setting": setting,
            "complete": complete,
            "command": " ".join(["benchmarks/noise_bench.py", *(argv if argv is not None else sys.argv[1:])]),
            "config": config,
            "definitions": (
                "level = fraction of the examples corrupted (of the positives; of all examples for 'false'); "
                "level 0 is one clean store shared by every kind; AP on the test split (cam0), mean over seeds "
                "with min and max; same seed, steps and examples for CE and RSL"
            ),
            "labeller_noise_measured": labeller_noise(REPO / "benchmarks" / "results" / "standard" / "bench.json"),
            "table": table,
            "stores": store_info,
            "runs": runs,
            "machine": {"python": platform.python_version(), "processor": platform.processor() or platform.machine()},
            "wall_s": round(time.time() - started, 1),
        }
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "noise.json").write_text(json.dumps(numbers, indent=1) + "\n")
        title = (
            f"{setting}: {args.scenes} scenes x 4 views, {args.steps} steps x {args.batch}, seeds {args.seeds}, "
            f"{len(test.images)} test images" + ("" if complete else " (incomplete)")
        )
        plot(table, args.out / "noise.png", title)
        return numbers

    bar = progress_bar(total=len(jobs), desc="noise runs", disable=not progress)
    for seed in args.seeds:
        clean, rows = clean_examples(scenes, seed)
        for kind, level in stores:
            specs = [] if kind == "clean" else [NoiseSpec(kind, level, args.strength)]
            noisy = apply_noise_all(clean, specs, seed)
            root = args.work / f"seed{seed}" / f"{kind}-{level:g}"
            write_store(root / "examples", noisy, rows)
            store_info[f"seed{seed}/{kind}-{level:g}"] = noise_summary(clean, noisy)
            for loss in ("ce", "rsl"):
                result = train_and_score(
                    profile, root / "examples", root / loss, loss, seed, args.steps, len(scenes), test
                )
                runs.append({"kind": kind, "level": level, "seed": seed, "loss": loss} | result)
                bar.update(1)
                print(
                    f"[noise] seed {seed} {kind:<6} rate {level:.2f} {loss:<3}: AP@0.3 {result['ap30']:.3f} "
                    f"AP@0.5 {result['ap50']:.3f} (train {result['train_s']:.0f} s)",
                    flush=True,
                )
                write(complete=False)
    bar.close()
    numbers = write(complete=True)
    print(summary_text(numbers["table"]))
    print(f"[noise] {args.out / 'noise.json'}, {args.out / 'noise.png'} ({numbers['wall_s'] / 60:.1f} min)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
