"""TF on the wire: the QoS tf2_ros uses, and a listener that feeds a static transform tree.

tf2_ros publishes static transforms reliable + transient local with history depth 1 (each
broadcaster sends everything it knows in one TFMessage, so the last message is the whole set)
and listens with depth 100; dynamic transforms are reliable, volatile, depth 100. The names are
absolute (``/tf``, ``/tf_static``); a launch file that runs several robots in one DDS domain
remaps them into each robot's namespace (``/tf:=tf``), as navigation2 does.
"""

from __future__ import annotations

from rclpy.node import Node
from rclpy.qos import QoSDurabilityPolicy, QoSHistoryPolicy, QoSProfile, QoSReliabilityPolicy
from tf2_msgs.msg import TFMessage

from interseg.nodes.convert import msg_to_transform, transform_to_msg
from interseg.transforms import Transform, TransformError, TransformTree

TF_TOPIC = "/tf"
TF_STATIC_TOPIC = "/tf_static"

STATIC_BROADCASTER_QOS = QoSProfile(
    depth=1,
    history=QoSHistoryPolicy.KEEP_LAST,
    reliability=QoSReliabilityPolicy.RELIABLE,
    durability=QoSDurabilityPolicy.TRANSIENT_LOCAL,
)
STATIC_LISTENER_QOS = QoSProfile(
    depth=100,
    history=QoSHistoryPolicy.KEEP_LAST,
    reliability=QoSReliabilityPolicy.RELIABLE,
    durability=QoSDurabilityPolicy.TRANSIENT_LOCAL,
)
DYNAMIC_QOS = QoSProfile(
    depth=100,
    history=QoSHistoryPolicy.KEEP_LAST,
    reliability=QoSReliabilityPolicy.RELIABLE,
    durability=QoSDurabilityPolicy.VOLATILE,
)


def tf_message(transforms: list[Transform], stamp) -> TFMessage:
    return TFMessage(transforms=[transform_to_msg(t, stamp) for t in transforms])


class StaticTransformListener:
    """Subscribes to ``/tf_static`` and keeps every transform in ``tree`` (cameras are static).

    Malformed transforms (NaN, a non-unit quaternion, an empty frame, a loop) are skipped with a
    logged reason; the rest of the message is still used."""

    def __init__(self, node: Node, tree: TransformTree | None = None, callback_group=None):
        self.node = node
        self.tree = tree if tree is not None else TransformTree()
        self.refused = 0
        self.subscription = node.create_subscription(
            TFMessage, TF_STATIC_TOPIC, self.on_message, STATIC_LISTENER_QOS, callback_group=callback_group
        )

    def on_message(self, msg: TFMessage) -> None:
        problems = []
        for item in msg.transforms:
            try:
                transform = msg_to_transform(item)
            except TransformError as exc:
                problems.append(str(exc))
                continue
            problems += self.tree.set_all([transform])
        if problems:
            self.refused += len(problems)
            self.node.get_logger().warning(
                f"ignored {len(problems)} static transform(s): {problems[0]}", throttle_duration_sec=5.0
            )
