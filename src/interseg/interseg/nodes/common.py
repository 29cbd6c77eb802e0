"""What every interseg node shares: start-up and clean teardown, declared parameters."""
from __future__ import annotations

import sys
from typing import Any, Callable

import rclpy
from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor
from rclpy.node import Node
from rclpy.qos import QoSDurabilityPolicy, QoSProfile, QoSReliabilityPolicy

# Model announcements are latched: a hypotheses node that starts (or restarts) later still gets
# the newest version.
MODEL_UPDATE_QOS = QoSProfile(depth=1, reliability=QoSReliabilityPolicy.RELIABLE, durability=QoSDurabilityPolicy.TRANSIENT_LOCAL)


def declare(node: Node, name: str, default: Any, description: str, *, minimum: float | None = None, maximum: float | None = None, read_only: bool = False) -> Any:
    """Declare a parameter with a description (and range for numbers); return its value."""
    descriptor = ParameterDescriptor(description=description, read_only=read_only)
    if minimum is not None or maximum is not None:
        if isinstance(default, bool):
            pass
        elif isinstance(default, int):
            descriptor.integer_range = [IntegerRange(from_value=int(minimum if minimum is not None else -(2**31)), to_value=int(maximum if maximum is not None else 2**31 - 1), step=0)]
        elif isinstance(default, float):
            descriptor.floating_point_range = [FloatingPointRange(from_value=float(minimum if minimum is not None else -1e300), to_value=float(maximum if maximum is not None else 1e300), step=0.0)]
    return node.declare_parameter(name, default, descriptor).value


def run_node(factory: Callable[[], Node], args: list[str] | None = None, threads: int = 4) -> int:
    """Create the node, spin it on a multi-threaded executor until Ctrl-C / SIGTERM or until the
    node's ``finished`` future (if it has one) completes; tear down in the order rclpy needs."""
    rclpy.init(args=sys.argv if args is None else args)
    node: Node | None = None
    executor = MultiThreadedExecutor(num_threads=threads)
    exit_code = 0
    try:
        node = factory()
        executor.add_node(node)
        finished = getattr(node, "finished", None)
        if finished is not None:
            executor.spin_until_future_complete(finished)
            exit_code = int(finished.result() or 0) if finished.done() else 0
        else:
            executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except Exception as exc:  # a node that cannot start: one clear line and a non-zero exit
        if node is None:
            print(f"{getattr(factory, '__name__', 'node')}: failed to start: {exc}", file=sys.stderr)
            exit_code = 1
        else:
            raise
    finally:
        executor.shutdown()
        if node is not None:
            close = getattr(node, "close", None)
            if callable(close):
                close()
            node.destroy_node()
        rclpy.try_shutdown()
    return exit_code
