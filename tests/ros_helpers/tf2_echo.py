"""A test process that republishes every tf2_msgs/TFMessage it receives on ``tf_in`` unchanged on
``tf_out``: the other half of a round trip across a real process boundary."""

import sys

from rclpy.node import Node
from tf2_msgs.msg import TFMessage

from interseg.nodes.common import run_node


class Echo(Node):
    def __init__(self):
        super().__init__("tf2_echo")
        self.publisher = self.create_publisher(TFMessage, "tf_out", 10)
        self.create_subscription(TFMessage, "tf_in", self.publisher.publish, 10)


if __name__ == "__main__":
    sys.exit(run_node(Echo, sys.argv))
