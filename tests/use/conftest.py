"""Fixtures for the commands that use a trained network: a small checkpoint whose hypotheses are
its windows' full squares (mask threshold near 0), so that every image gets several hypotheses
without any training, and images to run it on."""

import pytest
import torch


@pytest.fixture(autouse=True, scope="session")
def _one_thread():
    torch.set_num_threads(1)
    yield


@pytest.fixture(scope="session")
def square_checkpoint(tmp_path_factory) -> str:
    from interseg.learning.model import ModelConfig
    from interseg.learning.trainer import Trainer

    torch.manual_seed(0)
    trainer = Trainer(tmp_path_factory.mktemp("ckpt"), ModelConfig(input_scale=1.0, expected_size=(320, 240)))
    trainer.model.config.mask_threshold = 0.001
    return str(trainer.save_checkpoint().path)
