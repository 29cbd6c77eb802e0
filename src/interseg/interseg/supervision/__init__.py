"""Reads ROS 2 launch files (the YAML front end) and supervises the processes they describe, for
machines without ROS 2 launch (ROS-free): ``interseg launch``."""
