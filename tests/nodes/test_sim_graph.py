"""The whole simulator graph (launch/sim.launch.yaml) in real processes, pushed into the
namespace /robot1: every name the graph uses lives under it; Algorithm 1 produces examples, the
trainer announces new models and the hypotheses node switches to them; every node's parameters
come from its YAML file; the trainer survives SIGKILL without losing anything while the
hypotheses node keeps serving; rviz's configuration finds every topic it subscribes to with its
type and a compatible QoS, and every frame it needs in the TF tree the graph publishes."""

from __future__ import annotations

import os
import re
import signal
import subprocess
from pathlib import Path

import pytest
import yaml
from conftest import REPO, call_service, interrupt_group, interseg_command, spinning_node, wait_for

pytestmark = pytest.mark.slow

NAMESPACE = "/robot1"
INFRASTRUCTURE = {"/rosout", "/parameter_events"}  # every ROS 2 node's own global topics
NODES = {
    "sim": "sim.yaml",
    "capture": "capture.yaml",
    "hypotheses": "hypotheses.yaml",
    "grasp_planner": "grasp_planner.yaml",
    "labeller": "labeller.yaml",
    "trainer": "trainer.yaml",
    "experimenter": "experimenter.yaml",
}
LAUNCH_OVERRIDES = {
    "use_sim_time",
    "image_width",
    "image_height",
    "shadows",
    "split",
    "seed",
    "store",
    "run_dir",
    "checkpoint",
    "initial_checkpoint",
    "mask_loss",
    "steps_per_round",
    "max_interactions",
    "max_minutes",
    "policy",
    "reset_every",
    "progress_file",
    "input_scale",
}


