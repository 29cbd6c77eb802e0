import threading
from dataclasses import replace

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, RandomSampler

from interseg.learning.checkpoint import CheckpointError, list_checkpoints, load_network
from interseg.learning.dataset import WindowDataset
from interseg.learning.model import ModelConfig
from interseg.learning.predictor import HypothesisPredictor
from interseg.learning.trainer import NonFiniteLossError, Trainer
from interseg.learning.trainer_config import TrainerConfig

from .helpers import fill_store

pytestmark = pytest.mark.slow

CONFIG = ModelConfig(
    expected_size=(320, 240),
    window=48,
    mask_size=8,
    refine=False,
    input_scale=0.5,
    context_channels=32,
    reduce_channels=32,
    min_mask_area=50,
)


@pytest.fixture(scope="module")
def store_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("store") / "examples"
    fill_store(root, scenes=3).close()
    return root


def loader(root, batch=8, samples=None, augment=True, seed=0):
    dataset = WindowDataset(root, CONFIG, augment=augment, seed=seed)
    if samples is None:
        return DataLoader(dataset, batch_size=batch, shuffle=False)
    gen = torch.Generator().manual_seed(seed)
    return DataLoader(dataset, batch_size=batch, sampler=RandomSampler(dataset, True, samples, generator=gen))


def same_parameters(a, b):
    return all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


@pytest.mark.parametrize("mask_loss,refine,lr", [("rsl", False, 0.02), ("ce", False, 0.02), ("rsl", True, 0.005)])
def test_tiny_training_run_lowers_the_loss(tmp_path, store_root, mask_loss, refine, lr):
    config = replace(CONFIG, refine=refine)
    trainer = Trainer(tmp_path / "run", config, TrainerConfig(batch_size=8, lr=lr, mask_loss=mask_loss, seed=0))
    evaluation = loader(store_root, augment=False)
    before = trainer.evaluate(evaluation)
    for _ in range(4):
        trainer.train_one_epoch(loader(store_root, samples=48, seed=trainer.step), progress=False)
    after = trainer.evaluate(evaluation)
    assert trainer.step == 24
    loss_before = before["objectness_loss"] + before["mask_loss"]
    loss_after = after["objectness_loss"] + after["mask_loss"]
    assert loss_after < 0.8 * loss_before, (before, after)
    log = (tmp_path / "run" / "log.csv").read_text().splitlines()
    assert log[0].startswith("time,step") and len(log) == 25


@pytest.mark.parametrize("optimizer,state_key", [("adamw", "exp_avg"), ("sgd", "momentum_buffer")])
def test_checkpoint_resume_continues_from_the_same_step(tmp_path, store_root, optimizer, state_key):
    config = TrainerConfig(batch_size=4, lr=0.01 if optimizer == "sgd" else 0.001, optimizer=optimizer)
    first = Trainer(tmp_path / "run", CONFIG, config)
    first.train_one_epoch(loader(store_root, batch=4, samples=12), progress=False, examples_seen=7)
    info = first.save_checkpoint({"loss": 1.0})
    assert info.version == 1 and info.step == 3 and info.examples_seen == 7 and info.path.exists()

    resumed = Trainer(tmp_path / "run", CONFIG, config)
    assert resumed.resume()
    assert (resumed.step, resumed.version, resumed.examples_seen, resumed.samples_seen) == (3, 1, 7, 12)
    assert same_parameters(first.model, resumed.model)
    assert resumed.scheduler.last_epoch == first.scheduler.last_epoch
    momentum_a = [s[state_key] for s in first.optimizer.state.values()]
    momentum_b = [s[state_key] for s in resumed.optimizer.state.values()]
    assert all(torch.equal(a, b) for a, b in zip(momentum_a, momentum_b)) and momentum_a

    # both continue identically on the same batches
    for t in (first, resumed):
        t.train_one_epoch(loader(store_root, batch=4, samples=8, augment=False, seed=5), progress=False)
    assert first.step == resumed.step == 5
    for a, b in zip(first.model.parameters(), resumed.model.parameters()):
        assert torch.allclose(a, b, atol=1e-5)
    assert resumed.save_checkpoint().version == 2
    assert [v for v, _ in list_checkpoints(tmp_path / "run")] == [1, 2]

    network, meta = load_network(tmp_path / "run" / "checkpoints" / "model-000002.pt")
    assert meta["version"] == 2 and meta["step"] == 5
    predictor = HypothesisPredictor.from_checkpoint(tmp_path / "run" / "checkpoints" / "model-000002.pt")
    assert predictor.version == 2
    image = (np.random.default_rng(0).random((240, 320, 3)) * 255).astype(np.uint8)
    assert isinstance(predictor.predict(image), list)


