"""The demo's report: numbers (results.json), plots (PNG) and one HTML page (ROS-free)."""

from __future__ import annotations

import html
import json
import platform
from pathlib import Path

import numpy as np

from interseg.evaluation.plots import save_figure

MAX_CURVE_POINTS = 8


def _progress(run_dir: Path) -> list[dict]:
    path = run_dir / "progress.jsonl"
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def interactions_at_version(progress: list[dict], version: int) -> int:
    """Interactions done before the robot first used model ``version`` (all of them if never)."""
    for record in progress:
        if record.get("model_version", 0) >= version:
            return max(0, record["interactions"] - 1)
    return progress[-1]["interactions"] if progress else 0


def _subsample(items: list, count: int) -> list:
    if len(items) <= count:
        return items
    picks = np.unique(np.linspace(0, len(items) - 1, count).round().astype(int))
    return [items[i] for i in picks]


def _initial_predictor(width: int, height: int, seed: int):
    import torch

    from interseg.learning.model import HypothesisNetwork, ModelConfig
    from interseg.learning.predictor import HypothesisPredictor

    torch.manual_seed(seed)  # the hypotheses node's initial weights for this seed
    return HypothesisPredictor(HypothesisNetwork(ModelConfig(expected_size=(width, height))), version=0)


def write_report(run_dir: Path, eval_set, wall_s: float, settings: dict) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from interseg.evaluation.evaluate import evaluate_bottom_up
    from interseg.learning.checkpoint import list_checkpoints
    from interseg.learning.metrics import evaluate_predictor
    from interseg.learning.predictor import HypothesisPredictor
    from interseg.learning.store import ExampleStore
    from interseg.learning.store_errors import StoreError
    from interseg.progress import progress_bar
    from interseg.visualization import overlay_hypotheses, overlay_mask

    run_dir = Path(run_dir)
    figures = run_dir / "report"
    figures.mkdir(exist_ok=True)
    progress = _progress(run_dir)
    width, height = eval_set.size
    checkpoints = list_checkpoints(run_dir / "trainer")
    evaluated = _subsample(checkpoints, MAX_CURVE_POINTS - 1)
    if checkpoints and evaluated[-1] != checkpoints[-1]:
        evaluated.append(checkpoints[-1])

    curve = []
    start = settings.get("start") or {"kind": "random"}
    initial = Path(start["checkpoint"]) if start["kind"] == "pretrained" else None  # the weights the run started from
    predictors = [(0, initial)] + [(version, path) for version, path in evaluated]
    results = {}
    bar = progress_bar(total=len(predictors), desc="evaluating models")
    for version, path in predictors:
        predictor = (
            _initial_predictor(width, height, settings.get("seed", 0))
            if path is None
            else HypothesisPredictor.from_checkpoint(path)
        )
        result = evaluate_predictor(predictor.predict, eval_set.images, eval_set.gt_masks)
        results[version] = (predictor, result)
        curve.append(
            {
                "version": version,
                "interactions": interactions_at_version(progress, version) if version else 0,
                "ap30": result.ap30,
                "ap50": result.ap50,
            }
        )
        bar.update(1)
    bar.close()
    final_version = max(results)
    final_predictor, final = results[final_version]
    baseline = evaluate_bottom_up(eval_set)
    final.save_json(figures / "coco_final.json")
    baseline.save_json(figures / "coco_bottom_up.json")

    # -- plots --------------------------------------------------------------------------------
    xs = [c["interactions"] for c in curve]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(xs, [c["ap30"] for c in curve], "o-", label="ours, AP@0.3")
    ax.plot(xs, [c["ap50"] for c in curve], "s-", label="ours, AP@0.5")
    ax.axhline(baseline.ap30, color="gray", linestyle="--", label="bottom-up, AP@0.3")
    ax.axhline(baseline.ap50, color="gray", linestyle=":", label="bottom-up, AP@0.5")
    ax.set_xlabel("interactions")
    ax.set_ylabel("mask AP on the test split")
    ax.set_ylim(0, max(0.05, 1.1 * max([c["ap30"] for c in curve] + [baseline.ap30])))
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    save_figure(fig, figures / "ap_vs_interactions.png", dpi=110)

    fig, ax = plt.subplots(figsize=(6, 4))
    for name, result, style in ((f"ours v{final_version}", final, "-"), ("bottom-up", baseline, "--")):
        for threshold in (0.3, 0.5):
            ax.plot(result.recall_thresholds, result.precision[threshold], style, label=f"{name}, IoU {threshold}")
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    save_figure(fig, figures / "pr_curves.png", dpi=110)

    if progress:
        n = np.array([r["interactions"] for r in progress])
        fig, ax = plt.subplots(figsize=(6, 3.5))
        ax.plot(n, np.array([r["positives"] for r in progress]) / n, label="something moved (cumulative)")
        ax.plot(n, np.array([r["lifted"] for r in progress]) / n, label="object lifted (cumulative)")
        ax.set_xlabel("interactions")
        ax.set_ylabel("fraction")
        ax.set_ylim(0, 1)
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
        save_figure(fig, figures / "interaction_outcomes.png", dpi=110)

    count = min(6, len(eval_set.images))
    picks = np.linspace(0, len(eval_set.images) - 1, count).round().astype(int)
    fig, axes = plt.subplots(2, count, figsize=(3 * count, 5.2), squeeze=False)
    for column, index in enumerate(picks):
        image = eval_set.images[index]
        axes[0, column].imshow(overlay_hypotheses(image, final_predictor.predict(image)[:5]))
        axes[0, column].set_title(f"ours v{final_version}, top 5", fontsize=8)
        axes[1, column].imshow(overlay_hypotheses(image, [_Truth(m) for m in eval_set.gt_masks[index]]))
        axes[1, column].set_title("ground truth", fontsize=8)
    for ax in axes.ravel():
        ax.axis("off")
    save_figure(fig, figures / "test_hypotheses.png", dpi=90)

    label_counts = {"positives": 0, "negatives": 0}
    try:
        with ExampleStore(run_dir / "examples") as store:
            records = store.records()
            label_counts = {
                "positives": sum(r.positive for r in records),
                "negatives": sum(not r.positive for r in records),
            }
            shown = _subsample([r for r in records if r.positive], 6) + _subsample(
                [r for r in records if not r.positive], 2
            )
            if shown:
                fig, axes = plt.subplots(2, 4, figsize=(12, 6.2), squeeze=False)
                for ax, record in zip(axes.ravel(), shown):
                    ax.imshow(
                        overlay_mask(
                            store.load_image(record), store.load_mask(record), (record.u, record.v), record.positive
                        )
                    )
                    ax.set_title(
                        f"#{record.interaction_id} {record.view} {record.kind}: "
                        f"{'positive' if record.positive else 'negative'}",
                        fontsize=8,
                    )
                for ax in axes.ravel():
                    ax.axis("off")
                save_figure(fig, figures / "label_examples.png", dpi=90)
    except StoreError:
        pass

    numbers = {
        "ap": {
            "self_sup": {"ap30": final.ap30, "ap50": final.ap50, "version": final_version},
            "initial": {"ap30": results[0][1].ap30, "ap50": results[0][1].ap50},
            "bottom_up": {"ap30": baseline.ap30, "ap50": baseline.ap50},
        },
        "curve": curve,
        "interactions": progress[-1] if progress else {},
        "examples": label_counts,
        "eval_set": {
            "directory": str(eval_set.directory),
            "images": len(eval_set.images),
            "objects": sum(len(m) for m in eval_set.gt_masks),
        },
        "settings": settings,
        "machine": {"platform": platform.platform(), "python": platform.python_version()},
        "wall_s": wall_s,
    }
    (run_dir / "results.json").write_text(json.dumps(numbers, indent=2, default=float))
    page = figures / "index.html"
    page.write_text(_html(numbers))
    return page


