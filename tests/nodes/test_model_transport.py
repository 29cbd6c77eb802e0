"""Models over the network, across real processes: a trainer with `model_transport: weights` puts
each checkpoint's bytes, SHA-256 and size in its announcement, and a hypotheses node switches to
it from the message alone (a path that does not exist on its host); a corrupt or partial transfer
is refused and the running model stays."""

from __future__ import annotations

import hashlib
import sys

import pytest
from conftest import REPO, call_service, node_command, wait_for
from learning.helpers import fill_store

pytestmark = pytest.mark.slow


def _trainer_command(store, run_dir) -> list[str]:
    params = {
        "store": store,
        "run_dir": run_dir,
        "image_width": "320",
        "image_height": "240",
        "input_scale": "1.0",
        "steps_per_round": "3",
        "batch_size": "4",
        "min_examples": "4",
        "device": "cpu",
        "model_transport": "weights",
    }
    command = [sys.executable, "-c", "import sys; from interseg.nodes.trainer import main; sys.exit(main())"]
    command += ["--ros-args", "-r", "__ns:=/learner", "--params-file", str(REPO / "config/trainer.yaml")]
    return command + [arg for name, value in params.items() for arg in ("-p", f"{name}:={value}")]


def _propose(node, image):
    from interseg.nodes.convert import image_to_msg
    from interseg_interfaces.srv import ProposeObjects

    client = node.create_client(ProposeObjects, "/robot/propose_objects")
    assert client.wait_for_service(timeout_sec=60)
    request = ProposeObjects.Request(image=image_to_msg(image, "rgb8"), max_hypotheses=3)
    return call_service(client, request, 60, resend_after=10, message="propose_objects response")


def test_weights_travel_in_the_announcement_and_bad_transfers_are_refused(processes, ros_node, tmp_path):
    import array
    import io

    import numpy as np
    import torch

    from interseg.nodes.common import MODEL_UPDATE_QOS
    from interseg_interfaces.msg import ModelUpdate

    fill_store(tmp_path / "examples", scenes=2).close()
    announced: list = []
    ros_node.create_subscription(ModelUpdate, "/learner/model_updates", announced.append, MODEL_UPDATE_QOS)
    trainer = processes.start(_trainer_command(tmp_path / "examples", tmp_path / "learner"), name="trainer")
    wait_for(lambda: announced, 180, message=f"a model update\n{processes.output(trainer)[-3000:]}")
    first = announced[0]
    data = bytes(first.checkpoint_data)
    assert len(data) == first.checkpoint_size > 100_000
    assert hashlib.sha256(data).hexdigest() == first.checkpoint_sha256
    # the checkpoint without its optimizer state: the same weights, a third of the file
    file = tmp_path / "learner" / "checkpoints" / f"model-{first.version:06d}.pt"
    sent, written = torch.load(io.BytesIO(data), weights_only=True), torch.load(file, weights_only=True)
    assert "optimizer" not in sent and "optimizer" in written and len(data) < 0.5 * file.stat().st_size
    assert sent["version"] == written["version"] and sent["model"].keys() == written["model"].keys()
    assert all(torch.equal(sent["model"][k], written["model"][k]) for k in written["model"])
    processes.stop_all()  # from here on the announcements come from this test: nothing on disk to share

    cache = tmp_path / "robot-host" / "models"
    hypotheses = processes.start(
        node_command(
            "hypotheses",
            "/robot",
            "config/hypotheses.yaml",
            image_width="320",
            image_height="240",
            input_scale="1.0",
            model_cache=str(cache),
            fallback_bottom_up="false",
        ),
        name="hypotheses",
    )
    publisher = ros_node.create_publisher(ModelUpdate, "/robot/model_updates", MODEL_UPDATE_QOS)

    def announce(version: int, payload: bytes, sha256: str, size: int) -> None:
        msg = ModelUpdate(version=version, checkpoint_path="/nonexistent/trainer/model.pt", training_step=version)
        msg.checkpoint_data = array.array("B", payload)
        msg.checkpoint_sha256, msg.checkpoint_size = sha256, size
        publisher.publish(msg)

    def said(text: str):
        return lambda: text in processes.output(hypotheses)

    image = np.random.default_rng(0).integers(0, 255, (240, 320, 3), dtype=np.uint8)
    wait_for(said("serving model version 0"), 120, message=processes.output(hypotheses))
    announce(5, data, first.checkpoint_sha256, len(data))
    wait_for(said("switched to model version"), 120, message=processes.output(hypotheses))
    assert f"{len(data)} bytes received" in processes.output(hypotheses)
    assert (cache / "model-000005.pt").read_bytes() == data
    running = _propose(ros_node, image).hypotheses.model_version
    assert running == first.version  # the checkpoint's own version, as the trainer wrote it

    corrupt = bytearray(data)
    corrupt[len(corrupt) // 2] ^= 0xFF
    announce(6, bytes(corrupt), first.checkpoint_sha256, len(data))
    wait_for(said("model version 6 ("), 60, message=processes.output(hypotheses))
    announce(7, data[: len(data) // 2], first.checkpoint_sha256, len(data))
    wait_for(said("model version 7 ("), 60, message=processes.output(hypotheses))
    out = processes.output(hypotheses)
    assert "differs from the announced" in out and "partial transfer" in out, out
    assert not (cache / "model-000006.pt").exists() and not (cache / "model-000007.pt").exists()
    assert _propose(ros_node, image).hypotheses.model_version == running  # the running model stayed
    assert hypotheses.poll() is None