def test_corrupt_or_foreign_checkpoints_leave_the_model_untouched(tmp_path, store_root):
    trainer = Trainer(tmp_path / "run", CONFIG, TrainerConfig(batch_size=4))
    good = trainer.save_checkpoint().path
    model_before = trainer.model
    snapshot = {k: v.clone() for k, v in trainer.model.state_dict().items()}

    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(good.read_bytes()[:1000])
    foreign = tmp_path / "foreign.pt"
    torch.save({"state_dict": {"w": torch.zeros(3)}}, foreign)
    unsafe = tmp_path / "unsafe.pt"
    torch.save({"format": "interseg.hypothesis_network", "model": threading.Event}, unsafe)
    other_config = tmp_path / "other.pt"
    data = torch.load(good, weights_only=True)
    data["model_config"]["mask_size"] = 12  # weights no longer fit
    torch.save(data, other_config)

    for path, message in [
        (truncated, "not a readable checkpoint"),
        (foreign, "foreign"),
        (unsafe, "not a readable checkpoint"),
        (other_config, "does not fit"),
        (tmp_path / "missing.pt", "does not exist"),
    ]:
        with pytest.raises(CheckpointError, match=message):
            trainer.load_checkpoint(path)
        with pytest.raises(CheckpointError):
            HypothesisPredictor.from_checkpoint(path)
        assert trainer.model is model_before
        assert all(torch.equal(v, snapshot[k]) for k, v in trainer.model.state_dict().items())
        assert trainer.version == 1


def test_non_finite_loss_stops_training_before_the_update(tmp_path, store_root):
    trainer = Trainer(tmp_path / "run", CONFIG, TrainerConfig(batch_size=4))
    snapshot = {k: v.clone() for k, v in trainer.model.state_dict().items() if v.is_floating_point()}
    batch = next(iter(loader(store_root, batch=4, augment=False)))
    batch["image"][0, 0, 0, 0] = float("nan")
    with pytest.raises(NonFiniteLossError, match="non-finite loss at step 0"):
        trainer.train_one_epoch([batch], progress=False)
    assert trainer.step == 0
    state = trainer.model.state_dict()
    assert all(torch.equal(state[k], v) for k, v in snapshot.items())


def test_online_mode_sees_new_examples_and_announces_checkpoints(tmp_path, store_root):
    import shutil

    root = tmp_path / "live"
    shutil.copytree(store_root, root)
    from interseg.learning.store import ExampleStore

    writer = ExampleStore(root, writer=True)
    initial = writer.count()
    announced = []

    def on_checkpoint(info):
        announced.append(info)
        if len(announced) == 1:  # the labeller appends while the trainer runs
            record = writer.records()[0]
            writer.add(
                image=writer.load_image(record),
                u=record.u,
                v=record.v,
                positive=record.positive,
                mask=writer.load_mask(record),
                reason="late",
                interaction_id=99,
                view="cam0",
            )

    trainer = Trainer(tmp_path / "run", CONFIG, TrainerConfig(batch_size=4, steps_per_round=2, min_examples=4))
    rounds = trainer.run_online(root, on_checkpoint=on_checkpoint, max_rounds=2)
    writer.close()
    assert rounds == 2 and [a.version for a in announced] == [1, 2]
    assert announced[0].examples_seen == initial and announced[1].examples_seen == initial + 1
    assert announced[1].step == 4 and announced[1].path.exists() and "loss" in announced[1].metrics


