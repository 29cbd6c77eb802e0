"""Bad example files under a running trainer node and under `interseg export-examples`.

Some examples are damaged before the trainer starts, some while it trains (new ones that arrive
damaged, old ones deleted or overwritten under it), then the trainer is killed and started again
as the launch file respawns it. It must keep announcing models; every bad example is quarantined
in the store with its reason, logged once and counted; the export writes the good ones and says
how many it skipped."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from conftest import REPO, interseg_command, wait_for
from learning.helpers import damage_file, fill_store

import interseg.learning.store as store_module
from interseg.learning.quarantine import QUARANTINE_NAME
from interseg.learning.store import ExampleStore

pytestmark = pytest.mark.slow


def quarantined(root) -> dict[str, str]:
    path = root / QUARANTINE_NAME
    if not path.exists():
        return {}
    return {e["key"]: e["reason"] for e in map(json.loads, path.read_text().splitlines())}


def start_trainer(processes, root, run_dir):
    return processes.start(
        [
            sys.executable,
            "-c",
            "import sys; from interseg.nodes.trainer import main; sys.exit(main())",
            "--ros-args",
            "--params-file",
            str(REPO / "config/trainer.yaml"),
            "-p",
            f"store:={root}",
            "-p",
            f"run_dir:={run_dir}",
            "-p",
            "image_width:=320",
            "-p",
            "image_height:=240",
            "-p",
            "steps_per_round:=5",
            "-p",
            "batch_size:=8",
            "-p",
            "min_examples:=4",
            "-p",
            "threads:=1",
            "-p",
            "device:=cpu",
        ],
        name="trainer",
    )


def test_trainer_keeps_learning_past_damaged_files_and_export_skips_them(processes, ros_node, tmp_path, monkeypatch):
    from interseg.nodes.common import MODEL_UPDATE_QOS
    from interseg_interfaces.msg import ModelUpdate

    root, run_dir = tmp_path / "examples", tmp_path / "trainer"
    writer = fill_store(root, scenes=8, size=(320, 240))
    records = writer.records()
    assert len(records) >= 40
    damaged: dict[str, str] = {}  # key -> what the quarantine reason must say

    def damage(record, target: str, how: str, says: str) -> None:
        damage_file(root / (record.image_path if target == "image" else record.mask_path), how)
        damaged[record.key] = says

    positives = [r for r in records if r.positive]
    # before the trainer starts (the reported case: a few files of a big store missing)
    damage(records[0], "image", "delete", "is missing")
    damage(records[3], "image", "truncate", "is truncated")
    damage(positives[2], "mask", "garbage", "not a PNG file")
    damage(records[7], "image", "resize", "its row says 320x240")
    damage(records[9], "image", "flip", "corrupt")

    updates: list[tuple[float, ModelUpdate]] = []
    ros_node.create_subscription(
        ModelUpdate, "model_updates", lambda m: updates.append((time.monotonic(), m)), MODEL_UPDATE_QOS
    )

    def metric(msg: ModelUpdate, name: str) -> float:
        return dict(zip(msg.metric_names, msg.metric_values))[name]

    def models_after(t: float) -> list[ModelUpdate]:
        return [m for received, m in updates if received > t]

    started = time.monotonic()
    trainer = start_trainer(processes, root, run_dir)
    wait_for(lambda: updates, 180, message=f"a first model\n{processes.output(trainer)[-3000:]}")
    print(f"first model {updates[0][0] - started:.1f} s after the start with {len(damaged)} damaged examples")
    wait_for(
        lambda: set(damaged) <= set(quarantined(root)),
        120,
        message=f"the damaged examples quarantined\n{processes.output(trainer)[-3000:]}",
    )

    # while it trains: new examples arrive with damaged files (the disk lost them between the
    # write and the row), and files of examples it has already read are deleted and overwritten
    late = [writer.records()[k] for k in (10, 11, 12, 13)]
    spoil = {1: "truncate", 3: "empty"}  # which of the late examples arrive damaged, and how
    real_write = store_module._atomic_write_png
    added = []

    def write_and_spoil(path, array):
        real_write(path, array)
        if path.parent.name == "images" and len(added) in spoil:
            damage_file(path, spoil[len(added)])

    monkeypatch.setattr(store_module, "_atomic_write_png", write_and_spoil)
    damage_time = time.monotonic()
    for record in late:
        image, mask = store_module.read_example(root, record)
        added.append(
            writer.add(
                image=image,
                u=record.u,
                v=record.v,
                positive=record.positive,
                mask=mask,
                reason="late",
                interaction_id=100 + len(added),
                view="cam0",
            )
        )
    monkeypatch.setattr(store_module, "_atomic_write_png", real_write)
    damaged[added[1]] = "is truncated"
    damaged[added[3]] = "empty file"
    under_it = [r for r in records if r.key not in damaged][-3:]
    damage(under_it[0], "image", "delete", "is missing")
    damage(under_it[1], "image", "garbage", "not a PNG file")
    damage(under_it[2], "image", "grey", "not 8-bit RGB")

    wait_for(
        lambda: {added[1], added[3]} <= set(quarantined(root)),
        120,
        message=f"the late damaged examples quarantined\n{processes.output(trainer)[-3000:]}",
    )
    quarantine_time = time.monotonic()
    wait_for(lambda: models_after(quarantine_time), 60, message="a model after the late damage")
    first_after = min(t for t, _ in updates if t > damage_time)
    print(f"first model after the mid-run damage: {first_after - damage_time:.1f} s")
    assert trainer.poll() is None

    # killed and started again (as its launch file respawns it): it reads every example again
    os.kill(trainer.pid, signal.SIGKILL)
    trainer.wait(timeout=10)
    restart_time = time.monotonic()
    trainer_again = start_trainer(processes, root, run_dir)
    wait_for(
        lambda: (
            models_after(restart_time) and any(m.version > updates[-2][1].version for m in models_after(restart_time))
        ),
        180,
        message=f"a model after the restart\n{processes.output(trainer_again)[-3000:]}",
    )
    print(f"first model after the restart: {min(t for t, _ in updates if t > restart_time) - restart_time:.1f} s")
    wait_for(
        lambda: set(damaged) <= set(quarantined(root)),
        120,
        message=f"every damaged example quarantined\n{processes.output(trainer_again)[-3000:]}",
    )
    wait_for(
        lambda: any(metric(m, "quarantined_examples") == len(damaged) for m in models_after(restart_time)),
        60,
        message="a model counting every quarantined example",
    )

    # quarantined with the right reason, logged once (over both runs), files kept, nothing else
    reasons = quarantined(root)
    assert set(reasons) == set(damaged)
    for key, says in damaged.items():
        assert says in reasons[key], (key, reasons[key])
    logs = processes.output(trainer) + processes.output(trainer_again)
    for key in damaged:
        assert logs.count(f"example {key} ") == 1, key
    assert "Traceback" not in logs and "training stopped" not in logs
    assert trainer_again.poll() is None
    versions = [m.version for _, m in updates]
    assert versions == sorted(versions) and versions[-1] >= 3
    assert len(os.listdir(root / "images")) == len(records) + len(late) - 2  # only the two the test deleted are gone
    writer.close()

    # export: the good ones, and how many were skipped
    bag = tmp_path / "bag"
    out = subprocess.run(
        interseg_command("export-examples", str(root), str(bag)), capture_output=True, text=True, timeout=120
    )
    good = len(records) + len(late) - len(damaged)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == (
        f"exported {good} examples to {bag}; skipped {len(damaged)} with bad files "
        f"(0 newly quarantined; reasons in {root / QUARANTINE_NAME})"
    )
    from rosbags.rosbag2 import Reader

    with Reader(bag) as reader:
        images = sum(1 for c, _, _ in reader.messages() if c.topic == "/examples/image")
    assert images == good


def test_export_finds_and_quarantines_bad_files_itself(tmp_path):
    root = tmp_path / "examples"
    with fill_store(root, scenes=2, size=(160, 120)) as store:
        records = store.records()
    damage_file(root / records[1].image_path, "delete")
    damage_file(root / [r for r in records if r.positive][1].mask_path, "truncate")
    bag = tmp_path / "bag"
    out = subprocess.run(
        interseg_command("export-examples", str(root), str(bag)), capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(
        f"exported {len(records) - 2} examples to {bag}; skipped 2 with bad files (2 newly quarantined"
    )
    assert out.stderr.count("quarantined:") == 2 and "is missing" in out.stderr and "is truncated" in out.stderr
    assert len(quarantined(root)) == 2
    with ExampleStore(root) as store:
        assert len(store.records()) == len(records) - 2
