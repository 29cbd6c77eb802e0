"""`interseg launch FILE [name:=value ...]`: start every node of a YAML launch file as its own
process and watch them, like `ros2 launch` (which cannot be installed from wheels).

- Each process gets ``--ros-args`` with its name, namespace, parameters and remaps, and the
  project's loopback DDS environment; its output lines are prefixed with ``[name]``.
- Ctrl-C / SIGTERM: SIGINT to every process, SIGTERM after ``--sigterm-timeout`` s, SIGKILL
  after ``--sigkill-timeout`` s more (defaults keep the whole stop under 5 s). Each process's
  exit is reported with the time it took; a process that needed SIGTERM or SIGKILL, or exited
  with a non-zero code or another signal than that SIGINT while stopping, is named and makes
  the exit code 1.
- A process with ``on_exit: shutdown`` is required: when it exits, everything stops; the
  supervisor exits 1 if it died (non-zero code or signal), 0 if it finished cleanly (and the
  others stopped cleanly).
- ``respawn: "true"`` restarts a process after ``respawn_delay`` s, at most
  ``respawn_max_retries`` times when that is given.
- Children die with the supervisor: each is started in its own process group (session) with
  ``PR_SET_PDEATHSIG`` = SIGTERM set in the child before it runs the program, so a supervisor
  killed with SIGKILL still takes its graph down (each node stops as on Ctrl-C).
- One graph per run directory: when the launch file has a ``run_dir`` argument, the supervisor
  holds an exclusive ``flock`` on ``<run_dir>/.launch.lock`` (its pid inside) and its children
  inherit the lock, so it is free only when the supervisor and every process it started are
  gone. A second ``interseg launch`` on a run directory in use refuses to start: one line naming
  the directory and the processes holding it, exit code 2.
- A bad launch file or argument: one line on stderr naming the file, exit code 2, nothing started.
"""

from __future__ import annotations

import argparse
import ctypes
import fcntl
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from interseg.rosenv import remove_stale_shared_memory, ros_environment
from interseg.supervision.launch_file import read_launch_file
from interseg.supervision.plan import LaunchError, LaunchPlan, ProcessSpec, parse_cli_arguments

EXIT_BAD_INPUT = 2
RUN_DIR_ARGUMENT = "run_dir"  # the launch argument naming the directory a graph owns
LOCK_NAME = ".launch.lock"
PARENT_DEATH_SIGNAL = signal.SIGTERM  # what a child gets when the supervisor dies: stop as on Ctrl-C
_PR_SET_PDEATHSIG = 1

try:  # resolved here, in the parent: the child only calls it
    _prctl = ctypes.CDLL(None, use_errno=True).prctl
except (OSError, AttributeError):  # not Linux
    _prctl = None


def _die_with_parent(parent: int):
    """``preexec_fn`` for a child: PR_SET_PDEATHSIG, so that the kernel signals the child when
    the thread that forked it (the supervisor's main thread) ends, however it ends. A parent that
    died between fork and prctl is caught by comparing getppid with the supervisor's pid."""

    def preexec() -> None:
        if _prctl is not None:
            _prctl(_PR_SET_PDEATHSIG, int(PARENT_DEATH_SIGNAL), 0, 0, 0)
        if os.getppid() != parent:
            os.kill(os.getpid(), PARENT_DEATH_SIGNAL)

    return preexec


class RunDirInUse(Exception):
    """Another graph holds the run directory's lock."""


def _holders(path: Path) -> list[int]:
    """Processes that have ``path`` open: the graph holding the lock."""
    found = []
    target = str(path.resolve())
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if any(os.readlink(fd) == target for fd in (proc / "fd").iterdir()):
                found.append(int(proc.name))
        except OSError:  # gone, or not ours to look at
            continue
    return sorted(found)


