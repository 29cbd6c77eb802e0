"""What every interseg node shares: start-up and clean teardown, declared parameters."""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Callable
from typing import Any, NoReturn

import rclpy
from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
from rclpy.exceptions import InvalidParameterTypeException
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor
from rclpy.node import Node
from rclpy.qos import QoSDurabilityPolicy, QoSProfile, QoSReliabilityPolicy
from rclpy.signals import SignalHandlerOptions

# Model announcements are latched: a hypotheses node that starts (or restarts) later still gets
# the newest version.
MODEL_UPDATE_QOS = QoSProfile(
    depth=1, reliability=QoSReliabilityPolicy.RELIABLE, durability=QoSDurabilityPolicy.TRANSIENT_LOCAL
)


_TYPE_WORDS = {bool: "a boolean", int: "an integer", float: "a number (double)", str: "a string"}


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _type_word(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        inner = _TYPE_WORDS.get(type(value[0]), type(value[0]).__name__) if value else "nothing"
        return f"a list of {inner.split(' (')[0].removeprefix('a ').removeprefix('an ')}s"
    return _TYPE_WORDS.get(type(value), type(value).__name__)


def declare(
    node: Node,
    name: str,
    default: Any,
    description: str,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    read_only: bool = False,
) -> Any:
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
            descriptor.integer_range = [
                IntegerRange(
                    from_value=int(minimum if minimum is not None else -(2**31)),
                    to_value=int(maximum if maximum is not None else 2**31 - 1),
                    step=0,
                )
            ]
        elif isinstance(default, float):
            descriptor.floating_point_range = [
                FloatingPointRange(
                    from_value=float(minimum if minimum is not None else -1e300),
                    to_value=float(maximum if maximum is not None else 1e300),
                    step=0.0,
                )
            ]
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
        raise ValueError(
            f"parameter '{name}' must be {_type_word(default)}, got {given!r} ({_type_word(given)})"
        ) from None


def _interrupt(signum: int, _frame) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def init_ros(args: list[str] | None = None) -> None:
    """``rclpy.init`` for an interseg command-line tool, with Ctrl-C / SIGTERM handled in Python.

    rclpy's own handlers shut the context down from a background thread that then triggers every
    executor's wake-up guard condition; when the main thread has already torn its executor down
    (after the KeyboardInterrupt the same signal raised), that thread touches a freed guard
    condition and the process dies with SIGSEGV instead of exiting 0. Here SIGINT and SIGTERM
    just raise KeyboardInterrupt in the main thread (whose spin loops wake at least every
    ``SPIN_SLICE_S``) and the teardown runs in order, on one thread. Nodes use ``run_node``,
    which records the signal instead and winds the node down in order."""
    rclpy.init(args=sys.argv if args is None else args, signal_handler_options=SignalHandlerOptions.NO)
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)


def ignore_interrupts() -> None:
    """During teardown a second Ctrl-C must not cut the closing of stores and handles short."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


SPIN_SLICE_S = 0.2  # the longest the main thread waits inside rcl before it can see a signal
STOP_GRACE_S = 2.0  # after a stop signal: how long a node's work (a grasp, a request) may take to wind down
STOP_SHUTDOWN_S = 0.5  # the executor's shutdown waits this long for a callback that started after the last look


def _callbacks_running(executor: MultiThreadedExecutor) -> int:
    """Callbacks the executor has handed to its threads that have not returned yet, and tasks it
    has queued but not started (an action server sends a goal's result from a done-callback that
    rclpy queues as a task when the execute callback returns: shutting down before that task ran
    loses the result).

    rclpy keeps these in ``_futures`` (MultiThreadedExecutor) and ``_tasks`` and offers no public
    way to ask; without them the count is 0 and only the node's own ``busy()`` is waited for."""
    running = sum(1 for future in list(getattr(executor, "_futures", ())) if not future.done())
    queued = sum(1 for task, *_ in list(getattr(executor, "_tasks", ())) if not task.done() and not task.executing())
    return running + queued


def _shutdown_executor(executor: MultiThreadedExecutor, timeout_s: float) -> bool:
    """Shut the executor down, waiting at most ``timeout_s`` for callbacks still running; False
    when one still runs (its thread is then not joined: the process exits without it)."""
    try:
        return bool(executor.shutdown(timeout_sec=timeout_s, wait_for_threads=False))
    except TypeError:  # rclpy before Iron: no wait_for_threads (and its shutdown joins the threads)
        return bool(executor.shutdown(timeout_sec=timeout_s))


def _still_running(node: Node, executor: MultiThreadedExecutor) -> tuple[str, int]:
    busy = getattr(node, "busy", None)
    return (busy() if callable(busy) else ""), _callbacks_running(executor)


def say(node_name: str, text: str) -> None:
    """A line on stderr, also once rclpy's logging is gone; nothing when nobody reads stderr any
    more (a supervisor that died: its children stop with it, and must not fail on that)."""
    try:
        print(f"[{node_name}] {text}", file=sys.stderr, flush=True)
    except (OSError, ValueError):
        pass


