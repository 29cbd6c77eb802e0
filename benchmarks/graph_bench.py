"""Node-graph benchmark: interactions per hour with the trainer running, hypothesis latency end
to end through ProposeObjects, and camera-to-Observation latency. Prints and saves JSON.

  .venv/bin/python benchmarks/graph_bench.py --minutes 5 [--width 640 --height 480 --shadows true]

1. The whole simulator graph (launch/sim.launch.yaml) runs for --minutes, trainer included;
   interactions per hour come from the experimenter's progress file (first interaction to last).
   Meanwhile this script captures an Observation and calls propose_objects every 2 s, timing
   the round trip (what a client of the hypotheses node sees, with the experimenter and the
   trainer competing for the CPU).
2. Camera-to-Observation latency: four synthetic 640x480 cameras stamped with wall-clock time
   (as real drivers stamp) feed a capture node; the latency is the Observation's arrival time
   minus its images' stamp. (The simulator stamps with simulated time, which runs ahead of the
   wall clock during a pick-and-place, so its stamps cannot be used for this.)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent


def _env() -> dict:
    from interseg.rosenv import ros_environment

    return ros_environment(domain_id=int(os.environ.get("ROS_DOMAIN_ID", random.randint(110, 160))))


def _spin(node):
    from rclpy.executors import MultiThreadedExecutor

    executor = MultiThreadedExecutor(num_threads=2, context=node.context)
    executor.add_node(node)
    thread = threading.Thread(target=executor.spin, daemon=True)
    thread.start()
    return executor, thread


def _wait(future, timeout):
    deadline = time.monotonic() + timeout
    while not future.done() and time.monotonic() < deadline:
        time.sleep(0.005)
    return future.result() if future.done() else None


def graph_throughput(args, env) -> dict:
    import rclpy

    from interseg_interfaces.srv import Capture, ProposeObjects

    run_dir = Path(args.run_dir) / time.strftime("graph-%Y%m%d-%H%M%S")  # fresh: the trainer would resume an old run
    run_dir.mkdir(parents=True, exist_ok=True)
    log = open(run_dir / "launch.log", "w")
    command = [
        sys.executable,
        "-m",
        "interseg.cli",
        "launch",
        str(REPO / "launch/sim.launch.yaml"),
        f"run_dir:={run_dir}",
        f"max_minutes:={args.minutes}",
        f"image_width:={args.width}",
        f"image_height:={args.height}",
        f"shadows:={args.shadows}",
    ]
    proc = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    context = rclpy.Context()
    rclpy.init(context=context)
    node = rclpy.create_node("graph_bench", context=context)
    executor, thread = _spin(node)
    capture = node.create_client(Capture, "/capture")
    propose = node.create_client(ProposeObjects, "/propose_objects")
    latencies = []
    try:
        capture.wait_for_service(timeout_sec=120)
        propose.wait_for_service(timeout_sec=120)
        while proc.poll() is None:
            response = _wait(capture.call_async(Capture.Request(timeout=0.0)), 10)
            if response is not None and response.success:
                start = time.perf_counter()
                answer = _wait(propose.call_async(ProposeObjects.Request(observation=response.observation)), 30)
                if answer is not None and answer.success:
                    latencies.append(1000 * (time.perf_counter() - start))
            time.sleep(2.0)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)
        proc.wait(timeout=60)
        executor.shutdown()
        node.destroy_node()
        rclpy.try_shutdown(context=context)
        log.close()
    progress = [json.loads(line) for line in (run_dir / "progress.jsonl").read_text().splitlines() if line.strip()]
    if len(progress) < 2:
        raise RuntimeError(f"fewer than 2 interactions in {args.minutes} min; see {run_dir / 'launch.log'}")
    span = progress[-1]["time"] - progress[0]["time"]
    done = progress[-1]["interactions"] - progress[0]["interactions"]
    last = progress[-1]
    return {
        "interactions": last["interactions"],
        "interactions_per_hour": 3600.0 * done / span,
        "positives_fraction": last["positives"] / last["interactions"],
        "lifted_fraction": last["lifted"] / last["interactions"],
        "final_model_version": last["model_version"],
        "propose_objects_ms": {
            "median": float(np.median(latencies)),
            "p90": float(np.percentile(latencies, 90)),
            "calls": len(latencies),
        }
        if latencies
        else None,
    }


def capture_latency(args, env, seconds: float = 20.0) -> dict:
    import rclpy

    from interseg_interfaces.msg import Observation

    procs = [
        subprocess.Popen(
            [
                sys.executable,
                str(REPO / "tests/ros_helpers/cameras.py"),
                "--width",
                str(args.width),
                "--height",
                str(args.height),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
    ]
    procs.append(
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                "import sys; from interseg.nodes.capture import main; sys.exit(main())",
                "--ros-args",
                "--params-file",
                str(REPO / "config/capture.yaml"),
                "-p",
                "publish_observations:=true",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
    )
    context = rclpy.Context()
    rclpy.init(context=context)
    node = rclpy.create_node("capture_latency_bench", context=context)
    latencies = []

    def on_observation(msg):
        stamp = msg.images[0].header.stamp
        latencies.append(time.time() * 1000 - (stamp.sec * 1000 + stamp.nanosec / 1e6))

    node.create_subscription(Observation, "/observation", on_observation, 5)
    executor, thread = _spin(node)
    time.sleep(seconds)
    executor.shutdown()
    node.destroy_node()
    rclpy.try_shutdown(context=context)
    for proc in procs:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)
        proc.wait(timeout=30)
    warm = latencies[10:] or latencies
    return {
        "median_ms": float(np.median(warm)),
        "p90_ms": float(np.percentile(warm, 90)),
        "observations": len(latencies),
        "rate_hz": len(latencies) / seconds,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--shadows", choices=["true", "false"], default="true")
    parser.add_argument("--run-dir", default="runs/graph_bench")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks/results/graph.json")
    args = parser.parse_args(argv)
    env = _env()
    os.environ.update(env)
    started = time.time()
    result = {
        "command": "benchmarks/graph_bench.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "gpu": False,
            "load_average_at_start": os.getloadavg()[0],
        },
        "settings": {"minutes": args.minutes, "width": args.width, "height": args.height, "shadows": args.shadows},
        "camera_to_observation": capture_latency(args, env),
        "graph": graph_throughput(args, env),
    }
    result["wall_s"] = time.time() - started
    result["machine"]["load_average_at_end"] = os.getloadavg()[0]  # > cpus: other work competed
    print(json.dumps(result, indent=1))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"saved {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
