"""ROS 2 nodes and ROS-side tools: the only part of interseg that imports rclpy.

Every interseg process that speaks DDS imports this package first, so this is where a process
asked for DDS Security (ROS_SECURITY_ENABLE=true) on a middleware without the security plugins
stops, with one line and exit code 2, before rclpy is loaded (interseg.rosenv)."""

import os as _os
import sys as _sys

from interseg.rosenv import refuse_unsupported_security as _refuse_unsupported_security

_program = _os.path.basename(_sys.argv[0]) if _sys.argv and _sys.argv[0] else ""
_refuse_unsupported_security("interseg" if not _program or _program.endswith(".py") or _program == "-c" else _program)
