"""`interseg topics` and `interseg echo`: look at a running graph without the `ros2` command.

Messages are summarised for humans: images show size and encoding instead of raw bytes, long
arrays show their length.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from typing import Any

import rclpy
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import QoSDurabilityPolicy, QoSProfile, QoSReliabilityPolicy, qos_profile_sensor_data

from interseg.nodes.common import ignore_interrupts, init_ros

MAX_LIST_ITEMS = 8


def message_class(type_name: str):
    """'pkg/msg/Type' -> the Python class, with a clear error when it is not installed."""
    try:
        package, kind, name = type_name.split("/")
        return getattr(importlib.import_module(f"{package}.{kind}"), name)
    except (ValueError, ImportError, AttributeError):
        raise LookupError(f"message type '{type_name}' is not installed here") from None


def summarize(value: Any, indent: int = 0) -> list[str]:
    """Readable lines for a message: images and long arrays are summarised, not dumped."""
    pad = "  " * indent
    if hasattr(value, "get_fields_and_field_types"):
        fields = value.get_fields_and_field_types()
        if "encoding" in fields and "data" in fields and "height" in fields:  # sensor_msgs/Image
            lines = [
                f"{pad}image: {value.width}x{value.height} {value.encoding or '(no encoding)'}, {len(value.data)} bytes"
            ]
            lines += [f"{pad}header:"] + summarize(value.header, indent + 1)
            return lines
        lines = []
        for name in fields:
            child = getattr(value, name)
            if hasattr(child, "get_fields_and_field_types") or (
                isinstance(child, (list, tuple)) and child and hasattr(child[0], "get_fields_and_field_types")
            ):
                lines.append(f"{pad}{name}:")
                lines += summarize(child, indent + 1)
            else:
                lines.append(f"{pad}{name}: {_scalar(child)}")
        return lines
    if isinstance(value, (list, tuple)):
        lines = []
        for index, item in enumerate(value[:MAX_LIST_ITEMS]):
            lines.append(f"{pad}- [{index}]")
            lines += summarize(item, indent + 1)
        if len(value) > MAX_LIST_ITEMS:
            lines.append(f"{pad}... {len(value) - MAX_LIST_ITEMS} more")
        return lines
    return [f"{pad}{_scalar(value)}"]


def _scalar(value: Any) -> str:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return f"<{len(value)} bytes>"
    if hasattr(value, "__len__") and not isinstance(value, str):
        items = list(value)
        if len(items) > MAX_LIST_ITEMS:
            return f"[{len(items)} items: {', '.join(_short(v) for v in items[:4])}, ...]"
        return "[" + ", ".join(_short(v) for v in items) + "]"
    return _short(value)


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, str):
        return repr(value) if len(value) < 200 else repr(value[:200] + "...")
    return str(value)


def _spin_for(node: Node, seconds: float) -> None:
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and rclpy.ok():
        executor.spin_once(timeout_sec=0.05)
    executor.remove_node(node)


def topics_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="interseg topics", description="List topics on this ROS domain with their types and endpoint counts."
    )
    parser.add_argument("--wait", type=float, default=1.5, help="seconds to wait for discovery (default 1.5)")
    parser.add_argument("--include-hidden", action="store_true", help="also list hidden topics (/_...)")
    args = parser.parse_args(argv)
    init_ros([])
    node = Node("interseg_topics", start_parameter_services=False)
    try:
        _spin_for(node, args.wait)
        rows = []
        for name, types in sorted(node.get_topic_names_and_types()):
            if not args.include_hidden and any(part.startswith("_") for part in name.split("/")):
                continue
            publishers = [i for i in node.get_publishers_info_by_topic(name) if i.node_name != node.get_name()]
            subscribers = [i for i in node.get_subscriptions_info_by_topic(name) if i.node_name != node.get_name()]
            rows.append((name, ", ".join(types), len(publishers), len(subscribers)))
        if not rows:
            print("no topics found (is anything running on ROS_DOMAIN_ID with the same DDS profile?)")
            return 1
        width = max(len(r[0]) for r in rows)
        type_width = max(len(r[1]) for r in rows)
        print(f"{'topic':<{width}}  {'type':<{type_width}}  publishers  subscribers")
        for name, types, pubs, subs in rows:
            print(f"{name:<{width}}  {types:<{type_width}}  {pubs:>10}  {subs:>11}")
        return 0
    finally:
        node.destroy_node()
        rclpy.try_shutdown()


def echo_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="interseg echo", description="Print a summary of each message on a topic.")
    parser.add_argument("topic")
    parser.add_argument("--once", action="store_true", help="exit after the first message")
    parser.add_argument("--count", type=int, default=0, help="exit after N messages (0: never)")
    parser.add_argument(
        "--timeout",
        type=float,
        default=0.0,
        help="give up after S seconds without the topic or a message (0: wait forever)",
    )
    parser.add_argument(
        "--type", dest="type_name", help="message type, e.g. sensor_msgs/msg/Image (default: from the graph)"
    )
    args = parser.parse_args(argv)
    limit = 1 if args.once else args.count
    init_ros([])
    node = Node("interseg_echo", start_parameter_services=False)
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    received = 0
    start = time.monotonic()

    def timed_out() -> bool:
        return args.timeout > 0 and time.monotonic() - start > args.timeout

    try:
        type_name = args.type_name
        while type_name is None:
            types = dict(node.get_topic_names_and_types()).get(args.topic)
            if types:
                type_name = types[0]
                break
            if timed_out():
                print(f"interseg echo: topic {args.topic} not found", file=sys.stderr)
                return 1
            executor.spin_once(timeout_sec=0.1)
        cls = message_class(type_name)
        publishers = node.get_publishers_info_by_topic(args.topic)
        reliable = all(p.qos_profile.reliability == QoSReliabilityPolicy.RELIABLE for p in publishers) and publishers
        latched = any(p.qos_profile.durability == QoSDurabilityPolicy.TRANSIENT_LOCAL for p in publishers)
        qos = QoSProfile(
            depth=10,
            reliability=QoSReliabilityPolicy.RELIABLE if reliable else QoSReliabilityPolicy.BEST_EFFORT,
            durability=QoSDurabilityPolicy.TRANSIENT_LOCAL if latched else QoSDurabilityPolicy.VOLATILE,
        )
        if not reliable and not latched:
            qos = qos_profile_sensor_data

        def on_message(msg) -> None:
            nonlocal received
            received += 1
            print("\n".join(summarize(msg)) + "\n---", flush=True)

        node.create_subscription(cls, args.topic, on_message, qos)
        while rclpy.ok() and not (limit and received >= limit):
            if timed_out() and received == 0:
                print(f"interseg echo: no message on {args.topic} within {args.timeout:g} s", file=sys.stderr)
                return 1
            executor.spin_once(timeout_sec=0.1)
        return 0
    except (KeyboardInterrupt, ExternalShutdownException):
        return 0
    except LookupError as exc:
        print(f"interseg echo: {exc}", file=sys.stderr)
        return 2
    finally:
        ignore_interrupts()
        executor.shutdown()
        node.destroy_node()
        rclpy.try_shutdown()
