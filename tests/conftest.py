"""Shared test fixtures.

Every test session gets its own ROS_DOMAIN_ID (so concurrent runs never see each other) and
the project's loopback-only Fast DDS profile; both are set in os.environ before any test runs,
so that rclpy in this process and every child process use them.
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def _pick_domain_id() -> int:
    # 0..101 and 215..232 are the valid ranges with default ports; use 1..100 and mix in the pid
    # so that parallel sessions on one machine differ.
    return 1 + (os.getpid() * 7919 + random.SystemRandom().randrange(100)) % 100


def pytest_configure(config):
    from interseg.rosenv import apply_ros_environment, remove_stale_shared_memory

    remove_stale_shared_memory()  # what earlier runs' killed processes left in /dev/shm

    os.environ["ROS_DOMAIN_ID"] = os.environ.get("INTERSEG_TEST_DOMAIN_ID", str(_pick_domain_id()))
    apply_ros_environment()
    os.environ.setdefault("MUJOCO_GL", "egl")
    # A suite started in the background of a script (`cmd &`) inherits SIGINT ignored, and so would
    # every process it starts; the tests stop processes with SIGINT as a launcher does, whose
    # children start with SIGINT at its default.
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(scope="session")
def ros_env() -> dict[str, str]:
    """Environment for child processes: same domain and DDS profile as this test session."""
    return dict(os.environ)


class ProcessGroup:
    """Child processes started by a test, stopped (SIGINT, then SIGKILL) when it ends."""

    def __init__(self, env: dict[str, str], log_dir: Path):
        self.env = env
        self.log_dir = log_dir
        self.procs: list[subprocess.Popen] = []

    def start(self, args: list[str], name: str | None = None, **kwargs) -> subprocess.Popen:
        name = name or Path(args[0]).name
        log = open(self.log_dir / f"{name}-{len(self.procs)}.log", "w+")
        proc = subprocess.Popen(
            args,
            env=kwargs.pop("env", self.env),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            **kwargs,
        )
        proc.log_file = log  # type: ignore[attr-defined]
        self.procs.append(proc)
        return proc

    def python(self, code_or_module: list[str], name: str, **kwargs) -> subprocess.Popen:
        return self.start([sys.executable, *code_or_module], name=name, **kwargs)

    @staticmethod
    def output(proc: subprocess.Popen) -> str:
        proc.log_file.flush()  # type: ignore[attr-defined]
        proc.log_file.seek(0)  # type: ignore[attr-defined]
        return proc.log_file.read()  # type: ignore[attr-defined]

    def stop_all(self, timeout: float = 10.0) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGINT)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + timeout
        for proc in self.procs:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            proc.log_file.close()  # type: ignore[attr-defined]


def interrupt_group(proc: subprocess.Popen, timeout: float = 20.0) -> None:
    """SIGINT a child's process group (a supervisor and its graph), SIGKILL it if it outlives ``timeout``."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGINT)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.fixture
def processes(ros_env, tmp_path):
    """Start real child processes (nodes, CLI commands); all are stopped after the test."""
    group = ProcessGroup(ros_env, tmp_path)
    yield group
    group.stop_all()