def _describe_holders(path: Path) -> str:
    holders = [pid for pid in _holders(path) if pid != os.getpid()]
    try:
        supervisor = int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        supervisor = 0
    if supervisor in holders:
        command = (
            (Path("/proc") / str(supervisor) / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        )
        launched = command[command.find("launch ") :] if "launch " in command else command
        return f"interseg {launched.strip()[:100]} (pid {supervisor}) and {len(holders) - 1} process(es) it started"
    if holders:
        return (
            f"{len(holders)} process(es) left by a launch whose supervisor is gone: "
            f"pids {' '.join(map(str, holders[:8]))}"
        )
    return "another process"


def lock_run_dir(run_dir: Path) -> int:
    """Take the run directory's lock (created with the directory if missing); return its fd.

    Raises RunDirInUse naming the processes that hold it."""
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise RunDirInUse(
            f"run directory {run_dir} is in use by {_describe_holders(path)}; stop it, or give another run_dir:="
        ) from None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    return fd


@dataclass
class _Running:
    spec: ProcessSpec
    popen: subprocess.Popen
    reader: threading.Thread
    restarts: int = 0
    next_start: float | None = None  # pending respawn time
    exit_codes: list[int] = field(default_factory=list)
    done: bool = False  # exited and will not be restarted
    escalated: str = ""  # the strongest signal the stop needed beyond SIGINT


class Supervisor:
    """Starts, watches and stops the processes of a launch plan."""

    def __init__(
        self,
        plan: LaunchPlan,
        out: TextIO = sys.stdout,
        sigterm_timeout: float = 2.5,
        sigkill_timeout: float = 1.5,
        log_dir: Path | None = None,
        inherited_fds: tuple[int, ...] = (),
    ):
        self.plan = plan
        self.inherited_fds = inherited_fds  # the run directory's lock: held by the children too
        self.out = out
        self.sigterm_timeout = sigterm_timeout
        self.sigkill_timeout = sigkill_timeout
        self.log_dir = log_dir
        self.running: dict[str, _Running] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._stop_reason = ""

    # -- output ------------------------------------------------------------------------------
    def say(self, text: str) -> None:
        with self._lock:
            self.out.write(f"[launch] {text}\n")
            self.out.flush()

    def _pump(self, name: str, stream, log_file: TextIO | None) -> None:
        width = max(len(p.name) for p in self.plan.processes)
        for raw in iter(stream.readline, b""):
            line = raw.decode(errors="replace").rstrip("\n")
            with self._lock:
                self.out.write(f"[{name:<{width}}] {line}\n")
                self.out.flush()
                if log_file is not None:
                    log_file.write(line + "\n")
                    log_file.flush()
        stream.close()
        if log_file is not None:
            log_file.close()

    # -- lifecycle ---------------------------------------------------------------------------
    def _spawn(self, spec: ProcessSpec) -> tuple[subprocess.Popen, threading.Thread]:
        env = ros_environment(spec.env)
        # Always called on the main thread: PR_SET_PDEATHSIG follows the thread that forked.
        popen = subprocess.Popen(
            spec.command,
            env=env,
            cwd=spec.cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            pass_fds=self.inherited_fds,
            preexec_fn=_die_with_parent(os.getpid()),
        )
        log_file = open(self.log_dir / f"{spec.name.replace('/', '_')}.log", "a") if self.log_dir else None
        reader = threading.Thread(target=self._pump, args=(spec.name, popen.stdout, log_file), daemon=True)
        reader.start()
        return popen, reader

    def clean_shared_memory(self) -> None:
        """Remove what killed processes (ours or earlier runs') left in /dev/shm."""
        removed, freed = remove_stale_shared_memory()
        if removed:
            self.say(
                f"removed {removed} stale Fast DDS shared-memory segment(s) ({freed / 2**20:.0f} MB) "
                "left by killed processes"
            )

    def start(self) -> None:
        self.clean_shared_memory()
        for message in self.plan.messages:
            self.say(message)
        for spec in self.plan.processes:
            popen, reader = self._spawn(spec)
            self.running[spec.name] = _Running(spec, popen, reader)
            self.say(f"started {spec.name} (pid {popen.pid}){' [required]' if spec.required else ''}")

    def request_stop(self, reason: str) -> None:
        if not self._stop.is_set():
            self._stop_reason = reason
            self._stop.set()

    def watch(self, poll: float = 0.1) -> int:
        """Block until everything has exited or a stop was requested; return the exit code."""
        exit_code = 0
        while not self._stop.is_set():
            now = time.monotonic()
            for name, proc in self.running.items():
                if proc.done:
                    continue
                if proc.next_start is not None:
                    if now >= proc.next_start:
                        proc.popen, proc.reader = self._spawn(proc.spec)
                        proc.next_start = None
                        proc.restarts += 1
                        self.say(f"respawned {name} (pid {proc.popen.pid}, restart {proc.restarts})")
                    continue
                code = proc.popen.poll()
                if code is None:
                    continue
                proc.exit_codes.append(code)
                proc.reader.join(timeout=1.0)
                how = f"exited with code {code}" if code >= 0 else f"was killed by signal {signal.Signals(-code).name}"
                self.say(f"{name} {how}")
                if proc.spec.required:
                    proc.done = True
                    exit_code = 0 if code == 0 else 1
                    self.request_stop(f"required process {name} {how}")
                    break
                if proc.spec.respawn and (
                    proc.spec.respawn_max_retries < 0 or proc.restarts < proc.spec.respawn_max_retries
                ):
                    proc.next_start = now + proc.spec.respawn_delay
                else:
                    proc.done = True
            if not self._stop.is_set() and all(p.done for p in self.running.values()):
                return 0 if all(p.exit_codes[-1] == 0 for p in self.running.values()) else 1
            self._stop.wait(poll)
        self.say(f"stopping: {self._stop_reason}")
        if not self.shutdown():
            exit_code = 1
        return exit_code

    def shutdown(self) -> bool:
        """SIGINT everything, then SIGTERM, then SIGKILL; returns once all have exited: True when
        every process stopped on SIGINT with exit code 0. Says how each one ended, and how long
        it took."""
        start = time.monotonic()
        live = [p for p in self.running.values() if p.popen.poll() is None]
        stopping = list(live)
        reported: set[str] = set()

        def report_exits() -> None:
            for proc in stopping:
                code = proc.popen.poll()
                if code is None or proc.spec.name in reported:
                    continue
                reported.add(proc.spec.name)
                proc.exit_codes.append(code)
                how = f"exited with code {code}" if code >= 0 else f"was killed by signal {signal.Signals(-code).name}"
                after = f" after {proc.escalated}" if proc.escalated else ""
                self.say(f"{proc.spec.name} {how} ({time.monotonic() - start:.1f} s after SIGINT{after})")

        for sig, timeout in (
            (signal.SIGINT, self.sigterm_timeout),
            (signal.SIGTERM, self.sigkill_timeout),
            (signal.SIGKILL, 5.0),
        ):
            for proc in live:
                if sig != signal.SIGINT:
                    proc.escalated = sig.name
                try:
                    os.killpg(proc.popen.pid, sig)
                except ProcessLookupError:
                    pass
            deadline = time.monotonic() + timeout
            while live and time.monotonic() < deadline:
                time.sleep(0.02)
                report_exits()
                live = [p for p in live if p.popen.poll() is None]
            report_exits()
            live = [p for p in live if p.popen.poll() is None]
            if not live:
                break
            self.say(f"{sig.name} did not stop {', '.join(p.spec.name for p in live)} within {timeout:g} s")
        for proc in self.running.values():
            proc.reader.join(timeout=1.0)
        # Clean: exit code 0 on SIGINT, or ended by that SIGINT itself (its default action: a
        # program without a handler, e.g. a node still importing when the stop came).
        unclean = [p for p in stopping if p.escalated or p.popen.returncode not in (0, -signal.SIGINT)]
        if stopping:
            self.say(
                f"stopped {len(stopping)} process(es) in {time.monotonic() - start:.1f} s"
                + (f"; not cleanly: {', '.join(p.spec.name for p in unclean)}" if unclean else "")
            )
        return not unclean


def _parse(argv: list[str] | None) -> argparse.Namespace:
    """Options may come before, between or after the file and the name:=value arguments."""
    return _parser().parse_intermixed_args(argv)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="interseg launch", description=__doc__.split("\n\n")[0])
    parser.add_argument("file", help="launch file (ROS 2 YAML launch format), e.g. launch/sim.launch.yaml")
    parser.add_argument("arguments", nargs="*", metavar="name:=value", help="launch arguments")
    parser.add_argument("--show-args", action="store_true", help="print the declared arguments and exit")
    parser.add_argument("--print", dest="print_only", action="store_true", help="print the commands and exit")
    parser.add_argument("--log-dir", type=Path, help="also write each process's output to DIR/NAME.log")
    parser.add_argument(
        "--sigterm-timeout", type=float, default=2.5, help="seconds after SIGINT before SIGTERM (default 2.5)"
    )
    parser.add_argument(
        "--sigkill-timeout", type=float, default=1.5, help="seconds after SIGTERM before SIGKILL (default 1.5)"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    try:
        file = Path(args.file)
        if not file.exists() and not file.is_absolute():
            from interseg.paths import launch_dir

            if (launch_dir() / file.name).is_file():
                file = launch_dir() / file.name
        plan = read_launch_file(file, parse_cli_arguments(args.arguments))
    except LaunchError as exc:
        print(f"interseg launch: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.show_args:
        for name, value in plan.arguments.items():
            print(f"{name}:={value}")
        return 0
    if args.print_only:
        for spec in plan.processes:
            print(f"{spec.name}: {shlex.join(spec.command)}")
        return 0
    lock_fds: tuple[int, ...] = ()
    if plan.arguments.get(RUN_DIR_ARGUMENT):
        try:
            lock_fds = (lock_run_dir(Path(plan.arguments[RUN_DIR_ARGUMENT])),)
        except RunDirInUse as exc:
            print(f"interseg launch: {file}: {exc}", file=sys.stderr)
            return EXIT_BAD_INPUT
        except OSError as exc:
            print(
                f"interseg launch: {file}: cannot lock run directory {plan.arguments[RUN_DIR_ARGUMENT]}: {exc}",
                file=sys.stderr,
            )
            return EXIT_BAD_INPUT
    if args.log_dir:
        args.log_dir.mkdir(parents=True, exist_ok=True)
    supervisor = Supervisor(
        plan,
        sigterm_timeout=args.sigterm_timeout,
        sigkill_timeout=args.sigkill_timeout,
        log_dir=args.log_dir,
        inherited_fds=lock_fds,
    )

    def on_signal(signum, _frame):
        supervisor.request_stop(f"received {signal.Signals(signum).name}")

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        supervisor.start()
    except OSError as exc:
        supervisor.shutdown()
        print(f"interseg launch: {file}: cannot start a process: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    code = supervisor.watch()
    supervisor.clean_shared_memory()  # segments of processes killed along the way (respawns, SIGKILL)
    supervisor.say(f"all processes stopped (exit {code})")
    return code
