"""`interseg demo`: the simulator demo end to end: collect, train, evaluate, report.

1. the test split's evaluation images (10 unseen backgrounds x 5, unseen objects), generated once
   and cached;
2. passive pre-training (Algorithm 1's step 1: random pushes, frame-difference masks, a few
   hundred training steps), made once per image size and cached; ``--start random`` skips it;
3. the whole node graph (launch/sim.launch.yaml) for ``--minutes``, started from the pre-trained
   weights: the robot interacts, the labeller writes examples, the trainer learns asynchronously
   and announces new models;
4. every checkpoint of the run (and the initial weights) and the bottom-up baseline scored on the
   test images: mask AP at IoU 0.3 and 0.5;
5. an HTML report with plots: the AP table, AP versus interactions, precision-recall curves,
   hypotheses of the final model on test images, and examples the labeller produced.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from interseg.cli_args import ArgumentParser, float_range, image_side, positive_int, random_seed
from interseg.evaluation.pretrained_start import START_KINDS
from interseg.paths import launch_dir


def _parser() -> ArgumentParser:
    parser = ArgumentParser(prog="interseg demo", description=__doc__.split("\n\n")[0])
    # at least 0.6 s, at most a year: passed on to the launch file as a plain decimal number
    parser.add_argument(
        "--minutes", type=float_range(0.01, 525600.0), default=10.0, help="minutes of interaction (default 10)"
    )
    parser.add_argument("--out", type=Path, default=None, help="run folder (default runs/demo-YYYYmmdd-HHMMSS)")
    parser.add_argument("--width", type=image_side, default=640, help="camera width (default 640)")
    parser.add_argument("--height", type=image_side, default=480, help="camera height (default 480)")
    parser.add_argument("--shadows", choices=["true", "false"], default="true", help="render shadows (default true)")
    parser.add_argument("--mask-loss", choices=["ce", "rsl"], default="ce", help="trainer mask loss (default ce)")
    parser.add_argument("--steps-per-round", type=positive_int, default=100, help="trainer steps between model updates")
    parser.add_argument(
        "--eval-per-background", type=positive_int, default=5, help="test images per background (paper: 5)"
    )
    parser.add_argument(
        "--eval-dir", type=Path, default=None, help="evaluation set folder (default runs/eval/test-WxH)"
    )
    parser.add_argument("--seed", type=random_seed, default=0)
    parser.add_argument(
        "--start",
        choices=START_KINDS,
        default="pretrained",
        help="where the learner starts: passive pre-training (made once per image size, cached) or random weights",
    )
    parser.add_argument(
        "--pretrain-frames",
        type=positive_int,
        default=600,
        help="frames of pushing recorded for the pre-training (default 600: about 5 min at 640x480, once)",
    )
    parser.add_argument(
        "--pretrain-steps", type=positive_int, default=300, help="training steps of the pre-training (default 300)"
    )
    parser.add_argument(
        "--pretrain-cache", type=Path, default=None, help="cached pre-trained checkpoints (default runs/pretrain-cache)"
    )
    return parser


DEMO_INPUT_SCALE = 0.5  # the network scale the graph runs (launch/sim.launch.yaml's input_scale)


def _run_graph(args, run_dir: Path, checkpoint: Path | None) -> int:
    """Launch the graph, show a progress bar from the experimenter's progress file, return the code."""
    from interseg.progress import progress_bar

    log_path = run_dir / "launch.log"
    command = [
        sys.executable,
        "-m",
        "interseg.cli",
        "launch",
        str(launch_dir() / "sim.launch.yaml"),
        f"run_dir:={run_dir}",
        f"max_minutes:={args.minutes}",
        f"image_width:={args.width}",
        f"image_height:={args.height}",
        f"shadows:={args.shadows}",
        f"mask_loss:={args.mask_loss}",
        f"steps_per_round:={args.steps_per_round}",
        f"seed:={args.seed}",
        "keep_checkpoints:=0",
        f"input_scale:={DEMO_INPUT_SCALE}",
    ] + ([f"checkpoint:={checkpoint}"] if checkpoint is not None else [])
    progress_path = run_dir / "progress.jsonl"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        total = max(1, int(round(args.minutes * 60)))
        bar = progress_bar(
            total=total, desc="interacting", unit="s", bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} s {postfix}"
        )
        start = time.monotonic()
        try:
            while proc.poll() is None:
                time.sleep(1.0)
                elapsed = min(total, int(time.monotonic() - start))
                if elapsed > bar.n:
                    bar.update(elapsed - bar.n)
                if progress_path.is_file():
                    lines = progress_path.read_text().splitlines()
                    if lines:
                        last = json.loads(lines[-1])
                        bar.set_postfix_str(
                            f"{last['interactions']} interactions, {last['positives']} positive, "
                            f"{last['lifted']} lifted, model v{last['model_version']}"
                        )
        except KeyboardInterrupt:
            os.killpg(proc.pid, signal.SIGINT)
            proc.wait(timeout=30)
            raise
        finally:
            bar.close()
    return proc.returncode


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from interseg.paths import repo_root

    base = repo_root() or Path.cwd()
    run_dir = (args.out or base / "runs" / time.strftime("demo-%Y%m%d-%H%M%S")).resolve()
    run_dir.mkdir(parents=True, exist_ok=True)
    eval_dir = (
        args.eval_dir or base / "runs" / "eval" / f"test-{args.width}x{args.height}-{args.eval_per_background}"
    ).resolve()
    started = time.time()

    from interseg.evaluation.evaluate import ensure_eval_set

    print(f"[demo] evaluation set: {eval_dir}", flush=True)
    eval_set = ensure_eval_set("test", eval_dir, args.width, args.height, args.eval_per_background)
    start: dict = {"kind": "random"}
    checkpoint = None
    if args.start == "pretrained":
        from interseg.evaluation.pretrained_start import PretrainSetting, ensure_pretrained

        pretrained = ensure_pretrained(
            PretrainSetting(
                args.width, args.height, DEMO_INPUT_SCALE, args.pretrain_frames, args.pretrain_steps, batch_size=32
            ),
            (args.pretrain_cache or base / "runs" / "pretrain-cache").resolve(),
        )
        checkpoint, start = pretrained.checkpoint, pretrained.to_dict()
        print(
            f"[demo] starting from {checkpoint} "
            f"({'cached; it cost' if pretrained.cached else 'made in'} {pretrained.cost_s / 60:.1f} min)",
            flush=True,
        )
    print(f"[demo] running the simulator graph for {args.minutes:g} min; log: {run_dir / 'launch.log'}", flush=True)
    code = _run_graph(args, run_dir, checkpoint)
    if code != 0:
        print(f"[demo] the graph stopped with exit code {code}; see {run_dir / 'launch.log'}", file=sys.stderr)
        return 1
    from interseg.evaluation.report import write_report

    print("[demo] evaluating checkpoints and the bottom-up baseline on the test split", flush=True)
    report = write_report(
        run_dir,
        eval_set,
        wall_s=time.time() - started,
        settings={k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
        | {"out": str(run_dir), "eval_dir": str(eval_dir), "start": start},
    )
    print(f"[demo] report: {report}")
    return 0
