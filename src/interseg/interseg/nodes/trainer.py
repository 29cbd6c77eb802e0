"""trainer: learns continuously from the examples store, in its own process.

Rounds: wait for enough examples, train ``steps_per_round`` steps on windows around the
examples' points (objectness + mask loss, the Robust Set Loss by default), write a versioned
checkpoint atomically, announce it. On start it resumes from the newest readable checkpoint in
``run_dir``, so a trainer killed at any moment loses at most the round in progress and no
example (examples live in the store, written by the labeller). SIGINT / SIGTERM: a trainer
waiting for examples stops at once; one in the middle of a round abandons it (the process exits
0 without waiting for the step in progress; the last checkpoint is intact).

Published topics: model_updates (interseg_interfaces/ModelUpdate), after each checkpoint;
  transient local, so a hypotheses node started later still hears the latest one. It carries the
  checkpoint's SHA-256 and size, and with model_transport "weights" the checkpoint itself without
  its optimizer state (for hypotheses nodes on hosts that do not share this disk; ~4.4 MB at the
  default width)
Parameters: see config/trainer.yaml.

Several processes, one trainer: ``torchrun --nproc_per_node N <trainer_node> --ros-args ...``
trains with DistributedDataParallel (gloo on CPU, NCCL on GPUs; see
:mod:`interseg.learning.distributed`): every rank reads the store, rank 0 plans the rounds, writes
the checkpoints and is the node that announces them.
"""

from __future__ import annotations

import array
import sys
import threading
from pathlib import Path

from rclpy.node import Node
from rclpy.task import Future

from interseg.learning.checkpoint import CheckpointInfo
from interseg.learning.distributed import env_ranks
from interseg.learning.model import ModelConfig
from interseg.learning.model_transfer import digest_of, inference_checkpoint
from interseg.learning.trainer import Trainer
from interseg.learning.trainer_config import TrainerConfig
from interseg.nodes.common import MODEL_UPDATE_QOS, declare, run_node, say
from interseg_interfaces.msg import ModelUpdate

MODEL_TRANSPORTS = ("path", "weights")


