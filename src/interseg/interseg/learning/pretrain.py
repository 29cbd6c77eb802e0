"""Passive pre-training's training step (step 1 of Algorithm 1): the hypothesis network trained
on a store of push examples with the same trainer as the interaction loop (objectness + mask
loss, Robust Set Loss by default), for a fixed number of steps, and one checkpoint written to a
given path. The push examples themselves come from :mod:`interseg.sim.push_examples` (or the
push_collector node); ``interseg pretrain`` (:mod:`interseg.pretrain_command`) runs both.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from torch.utils.data import DataLoader, RandomSampler

from interseg.learning.dataset import WindowDataset
from interseg.learning.model import ModelConfig
from interseg.learning.trainer import Trainer
from interseg.learning.trainer_config import TrainerConfig


def train_on_store(
    store_root: str | os.PathLike,
    run_dir: str | os.PathLike,
    out: str | os.PathLike,
    *,
    steps: int,
    width: int = 640,
    height: int = 480,
    input_scale: float = 0.5,
    batch_size: int = 32,
    lr: float = 0.001,
    mask_loss: str = "rsl",
    seed: int = 0,
    progress: bool = True,
    metrics: dict | None = None,
) -> Path:
    """Train the hypothesis network on the push examples and write the checkpoint to ``out``."""
    model_config = ModelConfig(input_scale=input_scale, expected_size=(width, height))
    config = TrainerConfig(
        batch_size=batch_size,
        lr=lr,
        mask_loss=mask_loss,
        steps_per_round=max(1, steps),
        min_examples=1,
        seed=seed,
        keep_checkpoints=2,
    )
    dataset = WindowDataset(store_root, model_config, augment=True, seed=seed)
    positives = sum(r.positive for r in dataset.records)
    if positives == 0:
        raise RuntimeError(
            f"{store_root} holds no positive example: no push moved anything visibly; "
            "record more frames (--frames) before pre-training"
        )
    trainer = Trainer(run_dir, model_config, config)
    stats: dict[str, float] = {}
    if steps > 0:
        sampler = RandomSampler(dataset, replacement=True, num_samples=steps * batch_size)
        loader = DataLoader(dataset, batch_size=batch_size, sampler=sampler, drop_last=True)
        stats = trainer.train_one_epoch(loader, max_steps=steps, progress=progress)
    # The push store is not the store the interaction loop will read: start that count afresh.
    trainer.examples_seen = 0
    numeric = {k: float(v) for k, v in (metrics or {}).items() if isinstance(v, (int, float))}
    info = trainer.save_checkpoint(
        stats | numeric | {"push_examples": float(len(dataset)), "push_positives": float(positives)}
    )
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    shutil.copyfile(info.path, tmp)
    os.replace(tmp, out)
    return out
