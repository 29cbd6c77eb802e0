"""Plots, HTML page and markdown results section of `interseg bench`, made from its JSON alone
(so that `interseg bench --from-json` can regenerate them for a committed run)."""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np

from interseg.evaluation.bench.profiles import METHOD_LABELS, METHODS, PAPER_TABLE1
from interseg.evaluation.plots import save_figure


def _fmt(value, digits: int = 1, percent: bool = True) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "n/a"
    return f"{100 * value:.{digits}f}" if percent else f"{value:.{digits}f}"


def _pct(value) -> str:
    """A rate in percent with its sign, or n/a."""
    text = _fmt(value)
    return text if text == "n/a" else text + "%"


def _ap_cell(entry: dict, key: str) -> str:
    spread = entry.get(f"{key}_spread", {})
    if len(entry.get("per_seed", [])) > 1 and spread.get("std") is not None and "note" not in entry:
        return f"{_fmt(entry[key])} ± {_fmt(spread['std'])}"
    return _fmt(entry[key])


def table_text(numbers: dict) -> str:
    """A plain-text Table 1 for the terminal."""
    lines = [f"{'method':<52} {'AP@0.3':>14} {'AP@0.5':>14}   paper (AP@0.3 / AP@0.5)"]
    for method in METHODS:
        entry = numbers["ap"][method]
        paper = PAPER_TABLE1[method]
        lines.append(
            f"{METHOD_LABELS[method]:<52} {_ap_cell(entry, 'ap30'):>14} {_ap_cell(entry, 'ap50'):>14}   "
            f"{paper[0]}: {paper[1]} / {paper[2]}"
        )
    return "\n".join(lines)


def _plots(numbers: dict, out: Path) -> list[tuple[str, str]]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figures = []
    # Table 1 as bars
    fig, ax = plt.subplots(figsize=(8, 3.6))
    x = np.arange(len(METHODS))
    for offset, key, colour in ((-0.2, "ap30", "tab:blue"), (0.2, "ap50", "tab:orange")):
        means = [numbers["ap"][m][key] or 0.0 for m in METHODS]
        errors = [numbers["ap"][m][f"{key}_spread"]["std"] or 0.0 for m in METHODS]
        ax.bar(x + offset, means, 0.4, yerr=errors, capsize=3, color=colour, label=f"AP@{key[2]}.{key[3]}")
    ax.set_xticks(x)
    ax.set_xticklabels([m.replace("_", "\n") for m in METHODS], fontsize=8)
    ax.set_ylabel("mask AP (test split)")
    ax.legend()
    ax.grid(axis="y", alpha=0.3)
    save_figure(fig, out / "ap_table.png", dpi=100)
    figures.append(("ap_table.png", "Table 1 analogue: mask AP on the test split (mean over seeds, bars: std)"))

    # Figure 2a: AP@0.3 versus interactions
    detail = numbers["curve_detail"]
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    for curve in detail["per_seed"]:
        ax.plot(curve["interactions"], curve["rsl_ap30"], color="tab:blue", alpha=0.25)
        if "ce_ap30" in curve:
            ax.plot(curve["interactions"], curve["ce_ap30"], color="tab:green", alpha=0.25)
    mean = detail["mean"]
    ax.plot(mean["interactions"], mean["rsl_ap30"], "o-", color="tab:blue", label="ours + RSL (mean)")
    if "ce_ap30" in mean:
        ax.plot(mean["interactions"], mean["ce_ap30"], "s-", color="tab:green", label="ours, cross-entropy (mean)")
    for method, style in (("supervised_oracle", "--"), ("bottom_up_tuned", ":")):
        if numbers["ap"][method]["ap30"] is None:
            continue
        ax.axhline(numbers["ap"][method]["ap30"] or 0.0, linestyle=style, color="grey", label=METHOD_LABELS[method])
    ax.set_xlabel("interactions")
    ax.set_ylabel("AP@0.3 (test)")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    save_figure(fig, out / "ap_vs_interactions.png", dpi=100)
    figures.append(("ap_vs_interactions.png", "Figure 2a analogue: AP@0.3 versus interactions (thin lines: seeds)"))

    # precision-recall curves (first seed)
    pr = numbers["pr_curves_seed0"]
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.8))
    for ax, threshold in zip(axes, ("0.3", "0.5")):
        for method in (m for m in METHODS if m in pr["precision"]):
            ax.plot(pr["recall"], pr["precision"][method][threshold], label=method)
        ax.set_title(f"IoU {threshold}")
        ax.set_xlabel("recall")
        ax.set_ylabel("precision")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize=7)
    save_figure(fig, out / "pr_curves.png", dpi=100)
    figures.append(("pr_curves.png", "Precision-recall curves, first seed"))

    # Figure 2b: efficacy of experimentation
    efficacy = numbers["efficacy"]
    window = efficacy["window"]
    fig, ax = plt.subplots(figsize=(5.5, 3.4))
    for entry in efficacy["per_seed"]:
        hits = np.asarray(entry["hits"], dtype=float)
        if len(hits):
            smooth = np.array([hits[max(0, t - window + 1) : t + 1].mean() for t in range(len(hits))])
            ax.plot(np.arange(1, len(hits) + 1), smooth, label=f"seed {entry['seed']}")
    ax.set_xlabel("interactions")
    ax.set_ylabel(f"chosen hypothesis hits an object\n(IoU > 0.3, running mean of {window})")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    save_figure(fig, out / "efficacy.png", dpi=100)
    figures.append(("efficacy.png", "Figure 2b analogue: efficacy of experimentation"))

    ious = numbers["labels"].get("ious") or []
    if ious:
        fig, ax = plt.subplots(figsize=(5, 3.2))
        ax.hist(ious, bins=np.linspace(0, 1, 21), color="tab:purple")
        ax.axvline(0.85, color="k", linestyle="--", label="target median 0.85")
        ax.set_xlabel("IoU of the labeller's mask with ground truth (positives)")
        ax.set_ylabel("examples")
        ax.legend(fontsize=7)
        save_figure(fig, out / "label_iou.png", dpi=100)
        figures.append(("label_iou.png", "Label quality: IoU of frame-difference masks with ground truth"))
    return figures


