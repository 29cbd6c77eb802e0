"""The trainer's online mode: refresh the examples, train a round, checkpoint, announce; on one
process or on the ranks of a distributed trainer (:mod:`interseg.learning.distributed`), where
rank 0 plans each round for all of them."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable

import torch
from torch.utils.data import DataLoader, RandomSampler

from interseg.learning.checkpoint import CheckpointInfo, CheckpointWriteError
from interseg.learning.dataset import WindowDataset
from interseg.learning.distributed import RoundPlan, round_plan, sync_from_rank0
from interseg.learning.store_errors import NoReadableExamplesError, StoreError, StoreNotReadyError

LOG = logging.getLogger("interseg.learning.trainer")


def _open_dataset(trainer, store_root, stop: threading.Event, poll_interval: float, warn_after: float):
    """The store's dataset once the store exists; None when stopped while waiting."""
    started = time.monotonic()
    warned = False
    while True:
        try:
            config = trainer.config
            return WindowDataset(store_root, trainer.model_config, augment=config.augment, seed=config.seed)
        except StoreNotReadyError as exc:  # the labeller has not written yet
            if not warned and time.monotonic() - started >= warn_after:
                LOG.warning("still waiting for the examples store after %.0f s: %s", warn_after, exc)
                warned = True
            if stop.wait(poll_interval):
                return None


def run_online(
    trainer,
    store_root: str | os.PathLike,
    *,
    on_checkpoint: Callable[[CheckpointInfo], None] | None = None,
    stop: threading.Event | None = None,
    max_rounds: int | None = None,
    poll_interval: float = 1.0,
    progress: bool = False,
    warn_after: float = 30.0,
) -> int:
    """:meth:`interseg.learning.trainer.Trainer.run_online` (its docstring says what it does)."""
    stop = stop or threading.Event()
    ranks = trainer.ranks
    dataset = _open_dataset(trainer, store_root, stop, poll_interval, warn_after)
    if dataset is None and not ranks.distributed:
        return 0
    rounds = 0
    store_problem = checkpoint_problem = None
    while True:
        plan = None
        if ranks.main:
            done = dataset is None or stop.is_set() or (max_rounds is not None and rounds >= max_rounds)
            if not done:
                try:
                    if rounds or len(dataset) < trainer.config.min_examples:
                        dataset.refresh()
                    if store_problem is not None:
                        LOG.warning("the examples store is readable again")
                        store_problem = None
                except StoreError as exc:
                    if str(exc) != store_problem:
                        LOG.warning(
                            "cannot read new examples (%s); training goes on with the %d already read",
                            exc,
                            len(dataset),
                        )
                        store_problem = str(exc)
            enough = not done and len(dataset) >= trainer.config.min_examples
            steps = trainer.round_steps(len(dataset)) if enough else 0
            plan = RoundPlan(done, dataset.last_id if dataset is not None else 0, steps)
        plan = round_plan(ranks, plan)  # every rank: rank 0's plan
        if plan.stop:
            return rounds
        if not ranks.main:
            if dataset is None:  # this rank was stopped before its store existed
                return rounds
            try:
                dataset.refresh()
            except StoreError as exc:  # train on the rows already read; the steps stay rank 0's
                LOG.warning("rank %d cannot read new examples (%s)", ranks.rank, exc)
            dataset.keep_up_to(plan.last_id)
        if plan.steps == 0:
            if ranks.main:
                stop.wait(poll_interval)
            continue
        generator = None
        if ranks.distributed:  # each rank its own windows
            seed = trainer.config.seed * 1_000_003 + 7919 * ranks.rank + trainer.step
            generator = torch.Generator().manual_seed(seed)
        sampler = RandomSampler(
            dataset, replacement=True, num_samples=plan.steps * trainer.config.batch_size, generator=generator
        )
        loader = DataLoader(
            dataset,
            batch_size=trainer.config.batch_size,
            sampler=sampler,
            drop_last=True,
            num_workers=trainer.config.num_workers,
            persistent_workers=False,
        )
        try:
            stats = trainer.train_one_epoch(loader, progress=progress, examples_seen=plan.last_id)
        except NoReadableExamplesError as exc:
            LOG.warning("round dropped: %s", exc)
            stop.wait(poll_interval)
            continue
        trainer.model_config.mask_threshold = sync_from_rank0(ranks, trainer.model, trainer.model_config.mask_threshold)
        stats["quarantined_examples"] = float(dataset.quarantined)
        try:
            info = trainer.save_checkpoint(stats)
        except CheckpointWriteError as exc:
            if str(exc) != checkpoint_problem:
                LOG.warning("%s; training goes on and the next round tries again", exc)
                checkpoint_problem = str(exc)
            continue
        if checkpoint_problem is not None:
            LOG.warning("checkpoints are written again (version %d)", info.version)
            checkpoint_problem = None
        rounds += 1
        if on_checkpoint is not None and ranks.main:
            on_checkpoint(info)
