"""The trainer's device choice: names torch knows, GPUs that exist, and device-independent
checkpoints (what a GPU-trained checkpoint needs to load on a CPU-only robot computer)."""

from __future__ import annotations

import pytest
import torch

from interseg.learning.checkpoint import load_network
from interseg.learning.model import ModelConfig
from interseg.learning.predictor import HypothesisPredictor
from interseg.learning.trainer import Trainer
from interseg.learning.trainer_config import TrainerConfig, resolve_device


def test_auto_picks_the_cpu_without_a_gpu_and_bad_names_fail_early():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected
    assert resolve_device("cpu") == torch.device("cpu")
    for bad in ("gpu", "tpu:0", "cuda:banana"):
        with pytest.raises(ValueError, match="device"):
            TrainerConfig(device=bad)
    missing = torch.cuda.device_count() if torch.cuda.is_available() else 0
    with pytest.raises(ValueError, match="CUDA device"):
        TrainerConfig(device=f"cuda:{missing}")


def test_checkpoint_written_by_a_trainer_loads_on_the_cpu(tmp_path):
    config = ModelConfig(input_scale=0.25, expected_size=(128, 96))
    trainer = Trainer(tmp_path / "run", config, TrainerConfig(batch_size=2, device="auto", seed=3))
    assert next(trainer.model.parameters()).device.type == trainer.device.type
    window = config.window
    batch = {
        "image": torch.rand(2, 3, window, window),
        "objectness": torch.tensor([1.0, 0.0]),
        "mask": torch.zeros(2, config.mask_size, config.mask_size),
        "has_mask": torch.tensor([1.0, 0.0]),
        "example_id": torch.tensor([1, 2]),
    }
    batch["mask"][0, 8:24, 8:24] = 1.0
    trainer.train_one_epoch([batch, batch], progress=False)
    info = trainer.save_checkpoint({"loss": 1.0})
    network, meta = load_network(info.path)
    assert next(network.parameters()).device.type == "cpu" and meta["version"] == 1
    for saved, live in zip(network.state_dict().values(), trainer.model.state_dict().values()):
        assert torch.equal(saved, live.cpu())
    # The predictor runs wherever its network lives, and hands back CPU hypotheses.
    image = (torch.rand(96, 128, 3) * 255).to(torch.uint8).numpy()
    on_trainer = HypothesisPredictor(trainer.model, version=1).predict(image)
    on_cpu = HypothesisPredictor(network, version=1).predict(image)
    assert [h.score for h in on_trainer] == pytest.approx([h.score for h in on_cpu], abs=1e-4)
