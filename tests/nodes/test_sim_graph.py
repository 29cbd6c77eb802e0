"""The whole simulator graph (launch/sim.launch.yaml) in real processes: Algorithm 1 produces
examples, the trainer announces new models and the hypotheses node switches to them; every
node's parameters come from its YAML file; the trainer survives SIGKILL without losing
anything while the hypotheses node keeps serving."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest
import yaml
from conftest import REPO, interseg_command, spinning_node, wait_for

pytestmark = pytest.mark.slow

NODES = {"sim": "sim.yaml", "capture": "capture.yaml", "hypotheses": "hypotheses.yaml", "grasp_planner": "grasp_planner.yaml",
         "labeller": "labeller.yaml", "trainer": "trainer.yaml", "experimenter": "experimenter.yaml"}
LAUNCH_OVERRIDES = {"use_sim_time", "image_width", "image_height", "shadows", "split", "seed", "store", "run_dir", "checkpoint", "initial_checkpoint",
                    "mask_loss", "steps_per_round", "max_interactions", "max_minutes", "policy", "reset_every", "progress_file", "input_scale"}


class Graph:
    def __init__(self, run_dir: Path, env: dict):
        self.run_dir = run_dir
        self.log = open(run_dir / "launch.log", "w+")
        self.proc = subprocess.Popen(interseg_command("launch", str(REPO / "launch/sim.launch.yaml"), f"run_dir:={run_dir}", "image_width:=320",
                                                      "image_height:=240", "shadows:=false", "steps_per_round:=4"),
                                     env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)

    def output(self) -> str:
        self.log.flush()
        return Path(self.log.name).read_text()

    def pid_of(self, name: str) -> int:
        return int(re.findall(rf"(?:started|respawned) {name} \(pid (\d+)", self.output())[-1])

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
        self.log.close()


@pytest.fixture(scope="module")
def graph(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("sim_graph")
    g = Graph(run_dir, dict(os.environ))
    yield g
    g.stop()


@pytest.fixture(scope="module")
def client_node():
    from visualization_msgs.msg import MarkerArray

    from interseg_interfaces.msg import Interaction, LabelledExample, ModelUpdate

    from interseg.nodes.common import MODEL_UPDATE_QOS

    with spinning_node("sim_graph_test") as node:
        node.received = {"examples": [], "updates": [], "interactions": [], "grasp_markers": []}
        node.create_subscription(LabelledExample, "/labelled_examples", node.received["examples"].append, 100)
        node.create_subscription(ModelUpdate, "/model_updates", node.received["updates"].append, MODEL_UPDATE_QOS)
        node.create_subscription(Interaction, "/interactions", lambda m: node.received["interactions"].append(
            (m.interaction_id, m.grasp_pose.pose.position, m.place_pose.pose.position)), 10)
        node.create_subscription(MarkerArray, "/grasp_planner/markers", node.received["grasp_markers"].append, 10)
        yield node


def _call(node, srv_type, name, request, timeout=30.0):
    client = node.create_client(srv_type, name)
    assert client.wait_for_service(timeout_sec=timeout), f"{name} not available"
    future = client.call_async(request)
    return wait_for(lambda: future.result(), timeout, message=f"{name} response")


def _same(got, want) -> bool:
    if isinstance(want, list):
        return len(list(got)) == len(want) and all(_same(g, w) for g, w in zip(got, want))
    if isinstance(want, (int, float)) and not isinstance(want, bool):
        return got == pytest.approx(want)
    return got == want


def test_parameters_come_from_each_nodes_yaml(graph, client_node):
    from rcl_interfaces.msg import ParameterType
    from rcl_interfaces.srv import GetParameters
    from rclpy.parameter import parameter_value_to_python

    for node_name, file_name in NODES.items():
        expected = yaml.safe_load((REPO / "config" / file_name).read_text())[node_name]["ros__parameters"]
        names = [n for n in expected if n not in LAUNCH_OVERRIDES]
        response = _call(client_node, GetParameters, f"/{node_name}/get_parameters", GetParameters.Request(names=names), timeout=90)
        for name, value in zip(names, response.values):
            assert value.type != ParameterType.PARAMETER_NOT_SET, f"{node_name}.{name} not declared"
            got, want = parameter_value_to_python(value), expected[name]
            assert _same(got, want), f"{node_name}.{name}: node has {got!r}, YAML says {want!r}"
    # Launch-file overrides win over the YAML value.
    response = _call(client_node, GetParameters, "/sim/get_parameters", GetParameters.Request(names=["image_width", "shadows"]))
    assert [parameter_value_to_python(v) for v in response.values] == [320, False]


def test_interactions_become_examples_and_new_models(graph, client_node):
    from interseg.learning.store import ExampleStore

    store_dir = graph.run_dir / "examples"
    wait_for(lambda: client_node.received["updates"], 240, message=f"a ModelUpdate\n{graph.output()[-3000:]}")
    update = client_node.received["updates"][-1]
    assert update.version >= 1 and Path(update.checkpoint_path).is_file()
    wait_for(lambda: re.search(r"switched to model version [1-9]", graph.output()), 60, message="hypotheses switching model")

    def both_kinds():  # which comes first depends on the scene: wait until there are both
        with ExampleStore(store_dir) as store:
            records = store.records()
        kinds = {r.positive for r in records}
        return records if len(records) >= 8 and kinds == {True, False} else None

    records = wait_for(both_kinds, 240, interval=0.5, message=f"positive and negative examples\n{graph.output()[-3000:]}")
    assert {r.view for r in records} >= {"cam0"}
    # Every example remembers the network version that proposed its grasp (0: the initial weights).
    newest = client_node.received["updates"][-1].version
    assert all(r.model_version is not None and r.model_version <= newest for r in records)
    progress = [line for line in (graph.run_dir / "progress.jsonl").read_text().splitlines() if line]
    assert len(progress) >= 3


def test_rviz_markers_show_the_grasp_that_was_executed(graph, client_node):
    import numpy as np

    wait_for(lambda: len(client_node.received["interactions"]) >= 2, 240, message=f"two Interactions\n{graph.output()[-3000:]}")
    _, grasp, place = client_node.received["interactions"][-1]
    executed = np.array([grasp.x, grasp.y, grasp.z])

    def arrow_end(markers) -> np.ndarray:
        arrow = next(m for m in markers.markers if m.ns == "grasp" and m.type == m.ARROW)
        return np.array([arrow.points[1].x, arrow.points[1].y, arrow.points[1].z])

    # Every executed grasp was drawn before it was executed: one of the marker arrays points at it.
    drawn = [m for m in client_node.received["grasp_markers"] if np.allclose(arrow_end(m), executed, atol=1e-6)]
    assert drawn, f"no grasp marker at {executed}"
    fingers = [m for m in drawn[-1].markers if m.ns == "grasp" and m.type == m.CUBE]
    assert len(fingers) == 2 and all(f.header.frame_id == "world" for f in fingers)
    centre = np.mean([[f.pose.position.x, f.pose.position.y] for f in fingers], axis=0)
    assert np.allclose(centre, executed[:2], atol=1e-6)  # the fingers straddle the grasp point
    gap = np.hypot(*np.subtract([fingers[0].pose.position.x, fingers[0].pose.position.y], [fingers[1].pose.position.x, fingers[1].pose.position.y]))
    assert gap > 0.08  # open wider than the gripper_width between their inner faces
    target = next(m for m in drawn[-1].markers if m.ns == "place")
    assert np.allclose([target.pose.position.x, target.pose.position.y], [place.x, place.y], atol=1e-6)


def test_trainer_survives_sigkill_and_hypotheses_keep_serving(graph, client_node):
    from interseg_interfaces.srv import ProposeObjects

    from interseg.learning.store import ExampleStore
    from interseg.nodes.convert import image_to_msg

    wait_for(lambda: client_node.received["updates"], 240, message="a first model update")
    before_kill = max(u.version for u in client_node.received["updates"])
    os.kill(graph.pid_of("trainer"), signal.SIGKILL)
    # The hypotheses node keeps answering with the last good model while the trainer is down.
    import numpy as np

    image = image_to_msg(np.random.default_rng(0).integers(0, 255, (240, 320, 3), dtype=np.uint8), "rgb8")
    response = _call(client_node, ProposeObjects, "/propose_objects", ProposeObjects.Request(image=image))
    assert response.success and response.hypotheses.model_version >= 1
    wait_for(lambda: "respawned trainer" in graph.output(), 30, message="trainer respawn")
    wait_for(lambda: re.search(r"resumed from version [1-9]", graph.output()), 90, message=f"trainer resuming\n{graph.output()[-2000:]}")
    wait_for(lambda: max(u.version for u in client_node.received["updates"]) > before_kill, 240, message="a model update after the restart")
    # Nothing announced by the labeller is missing from the store.
    with ExampleStore(graph.run_dir / "examples") as store:
        keys = {r.key for r in store.records()}
    announced = {m.store_key for m in client_node.received["examples"]}
    assert announced and announced <= keys
    assert graph.proc.poll() is None, "the graph stopped"


def test_hypotheses_reject_malformed_images_and_keep_serving(graph, client_node):
    import numpy as np

    from interseg_interfaces.srv import ProposeObjects

    from interseg.nodes.convert import image_to_msg

    wrong_encoding = image_to_msg(np.zeros((240, 320, 3), np.uint8), "bgr8")
    wrong_size = image_to_msg(np.zeros((100, 100, 3), np.uint8), "rgb8")
    truncated = image_to_msg(np.zeros((240, 320, 3), np.uint8), "rgb8")
    truncated.data = bytes(truncated.data)[:1000]
    for image, expected in ((wrong_encoding, "bgr8"), (wrong_size, "100x100"), (truncated, "bytes")):
        response = _call(client_node, ProposeObjects, "/propose_objects", ProposeObjects.Request(image=image))
        assert not response.success and expected in response.message, response.message
    good = image_to_msg(np.random.default_rng(1).integers(0, 255, (240, 320, 3), dtype=np.uint8), "rgb8")
    assert _call(client_node, ProposeObjects, "/propose_objects", ProposeObjects.Request(image=good)).success
    assert "rejected image" in graph.output()