def _differences(numbers: dict) -> list[str]:
    p = numbers["profile_settings"]
    return [
        "Simulator (MuJoCo, procedural objects and textured backgrounds), not a real robot; the test split has unseen "
        "objects and unseen backgrounds like the paper's, but it is not the paper's data.",
        f"Budget: {p['interactions']} interactions per seed at {p['width']}x{p['height']} "
        f"({'with' if p['shadows'] else 'without'} shadows) and "
        f"{sum(s for _, s in numbers['seeds'][0]['schedule']) if numbers['seeds'] else 0} optimizer steps of batch "
        f"{p['batch_size']}; the paper used thousands of interactions and far longer training.",
        _start_difference(numbers),
        "The oracle stands in for DeepMask: the same network trained on ground-truth masks of the same scenes "
        "(no COCO, no ImageNet); Mask R-CNN (ResNet-18 FPN, from scratch) trains on the same ground truth for the "
        "oracle's wall time.",
        "GOP is replaced by a scikit-image bottom-up method (Felzenszwalb + hierarchical RAG merging), tuned on the "
        f"validation split over {len(numbers['bottom_up_tuning']['candidates'])} configurations.",
        "Cross-entropy and the oracle replay the RSL learner's schedule on the same data (the data were chosen by the "
        "RSL learner's hypotheses), so the loss is the only difference between the two self-supervised rows.",
    ]


def _start_difference(numbers: dict) -> str:
    start, p = numbers.get("start", {"kind": "random"}), numbers["profile_settings"]
    if start["kind"] == "pretrained":
        c = start["collection"]
        return (
            f"Passive pre-training as the paper's step 1, but short: {c['frames']} frames of random pushes "
            f"({c['pushes']} pushes, {c['positives']} frame-difference masks, {c['negatives']} negatives), "
            f"{start['setting']['steps']} steps; every network (RSL, cross-entropy, the oracle) starts from that "
            f"checkpoint, made once per profile in {start['cost_s'] / 60:.1f} min (the paper pre-trained on far "
            "more pushing video)."
        )
    return "No passive pre-training: every network starts from random weights (the paper pre-trained on pushing " + (
        "videos); instead the robot tests bottom-up proposals (no labels, no learning) until the first model update, "
        "the learned network's hypotheses after that."
        if p.get("bootstrap_bottom_up")
        else "videos); the first round tests the random network's hypotheses."
    )


