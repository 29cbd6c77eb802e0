#!/usr/bin/env bash
set -e
. /opt/ros/jazzy/setup.sh
. /ws/install/setup.sh
exec "$@"
