"""`interseg train` and `interseg export-examples`: the learning core from the command line,
without ROS (the trainer node runs the same engine and announces checkpoints on a topic)."""
from __future__ import annotations

import argparse
import logging
import signal
import threading


def train_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="interseg train",
                                     description="Train the hypothesis network online from an examples store.")
    parser.add_argument("--store", required=True, help="examples store directory")
    parser.add_argument("--run-dir", required=True, help="checkpoints and log.csv go here")
    parser.add_argument("--rounds", type=int, default=None, help="stop after this many checkpoints (default: never)")
    parser.add_argument("--steps-per-round", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--mask-loss", choices=["rsl", "ce"], default="rsl")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--fresh", action="store_true", help="do not resume from checkpoints in --run-dir")
    args = parser.parse_args(argv)

    import torch

    from interseg.learning.trainer import Trainer, TrainerConfig

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    torch.set_num_threads(args.threads)
    trainer = Trainer(args.run_dir, config=TrainerConfig(batch_size=args.batch_size, lr=args.lr,
                                                         mask_loss=args.mask_loss,
                                                         steps_per_round=args.steps_per_round))
    if not args.fresh and trainer.resume():
        print(f"resumed version {trainer.version} at step {trainer.step}")
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())

    def announce(info) -> None:
        metrics = ", ".join(f"{k} {v:.4f}" for k, v in info.metrics.items())
        print(f"checkpoint v{info.version} step {info.step} examples {info.examples_seen}: {metrics} -> {info.path}",
              flush=True)

    trainer.run_online(args.store, on_checkpoint=announce, stop=stop, max_rounds=args.rounds, progress=True)
    return 0


def export_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="interseg export-examples",
                                     description="Export an examples store to a rosbag2 MCAP bag.")
    parser.add_argument("store", help="examples store directory")
    parser.add_argument("bag", help="output bag directory (must not exist)")
    args = parser.parse_args(argv)
    from interseg.learning.store import ExampleStore

    with ExampleStore(args.store) as store:
        count = store.export_mcap(args.bag)
    print(f"exported {count} examples to {args.bag}")
    return 0
