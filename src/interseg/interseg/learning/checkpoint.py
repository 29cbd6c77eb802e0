"""Checkpoints of the hypothesis network: write, read, inspect and list them.

A checkpoint is a dict {format, format_version, version, model, optimizer, scheduler, step,
examples_seen, samples_seen, model_config, trainer_config, metrics} of tensors and plain Python
values only, so it loads with ``torch.load(weights_only=True)``. It is serialised in memory,
written to a temporary file and renamed (:func:`write_checkpoint`). A checkpoint that is corrupt,
foreign or does not fit raises :class:`CheckpointError`; loading always builds a fresh network
first, so whatever model is running stays untouched. Run directories keep them as
``checkpoints/model-NNNNNN.pt`` (:func:`list_checkpoints`).
"""

from __future__ import annotations

import io
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import torch

from interseg.learning.model import HypothesisNetwork, ModelConfig

CHECKPOINT_FORMAT = "interseg.hypothesis_network"
CHECKPOINT_FORMAT_VERSION = 1
_CHECKPOINT_RE = re.compile(r"^model-(\d{6,})\.pt$")


class CheckpointError(RuntimeError):
    """A checkpoint could not be read, is not ours, or does not fit the network."""


class CheckpointWriteError(RuntimeError):
    """The disk refused a checkpoint (full, over quota, read-only); nothing partial was left and
    the trainer's state is unchanged, so the next round can write it."""


@dataclass
class CheckpointInfo:
    """What a new checkpoint announcement needs (the trainer node turns it into ModelUpdate)."""

    version: int
    path: Path
    step: int
    examples_seen: int
    metrics: dict[str, float] = field(default_factory=dict)


def checkpoint_path(run_dir: str | os.PathLike, version: int) -> Path:
    """Where version ``version`` of a run lives."""
    return Path(run_dir) / "checkpoints" / f"model-{version:06d}.pt"


def write_atomically(path: str | os.PathLike, data: bytes | memoryview, what: str = "checkpoint") -> None:
    """Write ``data`` to ``path`` atomically (temporary file, fsync, rename);
    :class:`CheckpointWriteError` when the disk refuses it, leaving nothing behind."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise CheckpointWriteError(f"{what} {path} not written: {exc.strerror or exc}") from exc


def write_checkpoint(path: str | os.PathLike, data: dict) -> None:
    """Write ``data`` to ``path`` atomically; :class:`CheckpointWriteError` when the disk refuses it."""
    # Serialised in memory first: torch's own file writer reports a refused write as an
    # opaque internal error, and the file is written here where the OSError says why.
    buffer = io.BytesIO()
    torch.save(data, buffer)
    write_atomically(path, buffer.getbuffer())


def read_checkpoint(path: str | os.PathLike) -> dict:
    """The checkpoint's dict, checked to be ours and of a format this code reads."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # truncated zip, pickle with foreign classes, not a torch file ...
        raise CheckpointError(f"{path} is not a readable checkpoint ({type(exc).__name__}: {exc})") from exc
    if not isinstance(data, dict) or data.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path} is not an interseg hypothesis-network checkpoint (foreign file)")
    if int(data.get("format_version", -1)) > CHECKPOINT_FORMAT_VERSION:
        raise CheckpointError(
            f"{path} has checkpoint format {data.get('format_version')}, newer than "
            f"{CHECKPOINT_FORMAT_VERSION}; update interseg"
        )
    for key in ("model", "model_config"):
        if key not in data:
            raise CheckpointError(f"{path} lacks '{key}'")
    return data


def load_network(path: str | os.PathLike) -> tuple[HypothesisNetwork, dict]:
    """A fresh network with the checkpoint's weights, and the checkpoint's metadata."""
    data = read_checkpoint(path)
    try:
        network = HypothesisNetwork(ModelConfig.from_dict(data["model_config"]))
        network.load_state_dict(data["model"], strict=True)
    except (ValueError, TypeError, RuntimeError) as exc:
        raise CheckpointError(f"{path} does not fit the hypothesis network: {exc}") from exc
    meta = {k: data.get(k) for k in ("version", "step", "examples_seen", "samples_seen", "metrics")}
    return network.eval(), meta


def list_checkpoints(run_dir: str | os.PathLike) -> list[tuple[int, Path]]:
    """(version, path) of every checkpoint in ``run_dir``, oldest first."""
    folder = Path(run_dir) / "checkpoints"
    found = []
    if folder.is_dir():
        for p in folder.iterdir():
            m = _CHECKPOINT_RE.match(p.name)
            if m:
                found.append((int(m.group(1)), p))
    return sorted(found)
