"""The trainer on several processes: torch.distributed data parallelism (DDP) under ``torchrun``.

``torchrun --nproc_per_node N`` (or across hosts with ``--nnodes``) starts N copies of a trainer
(``interseg train`` or the trainer node) with RANK, WORLD_SIZE and the rendezvous in the
environment; :func:`init_from_env` joins the process group: gloo on CPU, NCCL when the trainer's
device is a GPU. Then:

- every rank builds the same initial network (same seed) and DDP broadcasts rank 0's weights once
  more when it wraps them; gradients are averaged over the ranks at every step, and BatchNorm's
  statistics are broadcast from rank 0 with every forward pass, so the weights stay identical on
  every rank; the total batch is N x ``batch_size``;
- every rank reads the same examples store (the learner's disk). At each round rank 0 decides and
  broadcasts (:func:`round_plan`) the last store row to train on, the number of steps and whether
  to stop, so the ranks refresh to exactly the same rows and run the same number of collective
  steps; each rank draws its own windows (its own sampler seed), so together they see N different
  batches;
- at the end of each round every rank takes rank 0's BatchNorm statistics and calibrated mask
  threshold (:func:`sync_from_rank0`; DDP itself broadcasts buffers at the start of a forward
  pass, so after the last step they would differ), so that every rank holds the checkpoint;
- only rank 0 writes checkpoints and the training log, and only its node announces models.

A single process (no WORLD_SIZE, or 1) runs exactly as before: no process group, no wrapper.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class Ranks:
    rank: int = 0
    world: int = 1

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world > 1


def env_ranks() -> Ranks:
    """This process's rank and world size as torchrun sets them (RANK, WORLD_SIZE), before joining."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    return Ranks(int(os.environ.get("RANK", "0")), world) if world > 1 else Ranks()


def init_from_env(device: torch.device) -> Ranks:
    """Join torchrun's process group when WORLD_SIZE > 1 (once per process); the ranks."""
    if not env_ranks().distributed:
        return Ranks()
    if not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        if device.type == "cuda":
            torch.cuda.set_device(device.index if device.index is not None else int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group(backend=backend)
    return Ranks(dist.get_rank(), dist.get_world_size())


def local_device(device: torch.device) -> torch.device:
    """Under torchrun, a CUDA trainer uses the GPU of its LOCAL_RANK (one GPU per process)."""
    if device.type == "cuda" and device.index is None and "LOCAL_RANK" in os.environ:
        return torch.device("cuda", int(os.environ["LOCAL_RANK"]))
    return device


class WindowForward(torch.nn.Module):
    """The network's training forward pass (``forward_windows``) as ``forward``, which is the
    method DistributedDataParallel wraps."""

    def __init__(self, network: torch.nn.Module):
        super().__init__()
        self.network = network

    def forward(self, images: torch.Tensor):
        return self.network.forward_windows(images)


def wrap(network: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """DDP around the network's training forward (a collective: every rank calls it together)."""
    from torch.nn.parallel import DistributedDataParallel

    device_ids = [device.index] if device.type == "cuda" else None
    return DistributedDataParallel(WindowForward(network), device_ids=device_ids)


@dataclass(frozen=True)
class RoundPlan:
    stop: bool
    last_id: int  # train on store rows up to this id
    steps: int  # 0: no round now (too few examples), ask again


def round_plan(ranks: Ranks, plan: RoundPlan | None) -> RoundPlan:
    """Rank 0's plan for the next round, on every rank (``plan`` is read on rank 0 only)."""
    if not ranks.distributed:
        assert plan is not None
        return plan
    values = [int(plan.stop), plan.last_id, plan.steps] if ranks.main and plan is not None else [0, 0, 0]
    tensor = torch.tensor(values, dtype=torch.int64)
    backend = dist.get_backend()
    if backend == "nccl":
        tensor = tensor.cuda()
    dist.broadcast(tensor, src=0)
    stop, last_id, steps = (int(v) for v in tensor.cpu().tolist())
    return RoundPlan(bool(stop), last_id, steps)


def sync_from_rank0(ranks: Ranks, network: torch.nn.Module, mask_threshold: float) -> float:
    """Every rank takes rank 0's buffers (BatchNorm statistics) and mask threshold; returns the
    threshold."""
    if not ranks.distributed:
        return mask_threshold
    cuda = dist.get_backend() == "nccl"
    for buffer in network.buffers():
        dist.broadcast(buffer.data, src=0)
    value = torch.tensor([mask_threshold], dtype=torch.float64, device="cuda" if cuda else "cpu")
    dist.broadcast(value, src=0)
    return float(value.item())
