"""The store writer's `store_example` service, across real processes: an example is stored once
under the sender's key however often it is sent (also to a writer restarted in between),
malformed examples are refused without `retry`, and the stored files are the sent arrays."""

from __future__ import annotations

import os
import signal

import numpy as np
import pytest
from conftest import call_service, node_command

pytestmark = pytest.mark.slow


def _request(key: str, positive: bool = True, mask: np.ndarray | None = None):
    from interseg.nodes.convert import image_to_msg
    from interseg_interfaces.srv import StoreExample

    rng = np.random.default_rng(len(key))
    image = rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)
    request = StoreExample.Request(
        key=key, interaction_id=7, view="cam0", kind="pick", positive=positive, u=20.0, v=30.0, reason="test"
    )
    request.model_version = 3
    request.image = image_to_msg(image, "rgb8")
    if positive:
        if mask is None:
            mask = np.zeros((48, 64), np.uint8)
            mask[20:40, 10:30] = 255
        request.mask = image_to_msg(mask, "mono8")
    return request, image


def test_resends_are_stored_once_and_malformed_examples_refused(processes, ros_node, tmp_path):
    from interseg.learning.store import ExampleStore
    from interseg_interfaces.srv import StoreExample

    store_dir = tmp_path / "examples"

    def start():
        return processes.start(
            node_command("store_writer", "/learner", "config/store_writer.yaml", store=str(store_dir)),
            name="store_writer",
        )

    writer = start()
    client = ros_node.create_client(StoreExample, "/learner/store_example")

    def call(request, count_sends=False):
        """As the labeller sends: a request without an answer in 10 s is sent again (a reply sent
        before the writer has discovered this client's response reader is lost, and a request
        sent before the client has matched a restarted writer too; both are volatile)."""
        assert client.wait_for_service(timeout_sec=60), processes.output(writer)
        return call_service(client, request, 90, resend_after=10, message=request.key, count_sends=count_sends)

    # a refused example first: once its answer came, the writer's replies reach this client
    assert not call(_request("../warm-up")[0]).success
    request, image = _request("robot0-00000007-cam0-pick-0a1b2c3d")
    first, sends = call(request, count_sends=True)
    # only an answer to a resend may say the new key was stored already (by the first request)
    assert first.success and (not first.already_stored or sends > 1), (first.message, sends)
    again = call(request)
    assert again.success and again.already_stored and again.message == "already stored"
    # a writer killed and started again still knows the key
    os.kill(writer.pid, signal.SIGKILL)
    writer.wait(timeout=10)
    writer = start()
    third = call(request)
    assert third.success and third.already_stored

    negative, _ = _request("robot1-00000007-cam0-pick-00000000", positive=False)
    assert call(negative).success
    for bad, expected in (
        (_request("../escape")[0], "bad example key"),
        (_request("robot0-bad-mask", mask=np.zeros((48, 64), np.uint8))[0], "mask is empty"),
        (_request("robot0-small-mask", mask=np.full((8, 8), 255, np.uint8))[0], "does not match the image"),
    ):
        answer = call(bad)
        assert not answer.success and not answer.retry and expected in answer.message, answer.message
    truncated, _ = _request("robot0-truncated")
    truncated.image.data = truncated.image.data[:100]
    answer = call(truncated)
    assert not answer.success and not answer.retry, answer.message
    assert writer.poll() is None  # still serving

    with ExampleStore(store_dir) as store:
        rows = store.records()
        assert [r.key for r in rows] == [request.key, negative.key]
        stored_image, stored_mask = store.read(rows[0])
        assert rows[0].model_version == 3 and rows[0].positive and rows[0].mask_area == 400
        assert np.array_equal(stored_image, image)
        assert stored_mask is not None and stored_mask.sum() == 400
        assert store.read(rows[1])[1] is None
