"""The hypotheses node when its network proposes nothing: bottom-up proposals instead, said so
(the loop would otherwise stall: nothing touched, nothing labelled); without the fallback, none."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import call_service, node_command

pytestmark = pytest.mark.slow


def _silent_checkpoint(path) -> str:
    """A network whose masks are all below its threshold: it proposes nothing."""
    from interseg.learning.model import ModelConfig
    from interseg.learning.predictor import HypothesisPredictor
    from interseg.learning.trainer import Trainer

    trainer = Trainer(path, ModelConfig(input_scale=1.0, expected_size=(320, 240)))
    trainer.model.config.mask_threshold = 0.999
    checkpoint = trainer.save_checkpoint().path
    image = np.random.default_rng(0).integers(0, 255, (240, 320, 3), dtype=np.uint8)
    assert HypothesisPredictor.from_checkpoint(checkpoint).predict(image) == []
    return str(checkpoint)


def _propose(node, name: str, image_msg):
    from interseg_interfaces.srv import ProposeObjects

    client = node.create_client(ProposeObjects, f"/{name}/propose_objects")
    assert client.wait_for_service(timeout_sec=60), f"{name} not available"
    request = ProposeObjects.Request(image=image_msg)
    return call_service(client, request, 60, resend_after=10, message=f"{name} response")


def test_a_network_that_proposes_nothing_falls_back_to_bottom_up(processes, ros_node, tmp_path):
    from std_msgs.msg import Header

    from interseg.nodes.convert import image_to_msg

    checkpoint = _silent_checkpoint(tmp_path / "silent")
    for name, fallback in (("with_fallback", "true"), ("without_fallback", "false")):
        processes.start(
            node_command(
                "hypotheses", f"/{name}", "config/hypotheses.yaml", checkpoint=checkpoint, fallback_bottom_up=fallback
            ),
            name=name,
        )
    rng = np.random.default_rng(1)
    image = np.full((240, 320, 3), 90, np.uint8)
    image[60:120, 80:140] = (200, 40, 40)  # two plain objects on a plain table
    image[140:200, 180:260] = (40, 40, 200)
    image = np.clip(image.astype(int) + rng.integers(-5, 6, image.shape), 0, 255).astype(np.uint8)
    message = image_to_msg(image, "rgb8", Header(frame_id="cam0_optical_frame"))

    response = _propose(ros_node, "with_fallback", message)
    assert response.success and "proposed none" in response.message and "bottom-up" in response.message
    assert len(response.hypotheses.hypotheses) > 0
    masks = [np.frombuffer(bytes(h.mask.data), np.uint8).reshape(240, 320) > 0 for h in response.hypotheses.hypotheses]
    assert any(m[90, 110] for m in masks) and any(m[170, 220] for m in masks)  # the objects are proposed

    response = _propose(ros_node, "without_fallback", message)
    assert response.success and len(response.hypotheses.hypotheses) == 0, response.message
