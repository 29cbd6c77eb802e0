"""What an rviz2 configuration subscribes to, and the same configuration for a namespaced robot
(ROS-free: the .rviz file is YAML).

rviz cannot run on the machines this project is tested on, so its contract is checked instead:
:func:`display_subscriptions` lists every topic the displays of a .rviz file subscribe to, with
the message type and QoS each display asks for, which a test compares with a running graph.

`interseg rviz-config --namespace /robot1 --out robot1.rviz` writes the configuration for a
robot whose graph runs in a namespace (sim.launch.yaml's ``namespace`` argument): every absolute
topic of a display moves under the namespace, and it prints the rviz2 command line that also
remaps /tf and /tf_static into it, as the launch file does for the robot's nodes.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

# rviz_default_plugins display class -> message type of its topic.
DISPLAY_TYPES = {
    "rviz_default_plugins/Image": "sensor_msgs/msg/Image",
    "rviz_default_plugins/Camera": "sensor_msgs/msg/Image",
    "rviz_default_plugins/Marker": "visualization_msgs/msg/Marker",
    "rviz_default_plugins/MarkerArray": "visualization_msgs/msg/MarkerArray",
    "rviz_default_plugins/RobotModel": "std_msgs/msg/String",
    "rviz_default_plugins/PointCloud2": "sensor_msgs/msg/PointCloud2",
    "rviz_default_plugins/Pose": "geometry_msgs/msg/PoseStamped",
}
TOPIC_KEYS = ("Topic", "Description Topic")  # where a display keeps its topic and QoS
NO_TOPIC = {"rviz_default_plugins/Grid", "rviz_default_plugins/TF", "rviz_default_plugins/Axes"}
TF_TYPE = "tf2_msgs/msg/TFMessage"


@dataclass(frozen=True)
class Subscription:
    display: str  # the display's name in the configuration
    topic: str
    message_type: str
    reliability: str = "reliable"  # or best_effort
    durability: str = "volatile"  # or transient_local
    depth: int = 5


def _qos_word(value: Any, default: str) -> str:
    return str(value).strip().lower().replace(" ", "_") if value is not None else default


def load_config(path: str | Path) -> dict:
    try:
        config = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"{path}: cannot read the rviz configuration: {exc}") from None
    if not isinstance(config, dict) or not isinstance(config.get("Visualization Manager"), dict):
        raise ValueError(f"{path}: not an rviz2 configuration (no 'Visualization Manager')")
    return config


def _walk_displays(displays: list) -> list[dict]:
    found = []
    for display in displays or []:
        found.append(display)
        if display.get("Class") == "rviz_common/Group":
            found += _walk_displays(display.get("Displays", []))
    return found


def displays(config: dict) -> list[dict]:
    return _walk_displays(config["Visualization Manager"].get("Displays", []))


def fixed_frame(config: dict) -> str:
    return str(config["Visualization Manager"].get("Global Options", {}).get("Fixed Frame", "map"))


def display_subscriptions(config: dict, *, enabled_only: bool = False) -> list[Subscription]:
    """Every subscription the displays make: their topics, plus /tf and /tf_static (rviz's frame
    manager always listens, with tf2_ros's listener QoS) and each Camera display's camera_info.
    Raises ValueError for a display class whose topic is unknown here."""
    result = [
        Subscription("(tf2 listener)", "/tf", TF_TYPE, depth=100),
        Subscription("(tf2 listener)", "/tf_static", TF_TYPE, durability="transient_local", depth=100),
    ]
    for display in displays(config):
        kind, name = display.get("Class", ""), display.get("Name", "")
        if enabled_only and not display.get("Enabled", True):
            continue
        if kind in NO_TOPIC or kind == "rviz_common/Group":
            continue
        if kind not in DISPLAY_TYPES:
            raise ValueError(f"display {name!r}: class {kind} is not known to this check")
        if kind == "rviz_default_plugins/RobotModel" and display.get("Description Source", "Topic") != "Topic":
            continue
        key = next((k for k in TOPIC_KEYS if isinstance(display.get(k), dict)), None)
        if key is None:
            raise ValueError(f"display {name!r}: no topic")
        topic = display[key]
        subscription = Subscription(
            name,
            str(topic.get("Value", "")),
            DISPLAY_TYPES[kind],
            _qos_word(topic.get("Reliability Policy"), "reliable"),
            _qos_word(topic.get("Durability Policy"), "volatile"),
            int(topic.get("Depth", 5)),
        )
        result.append(subscription)
        if kind == "rviz_default_plugins/Camera":  # camera_info beside the image, as image_transport finds it
            info_topic = subscription.topic.rsplit("/", 1)[0] + "/camera_info"
            result.append(
                Subscription(
                    name,
                    info_topic,
                    "sensor_msgs/msg/CameraInfo",
                    subscription.reliability,
                    subscription.durability,
                    subscription.depth,
                )
            )
    return result


def namespaced(config: dict, namespace: str) -> dict:
    """A copy of ``config`` whose absolute display topics live under ``namespace``."""
    namespace = "/" + namespace.strip("/") if namespace.strip("/") else ""
    copy = yaml.safe_load(yaml.safe_dump(config))
    for display in displays(copy):
        for key in TOPIC_KEYS:
            topic = display.get(key)
            if isinstance(topic, dict) and str(topic.get("Value", "")).startswith("/"):
                topic["Value"] = namespace + topic["Value"]
    return copy


def rviz_command(config_path: str | Path, namespace: str) -> str:
    namespace = "/" + namespace.strip("/") if namespace.strip("/") else ""
    remaps = f" --ros-args -r /tf:={namespace}/tf -r /tf_static:={namespace}/tf_static" if namespace else ""
    return f"rviz2 -d {config_path}{remaps}"


def main(argv: list[str] | None = None) -> int:
    from interseg.paths import config_file

    parser = argparse.ArgumentParser(
        prog="interseg rviz-config",
        description="Write config/interseg.rviz for a robot whose graph runs in a namespace.",
    )
    parser.add_argument("--namespace", required=True, help="namespace of the robot's graph, e.g. /robot1")
    parser.add_argument(
        "--config", type=Path, default=None, help="rviz configuration to start from (default config/interseg.rviz)"
    )
    parser.add_argument("--out", type=Path, required=True, help="where to write the namespaced configuration")
    args = parser.parse_args(argv)
    try:
        source = args.config or config_file("interseg.rviz")
        config = load_config(source)
    except (ValueError, FileNotFoundError) as exc:
        print(f"interseg rviz-config: {exc}", file=sys.stderr)
        return 2
    args.out.write_text(yaml.safe_dump(namespaced(config, args.namespace), sort_keys=False))
    print(f"wrote {args.out}; start rviz with:\n  {rviz_command(args.out, args.namespace)}")
    return 0