class TrainerNode(Node):
    def __init__(self) -> None:
        super().__init__("trainer")
        self.store_path = Path(
            declare(self, "store", "runs/sim/examples", "examples store directory written by the labeller")
        )
        run_dir = Path(declare(self, "run_dir", "runs/sim/trainer", "checkpoints and the training log go here"))
        threads = declare(self, "threads", 1, "torch CPU threads for training", minimum=1, maximum=64)
        initial = declare(
            self, "initial_checkpoint", "", "weights to start from when run_dir has no checkpoint ('' = random)"
        )
        input_scale = declare(
            self, "input_scale", 0.5, "network resolution / camera resolution", minimum=0.05, maximum=2.0
        )
        width = declare(self, "image_width", 640, "camera image width", minimum=32)
        height = declare(self, "image_height", 480, "camera image height", minimum=32)
        config = TrainerConfig(
            optimizer=declare(self, "optimizer", "adamw", "'adamw' or 'sgd' (with momentum, as in the paper)"),
            lr=declare(self, "lr", 0.001, "learning rate", minimum=1e-6, maximum=10.0),
            momentum=declare(self, "momentum", 0.9, "SGD momentum (sgd only)", minimum=0.0, maximum=1.0),
            batch_size=declare(self, "batch_size", 32, "windows per step", minimum=1, maximum=1024),
            mask_loss=declare(self, "mask_loss", "ce", "'ce' (plain cross-entropy) or 'rsl' (Robust Set Loss)"),
            rsl_iou=declare(self, "rsl_iou", 0.75, "Robust Set Loss IoU bound b", minimum=0.0, maximum=1.0),
            steps_per_round=declare(self, "steps_per_round", 100, "optimizer steps between checkpoints", minimum=1),
            min_examples=declare(self, "min_examples", 8, "examples needed before training starts", minimum=1),
            seed=declare(self, "seed", 0, "seed of the initial weights and the sampling", minimum=0),
            keep_checkpoints=declare(self, "keep_checkpoints", 5, "checkpoints kept in run_dir (0: all)", minimum=0),
            device=declare(
                self, "device", "auto", "where the network trains: auto (a CUDA GPU when present), cpu, cuda, cuda:N"
            ),
        )
        self.model_transport = declare(
            self,
            "model_transport",
            "path",
            "'path': announce the checkpoint's path (hypotheses nodes share this disk); 'weights': the "
            "checkpoint's bytes travel in the announcement (hypotheses nodes on other hosts)",
        )
        if self.model_transport not in MODEL_TRANSPORTS:
            raise ValueError(f"model_transport must be one of {MODEL_TRANSPORTS}, not {self.model_transport!r}")
        import torch

        torch.set_num_threads(threads)
        self.trainer = Trainer(run_dir, ModelConfig(input_scale=input_scale, expected_size=(width, height)), config)
        if self.trainer.resume():
            self.get_logger().info(
                f"resumed from version {self.trainer.version} at step {self.trainer.step} "
                f"({self.trainer.examples_seen} examples seen)"
            )
        elif initial:
            self.trainer.load_checkpoint(initial)
            self.get_logger().info(f"starting from {initial}")
        if self.trainer.ranks.distributed:
            self.get_logger().info(
                f"rank {self.trainer.ranks.rank} of {self.trainer.ranks.world} (torch.distributed); "
                + ("announcing models" if self.trainer.ranks.main else "rank 0 announces the models")
            )
        self.publisher = (
            self.create_publisher(ModelUpdate, "model_updates", MODEL_UPDATE_QOS) if self.trainer.ranks.main else None
        )
        self.stop = threading.Event()
        self.finished = Future()  # completes (code 1) only when training fails
        self.thread = threading.Thread(target=self.run, name="trainer", daemon=True)
        self.thread.start()

    def run(self) -> None:
        try:
            self.trainer.run_online(self.store_path, on_checkpoint=self.announce, stop=self.stop)
        except Exception as exc:  # noqa: BLE001 -- a non-finite loss or a broken store: say so loudly and stop
            self.get_logger().fatal(f"training stopped: {exc!r}")
            self.finished.set_result(1)

    def announce(self, info: CheckpointInfo) -> None:
        # the file itself where the disk is shared; its inference part where the bytes travel
        weights = self.model_transport == "weights"
        data = inference_checkpoint(info.path) if weights else Path(info.path).read_bytes()
        digest = digest_of(data)
        msg = ModelUpdate(
            version=info.version,
            checkpoint_path=str(Path(info.path).resolve()),
            training_step=info.step,
            examples_seen=info.examples_seen,
            checkpoint_sha256=digest.sha256,
            checkpoint_size=digest.size,
        )
        if weights:
            msg.checkpoint_data = array.array("B", data)
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.metric_names = list(info.metrics)
        msg.metric_values = [float(v) for v in info.metrics.values()]
        self.publisher.publish(msg)
        loss = info.metrics.get("loss", float("nan"))
        self.get_logger().info(
            f"model version {info.version}: step {info.step}, {info.examples_seen} examples seen, loss {loss:.4f}"
        )

    def close(self) -> None:
        # The round in progress is abandoned: checkpoints are written atomically and the
        # examples live in the store, so nothing is lost by not waiting for it. A thread still
        # inside a training step ends with the process (run_node exits without finalizing the
        # interpreter, which would abort the process inside torch).
        self.stop.set()
        self.thread.join(timeout=0.3)
        if self.thread.is_alive():
            say(
                self.get_name(),
                "stopping: the training round in progress is abandoned "
                f"(the last checkpoint, version {self.trainer.version}, is kept)",
            )


def main(args: list[str] | None = None) -> int:
    # Under torchrun (learning/distributed.py) every rank is a node; rank 0 is "trainer" and the
    # only one that announces, the others are renamed trainer_rank<N> (the first node-name rule wins).
    args = list(sys.argv if args is None else args)
    rank = env_ranks().rank
    if rank > 0:
        rule = ["-r", f"__node:=trainer_rank{rank}"]
        if "--ros-args" in args:
            at = args.index("--ros-args") + 1
            args[at:at] = rule
        else:
            args += ["--ros-args", *rule]
    return run_node(TrainerNode, args)
