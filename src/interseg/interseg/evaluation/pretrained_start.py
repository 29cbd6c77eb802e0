"""Where the learner of `interseg bench` and `interseg demo` starts: from passive pre-training
(Algorithm 1's step 1: the arm pushes objects around, frame differences give noisy masks, the
network is trained on them; :mod:`interseg.pretrain_command`) or from random weights.

Pre-training costs minutes, so it is made once per setting (image size, network scale, frames,
steps, batch, seed, the network's architecture) and cached under ``cache_root/<setting key>/`` as
``checkpoint.pt`` with ``pretrain.json`` (the setting, what the pushes collected, and what it
cost when it was made). A cached checkpoint that cannot be read, or was made for another
setting or network, is made again, with a line saying so. The folder is built beside its final
place and renamed into it, so an interrupted run leaves no half cache and two runs making the
same one at once both end with a complete one.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

START_KINDS = ("pretrained", "random")


@dataclass(frozen=True)
class PretrainSetting:
    """Everything the pre-trained checkpoint depends on."""

    width: int
    height: int
    input_scale: float
    frames: int  # recorded instants of pushing (each with every recorded camera's view)
    steps: int  # training steps on the push examples
    batch_size: int
    seed: int = 0

    def __post_init__(self) -> None:
        if self.frames < 1 or self.steps < 1 or self.batch_size < 1:
            raise ValueError(f"pre-training needs frames, steps and batch_size >= 1, got {self}")

    def architecture(self) -> dict:
        """The network pre-training builds (``interseg.learning.pretrain.train_on_store``'s)."""
        from interseg.learning.model import ModelConfig

        return ModelConfig(input_scale=self.input_scale, expected_size=(self.width, self.height)).architecture()

    @property
    def key(self) -> str:
        network = hashlib.sha1(json.dumps(self.architecture(), sort_keys=True).encode()).hexdigest()[:8]
        return (
            f"{self.width}x{self.height}-scale{self.input_scale:g}-frames{self.frames}-steps{self.steps}"
            f"-batch{self.batch_size}-seed{self.seed}-net{network}"
        )


@dataclass
class PretrainedStart:
    checkpoint: Path
    setting: PretrainSetting
    cost_s: float  # wall seconds the pre-training took when it was made (pushes, masks, training)
    collection: dict  # what the pushes collected (frames, pushes, positives, negatives, seconds)
    cached: bool  # True when this run found it made

    def to_dict(self) -> dict:
        return {
            "kind": "pretrained",
            "checkpoint": str(self.checkpoint),
            "setting": asdict(self.setting),
            "cost_s": round(self.cost_s, 1),
            "collection": self.collection,
            "cached": self.cached,
        }


def _read_cached(folder: Path, setting: PretrainSetting) -> PretrainedStart | None:
    """The cached start in ``folder``, or None (with a line) when it is missing or unusable."""
    from interseg.learning.checkpoint import CheckpointError, read_checkpoint
    from interseg.learning.model import ModelConfig

    checkpoint, info = folder / "checkpoint.pt", folder / "pretrain.json"
    if not folder.exists():
        return None
    try:
        meta = json.loads(info.read_text())
        if meta.get("setting") != asdict(setting):
            raise ValueError("it was made for another setting")
        saved = ModelConfig.from_dict(read_checkpoint(checkpoint)["model_config"]).architecture()
        if saved != setting.architecture():
            raise ValueError("its network is built otherwise")
        return PretrainedStart(checkpoint, setting, float(meta["cost_s"]), dict(meta["collection"]), True)
    except (OSError, ValueError, KeyError, TypeError, CheckpointError) as exc:
        print(f"[pretrain] the cached pre-training in {folder} is unusable ({exc}); making it again", flush=True)
        return None


def ensure_pretrained(setting: PretrainSetting, cache_root: Path, progress: bool = True) -> PretrainedStart:
    """The pre-trained checkpoint for ``setting``: from the cache, or made now and cached."""
    folder = Path(cache_root) / setting.key
    cached = _read_cached(folder, setting)
    if cached is not None:
        return cached

    from interseg.learning.pretrain import train_on_store
    from interseg.learning.store import ExampleStore
    from interseg.sim.push_examples import collect_push_examples

    started = time.perf_counter()
    building = folder.with_name(f".{folder.name}.{os.getpid()}.building")
    shutil.rmtree(building, ignore_errors=True)
    building.mkdir(parents=True)
    try:
        print(f"[pretrain] passive pre-training for {setting.key} (made once, cached in {folder})", flush=True)
        with ExampleStore(building / "examples", writer=True) as store:
            summary = collect_push_examples(
                store, setting.frames, width=setting.width, height=setting.height, seed=setting.seed, progress=progress
            )
        train_on_store(
            building / "examples",
            building / "run",
            building / "checkpoint.pt",
            steps=setting.steps,
            width=setting.width,
            height=setting.height,
            input_scale=setting.input_scale,
            batch_size=setting.batch_size,
            seed=setting.seed,
            progress=progress,
        )
        shutil.rmtree(building / "run")
        cost = time.perf_counter() - started
        collection = summary.to_dict()
        (building / "pretrain.json").write_text(
            json.dumps({"setting": asdict(setting), "cost_s": cost, "collection": collection}, indent=1) + "\n"
        )
        if folder.exists():  # an unusable one, or one another run finished meanwhile
            shutil.rmtree(folder, ignore_errors=True)
        try:
            os.replace(building, folder)
        except OSError:  # another run renamed its own complete copy into place first
            if _read_cached(folder, setting) is None:
                raise
    finally:
        shutil.rmtree(building, ignore_errors=True)
    print(
        f"[pretrain] {summary.frames} frames, {summary.pushes} pushes: {summary.positives} masks, "
        f"{summary.negatives} negatives; {setting.steps} steps; {cost / 60:.1f} min",
        flush=True,
    )
    return PretrainedStart(folder / "checkpoint.pt", setting, cost, collection, False)