def _exit_now(code: int) -> None:
    """End the process without finalizing the interpreter.

    Called once the node has closed what it holds. Finalizing would stop a thread that is still
    running (a training round) inside C++ code (torch) and abort the process with "terminate
    called without an active exception" instead of exiting with ``code``; and with torch loaded
    it alone takes about a second on 2 cores, longer when the whole graph stops at once."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # nobody reads it any more
            pass
    os._exit(code)


def _destroy(node: Node) -> None:
    """Destroy the node with its action servers and clients (``destroy_node`` leaves those to the
    garbage collector) and the context, so that the DDS participant is deleted and announced as
    gone: the rest of the graph sees the node leave at once instead of when its DDS lease ends
    (about 20 s), which is what the process exiting without finalizing would otherwise give."""
    for waitable in list(node.waitables):
        destroy = getattr(waitable, "destroy", None)
        if callable(destroy):
            destroy()
    node.destroy_node()
    rclpy.try_shutdown()
    rclpy.utilities.get_default_context().destroy()


def run_node(factory: Callable[[], Node], args: list[str] | None = None, threads: int = 4) -> NoReturn:
    """Create the node, spin it on a multi-threaded executor until SIGINT / SIGTERM or until the
    node's ``finished`` future (if it has one) completes; then stop it in order:

    1. ``node.request_stop()`` (optional, returns at once): the node tells its own work to wind
       down: cancel a running goal, park the arm, end a loop; it rejects new goals from now on.
    2. The executor keeps spinning (replies, results and cancel responses still arrive) until
       ``node.busy()`` (optional: what is still running, '' when nothing) is '' and no callback
       is running or queued (a goal's result is sent from a queued task), for at most
       ``STOP_GRACE_S`` s; a second signal ends the wait.
    3. Executor shutdown, ``node.close()`` (optional: flush stores, release the renderer),
       ``destroy_node``, ``rclpy.try_shutdown``.

    Then the process ends (see ``_exit_now``) with the ``finished`` result as its exit code (0
    when stopped by a signal); a thread the node leaves running after ``close()`` (a training
    round) ends with it. When the node's own work did not wind down in time the process says
    what was still running and exits 1 without destroying the node (a callback is still using
    it); a plain callback still waiting (a request for data that will not come) is abandoned with
    a line saying so, and the process exits with its code without ``close()``. A node that cannot
    be created: one line on stderr, exit code 1. A callback that raised: the stop as above, then
    the exception propagates (traceback, exit code 1)."""
    init_ros(args)
    signals: list[int] = []  # the handler only appends: it may run between any two bytecodes

    def record(signum: int, _frame) -> None:
        signals.append(signum)

    signal.signal(signal.SIGINT, record)
    signal.signal(signal.SIGTERM, record)
    executor = MultiThreadedExecutor(num_threads=threads)
    try:
        node = factory()
    except Exception as exc:  # noqa: BLE001 -- a node that cannot start: one clear line and a non-zero exit
        print(f"{getattr(factory, '__name__', 'node')}: failed to start: {exc}", file=sys.stderr)
        executor.shutdown()
        rclpy.try_shutdown()
        rclpy.utilities.get_default_context().destroy()
        _exit_now(1)
    name = node.get_name()
    exit_code = 0
    failure: BaseException | None = None
    try:
        executor.add_node(node)
        finished = getattr(node, "finished", None)
        while rclpy.ok() and not signals and not (finished is not None and finished.done()):
            executor.spin_once(timeout_sec=SPIN_SLICE_S)
        if finished is not None and finished.done():
            exit_code = int(finished.result() or 0)
    except ExternalShutdownException:
        pass
    except Exception as exc:  # noqa: BLE001 -- a callback raised: stop in order, then let it propagate
        failure = exc

    # 1-2: wind down, still spinning
    signals_before = len(signals)
    request_stop = getattr(node, "request_stop", None)
    if callable(request_stop):
        request_stop()
    deadline = time.monotonic() + STOP_GRACE_S
    work, callbacks = _still_running(node, executor)
    while (work or callbacks) and time.monotonic() < deadline and len(signals) == signals_before and rclpy.ok():
        try:
            executor.spin_once(timeout_sec=0.05)
        except ExternalShutdownException:
            break
        except Exception as exc:  # noqa: BLE001 - a callback failing while stopping must not stop the stopping
            say(name, f"while stopping: {exc!r}")
        work, callbacks = _still_running(node, executor)
    if work:
        say(
            name,
            f"stopping: {work} still running after {time.monotonic() - deadline + STOP_GRACE_S:.1f} s; "
            "exiting without waiting for it",
        )
        _exit_now(1)
    if callbacks:  # what close() releases may still be in use: the process ends without it
        say(name, f"stopping: abandoning {callbacks} callback(s) still waiting after {STOP_GRACE_S:g} s")
        _exit_now(exit_code)

    # 3: tear down on this thread, in the order rclpy needs
    ignore_interrupts()
    if not _shutdown_executor(executor, STOP_SHUTDOWN_S):  # a callback that started after the last look
        say(name, f"stopping: a callback still running {STOP_SHUTDOWN_S:g} s into the shutdown; exiting without it")
        _exit_now(exit_code)
    close = getattr(node, "close", None)
    if callable(close):
        close()
    _destroy(node)
    if failure is not None:
        raise failure
    _exit_now(exit_code)
