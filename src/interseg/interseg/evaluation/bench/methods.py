"""The methods `interseg bench` trains beside the self-supervised learner on the same data and
schedule: the RSL learner's rounds replayed with another loss or other labels (plain
cross-entropy on the same store; the supervised oracle on ground-truth masks), and torchvision's
Mask R-CNN on the same ground truth for the oracle's wall-clock seconds."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from interseg.evaluation.bench.profiles import Profile, network_config

if TYPE_CHECKING:
    from interseg.evaluation.bench.collection import SeedRun


def train_round(trainer, dataset, all_records, last_interaction: int, steps: int, batch: int):
    """Train ``steps`` steps on the examples of interactions <= ``last_interaction``, checkpoint."""
    from torch.utils.data import DataLoader, RandomSampler

    dataset.records = [r for r in all_records if r.interaction_id <= last_interaction]
    if not dataset.records:
        raise RuntimeError(f"no examples up to interaction {last_interaction} in {dataset.root}")
    sampler = RandomSampler(dataset, replacement=True, num_samples=steps * batch)
    loader = DataLoader(dataset, batch_size=batch, sampler=sampler, drop_last=True, num_workers=0)
    start = time.perf_counter()
    stats = trainer.train_one_epoch(loader, progress=False)
    seconds = time.perf_counter() - start
    info = trainer.save_checkpoint(stats)
    return info, seconds


def records_of(store_root: Path):
    from interseg.learning.store import ExampleStore

    with ExampleStore(store_root) as store:
        return store.records()


def train_replay(
    profile: Profile, run: SeedRun, store_root: Path, out: Path, mask_loss: str, start: Path | None = None
) -> tuple[float, int]:
    """The RSL learner's schedule replayed on ``store_root`` with another loss or other labels:
    same examples available at every round, same steps, same seed, same start (the weights in
    ``start``, or random ones). Returns (seconds, samples)."""
    import torch

    from interseg.learning.dataset import WindowDataset
    from interseg.learning.trainer import Trainer
    from interseg.learning.trainer_config import TrainerConfig

    torch.manual_seed(run.seed)
    model_config = network_config(profile)
    trainer = Trainer(
        out,
        model_config,
        TrainerConfig(mask_loss=mask_loss, batch_size=profile.batch_size, seed=run.seed, keep_checkpoints=0),
    )
    if start is not None:
        trainer.load_weights(start)
    trainer.save_checkpoint({})
    records = records_of(store_root)
    dataset = WindowDataset(store_root, model_config, augment=True, seed=run.seed)
    seconds, samples = 0.0, 0
    for last_interaction, steps in run.schedule:
        if steps == 0:
            continue
        _, s = train_round(trainer, dataset, records, last_interaction, steps, profile.batch_size)
        seconds += s
        samples += steps * profile.batch_size
    return seconds, samples


# ---------------------------------------------------------------------------------------------
# Mask R-CNN (torchvision), class-agnostic, from scratch
# ---------------------------------------------------------------------------------------------


def _mask_rcnn(profile: Profile):
    from torchvision.models.detection import MaskRCNN
    from torchvision.models.detection.anchor_utils import AnchorGenerator
    from torchvision.models.detection.backbone_utils import resnet_fpn_backbone

    backbone = resnet_fpn_backbone(backbone_name="resnet18", weights=None, trainable_layers=5)
    scale = profile.width / 640
    sizes = tuple((max(8, int(round(s * scale))),) for s in (32, 64, 128, 256, 512))
    anchors = AnchorGenerator(sizes, ((0.5, 1.0, 2.0),) * len(sizes))
    return MaskRCNN(
        backbone,
        num_classes=2,
        min_size=profile.height,
        max_size=profile.width,
        rpn_anchor_generator=anchors,
        box_detections_per_img=50,
    )


def train_mask_rcnn(profile: Profile, run: SeedRun, seconds_budget: float, progress: bool = True):
    """Train on the ground truth of the same before-images for ``seconds_budget`` wall seconds
    (the oracle's training time): the same compute budget in wall time, not steps, because one
    Mask R-CNN step costs several of our steps."""
    import torch

    from interseg.progress import progress_bar

    torch.manual_seed(run.seed)
    rng = np.random.default_rng(run.seed)
    data = [(image, instance) for image, instance in run.gt_images if instance.max() > 0]
    if not data:
        raise RuntimeError("no ground-truth objects in the training scenes")
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model = _mask_rcnn(profile).to(device)
    optimizer = torch.optim.SGD(
        [p for p in model.parameters() if p.requires_grad], lr=0.01, momentum=0.9, weight_decay=1e-4
    )
    model.train()
    start = time.perf_counter()
    steps = samples = 0
    bar = progress_bar(
        desc=f"seed {run.seed}: mask r-cnn", total=int(seconds_budget), unit="s", disable=not progress, leave=False
    )
    while steps == 0 or time.perf_counter() - start < seconds_budget:
        images, targets = [], []
        for i in rng.choice(len(data), size=profile.maskrcnn_batch):
            image, instance = data[i]
            ids = [k for k in np.unique(instance) if k > 0 and (instance == k).sum() >= 4]
            masks = np.stack([instance == k for k in ids])
            boxes = []
            for m in masks:
                vs, us = np.nonzero(m)
                boxes.append([us.min(), vs.min(), us.max() + 1, vs.max() + 1])
            images.append(torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float().to(device) / 255.0)
            targets.append(
                {
                    "boxes": torch.tensor(boxes, dtype=torch.float32, device=device),
                    "labels": torch.ones(len(ids), dtype=torch.int64, device=device),
                    "masks": torch.from_numpy(masks.astype(np.uint8)).to(device),
                }
            )
        losses = model(images, targets)
        loss = sum(losses.values())
        if not torch.isfinite(loss):
            raise RuntimeError(
                f"Mask R-CNN: non-finite loss at step {steps}: { {k: float(v) for k, v in losses.items()} }"
            )
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
        optimizer.step()
        steps += 1
        samples += len(images)
        elapsed = min(int(seconds_budget), int(time.perf_counter() - start))
        if elapsed > bar.n:
            bar.update(elapsed - bar.n)
        bar.set_postfix_str(f"loss={float(loss.detach()):.3f}")
    bar.close()
    model.eval()
    return model, {"steps": steps, "images": samples, "wall_s": time.perf_counter() - start, "device": str(device)}


class _Detection:
    def __init__(self, mask: np.ndarray, score: float):
        self.mask, self.score = mask, score


def mask_rcnn_predictor(model):
    import torch

    @torch.inference_mode()
    def predict(image: np.ndarray) -> list:
        device = next(model.parameters()).device
        x = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float().to(device) / 255.0
        out = model([x])[0]
        masks = (out["masks"][:, 0] > 0.5).cpu().numpy()
        return [_Detection(m, float(s)) for m, s in zip(masks, out["scores"].cpu().numpy()) if m.any()]

    return predict


def preload_torchvision_ops() -> None:
    """Import torchvision's detection ops (which pull in torch._dynamo and triton) before the
    simulator creates its OpenGL context: triton's bundled LLVM loaded after Mesa's llvmpipe
    segfaults the process."""
    import torchvision.models.detection
    import torchvision.ops  # noqa: F401