def test_online_mode_waits_for_the_store_and_stops_on_request(tmp_path):
    trainer = Trainer(tmp_path / "run", CONFIG, TrainerConfig(batch_size=4, steps_per_round=1))
    stop = threading.Event()
    stop.set()
    assert trainer.run_online(tmp_path / "not-yet", stop=stop, poll_interval=0.01) == 0
    assert trainer.version == 0 and not (tmp_path / "run" / "checkpoints").exists()


def test_online_training_goes_on_past_damaged_example_files(tmp_path, store_root, caplog):
    import logging
    import shutil

    from interseg.learning.store import ExampleStore

    from .helpers import damage_file

    root = tmp_path / "live"
    shutil.copytree(store_root, root)
    writer = ExampleStore(root, writer=True)
    records = writer.records()
    damage_file(root / records[0].image_path, "delete")
    damage_file(root / records[1].image_path, "truncate")
    announced = []

    def on_checkpoint(info):
        announced.append(info)
        if len(announced) == 1:  # new examples arrive, and one of them is damaged before it is read
            for k in range(3):
                record = records[5 + k]
                writer.add(
                    image=writer.load_image(record),
                    u=record.u,
                    v=record.v,
                    positive=record.positive,
                    mask=writer.load_mask(record),
                    reason="late",
                    interaction_id=99,
                    view="cam0",
                )
            damage_file(root / writer.records()[-1].image_path, "garbage")

    # enough steps per round that every example is drawn
    trainer = Trainer(
        tmp_path / "run",
        CONFIG,
        TrainerConfig(batch_size=8, steps_per_round=20, min_steps_per_round=20, min_examples=4),
    )
    with caplog.at_level(logging.WARNING, logger="interseg.learning.quarantine"):
        rounds = trainer.run_online(root, on_checkpoint=on_checkpoint, max_rounds=2)
    writer.close()
    assert rounds == 2 and [a.version for a in announced] == [1, 2]
    assert announced[0].metrics["quarantined_examples"] == 2 and announced[1].metrics["quarantined_examples"] == 3
    assert caplog.text.count("quarantined:") == 3
    assert "is missing" in caplog.text and "is truncated" in caplog.text and "not a PNG file" in caplog.text


def test_online_training_keeps_its_examples_when_the_index_goes_bad(tmp_path, store_root, caplog):
    import logging
    import shutil

    root = tmp_path / "live"
    shutil.copytree(store_root, root)
    announced = []

    def on_checkpoint(info):
        announced.append(info)
        if len(announced) == 1:
            (root / "examples.sqlite3").write_bytes(b"garbage" * 1000)
            for side in ("-wal", "-shm"):
                (root / f"examples.sqlite3{side}").unlink(missing_ok=True)

    trainer = Trainer(tmp_path / "run", CONFIG, TrainerConfig(batch_size=4, steps_per_round=2, min_examples=4))
    with caplog.at_level(logging.WARNING, logger="interseg.learning.trainer"):
        assert trainer.run_online(root, on_checkpoint=on_checkpoint, max_rounds=3) == 3
    assert caplog.text.count("cannot read new examples") == 1 and "not a readable SQLite database" in caplog.text
    from interseg.learning.store_errors import StoreError

    with pytest.raises(StoreError, match="not a readable SQLite database"):  # damaged before training starts
        Trainer(tmp_path / "run2", CONFIG, TrainerConfig(batch_size=4)).run_online(root, max_rounds=1)


