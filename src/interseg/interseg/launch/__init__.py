"""A supervisor for ROS 2 YAML launch files, for machines without ROS 2 launch (ROS-free)."""
