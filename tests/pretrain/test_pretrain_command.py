"""`interseg pretrain` on a tiny budget writes a checkpoint that the trainer and the hypotheses
node start from (the sim launch file's `checkpoint` argument), and push examples in the store."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import call_service, interseg_command, wait_for

pytestmark = pytest.mark.slow

W, H = 320, 240


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory, ros_env):
    folder = tmp_path_factory.mktemp("pretrain")
    out = folder / "pretrained.pt"
    proc = subprocess.run(
        interseg_command(
            "pretrain",
            "--frames",
            "120",
            "--steps",
            "2",
            "--batch-size",
            "4",
            "--width",
            str(W),
            "--height",
            str(H),
            "--out",
            str(out),
            "--quiet",
        ),
        env=ros_env,
        capture_output=True,
        text=True,
        timeout=400,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out, proc.stdout


def test_pretrain_writes_checkpoint_and_push_examples(pretrained):
    from interseg.learning.predictor import HypothesisPredictor
    from interseg.learning.store import ExampleStore
    from interseg.learning.trainer import Trainer

    out, stdout = pretrained
    assert "[pretrain] 120 frames" in stdout and "frame pairs dropped" in stdout
    summary = json.loads(out.with_suffix(".json").read_text())
    assert summary["collection"]["frames"] == 120 and summary["collection"]["positives"] > 0
    with ExampleStore(out.with_name("pretrained-pretrain") / "examples") as store:
        records = store.records()
    assert records and {r.source for r in records} == {"push"} and {r.kind for r in records} == {"push"}
    assert sum(r.positive for r in records) == summary["collection"]["positives"]
    assert all(r.mask_path is not None for r in records if r.positive)
    predictor = HypothesisPredictor.from_checkpoint(out)
    assert predictor.version == 1 and predictor.config.expected_size == (W, H)
    predictor.predict(np.zeros((H, W, 3), np.uint8))
    trainer = Trainer(out.parent / "loop")
    trainer.load_checkpoint(out)  # what the trainer node does with initial_checkpoint
    assert trainer.version == 1 and trainer.step == 2 and trainer.examples_seen == 0


def test_hypotheses_node_starts_from_the_pretrained_checkpoint(pretrained, processes, ros_node):
    from interseg.nodes.convert import image_to_msg
    from interseg_interfaces.srv import ProposeObjects

    out, _ = pretrained
    executable = str(Path(sys.executable).parent / "hypotheses_node")  # the installed node entry point
    proc = processes.start([executable, "--ros-args", "-p", f"checkpoint:={out}"], name="hypotheses")
    wait_for(
        lambda: "serving model version 1 (checkpoint" in processes.output(proc) or proc.poll() is not None,
        90,
        message="the hypotheses node to load the checkpoint",
    )
    assert proc.poll() is None, processes.output(proc)
    client = ros_node.create_client(ProposeObjects, "propose_objects")
    assert client.wait_for_service(timeout_sec=30)
    image = image_to_msg(np.random.default_rng(0).integers(0, 255, (H, W, 3), dtype=np.uint8), "rgb8")
    request = ProposeObjects.Request(image=image)
    response = call_service(client, request, 60, resend_after=10, message="propose_objects response")
    assert response.success and response.hypotheses.model_version == 1


def test_pretrain_trains_on_an_existing_store_without_collecting(pretrained, tmp_path, ros_env):
    out, _ = pretrained
    store = out.with_name("pretrained-pretrain") / "examples"  # e.g. what the push_collector node filled
    second = tmp_path / "again.pt"
    proc = subprocess.run(
        interseg_command(
            "pretrain",
            "--store",
            str(store),
            "--steps",
            "2",
            "--batch-size",
            "4",
            "--width",
            str(W),
            "--height",
            str(H),
            "--out",
            str(second),
            "--quiet",
        ),
        env=ros_env,
        capture_output=True,
        text=True,
        timeout=200,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "training on" in proc.stdout and "frames from" not in proc.stdout and second.is_file()
    missing = subprocess.run(
        interseg_command("pretrain", "--store", str(tmp_path / "nothing"), "--out", str(second)),
        env=ros_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert missing.returncode == 2 and "no examples store" in missing.stderr
