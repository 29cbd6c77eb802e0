"""`interseg train` and `interseg export-examples`: the learning core from the command line,
without ROS (the trainer node runs the same engine and announces checkpoints on a topic).

Both say in one line what is wrong and exit non-zero instead of a traceback: 2 for bad
command-line input (a store that is not there, a bag that already exists, a value out of range),
1 for a store or disk that fails them on the way. Examples whose files are bad are quarantined,
counted and skipped; neither command stops for them.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from pathlib import Path

from interseg.cli_args import ArgumentParser, float_range, positive_int
from interseg.learning.store import INDEX_NAME, ExampleStore
from interseg.learning.store_errors import StoreError, StoreNotReadyError


def _fail(prog: str, message: str, code: int) -> int:
    print(f"{prog}: {message}", file=sys.stderr)
    return code


def train_main(argv: list[str]) -> int:
    prog = "interseg train"
    parser = ArgumentParser(prog=prog, description="Train the hypothesis network online from an examples store.")
    parser.add_argument("--store", required=True, type=Path, help="examples store directory")
    parser.add_argument("--run-dir", required=True, type=Path, help="checkpoints and log.csv go here")
    parser.add_argument(
        "--rounds", type=positive_int, default=None, help="stop after this many checkpoints (default: never)"
    )
    parser.add_argument("--steps-per-round", type=positive_int, default=100)
    parser.add_argument("--batch-size", type=positive_int, default=32)
    parser.add_argument("--lr", type=float_range(0.0, 10.0, exclusive_minimum=True), default=0.01)
    parser.add_argument("--mask-loss", choices=["ce", "rsl"], default="ce")
    parser.add_argument("--threads", type=positive_int, default=2)
    parser.add_argument("--fresh", action="store_true", help="do not resume from checkpoints in --run-dir")
    parser.add_argument(
        "--wait",
        action="store_true",
        help="wait for the store to be created (by a labeller starting up) instead of refusing a "
        "store that is not there",
    )
    args = parser.parse_args(argv)

    if not args.wait:
        try:
            ExampleStore(args.store).close()
        except StoreNotReadyError as exc:
            return _fail(
                prog,
                f"--store {args.store}: {exc}; check the path, or pass --wait to wait for a "
                f"labeller to create {INDEX_NAME} there",
                2,
            )
        except StoreError as exc:
            return _fail(prog, f"--store {args.store}: {exc}", 1)
    if args.run_dir.exists() and not args.run_dir.is_dir():
        return _fail(prog, f"--run-dir {args.run_dir} is not a directory", 2)

    # torch and the trainer load here, after the arguments are checked (export-examples never needs them)
    import torch

    from interseg.learning.checkpoint import CheckpointError
    from interseg.learning.trainer import NonFiniteLossError, Trainer
    from interseg.learning.trainer_config import TrainerConfig

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    torch.set_num_threads(args.threads)
    try:
        trainer = Trainer(
            args.run_dir,
            config=TrainerConfig(
                batch_size=args.batch_size, lr=args.lr, mask_loss=args.mask_loss, steps_per_round=args.steps_per_round
            ),
        )
    except ValueError as exc:
        return _fail(prog, str(exc), 2)
    if not args.fresh and trainer.resume():
        print(f"resumed version {trainer.version} at step {trainer.step}")
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())

    def announce(info) -> None:
        metrics = ", ".join(f"{k} {v:.4f}" for k, v in info.metrics.items())
        print(
            f"checkpoint v{info.version} step {info.step} examples {info.examples_seen}: {metrics} -> {info.path}",
            flush=True,
        )

    try:
        trainer.run_online(args.store, on_checkpoint=announce, stop=stop, max_rounds=args.rounds, progress=True)
    except (StoreError, CheckpointError, NonFiniteLossError) as exc:
        return _fail(prog, str(exc), 1)
    except OSError as exc:  # the run directory's disk: full, read-only, gone
        return _fail(prog, f"{exc.filename or args.run_dir}: {exc.strerror or exc}", 1)
    return 0


def export_main(argv: list[str]) -> int:
    prog = "interseg export-examples"
    parser = ArgumentParser(prog=prog, description="Export an examples store to a rosbag2 MCAP bag.")
    parser.add_argument("store", type=Path, help="examples store directory")
    parser.add_argument("bag", type=Path, help="output bag directory (must not exist)")
    args = parser.parse_args(argv)
    if args.bag.exists():
        return _fail(prog, f"{args.bag} already exists; the bag is written to a new directory", 2)
    logging.basicConfig(level=logging.WARNING, format=f"{prog}: %(message)s")
    try:
        with ExampleStore(args.store) as store:
            summary = store.export_mcap(args.bag)
    except StoreNotReadyError as exc:
        return _fail(prog, str(exc), 2)
    except StoreError as exc:
        return _fail(prog, str(exc), 1)
    except OSError as exc:  # the bag's disk: full, read-only
        return _fail(prog, f"writing {args.bag}: {exc.strerror or exc}", 1)
    line = f"exported {summary.exported} examples to {args.bag}"
    if summary.skipped:
        line += (
            f"; skipped {len(summary.skipped)} with bad files ({summary.newly_quarantined} newly quarantined; "
            f"reasons in {Path(args.store) / 'quarantine.jsonl'})"
        )
    print(line)
    return 0
