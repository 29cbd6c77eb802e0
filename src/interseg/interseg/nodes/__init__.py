"""ROS 2 nodes and ROS-side tools: the only part of interseg that imports rclpy."""
