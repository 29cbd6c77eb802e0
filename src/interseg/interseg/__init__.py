"""interseg: learning instance segmentation by interaction.

Package layout: everything outside ``interseg.nodes`` is ROS-free (no rclpy import); nodes are
thin translators between ROS messages and that core.
"""

__version__ = "0.1.0"