def wait_for(predicate, timeout: float, interval: float = 0.05, message: str = "condition"):
    """Poll ``predicate`` until it returns a truthy value; fail the test after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout:.1f}s waiting for {message}")


def _send_until_answered(send, answer, timeout: float, resend_after: float, message: str):
    """Call ``send()`` (which returns a future) again after each ``resend_after`` s until
    ``answer(futures)`` is not None, for up to ``timeout`` s; returns that answer and how many
    were sent."""
    deadline = time.monotonic() + timeout
    futures = []
    while time.monotonic() < deadline:
        futures.append(send())
        resend_at = min(deadline, time.monotonic() + resend_after)
        while time.monotonic() < resend_at:
            answered = answer(futures)
            if answered is not None:
                return answered, len(futures)
            time.sleep(0.05)
    pytest.fail(f"timed out after {timeout:.1f}s waiting for {message} (sent {len(futures)} times)")


def call_service(
    client, request, timeout: float, resend_after: float = 5.0, message: str = "response", count_sends: bool = False
):
    """Send ``request`` and wait up to ``timeout`` s for the reply, sending it again after each
    ``resend_after`` s without one. A client that has just seen the service ready can still lose
    a reply: the server may send it before it has discovered the client's response reader, and
    service requests and replies are volatile. Only for requests that may be served twice; a
    request the server works on for a while needs ``resend_after`` above that time. With
    ``count_sends`` the reply comes with how many requests were sent (a reply to a resend may
    answer a request the server already served)."""

    def first_reply(futures):
        return next((future.result() for future in futures if future.done()), None)

    reply, sends = _send_until_answered(lambda: client.call_async(request), first_reply, timeout, resend_after, message)
    return (reply, sends) if count_sends else reply


def send_goal(
    client, goal, timeout: float, resend_after: float = 10.0, feedback_callback=None, message: str = "goal response"
):
    """Send an action ``goal`` and return the first accepted goal handle, or a rejection once
    every goal sent was answered and none accepted. A goal without an answer after
    ``resend_after`` s is sent again as a new goal: its response can be lost as a service reply
    can (see `call_service`), while the server runs it; a server that serves one goal at a time
    then rejects the new goal until that one ends, and a later resend is accepted."""

    def accepted_or_all_rejected(futures):
        handles = [future.result() for future in futures if future.done()]
        accepted = [handle for handle in handles if handle.accepted]
        if accepted:
            return accepted[0]
        return handles[-1] if len(handles) == len(futures) else None

    def send():
        return client.send_goal_async(goal, feedback_callback=feedback_callback)

    return _send_until_answered(send, accepted_or_all_rejected, timeout, resend_after, message)[0]


@contextlib.contextmanager
def spinning_node(name: str):
    """An rclpy node in this process, in its own context, spun by a background executor thread."""
    import threading

    import rclpy
    from rclpy.executors import MultiThreadedExecutor

    context = rclpy.Context()
    rclpy.init(context=context)
    node = rclpy.create_node(name, context=context)
    executor = MultiThreadedExecutor(num_threads=2, context=context)
    executor.add_node(node)
    thread = threading.Thread(target=executor.spin, daemon=True)
    thread.start()
    try:
        yield node
    finally:
        executor.shutdown()
        thread.join(timeout=5)
        node.destroy_node()
        rclpy.try_shutdown(context=context)


@pytest.fixture
def ros_node():
    """A spinning rclpy node in the test process (a client of the processes under test)."""
    with spinning_node(f"test_client_{os.getpid()}") as node:
        yield node


def interseg_command(*args: str) -> list[str]:
    """Command line of the `interseg` CLI in this venv."""
    return [sys.executable, "-m", "interseg.cli", *args]


def node_command(module: str, namespace: str, params_file: str | None = None, **params: str) -> list[str]:
    """Command line of one interseg node (``interseg.nodes.<module>``) in its own process, pushed
    into ``namespace``, with a parameters file and ``name:=value`` overrides."""
    command = [sys.executable, "-c", f"import sys; from interseg.nodes.{module} import main; sys.exit(main())"]
    command += ["--ros-args", "-r", f"__ns:={namespace}"]
    if params_file:
        command += ["--params-file", str(REPO / params_file)]
    for name, value in params.items():
        command += ["-p", f"{name}:={value}"]
    return command


def started_pids(output: str) -> dict[str, int]:
    """The supervisor's latest pid of each process, from its `started` / `respawned` lines."""
    return {name: int(pid) for name, pid in re.findall(r"\[launch\] (?:started|respawned) (\S+) \(pid (\d+)", output)}


class LaunchedGraph:
    """`interseg launch FILE [name:=value ...]` as a user runs it, its output timestamped line by line."""

    def __init__(self, launch_args: list[str], env: dict):
        import threading

        self.lines: list[tuple[float, str]] = []
        self.proc = subprocess.Popen(
            interseg_command("launch", *launch_args),
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append((time.monotonic(), line.rstrip("\n")))

    def output(self, since: float = 0.0) -> str:
        return "\n".join(line for stamp, line in list(self.lines) if stamp >= since)

    def pid_of(self, name: str) -> int:
        return started_pids(self.output())[name]

    def kill_respawned(self, name: str, timeout: float = 30.0) -> float:
        """SIGKILL process ``name`` and wait until the supervisor has respawned it; the kill's time."""
        killed = time.monotonic()
        os.kill(self.pid_of(name), signal.SIGKILL)
        wait_for(
            lambda: f"respawned {name} (pid" in self.output(killed),
            timeout,
            message=f"{name} respawned\n{self.output(killed)[-3000:]}",
        )
        return killed

    def kill(self) -> None:
        interrupt_group(self.proc)
        self.reader.join(timeout=5)
