"""What each interseg node creates, ROS names as rcl expands and remaps them, and the DDS
topics a node's permissions allow (sros2's permissions template)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from interseg.constants import CAMERA_NAMES, MAIN_CAMERA


class SecurityError(ValueError):
    """A keystore or enclave cannot be written as asked; one line."""


# -- what each node creates ------------------------------------------------------------------


@dataclass(frozen=True)
class NodeInterfaces:
    """Names as the node's code creates them (relative, ``~/`` private or absolute), before
    namespace and remaps; sros2's policy vocabulary: a service server ``reply``s, a client
    ``request``s, an action server ``execute``s, a client ``call``s."""

    node: str  # default node name
    publish: tuple[str, ...] = ()
    subscribe: tuple[str, ...] = ()
    reply: tuple[str, ...] = ()
    request: tuple[str, ...] = ()
    execute: tuple[str, ...] = ()
    call: tuple[str, ...] = ()


_CAMERAS = CAMERA_NAMES
_CAMERA_TOPICS = tuple(f"cameras/{c}/{t}" for c in _CAMERAS for t in ("image_raw", "camera_info"))
_DEPTH_TOPICS = (f"cameras/{MAIN_CAMERA}/depth/image_raw", f"cameras/{MAIN_CAMERA}/depth/camera_info")

# executable -> its names with the shipped config/<node>.yaml (cameras, topic patterns)
NODE_INTERFACES: dict[str, NodeInterfaces] = {
    "sim_node": NodeInterfaces(
        "sim",
        publish=_CAMERA_TOPICS + _DEPTH_TOPICS + ("/tf", "/tf_static", "joint_states", "robot_description", "/clock"),
        reply=("reset_arena",),
        execute=("pick_place",),
    ),
    "capture_node": NodeInterfaces(
        "capture",
        publish=("observation", "~/status"),
        subscribe=_CAMERA_TOPICS + _DEPTH_TOPICS[:1] + ("/tf_static",),
        reply=("capture",),
    ),
    "hypotheses_node": NodeInterfaces(
        "hypotheses",
        publish=("hypotheses", "~/overlay", "~/markers"),
        subscribe=("model_updates",),
        reply=("propose_objects", "segment"),
    ),
    "grasp_planner_node": NodeInterfaces(
        "grasp_planner",
        publish=("interactions", "~/markers"),
        request=("capture",),
        execute=("interact",),
        call=("pick_place",),
    ),
    "labeller_node": NodeInterfaces("labeller", publish=("labelled_examples",), subscribe=("interactions",)),
    "store_writer_node": NodeInterfaces("store_writer", reply=("store_example",)),
    "trainer_node": NodeInterfaces("trainer", publish=("model_updates",)),
    "experimenter_node": NodeInterfaces(
        "experimenter",
        publish=("~/progress",),
        request=("capture", "propose_objects", "reset_arena"),
        call=("interact",),
    ),
    "push_collector_node": NodeInterfaces("push_collector", publish=("labelled_examples", "~/progress")),
    # The interseg node only; MoveItPy runs its own node (planning scene, controllers, TF) in the
    # same process, whose names depend on the arm's MoveIt configuration.
    "moveit_pick_place_node": NodeInterfaces("moveit_pick_place", execute=("pick_place",)),
    # Gazebo's entity services, bridged by ros_gz_bridge under the world's name.
    "gz_reset_arena_node": NodeInterfaces(
        "gz_reset_arena",
        reply=("reset_arena",),
        request=("/world/interseg_arena/remove", "/world/interseg_arena/create"),
    ),
    "static_transforms_node": NodeInterfaces("static_transforms", publish=("/tf_static",)),
    "talker_node": NodeInterfaces("talker", publish=("hypotheses",)),
    "listener_node": NodeInterfaces("listener", subscribe=("hypotheses",)),
}

# What a node creates besides, when a parameter of its command line (-p NAME:=VALUE, as the launch
# files pass them) is not empty: (executable, parameter) -> its names for that value.
PARAMETER_INTERFACES: dict[tuple[str, str], Callable[[str], NodeInterfaces]] = {
    # the hypotheses node segments that camera topic continuously
    ("hypotheses_node", "segment_topic"): lambda topic: NodeInterfaces(
        "", subscribe=(topic,), publish=("~/segmentation/labels", "~/segmentation/hypotheses")
    ),
    # a fleet's labeller sends its examples to the store writer (launch/fleet.launch.yaml)
    ("labeller_node", "store_service"): lambda service: NodeInterfaces("", request=(service,)),
}

# What every rclpy node creates (Jazzy/Kilted): rosout, parameter events, the parameter services
# and the type description service; with use_sim_time, a /clock subscription.
EVERY_NODE = NodeInterfaces(
    "",
    publish=("/rosout", "/parameter_events"),
    reply=tuple(
        f"~/{s}"
        for s in (
            "describe_parameters",
            "get_parameter_types",
            "get_parameters",
            "get_type_description",
            "list_parameters",
            "set_parameters",
            "set_parameters_atomically",
        )
    ),
)
SIM_TIME = NodeInterfaces("", subscribe=("/clock",))
ROS_DISCOVERY_TOPIC = "ros_discovery_info"  # rmw_fastrtps's graph topic (sros2 allows it for fastrtps)
_ACTION_SERVICES = ("cancel_goal", "get_result", "send_goal")
_ACTION_TOPICS = ("feedback", "status")


def executable_for(node_name: str) -> str:
    """The executable whose default node name is ``node_name``."""
    for executable, interfaces in NODE_INTERFACES.items():
        if interfaces.node == node_name:
            return executable
    known = ", ".join(sorted(i.node for i in NODE_INTERFACES.values()))
    raise SecurityError(
        f"no interseg node is named '{node_name}' (known: {known}); name its executable with --node /ns/name=EXECUTABLE"
    )


# -- ROS names (rcl's expansion and remapping) -----------------------------------------------

_TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def valid_absolute(name: str) -> bool:
    return name == "/" or (name.startswith("/") and all(_TOKEN.fullmatch(t) for t in name[1:].split("/")))


def split_node_name(full_name: str) -> tuple[str, str]:
    """'/robot1/capture' -> ('/robot1', 'capture'); refuses what is not a valid node name."""
    if not valid_absolute(full_name) or full_name == "/":
        raise SecurityError(f"'{full_name}' is not a fully qualified node name such as /capture or /robot1/capture")
    namespace, _, name = full_name.rpartition("/")
    return namespace or "/", name


def expand(name: str, namespace: str, node: str) -> str:
    """rcl_expand_topic_name: '~' is the node's full name, a relative name goes into the
    namespace, an absolute one stays."""
    base = namespace.rstrip("/")
    if name.startswith("~"):
        expanded = f"{base}/{node}{name[1:]}"
    elif name.startswith("/"):
        expanded = name
    else:
        expanded = f"{base}/{name}"
    if not valid_absolute(expanded):
        raise SecurityError(f"'{name}' does not expand to a valid ROS name in namespace '{namespace}' ({expanded})")
    return expanded


@dataclass(frozen=True)
class Remap:
    source: str
    target: str

    @staticmethod
    def parse(rule: str) -> Remap:
        source, sep, target = rule.partition(":=")
        if not sep or not source or not target or ":" in source:
            raise SecurityError(
                f"bad remap rule '{rule}': expected FROM:=TO (node-specific rules 'node:FROM:=TO' are not supported)"
            )
        return Remap(source, target)


def resolve(name: str, namespace: str, node: str, remaps: Iterable[Remap] = ()) -> str:
    """The name the node ends up using: expanded, then the first remap rule whose expanded
    source matches it (rcl_remap_topic_name / rcl_remap_service_name)."""
    expanded = expand(name, namespace, node)
    for rule in remaps:
        if rule.source.startswith("__"):
            continue
        if expand(rule.source, namespace, node) == expanded:
            return expand(rule.target, namespace, node)
    return expanded


# -- permissions -------------------------------------------------------------------------------


@dataclass
class NodeSpec:
    """One node to secure: its full name, its executable, remaps, use_sim_time, its enclave."""

    full_name: str
    executable: str
    remaps: tuple[Remap, ...] = ()
    sim_time: bool = False
    enclave: str | None = None  # default: the node's full name
    parameters: tuple[tuple[str, str], ...] = ()  # its command line's -p NAME:=VALUE

    @property
    def enclave_path(self) -> str:
        return self.enclave or self.full_name


@dataclass
class Permissions:
    """DDS topic names a grant allows to publish and to subscribe to."""

    publish: set[str]
    subscribe: set[str]


def node_permissions(spec: NodeSpec) -> Permissions:
    """The DDS topics of the node's own topics, services and actions, as sros2's permissions
    template names them."""
    if spec.executable not in NODE_INTERFACES:
        raise SecurityError(
            f"unknown interseg executable '{spec.executable}' (known: {', '.join(sorted(NODE_INTERFACES))})"
        )
    namespace, node = split_node_name(spec.full_name)
    parts = [NODE_INTERFACES[spec.executable], EVERY_NODE] + ([SIM_TIME] if spec.sim_time else [])
    for parameter, value in spec.parameters:
        extra = PARAMETER_INTERFACES.get((spec.executable, parameter))
        if extra is not None and value.strip("'\"") != "":
            parts.append(extra(value.strip("'\"")))
    publish: set[str] = set()
    subscribe: set[str] = set()

    def names(kind: str) -> list[str]:
        return [resolve(n, namespace, node, spec.remaps) for part in parts for n in getattr(part, kind)]

    for topic in names("publish"):
        publish.add(f"rt{topic}")
    for topic in names("subscribe"):
        subscribe.add(f"rt{topic}")
    for service in names("reply"):
        publish.add(f"rr{service}Reply")
        subscribe.add(f"rq{service}Request")
    for service in names("request"):
        publish.add(f"rq{service}Request")
        subscribe.add(f"rr{service}Reply")
    for action in names("execute"):
        publish.update(f"rr{action}/_action/{s}Reply" for s in _ACTION_SERVICES)
        publish.update(f"rt{action}/_action/{t}" for t in _ACTION_TOPICS)
        subscribe.update(f"rq{action}/_action/{s}Request" for s in _ACTION_SERVICES)
    for action in names("call"):
        publish.update(f"rq{action}/_action/{s}Request" for s in _ACTION_SERVICES)
        subscribe.update(f"rr{action}/_action/{s}Reply" for s in _ACTION_SERVICES)
        subscribe.update(f"rt{action}/_action/{t}" for t in _ACTION_TOPICS)
    return Permissions(publish, subscribe)
