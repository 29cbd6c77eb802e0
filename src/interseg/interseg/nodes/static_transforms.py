"""static_transforms: publishes measured poses (a camera calibration) on /tf_static.

On a real robot the camera extrinsics come from whatever already publishes them: a URDF with
the camera mounts (robot_state_publisher), a hand-eye calibration package, or this node, which
reads a YAML file of measured poses (format: :func:`interseg.transforms.load_transforms_file`;
example: config/cameras.yaml) and publishes them once, latched, the way tf2_ros's static
broadcaster does, so that nodes and rviz started later still receive them.

Published topics:
  /tf_static (tf2_msgs/TFMessage, reliable + transient local): every transform of the file, in one message
Parameters:
  transforms_file (string): the YAML file; a missing or malformed file stops the node at start
      with one line naming the file and the entry
"""

from __future__ import annotations

from rclpy.node import Node
from tf2_msgs.msg import TFMessage

from interseg.nodes.common import declare, run_node
from interseg.nodes.tf import STATIC_BROADCASTER_QOS, TF_STATIC_TOPIC, tf_message
from interseg.transforms import load_transforms_file


class StaticTransforms(Node):
    def __init__(self) -> None:
        super().__init__("static_transforms")
        path = declare(
            self,
            "transforms_file",
            "",
            "YAML file of measured static transforms (see config/cameras.yaml)",
            read_only=True,
        )
        if not path:
            raise ValueError("parameter 'transforms_file' is empty: give the YAML file of your camera poses")
        self.transforms = load_transforms_file(path)
        self.publisher = self.create_publisher(TFMessage, TF_STATIC_TOPIC, STATIC_BROADCASTER_QOS)
        self.publisher.publish(tf_message(self.transforms, self.get_clock().now().to_msg()))
        frames = ", ".join(f"{t.parent} -> {t.child}" for t in self.transforms)
        self.get_logger().info(f"publishing {len(self.transforms)} static transform(s) from {path}: {frames}")


def main(args: list[str] | None = None) -> int:
    return run_node(StaticTransforms, args)


if __name__ == "__main__":
    raise SystemExit(main())
