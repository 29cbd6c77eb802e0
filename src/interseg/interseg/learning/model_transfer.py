"""Checkpoints that travel: a file's digest (SHA-256 and size) for its announcement, and the
receiving side's check and atomic write of the bytes, so that a hypotheses node on another host
runs exactly the checkpoint the trainer wrote, and a corrupt or partial transfer is refused before
anything is loaded."""

from __future__ import annotations

import hashlib
import io
import os
from dataclasses import dataclass
from pathlib import Path

import torch

from interseg.learning.checkpoint import CheckpointError, read_checkpoint, write_atomically

KEEP_RECEIVED = 2  # received checkpoints kept in the cache: the running one and the one before


@dataclass(frozen=True)
class Digest:
    sha256: str  # hex
    size: int  # bytes


def digest_of(data: bytes | memoryview) -> Digest:
    return Digest(hashlib.sha256(data).hexdigest(), len(data))


def inference_checkpoint(path: str | os.PathLike) -> bytes:
    """The checkpoint at ``path`` without what only training needs (optimizer and scheduler
    state, two thirds of an AdamW checkpoint): what a hypotheses node on another host receives."""
    data = read_checkpoint(path)
    buffer = io.BytesIO()
    torch.save({k: v for k, v in data.items() if k not in ("optimizer", "scheduler")}, buffer)
    return buffer.getvalue()


def check_digest(data: bytes | memoryview, expected: Digest, what: str) -> None:
    """Raise CheckpointError when ``data`` is not what ``expected`` describes (a partial or corrupt
    transfer, or a file changed after it was announced)."""
    if len(data) != expected.size:
        raise CheckpointError(f"{what}: {len(data)} bytes, the announcement says {expected.size} (partial transfer?)")
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected.sha256:
        raise CheckpointError(f"{what}: SHA-256 {actual[:12]}... differs from the announced {expected.sha256[:12]}...")


def receive_checkpoint(data: bytes | memoryview, expected: Digest, cache_dir: str | os.PathLike, version: int) -> Path:
    """Check ``data`` against ``expected``, write it atomically to ``cache_dir`` as
    ``model-<version>.pt`` (the caller loads it, which checks it is a checkpoint), drop older
    received files beyond :data:`KEEP_RECEIVED`; returns the path. CheckpointError when the data is
    not the announced checkpoint (nothing is written then), CheckpointWriteError when the disk
    refuses it."""
    check_digest(data, expected, f"model version {version}")
    cache = Path(cache_dir)
    path = cache / f"model-{int(version):06d}.pt"
    write_atomically(path, data, "received model")
    for old in sorted(cache.glob("model-*.pt"))[:-KEEP_RECEIVED]:
        old.unlink(missing_ok=True)
    return path