def _curve_end(numbers: dict) -> str:
    end = numbers.get("curve_analysis")
    if not end:
        return ""
    slope = end["last_quarter_slope_per_100"]
    shape = (
        "too few points to tell whether it has flattened"
        if slope is None
        else f"over the last quarter it {'has flattened' if end['flattened'] else 'still climbs'} "
        f"({100 * slope:+.1f} points per 100 interactions)"
    )
    return f" It reaches 95% of its final AP at {end['interactions_to_95_percent_of_final']} interactions; {shape}."


def _start_words(numbers: dict) -> str:
    start = numbers.get("start", {"kind": "random"})
    if start["kind"] == "pretrained":
        return f"passive pre-training (`--start pretrained`, {start['collection']['frames']} frames of pushing)"
    return "random weights (`--start random`)"


def _bootstrap_note(numbers: dict) -> str:
    p = numbers["profile_settings"]
    if not p.get("bootstrap_bottom_up") or numbers.get("start", {"kind": "random"})["kind"] != "random":
        return ""
    return f" (the first {p['round_every']} interactions of each seed test bottom-up proposals, the rest the network's)"


def _difference_row(name: str, value) -> str:
    if value is None:  # a method the profile did not run
        return f"| {name} | n/a | > 0 | n/a |"
    return f"| {name} | {_fmt(value)} points | > 0 | {'met' if value > 0 else 'missed'} |"


def _budget_warning(numbers: dict) -> str:
    oracle = numbers["ap"]["supervised_oracle"]["ap30"]
    if oracle is not None and oracle < 0.05:
        return (
            "**Budget too small to compare methods:** even the oracle, trained on clean ground truth, is below 5% "
            "AP@0.3, so at this training budget the network has not started to segment; the ratios above are not "
            "meaningful. The standard profile is the comparison.\n\n"
        )
    return ""


def _prf_table(numbers: dict) -> str:
    """The unseen-object segmentation metrics per method (runs made before they existed have none)."""
    ap = numbers["ap"]
    if not all("prf" in ap[m] for m in METHODS):
        return ""
    rows = "\n".join(
        f"| {METHOD_LABELS[m]} | "
        + " | ".join(_fmt(ap[m]["prf"][k]) for k in ("overlap_precision", "overlap_recall", "overlap_f"))
        + f" | {_fmt(ap[m]['prf']['boundary_f'])} | {_fmt(ap[m]['prf']['objects_at_075'])} |"
        for m in METHODS
    )
    return f"""## Unseen-object segmentation metrics

The metrics of the OCID / OSD benchmarks (`interseg evaluate-images` reports the same on labelled
photos): hypotheses scoring at least 0.5 as one label image, Hungarian matching on pairwise F; in
percent, mean over test images and seeds.

| method | overlap P | overlap R | overlap F | boundary F | objects at F >= 0.75 |
|---|---|---|---|---|---|
{rows}

"""


