"""Trainer engine: windows from the examples store -> SGD steps -> versioned checkpoints.

``train_one_epoch`` and ``evaluate`` are kept apart (evaluation under ``torch.inference_mode``).
The online mode (:meth:`Trainer.run_online`) is what the trainer node runs in a thread: refresh
the dataset, train a round of steps, write a checkpoint, call back so the node can announce it.

Settings are :class:`interseg.learning.trainer_config.TrainerConfig`. Checkpoints (their format,
atomic writing, reading and listing) are :mod:`interseg.learning.checkpoint`'s; a checkpoint that
is corrupt, foreign or does not fit raises :class:`~interseg.learning.checkpoint.CheckpointError`,
and loading always builds fresh objects first, so whatever model is running stays untouched.
"""

from __future__ import annotations

import csv
import logging
import math
import os
import time
from collections.abc import Iterable
from dataclasses import asdict, replace
from pathlib import Path

import torch

from interseg.learning.checkpoint import (
    CHECKPOINT_FORMAT,
    CHECKPOINT_FORMAT_VERSION,
    CheckpointError,
    CheckpointInfo,
    checkpoint_path,
    list_checkpoints,
    read_checkpoint,
    write_checkpoint,
)
from interseg.learning.distributed import init_from_env, local_device, wrap
from interseg.learning.losses import mask_cross_entropy, objectness_loss, robust_set_loss, window_iou
from interseg.learning.model import HypothesisNetwork, ModelConfig
from interseg.learning.trainer_config import TrainerConfig, resolve_device
from interseg.progress import progress_bar

LOG = logging.getLogger(__name__)


class NonFiniteLossError(RuntimeError):
    """Training produced a NaN/inf loss; stopped before the weights were updated with it."""


def make_optimizer(model: torch.nn.Module, config: TrainerConfig) -> torch.optim.Optimizer:
    if config.optimizer == "adamw":
        return torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    return torch.optim.SGD(model.parameters(), lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay)


