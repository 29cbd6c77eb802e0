"""What every interseg node shares: start-up and clean teardown, declared parameters."""
from __future__ import annotations

import signal
import sys
from typing import Any, Callable

import rclpy
from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
from rclpy.exceptions import InvalidParameterTypeException
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor
from rclpy.node import Node
from rclpy.qos import QoSDurabilityPolicy, QoSProfile, QoSReliabilityPolicy
from rclpy.signals import SignalHandlerOptions

# Model announcements are latched: a hypotheses node that starts (or restarts) later still gets
# the newest version.
MODEL_UPDATE_QOS = QoSProfile(depth=1, reliability=QoSReliabilityPolicy.RELIABLE, durability=QoSDurabilityPolicy.TRANSIENT_LOCAL)


_TYPE_WORDS = {bool: "a boolean", int: "an integer", float: "a number (double)", str: "a string"}


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _type_word(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        inner = _TYPE_WORDS.get(type(value[0]), type(value[0]).__name__) if value else "nothing"
        return f"a list of {inner.split(' (')[0].removeprefix('a ').removeprefix('an ')}s"
    return _TYPE_WORDS.get(type(value), type(value).__name__)


def declare(node: Node, name: str, default: Any, description: str, *, minimum: float | None = None, maximum: float | None = None, read_only: bool = False) -> Any:
    """Declare a parameter with a description (and range for numbers); return its value.

    A double parameter given an integer (``-p max_minutes:=4``, ``max_minutes: 4`` in a params
    file, ``max_minutes:=4`` through a launch file, where ros2 launch types it the same way)
    takes it as that number (4.0); so does a list of doubles given integers. Any other type
    mismatch stops the node with one line naming the parameter, what it got and what it needs."""
    descriptor = ParameterDescriptor(description=description, read_only=read_only)
    if minimum is not None or maximum is not None:
        if isinstance(default, bool):
            pass
        elif isinstance(default, int):
            descriptor.integer_range = [IntegerRange(from_value=int(minimum if minimum is not None else -(2**31)), to_value=int(maximum if maximum is not None else 2**31 - 1), step=0)]
        elif isinstance(default, float):
            descriptor.floating_point_range = [FloatingPointRange(from_value=float(minimum if minimum is not None else -1e300), to_value=float(maximum if maximum is not None else 1e300), step=0.0)]
    value, ignore_override = default, False
    override = getattr(node, "_parameter_overrides", {}).get(name)  # --params-file / -p values for this node
    if override is not None:
        given = override.value
        double_list = isinstance(default, (list, tuple)) and default and all(isinstance(v, float) for v in default)
        if isinstance(default, float) and _is_int(given):
            value, ignore_override = float(given), True
        elif double_list and isinstance(given, (list, tuple)) and given and all(_is_int(v) for v in given):
            value, ignore_override = [float(v) for v in given], True
    try:
        return node.declare_parameter(name, value, descriptor, ignore_override=ignore_override).value
    except InvalidParameterTypeException:
        given = override.value if override is not None else None
        raise ValueError(f"parameter '{name}' must be {_type_word(default)}, got {given!r} ({_type_word(given)})") from None


def _interrupt(signum: int, _frame) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def init_ros(args: list[str] | None = None) -> None:
    """``rclpy.init`` for an interseg process, with Ctrl-C / SIGTERM handled in Python.

    rclpy's own handlers shut the context down from a background thread that then triggers every
    executor's wake-up guard condition; when the main thread has already torn its executor down
    (after the KeyboardInterrupt the same signal raised), that thread touches a freed guard
    condition and the process dies with SIGSEGV instead of exiting 0. Here SIGINT and SIGTERM
    just raise KeyboardInterrupt in the main thread (whose spin loops wake at least every
    ``SPIN_SLICE_S``) and the teardown runs in order, on one thread."""
    rclpy.init(args=sys.argv if args is None else args, signal_handler_options=SignalHandlerOptions.NO)
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)


def ignore_interrupts() -> None:
    """During teardown a second Ctrl-C must not cut the closing of stores and handles short."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


SPIN_SLICE_S = 0.2  # the longest the main thread waits inside rcl before it can see a signal


def run_node(factory: Callable[[], Node], args: list[str] | None = None, threads: int = 4) -> int:
    """Create the node, spin it on a multi-threaded executor until Ctrl-C / SIGTERM or until the
    node's ``finished`` future (if it has one) completes; tear down in the order rclpy needs."""
    init_ros(args)
    node: Node | None = None
    executor = MultiThreadedExecutor(num_threads=threads)
    exit_code = 0
    try:
        node = factory()
        executor.add_node(node)
        finished = getattr(node, "finished", None)
        while rclpy.ok() and not (finished is not None and finished.done()):
            executor.spin_once(timeout_sec=SPIN_SLICE_S)
        if finished is not None and finished.done():
            exit_code = int(finished.result() or 0)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except Exception as exc:  # a node that cannot start: one clear line and a non-zero exit
        if node is None:
            print(f"{getattr(factory, '__name__', 'node')}: failed to start: {exc}", file=sys.stderr)
            exit_code = 1
        else:
            raise
    finally:
        ignore_interrupts()
        executor.shutdown()
        if node is not None:
            close = getattr(node, "close", None)
            if callable(close):
                close()
            node.destroy_node()
        rclpy.try_shutdown()
    return exit_code