def test_online_mode_warns_when_the_store_does_not_appear(tmp_path, caplog):
    import logging

    trainer = Trainer(tmp_path / "run", CONFIG, TrainerConfig(batch_size=4, steps_per_round=1))
    stop = threading.Event()
    threading.Timer(0.5, stop.set).start()
    with caplog.at_level(logging.WARNING, logger="interseg.learning.trainer"):
        assert trainer.run_online(tmp_path / "typo", stop=stop, poll_interval=0.01, warn_after=0.1) == 0
    assert caplog.text.count("still waiting for the examples store") == 1 and "typo" in caplog.text


def test_online_rounds_are_shorter_while_the_store_is_small(tmp_path):
    trainer = Trainer(
        tmp_path / "run",
        CONFIG,
        TrainerConfig(batch_size=32, steps_per_round=100, max_epochs_per_round=8, min_steps_per_round=10),
    )
    assert trainer.round_steps(8) == 10
    assert trainer.round_steps(100) == 25
    assert trainer.round_steps(10000) == 100


def test_mask_threshold_is_calibrated_on_the_training_targets(tmp_path):
    trainer = Trainer(tmp_path / "run", CONFIG, TrainerConfig(batch_size=4))
    shared = CONFIG.mask_threshold
    target = torch.zeros(16, 8, 8)
    target[:, 2:6, 2:6] = 1.0
    # an under-confident network: 0.3 on the object, 0.1 elsewhere -> only a low threshold fits
    logits = torch.logit(torch.where(target > 0, torch.tensor(0.3), torch.tensor(0.1)))
    trainer._remember_masks(logits, target)
    assert trainer.calibrate_mask_threshold() == pytest.approx(0.1, abs=0.06)
    assert 0.1 <= trainer.model.config.mask_threshold < 0.3
    path = trainer.save_checkpoint().path
    assert HypothesisPredictor.from_checkpoint(path).config.mask_threshold == trainer.model.config.mask_threshold
    assert CONFIG.mask_threshold == shared  # the caller's config is not changed behind its back


def test_training_rounds_calibrate_the_threshold(tmp_path, store_root):
    trainer = Trainer(tmp_path / "run", CONFIG, TrainerConfig(batch_size=4, calibration_masks=64))
    trainer.train_one_epoch(loader(store_root, batch=4, samples=48), progress=False)
    remembered = len(trainer._calibration)
    assert remembered > 0  # the first steps on each example are held-out predictions
    trainer.train_one_epoch(loader(store_root, batch=4, samples=48, seed=1), progress=False)
    assert len(trainer._calibration) <= remembered + 4  # trained-on examples are not remembered again
    assert trainer.model.config.mask_threshold in Trainer.CALIBRATION_THRESHOLDS
    fixed = Trainer(tmp_path / "fixed", CONFIG, TrainerConfig(batch_size=4, calibration_masks=0))
    fixed.train_one_epoch(loader(store_root, batch=4, samples=8), progress=False)
    assert fixed.model.config.mask_threshold == CONFIG.mask_threshold


def test_weights_from_another_optimizer_start_a_fresh_optimizer(tmp_path, store_root):
    sgd = Trainer(tmp_path / "sgd", CONFIG, TrainerConfig(batch_size=4, optimizer="sgd", lr=0.01))
    sgd.train_one_epoch(loader(store_root, batch=4, samples=8), progress=False)
    path = sgd.save_checkpoint().path
    adam = Trainer(tmp_path / "adam", CONFIG, TrainerConfig(batch_size=4, optimizer="adamw"))
    adam.load_checkpoint(path)
    assert same_parameters(sgd.model, adam.model) and isinstance(adam.optimizer, torch.optim.AdamW)
    adam.train_one_epoch(loader(store_root, batch=4, samples=8), progress=False)  # steps without a stale state
    assert adam.step == sgd.step + 2