class Trainer:
    """Owns the network, optimizer, scheduler and counters of one training run (``run_dir``)."""

    LOG_FIELDS = ["time", "step", "examples_seen", "samples_seen", "loss", "objectness_loss", "mask_loss", "lr"]

    def __init__(
        self, run_dir: str | os.PathLike, model_config: ModelConfig | None = None, config: TrainerConfig | None = None
    ):
        self.run_dir = Path(run_dir)
        # a copy: calibration changes its mask threshold, and callers may share theirs
        self.model_config = replace(model_config) if model_config is not None else ModelConfig()
        self.config = config or TrainerConfig()
        torch.manual_seed(self.config.seed)
        self.device = local_device(resolve_device(self.config.device))
        self.ranks = init_from_env(self.device)  # one process, or a rank of a torchrun trainer
        self._ddp = None  # the DistributedDataParallel wrapper of the current network, when distributed
        self.model = HypothesisNetwork(self.model_config).to(self.device)
        self.optimizer = make_optimizer(self.model, self.config)
        self.scheduler = torch.optim.lr_scheduler.StepLR(self.optimizer, self.config.lr_step, self.config.lr_gamma)
        self.step = 0
        self.examples_seen = 0  # store rows incorporated so far (the last store id read)
        self.samples_seen = 0  # windows trained on
        self.version = 0
        self._calibration: list[tuple[torch.Tensor, torch.Tensor]] = []  # (probabilities, targets) per window
        self._trained_examples: set[int] = set()  # store ids already trained on (this process)
        self._log_failing = False

    # -- one optimisation step -------------------------------------------------------------------
    def _to_device(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return {k: v.to(self.device, non_blocking=True) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}

    def compute_losses(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        batch = self._to_device(batch)
        images = self.model.normalize(batch["image"])
        if self.ranks.distributed and self.model.training:  # gradients averaged over the ranks
            if self._ddp is None or self._ddp.module.network is not self.model:
                self._ddp = wrap(self.model, self.device)
            objectness, masks = self._ddp(images)
        else:
            objectness, masks = self.model.forward_windows(images)
        loss_obj = objectness_loss(objectness, batch["objectness"])
        with_mask = batch["has_mask"] > 0.5
        if bool(with_mask.any()):
            logits, targets = masks[with_mask], batch["mask"][with_mask]
            if self.config.calibration_masks > 0 and "example_id" in batch:
                ids = batch["example_id"][with_mask].tolist()
                unseen = torch.tensor(
                    [i not in self._trained_examples for i in ids], dtype=torch.bool, device=logits.device
                )
                if bool(unseen.any()):
                    self._remember_masks(logits[unseen], targets[unseen])
            if self.config.mask_loss == "rsl":
                loss_mask = robust_set_loss(
                    logits,
                    targets,
                    self.config.rsl_iou,
                    self.config.rsl_step,
                    self.config.rsl_moves,
                    self.config.rsl_unmet,
                )
            else:
                loss_mask = mask_cross_entropy(logits, targets)
        else:
            loss_mask = masks.sum() * 0.0
        if "example_id" in batch:
            self._trained_examples.update(batch["example_id"].tolist())
        total = loss_obj + self.config.mask_weight * loss_mask
        return {"loss": total, "objectness_loss": loss_obj, "mask_loss": loss_mask}

    def train_one_epoch(
        self, loader: Iterable, *, max_steps: int | None = None, progress: bool = True, examples_seen: int | None = None
    ) -> dict[str, float]:
        """One pass over ``loader`` (or ``max_steps`` batches); returns mean losses."""
        self.model.train()
        sums: dict[str, float] = {}
        count = 0
        total = max_steps if max_steps is not None else (len(loader) if hasattr(loader, "__len__") else None)
        with progress_bar(total=total, desc=f"train v{self.version + 1}", disable=not progress, leave=False) as bar:
            for batch in loader:
                if max_steps is not None and count >= max_steps:
                    break
                values = self._train_step(batch, examples_seen)
                for k, v in values.items():
                    sums[k] = sums.get(k, 0.0) + v
                count += 1
                bar.update(1)
                bar.set_postfix_str(f"loss={values['loss']:.3f}")
        self.calibrate_mask_threshold()
        return {k: v / max(count, 1) for k, v in sums.items()} | {"steps": float(count)}

    def _train_step(self, batch: dict[str, torch.Tensor], examples_seen: int | None) -> dict[str, float]:
        """One optimizer step on ``batch`` (logged); returns its losses."""
        buffers = [b.detach().clone() for b in self.model.buffers()]  # BatchNorm statistics
        losses = self.compute_losses(batch)
        if not torch.isfinite(losses["loss"]):
            with torch.no_grad():  # the forward pass already fed NaNs into BatchNorm's statistics
                for live, saved in zip(self.model.buffers(), buffers):
                    live.copy_(saved)
            raise NonFiniteLossError(
                f"non-finite loss at step {self.step}: "
                + ", ".join(f"{k}={float(v.detach())}" for k, v in losses.items())
                + "; weights were not updated with it. Lower the learning rate or check the data."
            )
        self.optimizer.zero_grad(set_to_none=True)
        losses["loss"].backward()
        self.optimizer.step()
        self.scheduler.step()
        self.step += 1
        self.samples_seen += int(batch["objectness"].shape[0])
        if examples_seen is not None:
            self.examples_seen = max(self.examples_seen, examples_seen)
        values = {k: float(v.detach()) for k, v in losses.items()}
        self._log(values)
        return values

    # -- mask threshold calibration ------------------------------------------------------------------
    CALIBRATION_THRESHOLDS = tuple(round(0.05 * k, 2) for k in range(1, 15))  # 0.05 ... 0.7

    def _remember_masks(self, logits: torch.Tensor, targets: torch.Tensor) -> None:
        with torch.no_grad():
            probabilities = torch.sigmoid(logits.detach()).to("cpu", torch.float16)
        self._calibration.extend(zip(probabilities, targets.detach().cpu() > 0.5))
        del self._calibration[: max(0, len(self._calibration) - self.config.calibration_masks)]

    def calibrate_mask_threshold(self) -> float:
        """Set the decoding threshold to the candidate with the best mean IoU between thresholded
        predictions and targets over the remembered windows; returns the threshold in use."""
        if self.config.calibration_masks <= 0 or len(self._calibration) < 8:
            return self.model_config.mask_threshold
        probabilities = torch.stack([p for p, _ in self._calibration]).float()
        targets = torch.stack([t for _, t in self._calibration])
        best, best_iou = self.model_config.mask_threshold, -1.0
        for threshold in self.CALIBRATION_THRESHOLDS:
            iou = float(window_iou(probabilities > threshold, targets).mean())
            if iou > best_iou:
                best, best_iou = threshold, iou
        self.model_config.mask_threshold = best  # the network's config: the checkpoint saves it
        return best

    @torch.inference_mode()
    def evaluate(self, loader: Iterable) -> dict[str, float]:
        """Mean losses (plain cross-entropy for masks), objectness accuracy, and the mean IoU of
        predicted window masks with their (noisy) targets."""
        self.model.eval()
        n = 0
        sums = {"objectness_loss": 0.0, "mask_loss": 0.0, "objectness_accuracy": 0.0, "mask_iou": 0.0}
        n_masks = 0
        for batch in loader:
            batch = self._to_device(batch)
            objectness, masks = self.model.forward_windows(self.model.normalize(batch["image"]))
            b = objectness.shape[0]
            sums["objectness_loss"] += float(objectness_loss(objectness, batch["objectness"])) * b
            sums["objectness_accuracy"] += float(((objectness > 0).float() == batch["objectness"]).float().sum())
            with_mask = batch["has_mask"] > 0.5
            k = int(with_mask.sum())
            if k:
                logits, targets = masks[with_mask], batch["mask"][with_mask] > 0.5
                sums["mask_loss"] += float(mask_cross_entropy(logits, targets)) * k
                sums["mask_iou"] += float(window_iou(logits > 0, targets).sum())
                n_masks += k
            n += b
        return {
            "objectness_loss": sums["objectness_loss"] / max(n, 1),
            "objectness_accuracy": sums["objectness_accuracy"] / max(n, 1),
            "mask_loss": sums["mask_loss"] / max(n_masks, 1),
            "mask_iou": sums["mask_iou"] / max(n_masks, 1),
        }

    # -- logging -----------------------------------------------------------------------------------
    def _log(self, values: dict[str, float]) -> None:
        if not self.ranks.main:  # one log per run: rank 0's
            return
        row = {
            "time": f"{time.time():.3f}",
            "step": self.step,
            "examples_seen": self.examples_seen,
            "samples_seen": self.samples_seen,
            "loss": f"{values['loss']:.6f}",
            "objectness_loss": f"{values['objectness_loss']:.6f}",
            "mask_loss": f"{values['mask_loss']:.6f}",
            "lr": f"{self.optimizer.param_groups[0]['lr']:.6g}",
        }
        try:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            path = self.run_dir / "log.csv"
            new = not path.exists()
            with open(path, "a", newline="") as f:
                writer = csv.DictWriter(f, fieldnames=self.LOG_FIELDS)
                if new:
                    writer.writeheader()
                writer.writerow(row)
        except OSError as exc:  # a full disk costs log lines, not the training
            if not self._log_failing:
                LOG.warning(
                    "training log %s not written (%s); training goes on", self.run_dir / "log.csv", exc.strerror or exc
                )
                self._log_failing = True
            return
        self._log_failing = False

    # -- checkpoints -------------------------------------------------------------------------------
    def save_checkpoint(self, metrics: dict[str, float] | None = None) -> CheckpointInfo:
        """Write the next version atomically (temp file + rename) and prune old ones;
        :class:`CheckpointWriteError` when the disk refuses it."""
        version = self.version + 1
        metrics = {k: float(v) for k, v in (metrics or {}).items() if math.isfinite(float(v))}
        data = {
            "format": CHECKPOINT_FORMAT,
            "format_version": CHECKPOINT_FORMAT_VERSION,
            "version": version,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "step": self.step,
            "examples_seen": self.examples_seen,
            "samples_seen": self.samples_seen,
            "model_config": self.model_config.to_dict(),
            "trainer_config": asdict(self.config),
            "metrics": metrics,
        }
        path = checkpoint_path(self.run_dir, version)
        if not self.ranks.main:  # rank 0 writes it (the weights are the same on every rank)
            self.version = version
            return CheckpointInfo(version, path, self.step, self.examples_seen, metrics)
        write_checkpoint(path, data)
        self.version = version
        for _, old in list_checkpoints(self.run_dir)[: -self.config.keep_checkpoints]:
            old.unlink(missing_ok=True)
        return CheckpointInfo(version, path, self.step, self.examples_seen, metrics)

    def load_checkpoint(self, path: str | os.PathLike) -> None:
        """Restore model, optimizer, scheduler and counters. Everything is loaded into fresh
        objects first and swapped in only when all of it fits."""
        data = read_checkpoint(path)
        try:
            config = ModelConfig.from_dict(data["model_config"])
            model = HypothesisNetwork(config)
            model.load_state_dict(data["model"], strict=True)
            model.to(self.device)
            optimizer = make_optimizer(model, self.config)
            scheduler = torch.optim.lr_scheduler.StepLR(optimizer, self.config.lr_step, self.config.lr_gamma)
            saved_optimizer = data.get("trainer_config", {}).get("optimizer", "sgd")
            if saved_optimizer == self.config.optimizer:
                optimizer.load_state_dict(data["optimizer"])
                scheduler.load_state_dict(data["scheduler"])
            # else: the weights were trained with another optimizer (e.g. pre-training): its
            # state means nothing to this one, which starts fresh from the loaded weights
        except (KeyError, ValueError, TypeError, RuntimeError) as exc:
            raise CheckpointError(f"{path} does not fit this trainer: {exc}") from exc
        self.model_config, self.model, self.optimizer, self.scheduler = config, model, optimizer, scheduler
        self.step = int(data.get("step", 0))
        self.examples_seen = int(data.get("examples_seen", 0))
        self.samples_seen = int(data.get("samples_seen", 0))
        self.version = int(data.get("version", 0))

    def load_weights(self, path: str | os.PathLike) -> None:
        """Start from another run's network weights (a pre-trained start): its network must be
        built and scaled as this trainer's (``ModelConfig.architecture``; decoding settings stay this
        trainer's); optimizer, schedule, counters and versions start fresh."""
        data = read_checkpoint(path)
        try:
            theirs, ours = ModelConfig.from_dict(data["model_config"]).architecture(), self.model_config.architecture()
            differ = [k for k in ours if theirs[k] != ours[k]]
            if differ:
                raise ValueError(", ".join(f"its {k} is {theirs[k]}, this trainer's {ours[k]}" for k in differ))
            model = HypothesisNetwork(self.model_config)
            model.load_state_dict(data["model"], strict=True)
        except (KeyError, ValueError, TypeError, RuntimeError) as exc:
            raise CheckpointError(f"{path} does not fit this trainer: {exc}") from exc
        self.model = model.to(self.device)
        self.optimizer = make_optimizer(self.model, self.config)
        self.scheduler = torch.optim.lr_scheduler.StepLR(self.optimizer, self.config.lr_step, self.config.lr_gamma)

    def resume(self) -> bool:
        """Continue from the newest readable checkpoint in ``run_dir`` (after a crash); a
        damaged newest one is skipped with a warning. Returns False when there is none."""
        for _version, path in reversed(list_checkpoints(self.run_dir)):
            try:
                self.load_checkpoint(path)
                return True
            except CheckpointError as exc:
                LOG.warning("skipping checkpoint %s: %s", path, exc)
        return False

    # -- online mode -------------------------------------------------------------------------------
    def round_steps(self, dataset_size: int) -> int:
        """Steps in the next online round: ``steps_per_round``, fewer while a small store would
        be seen more than ``max_epochs_per_round`` times (early rounds then refresh sooner and
        overfit the first few examples less)."""
        c = self.config
        by_epochs = math.ceil(c.max_epochs_per_round * dataset_size / c.batch_size)
        return max(1, min(c.steps_per_round, max(c.min_steps_per_round, by_epochs)))

    def run_online(self, store_root: str | os.PathLike, **options) -> int:
        """Keep training as examples arrive: refresh, train ``steps_per_round`` steps, checkpoint,
        announce. Returns the number of rounds run (stops on ``stop`` or after ``max_rounds``).
        Options (:func:`interseg.learning.online.run_online`): ``on_checkpoint`` (called with each
        CheckpointInfo), ``stop`` (a threading.Event), ``max_rounds``, ``poll_interval`` (1 s),
        ``progress``, ``warn_after`` (30 s).

        Waits for the store to appear (the labeller creates it with its first example; after
        ``warn_after`` s a warning names the path). Examples with bad files are quarantined and
        skipped (``quarantined_examples`` in each checkpoint's metrics counts them); a round in
        which no example could be read is dropped and training waits for new ones. A checkpoint
        the disk refuses is logged and not announced; the next round tries again. Once training
        has started, an index that cannot be read is logged and training goes on with the
        examples already read; a store that is damaged from the start raises
        :class:`~interseg.learning.store_errors.StoreError`. Under torchrun every rank calls it:
        rank 0 plans the rounds, only its ``on_checkpoint`` is called
        (:mod:`interseg.learning.distributed`)."""
        from interseg.learning.online import run_online

        return run_online(self, store_root, **options)