class Graph:
    def __init__(self, run_dir: Path, env: dict):
        self.run_dir = run_dir
        self.log = open(run_dir / "launch.log", "w+")
        self.proc = subprocess.Popen(
            interseg_command(
                "launch",
                str(REPO / "launch/sim.launch.yaml"),
                f"run_dir:={run_dir}",
                f"namespace:={NAMESPACE.strip('/')}",
                "image_width:=320",
                "image_height:=240",
                "shadows:=false",
                "steps_per_round:=4",
            ),
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def output(self) -> str:
        self.log.flush()
        return Path(self.log.name).read_text()

    def pid_of(self, name: str) -> int:
        return int(re.findall(rf"(?:started|respawned) {NAMESPACE.strip('/')}/{name} \(pid (\d+)", self.output())[-1])

    def stop(self):
        interrupt_group(self.proc)
        self.log.close()


@pytest.fixture(scope="module")
def graph(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("sim_graph")
    g = Graph(run_dir, dict(os.environ))
    yield g
    g.stop()


@pytest.fixture(scope="module")
def client_node():
    from rclpy.qos import qos_profile_sensor_data
    from sensor_msgs.msg import Image
    from std_msgs.msg import String
    from tf2_msgs.msg import TFMessage
    from visualization_msgs.msg import MarkerArray

    from interseg.nodes.common import MODEL_UPDATE_QOS
    from interseg.nodes.tf import DYNAMIC_QOS, STATIC_LISTENER_QOS
    from interseg_interfaces.msg import Interaction, LabelledExample, ModelUpdate

    with spinning_node("sim_graph_test") as node:
        node.received = {
            "examples": [],
            "updates": [],
            "interactions": [],
            "grasp_markers": [],
            "hypothesis_markers": [],
            "tf": [],
            "tf_static": [],
            "robot_description": [],
            "images": {},
        }
        ns = NAMESPACE
        node.create_subscription(LabelledExample, f"{ns}/labelled_examples", node.received["examples"].append, 100)
        node.create_subscription(ModelUpdate, f"{ns}/model_updates", node.received["updates"].append, MODEL_UPDATE_QOS)
        node.create_subscription(
            Interaction,
            f"{ns}/interactions",
            lambda m: node.received["interactions"].append(
                (m.interaction_id, m.grasp_pose.pose.position, m.place_pose.pose.position)
            ),
            10,
        )
        node.create_subscription(MarkerArray, f"{ns}/grasp_planner/markers", node.received["grasp_markers"].append, 10)
        node.create_subscription(
            MarkerArray, f"{ns}/hypotheses/markers", node.received["hypothesis_markers"].append, 10
        )
        node.create_subscription(TFMessage, f"{ns}/tf_static", node.received["tf_static"].append, STATIC_LISTENER_QOS)
        node.create_subscription(TFMessage, f"{ns}/tf", node.received["tf"].append, DYNAMIC_QOS)
        node.create_subscription(
            String, f"{ns}/robot_description", node.received["robot_description"].append, STATIC_LISTENER_QOS
        )
        for topic in [f"cameras/cam{i}/image_raw" for i in range(4)] + ["hypotheses/overlay"]:
            qos = 2 if topic.startswith("hypotheses") else qos_profile_sensor_data
            node.create_subscription(
                Image,
                f"{ns}/{topic}",
                lambda m, t=topic: node.received["images"].__setitem__(f"{ns}/{t}", m.header.frame_id),
                qos,
            )
        yield node


def _call(node, srv_type, name, request, timeout=30.0):
    client = node.create_client(srv_type, name)
    assert client.wait_for_service(timeout_sec=timeout), f"{name} not available"
    return call_service(client, request, timeout, resend_after=10, message=f"{name} response")


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
        expected = yaml.safe_load((REPO / "config" / file_name).read_text())[f"/**/{node_name}"]["ros__parameters"]
        names = [n for n in expected if n not in LAUNCH_OVERRIDES]
        response = _call(
            client_node,
            GetParameters,
            f"{NAMESPACE}/{node_name}/get_parameters",
            GetParameters.Request(names=names),
            timeout=90,
        )
        for name, value in zip(names, response.values):
            assert value.type != ParameterType.PARAMETER_NOT_SET, f"{node_name}.{name} not declared"
            got, want = parameter_value_to_python(value), expected[name]
            assert _same(got, want), f"{node_name}.{name}: node has {got!r}, YAML says {want!r}"
    # Launch-file overrides win over the YAML value.
    response = _call(
        client_node,
        GetParameters,
        f"{NAMESPACE}/sim/get_parameters",
        GetParameters.Request(names=["image_width", "shadows"]),
    )
    assert [parameter_value_to_python(v) for v in response.values] == [320, False]


def test_interactions_become_examples_and_new_models(graph, client_node):
    from interseg.learning.store import ExampleStore

    store_dir = graph.run_dir / "examples"
    wait_for(lambda: client_node.received["updates"], 240, message=f"a ModelUpdate\n{graph.output()[-3000:]}")
    update = client_node.received["updates"][-1]
    assert update.version >= 1 and Path(update.checkpoint_path).is_file()
    wait_for(
        lambda: re.search(r"switched to model version [1-9]", graph.output()), 60, message="hypotheses switching model"
    )

    def both_kinds():  # which comes first depends on the scene: wait until there are both
        with ExampleStore(store_dir) as store:
            records = store.records()
        kinds = {r.positive for r in records}
        return records if len(records) >= 8 and kinds == {True, False} else None

    records = wait_for(
        both_kinds, 240, interval=0.5, message=f"positive and negative examples\n{graph.output()[-3000:]}"
    )
    assert {r.view for r in records} >= {"cam0"}
    # Every example remembers the network version that proposed its grasp (0: the initial weights).
    newest = client_node.received["updates"][-1].version
    assert all(r.model_version is not None and r.model_version <= newest for r in records)
    progress = [line for line in (graph.run_dir / "progress.jsonl").read_text().splitlines() if line]
    assert len(progress) >= 3


def test_rviz_markers_show_the_grasp_that_was_executed(graph, client_node):
    import numpy as np

    wait_for(
        lambda: len(client_node.received["interactions"]) >= 2,
        240,
        message=f"two Interactions\n{graph.output()[-3000:]}",
    )
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
    gap = np.hypot(
        *np.subtract(
            [fingers[0].pose.position.x, fingers[0].pose.position.y],
            [fingers[1].pose.position.x, fingers[1].pose.position.y],
        )
    )
    assert gap > 0.08  # open wider than the gripper_width between their inner faces
    target = next(m for m in drawn[-1].markers if m.ns == "place")
    assert np.allclose([target.pose.position.x, target.pose.position.y], [place.x, place.y], atol=1e-6)


def test_trainer_survives_sigkill_and_hypotheses_keep_serving(graph, client_node):
    from std_msgs.msg import Header

    from interseg.learning.store import ExampleStore
    from interseg.nodes.convert import image_to_msg
    from interseg_interfaces.srv import ProposeObjects

    wait_for(lambda: client_node.received["updates"], 240, message="a first model update")
    before_kill = max(u.version for u in client_node.received["updates"])
    os.kill(graph.pid_of("trainer"), signal.SIGKILL)
    # The hypotheses node keeps answering with the last good model while the trainer is down.
    import numpy as np

    image = image_to_msg(
        np.random.default_rng(0).integers(0, 255, (240, 320, 3), dtype=np.uint8),
        "rgb8",
        Header(frame_id="cam0_optical_frame"),
    )
    response = _call(client_node, ProposeObjects, f"{NAMESPACE}/propose_objects", ProposeObjects.Request(image=image))
    assert response.success and response.hypotheses.model_version >= 1
    wait_for(lambda: f"respawned {NAMESPACE.strip('/')}/trainer" in graph.output(), 30, message="trainer respawn")
    wait_for(
        lambda: re.search(r"resumed from version [1-9]", graph.output()),
        90,
        message=f"trainer resuming\n{graph.output()[-2000:]}",
    )
    wait_for(
        lambda: max(u.version for u in client_node.received["updates"]) > before_kill,
        240,
        message="a model update after the restart",
    )
    # Nothing announced by the labeller is missing from the store.
    with ExampleStore(graph.run_dir / "examples") as store:
        keys = {r.key for r in store.records()}
    announced = {m.store_key for m in client_node.received["examples"]}
    assert announced and announced <= keys
    assert graph.proc.poll() is None, "the graph stopped"


def test_hypotheses_reject_malformed_images_and_keep_serving(graph, client_node):
    import numpy as np
    from std_msgs.msg import Header

    from interseg.nodes.convert import image_to_msg
    from interseg_interfaces.srv import ProposeObjects

    wrong_encoding = image_to_msg(np.zeros((240, 320, 3), np.uint8), "bgr8")
    wrong_size = image_to_msg(np.zeros((100, 100, 3), np.uint8), "rgb8")
    truncated = image_to_msg(np.zeros((240, 320, 3), np.uint8), "rgb8")
    truncated.data = bytes(truncated.data)[:1000]
    for image, expected in ((wrong_encoding, "bgr8"), (wrong_size, "100x100"), (truncated, "bytes")):
        response = _call(
            client_node, ProposeObjects, f"{NAMESPACE}/propose_objects", ProposeObjects.Request(image=image)
        )
        assert not response.success and expected in response.message, response.message
    good = image_to_msg(
        np.random.default_rng(1).integers(0, 255, (240, 320, 3), dtype=np.uint8),
        "rgb8",
        Header(frame_id="cam0_optical_frame"),
    )
    assert _call(
        client_node, ProposeObjects, f"{NAMESPACE}/propose_objects", ProposeObjects.Request(image=good)
    ).success
    assert "rejected image" in graph.output()


def _graph_names(node) -> dict[str, set[str]]:
    """Every node of the graph but this test process's own (its client nodes, including one an earlier test
    destroyed that discovery has not yet forgotten), and each name it publishes, subscribes to, serves or calls."""
    names: dict[str, set[str]] = {}
    for name, namespace in node.get_node_names_and_namespaces():
        if name == node.get_name() or name.startswith(("_", "test_client_")):
            continue
        full = f"{namespace.rstrip('/')}/{name}"
        used = set()
        for query in (
            node.get_publisher_names_and_types_by_node,
            node.get_subscriber_names_and_types_by_node,
            node.get_service_names_and_types_by_node,
            node.get_client_names_and_types_by_node,
        ):
            try:
                used |= {topic for topic, _ in query(name, namespace)}
            except Exception:  # a node that went away between the two calls (the trainer respawning)
                pass
        names[full] = used
    return names


def test_every_name_of_the_graph_lives_in_its_namespace(graph, client_node):
    expected_nodes = {f"{NAMESPACE}/{n}" for n in NODES}
    names = wait_for(
        lambda: (n := _graph_names(client_node)) and expected_nodes <= set(n) and n,
        120,
        message=f"all nodes of the graph\n{graph.output()[-2000:]}",
    )
    wait_for(lambda: client_node.received["examples"], 240, message="the loop producing examples under the namespace")
    names = _graph_names(client_node)
    outside = {
        node: sorted(n for n in used if not n.startswith(NAMESPACE + "/") and n not in INFRASTRUCTURE)
        for node, used in names.items()
    }
    assert not [n for n in names if not n.startswith(NAMESPACE + "/")], f"nodes outside {NAMESPACE}: {sorted(names)}"
    assert not any(outside.values()), f"names outside {NAMESPACE}: { {k: v for k, v in outside.items() if v} }"
    used = set().union(*names.values())
    for expected in (
        "tf",
        "tf_static",
        "clock",
        "joint_states",
        "robot_description",
        "cameras/cam0/depth/image_raw",
        "cameras/cam0/depth/camera_info",
        "pick_place/_action/send_goal",
        "capture",
    ):
        assert f"{NAMESPACE}/{expected}" in used, f"{expected} not in {sorted(used)}"


def test_rviz_finds_its_topics_and_frames(graph, client_node):
    """rviz cannot run here: its configuration's contract with the running graph is checked instead."""
    import xml.etree.ElementTree as ElementTree

    from rclpy.qos import QoSCompatibility, QoSDurabilityPolicy, QoSProfile, QoSReliabilityPolicy, qos_check_compatible

    from interseg.nodes.convert import msg_to_transform
    from interseg.rviz import display_subscriptions, fixed_frame, load_config, namespaced
    from interseg.transforms import TransformTree

    config = namespaced(load_config(REPO / "config" / "interseg.rviz"), NAMESPACE)
    subscriptions = display_subscriptions(config)
    displayed_images = {s.topic for s in subscriptions if s.message_type == "sensor_msgs/msg/Image"}
    assert {f"{NAMESPACE}/cameras/cam{i}/image_raw" for i in range(4)} | {
        f"{NAMESPACE}/hypotheses/overlay"
    } <= displayed_images
    assert {s.message_type for s in subscriptions} >= {
        "std_msgs/msg/String",
        "visualization_msgs/msg/MarkerArray",
        "tf2_msgs/msg/TFMessage",
    }
    for subscription in subscriptions:
        topic = (
            subscription.topic if subscription.topic not in ("/tf", "/tf_static") else NAMESPACE + subscription.topic
        )  # rviz_command's remaps
        wanted = QoSProfile(
            depth=subscription.depth,
            reliability=QoSReliabilityPolicy.BEST_EFFORT
            if subscription.reliability == "best_effort"
            else QoSReliabilityPolicy.RELIABLE,
            durability=QoSDurabilityPolicy.TRANSIENT_LOCAL
            if subscription.durability == "transient_local"
            else QoSDurabilityPolicy.VOLATILE,
        )

        def matching_publishers(topic=topic, subscription=subscription, wanted=wanted):
            publishers = client_node.get_publishers_info_by_topic(topic)
            return [
                p
                for p in publishers
                if p.topic_type == subscription.message_type
                and qos_check_compatible(p.qos_profile, wanted)[0] != QoSCompatibility.ERROR
            ]

        wait_for(
            matching_publishers,
            60,
            message=f"a publisher of {topic} ({subscription.message_type}) compatible with {subscription}: "
            f"""{
                [
                    (p.topic_type, p.qos_profile.reliability, p.qos_profile.durability)
                    for p in client_node.get_publishers_info_by_topic(topic)
                ]
            }""",
        )

    # Frames: the fixed frame, every image's and marker's frame_id and every link of the robot model
    # must be reachable in the TF tree the graph publishes.
    received = client_node.received
    wait_for(
        lambda: (
            len(received["images"]) == 5
            and received["hypothesis_markers"]
            and received["grasp_markers"]
            and received["robot_description"]
            and received["tf"]
            and received["tf_static"]
        ),
        240,
        message=f"images, markers, TF and the robot description ({sorted(received['images'])})",
    )
    tree = TransformTree()
    for message in received["tf_static"] + received["tf"][-20:]:
        assert not tree.set_all([msg_to_transform(t) for t in message.transforms])
    links = {link.get("name") for link in ElementTree.fromstring(received["robot_description"][-1].data).iter("link")}
    marker_frames = {
        m.header.frame_id for array in received["hypothesis_markers"] + received["grasp_markers"] for m in array.markers
    }
    needed = {fixed_frame(config)} | set(received["images"].values()) | marker_frames | links
    assert len(links) >= 10 and "" not in needed
    unreachable = sorted(f for f in needed if not tree.can_transform(fixed_frame(config), f))
    assert not unreachable, (
        f"frames rviz needs that are not in the TF tree: {unreachable} (tree: {sorted(tree.frames())})"
    )