class _Truth:
    """A ground-truth mask drawn like a hypothesis."""

    def __init__(self, mask: np.ndarray):
        from interseg.learning.hypothesis import grasp_from_mask

        self.mask = mask
        self.score = 1.0
        self.grasp_u, self.grasp_v, self.grasp_yaw, _ = grasp_from_mask(mask)


def _html(numbers: dict) -> str:
    ap, last = numbers["ap"], numbers["interactions"]
    rows = "".join(
        f"<tr><td>{html.escape(name)}</td><td>{v['ap30']:.3f}</td><td>{v['ap50']:.3f}</td></tr>"
        for name, v in (
            (f"ours, self-supervised by interaction (final model v{ap['self_sup']['version']})", ap["self_sup"]),
            (
                "ours, pre-trained by pushing (before any interaction)"
                if (numbers["settings"].get("start") or {}).get("kind") == "pretrained"
                else "ours, random initial weights (before any interaction)",
                ap["initial"],
            ),
            ("bottom-up baseline (Felzenszwalb + hierarchical merging)", ap["bottom_up"]),
        )
    )
    n = max(1, last.get("interactions", 0))
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>interseg demo report</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}}\
td,th{{padding:4px 12px;border-bottom:1px solid #ddd}}img{{max-width:100%}}</style></head><body>
<h1>interseg demo report</h1>
<p>{last.get('interactions', 0)} interactions in {numbers['settings'].get('minutes', 0):g} minutes
({last.get('positives', 0)} with motion, {100 * last.get('positives', 0) / n:.0f}%; \
{last.get('lifted', 0)} lifts, {100 * last.get('lifted', 0) / n:.0f}%),
{numbers['examples']['positives']} positive and {numbers['examples']['negatives']} negative examples in the store.
Evaluated on {numbers['eval_set']['images']} test images with {numbers['eval_set']['objects']} objects
(unseen objects, unseen backgrounds; main camera). Wall time {numbers['wall_s'] / 60:.1f} min.</p>
<h2>Mask AP on the test split</h2>
<table><tr><th>method</th><th>AP@0.3</th><th>AP@0.5</th></tr>{rows}</table>
<h2>AP versus interactions</h2><img src="ap_vs_interactions.png">
<h2>Precision-recall</h2><img src="pr_curves.png">
<h2>What happened in the interactions</h2><img src="interaction_outcomes.png">
<h2>Hypotheses on test images</h2><img src="test_hypotheses.png">
<h2>Examples from the labeller</h2><p>Green: the frame-difference mask of a positive; red cross: a negative.</p>\
<img src="label_examples.png">
<p>Numbers: <code>results.json</code>. COCO files of the final model and the baseline: <code>coco_*.json</code>.</p>
</body></html>"""
