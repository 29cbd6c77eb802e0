"""`interseg record`: write chosen topics to a rosbag2 MCAP bag (ros2 bag cannot be installed
from wheels). Messages are stored exactly as they arrive (serialized CDR), so the bag plays back
with `ros2 bag play` on a full install and reads with the `rosbags` library anywhere.

  interseg record -o runs/bag /hypotheses /interactions /cameras/cam0/image_raw --duration 60
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import rclpy
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import QoSDurabilityPolicy, QoSProfile, QoSReliabilityPolicy

from interseg.cli_args import ArgumentParser, non_negative_float, non_negative_int
from interseg.nodes.common import ignore_interrupts, init_ros
from interseg.nodes.introspection import message_class


def interface_typestore():
    """rosbags' Kilted type store plus interseg_interfaces' definitions (read from the install)."""
    from ament_index_python.packages import get_package_share_directory
    from rosbags.typesys import Stores, get_types_from_msg, get_typestore

    store = get_typestore(Stores.ROS2_KILTED)
    share = Path(get_package_share_directory("interseg_interfaces"))
    pending = {f"interseg_interfaces/msg/{p.stem}": p.read_text() for p in sorted((share / "msg").glob("*.msg"))}
    types = {}
    for name, text in pending.items():
        types.update(get_types_from_msg(text, name))
    store.register(types)
    return store


def record_main(argv: list[str]) -> int:
    parser = ArgumentParser(prog="interseg record", description="Record topics to a rosbag2 MCAP bag.")
    parser.add_argument("topics", nargs="+", help="topics to record")
    parser.add_argument("-o", "--output", type=Path, required=True, help="bag folder to create (must not exist)")
    parser.add_argument(
        "--duration", type=non_negative_float, default=0.0, help="stop after S seconds (0: until Ctrl-C)"
    )
    parser.add_argument(
        "--max-messages", type=non_negative_int, default=0, help="stop after N messages in total (0: no limit)"
    )
    parser.add_argument(
        "--wait", type=non_negative_float, default=10.0, help="seconds to wait for the topics to appear"
    )
    args = parser.parse_args(argv)
    if args.output.exists():
        print(f"interseg record: {args.output} already exists", file=sys.stderr)
        return 2
    from rosbags.rosbag2 import StoragePlugin, Writer

    typestore = interface_typestore()
    init_ros([])
    node = Node("interseg_record", start_parameter_services=False)
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    count = 0
    try:
        deadline = time.monotonic() + args.wait
        types: dict[str, str] = {}
        while time.monotonic() < deadline and len(types) < len(args.topics):
            graph = dict(node.get_topic_names_and_types())
            types = {t: graph[t][0] for t in args.topics if t in graph}
            executor.spin_once(timeout_sec=0.1)
        missing = [t for t in args.topics if t not in types]
        if missing:
            print(f"interseg record: topics not found within {args.wait:g} s: {', '.join(missing)}", file=sys.stderr)
            return 1
        unknown = [t for t, ty in types.items() if ty not in typestore.types]
        if unknown:
            print(
                f"interseg record: no definition for {', '.join(f'{t} ({types[t]})' for t in unknown)}", file=sys.stderr
            )
            return 2
        with Writer(args.output, version=9, storage_plugin=StoragePlugin.MCAP) as bag:
            connections = {}

            def make_callback(topic: str):
                def on_message(data: bytes) -> None:
                    nonlocal count
                    bag.write(connections[topic], time.time_ns(), data)
                    count += 1

                return on_message

            for topic, type_name in types.items():
                publishers = node.get_publishers_info_by_topic(topic)
                reliable = bool(publishers) and all(
                    p.qos_profile.reliability == QoSReliabilityPolicy.RELIABLE for p in publishers
                )
                latched = any(p.qos_profile.durability == QoSDurabilityPolicy.TRANSIENT_LOCAL for p in publishers)
                qos = QoSProfile(
                    depth=50,
                    reliability=QoSReliabilityPolicy.RELIABLE if reliable else QoSReliabilityPolicy.BEST_EFFORT,
                    durability=QoSDurabilityPolicy.TRANSIENT_LOCAL if latched else QoSDurabilityPolicy.VOLATILE,
                )
                connections[topic] = bag.add_connection(topic, type_name, typestore=typestore)
                node.create_subscription(message_class(type_name), topic, make_callback(topic), qos, raw=True)
            print(f"recording {len(types)} topics to {args.output}", flush=True)
            start = time.monotonic()
            while rclpy.ok():
                if args.duration and time.monotonic() - start >= args.duration:
                    break
                if args.max_messages and count >= args.max_messages:
                    break
                executor.spin_once(timeout_sec=0.1)
        print(f"recorded {count} messages", flush=True)
        return 0
    except (KeyboardInterrupt, ExternalShutdownException):
        print(f"recorded {count} messages", flush=True)
        return 0
    finally:
        ignore_interrupts()
        executor.shutdown()
        node.destroy_node()
        rclpy.try_shutdown()