def markdown(numbers: dict) -> str:
    """The results section for the README (linked, not pasted, so it follows the latest run)."""
    ap, ratios, labels, thr = numbers["ap"], numbers["ratios"], numbers["labels"], numbers["throughput"]
    machine = numbers["machine"]
    rows = "\n".join(
        f"| {METHOD_LABELS[m]} | {_ap_cell(ap[m], 'ap30')} | {_ap_cell(ap[m], 'ap50')} | "
        f"{PAPER_TABLE1[m][0]} | {PAPER_TABLE1[m][1]} | {PAPER_TABLE1[m][2]} |"
        for m in METHODS
    )
    seeds = len(numbers["seeds"])
    curve = ", ".join(f"{n}: {_fmt(v)}" for n, v in numbers["curve"].items())
    causes = ", ".join(f"{k} {v}" for k, v in labels["errors_by_cause"].items()) or "none"

    def target(name, value, goal, times=True):
        if value is None:
            return f"| {name} | n/a | {goal} | n/a |"
        met = "met" if value >= goal else "missed"
        shown = f"{value:.2f}x" if times else f"{value:.2f}"
        return f"| {name} | {shown} | {goal}{'x' if times else ''} | {met} |"

    return (
        f"""# Benchmark results (`interseg bench --profile {numbers['profile']}`)

Generated from `{numbers.get('json_path', 'bench.json')}` ({numbers['created']}); do not edit by hand, rerun
`interseg bench --profile {numbers['profile']} --markdown benchmarks/RESULTS.md` (or `--from-json`).
Machine: {machine.get('cpu_count')} CPU cores\
{', GPU ' + str(machine.get('gpu_name')) if machine.get('gpu') else ', no GPU'}
(shared with other work; load average at start {machine.get('load_average_at_start')}); wall time
{numbers['wall_s'] / 60:.1f} min. Test split: {numbers['eval_set']['images']} images of the main camera with
{numbers['eval_set']['objects']} objects (unseen objects, unseen backgrounds). AP in percent, mean ± std over
{seeds} seed(s). Every learner starts from {_start_words(numbers)}.

## Table 1 analogue

| method (ours) | AP@0.3 | AP@0.5 | paper's row | paper AP@0.3 | paper AP@0.5 |
|---|---|---|---|---|---|
{rows}

| target | ours | aim | |
|---|---|---|---|
{target('RSL / oracle, AP@0.3', ratios['rsl_over_oracle_ap30'], 0.9)}
{target('RSL / oracle, AP@0.5', ratios['rsl_over_oracle_ap50'], 0.7)}
{target('RSL / tuned bottom-up, AP@0.3', ratios['rsl_over_bottom_up_tuned_ap30'], 2.5)}
{target('median label IoU', labels['median_iou'], 0.85, times=False)}
{_difference_row('RSL minus cross-entropy, AP@0.3', ratios['rsl_minus_ce_ap30'])}

{_budget_warning(numbers)}The paper reached 0.79x / 0.52x of tuned DeepMask and 2.0x tuned GOP. Interactions per seed:
{
            ', '.join(
                f"{s['counts']['executed']} executed / {s['counts']['lifted']} lifted / "
                f"{s['counts']['positive_interactions']} with a positive label"
                for s in numbers['seeds']
            )
        }.

{_prf_table(numbers)}## Figure 2 analogues

AP@0.3 (RSL, mean over seeds) versus interactions: {curve}.{_curve_end(numbers)}
Efficacy of experimentation (chosen hypotheses that hit a ground-truth object at IoU > 0.3, all interactions):
{_pct(numbers['efficacy']['overall_recall'])}{_bootstrap_note(numbers)}. \
Plots: `ap_vs_interactions.png`, `pr_curves.png`, `efficacy.png`.

## Label quality (frame differencing against ground truth, same interactions)

{labels['examples']} examples ({labels['positives']} positive): median IoU on positives \
{_fmt(labels['median_iou'], 2, False)}
(true positives only: {_fmt(labels['median_iou_true_positives'], 2, False)}), \
false-positive rate {_pct(labels['fp_rate'])},
false-negative rate {_pct(labels['fn_rate'])}. Errors by cause: {causes}.

## Throughput

{_fmt(thr['interactions_per_hour'], 0, False)} interactions per hour \
({_fmt(thr['interactions_per_hour_with_training'], 0, False)}
with the synchronous training rounds), hypotheses {_fmt(thr['hypothesis_ms'], 1, False)} ms per frame, trainer
{_fmt(thr['trainer_samples_per_s'], 1, False)} samples/s, labeller {_fmt(thr['labeller_ms'], 1, False)} ms per \
interaction.
({thr['notes']}.)

## What differs from the paper

"""
        + "\n".join(f"- {d}" for d in _differences(numbers))
        + "\n"
    )


def write_outputs(numbers: dict, out: Path, label_records: list[dict] | None) -> None:
    """PNG plots, ``index.html`` and ``RESULTS.md`` next to ``bench.json``."""
    out = Path(out)
    numbers = dict(numbers)
    from interseg.paths import repo_root

    root = repo_root()
    json_path = (out / "bench.json").resolve()
    try:
        shown = json_path.relative_to(root) if root else json_path
    except ValueError:
        shown = json_path
    numbers.setdefault("json_path", str(shown))
    figures = _plots(numbers, out)
    md = markdown(numbers)
    (out / "RESULTS.md").write_text(md)
    body = "".join(f"<h3>{html.escape(caption)}</h3><img src='{name}'>" for name, caption in figures)
    (out / "index.html").write_text(
        "<!doctype html><html><head><meta charset='utf-8'><title>interseg bench</title>"
        "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}img{max-width:100%}"
        "pre{white-space:pre-wrap;background:#f6f6f6;padding:1em}</style></head><body>"
        f"<h1>interseg bench ({html.escape(numbers['profile'])})</h1><pre>{html.escape(md)}</pre>{body}"
        "<p>All numbers: <code>bench.json</code>; COCO ground truth and detections: <code>coco/</code>.</p>"
        "</body></html>"
    )