def test_a_pretrained_start_takes_the_weights_and_nothing_else(tmp_path, store_root):
    pretrained = Trainer(tmp_path / "pre", CONFIG, TrainerConfig(batch_size=4, calibration_masks=0))
    pretrained.train_one_epoch(loader(store_root, batch=4, samples=12), progress=False)
    pretrained.model.config.mask_threshold = 0.3  # decoding settings stay the loading trainer's
    path = pretrained.save_checkpoint().path
    learner = Trainer(tmp_path / "loop", CONFIG, TrainerConfig(batch_size=4, seed=5))
    learner.load_weights(path)
    assert same_parameters(pretrained.model, learner.model)
    assert (learner.step, learner.version, learner.samples_seen, learner.examples_seen) == (0, 0, 0, 0)
    assert learner.model.config.mask_threshold == CONFIG.mask_threshold
    assert learner.save_checkpoint().version == 1  # the run's own numbering
    learner.train_one_epoch(loader(store_root, batch=4, samples=8), progress=False)
    assert learner.step == 2 and not same_parameters(pretrained.model, learner.model)

    other = Trainer(tmp_path / "other", replace(CONFIG, input_scale=0.25), TrainerConfig(batch_size=4))
    before = [p.detach().clone() for p in other.model.parameters()]
    with pytest.raises(CheckpointError, match="its input_scale is 0.5, this trainer's 0.25"):
        other.load_weights(path)
    assert all(torch.equal(a, b) for a, b in zip(before, other.model.parameters()))  # untouched
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError):
        learner.load_weights(tmp_path / "bad.pt")


def test_checkpoints_without_a_trunk_width_are_full_width(tmp_path):
    config = ModelConfig(**{**CONFIG.to_dict(), "trunk_width": 1.0})
    trainer = Trainer(tmp_path / "run", config, TrainerConfig(batch_size=4))
    path = trainer.save_checkpoint().path
    data = torch.load(path, weights_only=True)
    del data["model_config"]["trunk_width"]
    torch.save(data, path)
    network, _ = load_network(path)
    assert network.config.trunk_width == 1.0 and same_parameters(network, trainer.model)
    assert ModelConfig().trunk_width == 0.5


# The trainer's disk fills up (a file-size limit on its process: writes past it fail with EFBIG,
# as on a full disk) for its first rounds, then space comes back.
_FULL_DISK_TRAINER = """
import logging, resource, sys
from pathlib import Path
from interseg.learning.checkpoint import list_checkpoints
from interseg.learning.model import ModelConfig
from interseg.learning.trainer import Trainer
from interseg.learning.trainer_config import TrainerConfig
logging.basicConfig(level=logging.WARNING, format="%(message)s")
store, run = sys.argv[1], Path(sys.argv[2])
config = ModelConfig(expected_size=(320, 240), window=48, mask_size=8, input_scale=0.5, context_channels=32,
                     reduce_channels=32, min_mask_area=50)
trainer = Trainer(run, config, TrainerConfig(batch_size=4, steps_per_round=2, min_examples=4))
resource.setrlimit(resource.RLIMIT_FSIZE, (100000, resource.RLIM_INFINITY))  # the log and the index fit, \
a checkpoint does not


class SpaceBack(logging.Handler):  # the disk has room again once a checkpoint was refused
    def emit(self, record):
        if "not written" in record.getMessage():
            resource.setrlimit(resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY,) * 2)


logging.getLogger().addHandler(SpaceBack())
announced = []
rounds = trainer.run_online(store, on_checkpoint=lambda info: announced.append(info.version), max_rounds=2)
print("announced", announced, "files", [v for v, _ in list_checkpoints(run)],
      "tmp", sorted(p.name for p in (run / "checkpoints").iterdir() if p.name.endswith(".tmp")))
"""


def test_checkpoints_the_disk_refuses_are_retried_and_training_goes_on(tmp_path, store_root):
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-c", _FULL_DISK_TRAINER, str(store_root), str(tmp_path / "run")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "announced [1, 2] files [1, 2] tmp []"
    assert out.stderr.count("not written: File too large; training goes on") == 1, out.stderr
    assert "checkpoints are written again (version 1)" in out.stderr
    assert (tmp_path / "run" / "log.csv").stat().st_size > 0
