"""The trainer's settings (:class:`TrainerConfig`: optimiser, losses, online rounds, mask
threshold calibration, device) and the device they name (:func:`resolve_device`)."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class TrainerConfig:
    # AdamW reaches a usable network in far fewer steps than the paper's SGD from random weights,
    # which is what a CPU-sized budget needs; "sgd" (with momentum) is the paper's choice.
    optimizer: str = "adamw"
    lr: float = 0.001
    momentum: float = 0.9  # SGD only
    weight_decay: float = 1e-4
    batch_size: int = 32
    lr_step: int = 5000  # StepLR: multiply lr by lr_gamma every lr_step optimizer steps
    lr_gamma: float = 0.5
    # "ce" (plain per-pixel cross-entropy) or "rsl" (the paper's Robust Set Loss). "ce" by default: at
    # the noise this labeller produces it learned better in every committed comparison (README,
    # "Which loss"); "rsl" is one setting away.
    mask_loss: str = "ce"
    mask_weight: float = 1.0
    rsl_iou: float = 0.75
    rsl_step: float = 0.1
    rsl_moves: int = 25
    rsl_unmet: str = "mask"  # target when the moves cannot reach IoU b: the noisy mask, or "slack"
    steps_per_round: int = 100  # online mode: steps between checkpoints (at most)
    max_epochs_per_round: float = 8.0  # online mode: fewer steps while the store is small ...
    min_steps_per_round: int = 10  # ... but never fewer than this (checkpoints are not free)
    min_examples: int = 8  # online mode: wait until the store has this many
    num_workers: int = 0
    augment: bool = True
    seed: int = 0
    keep_checkpoints: int = 5
    # Mask threshold calibration: after every round the decoding threshold becomes the one whose
    # masks best match (mean IoU) the targets of the last ``calibration_masks`` windows with a mask
    # that the network predicted *before* it had ever trained on their example (the forward pass of
    # an example's first step: held-out predictions at no extra cost). A young network is
    # under-confident at object borders, more so on objects it has not seen, and a fixed 0.5 cuts
    # its masks down to their cores. 0 keeps ModelConfig.mask_threshold as it is.
    calibration_masks: int = 256
    # Where the network trains: "auto" (the first CUDA GPU when torch sees one, else the CPU),
    # "cpu", "cuda" or "cuda:N". Checkpoints are device-independent.
    device: str = "auto"

    def __post_init__(self) -> None:
        resolve_device(self.device)  # an unknown or unavailable device fails here, not mid-run
        if self.optimizer not in ("sgd", "adamw"):
            raise ValueError(f"optimizer must be 'sgd' or 'adamw', got {self.optimizer!r}")
        if self.rsl_unmet not in ("mask", "slack"):
            raise ValueError(f"rsl_unmet must be 'mask' or 'slack', got {self.rsl_unmet!r}")
        if self.mask_loss not in ("rsl", "ce"):
            raise ValueError(f"mask_loss must be 'rsl' or 'ce', got {self.mask_loss!r}")
        if self.batch_size < 1 or self.lr <= 0 or self.steps_per_round < 1:
            raise ValueError("batch_size and steps_per_round must be >= 1 and lr > 0")


def resolve_device(name: str) -> torch.device:
    """``TrainerConfig.device`` -> a torch device; ValueError for a name torch does not know or a
    GPU this machine does not have."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise ValueError(f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got {name!r}") from exc
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if (device.index or 0) >= count:
            raise ValueError(f"device {name!r} requested, but torch sees {count} CUDA device(s)")
    elif device.type != "cpu":
        raise ValueError(f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got {name!r}")
    return device
