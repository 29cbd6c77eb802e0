"""A node stopped by SIGINT while it runs a goal ends that goal and its client gets the result:
rclpy sends a result from a task it queues after the execute callback returns, so a node that
tears down as soon as nothing runs loses it (the client then waits and never hears)."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest
from conftest import send_goal, wait_for
from rclpy.action import ActionClient
from rclpy.action.client import GoalStatus

from interseg_interfaces.action import Interact

pytestmark = pytest.mark.slow

HERE = Path(__file__).resolve().parent
TRIES = 6


def test_a_goal_ended_by_the_servers_stop_reaches_its_client(processes, ros_node, tmp_path):
    flags = tmp_path / "flags"
    flags.mkdir()
    (flags / "hang").touch()  # the goal runs until the node stops
    client = ActionClient(ros_node, Interact, "interact")
    try:
        for attempt in range(TRIES):
            server = processes.python(
                [str(HERE / "supervision_servers.py"), "interact", str(flags)], name=f"interact{attempt}"
            )
            assert client.wait_for_server(timeout_sec=30), processes.output(server)
            handle = send_goal(client, Interact.Goal(), 60, message="the goal accepted")
            assert handle.accepted
            result = handle.get_result_async()
            time.sleep(0.2)
            server.send_signal(signal.SIGINT)
            assert server.wait(timeout=10) == 0, processes.output(server)
            wait_for(result.done, 15, message=f"the result of try {attempt + 1} after the server stopped")
            assert result.result().status == GoalStatus.STATUS_ABORTED
            assert result.result().result.message == "stopped: hung goal ended"
            wait_for(lambda: not client.server_is_ready(), 10, message="the stopped server gone from the graph")
    finally:
        client.destroy()


def test_a_queued_task_counts_as_work_still_to_do_when_stopping():
    """The result above leaves from a task queued on the executor: until it ran, the node is
    not done (counting only callbacks handed to threads misses it)."""
    import rclpy
    from rclpy.executors import MultiThreadedExecutor

    from interseg.nodes.common import _callbacks_running

    context = rclpy.Context()
    rclpy.init(context=context)
    executor = MultiThreadedExecutor(num_threads=2, context=context)
    try:
        sent: list[str] = []
        executor.create_task(lambda: sent.append("result"))
        assert _callbacks_running(executor) == 1 and not sent
        executor.spin_once(timeout_sec=1.0)
        wait_for(lambda: _callbacks_running(executor) == 0, 5, message="the task run")
        assert sent == ["result"]
    finally:
        executor.shutdown()
        rclpy.try_shutdown(context=context)
