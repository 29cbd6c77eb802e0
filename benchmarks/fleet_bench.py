"""The fleet's throughput: interactions and examples per hour for 1 and 2 robots feeding one
learner (launch/fleet.launch.yaml, every process real), the bytes each robot sends and receives
over the network per interaction (StoreExample requests and ModelUpdate announcements, measured as
the serialized messages), and the trainer's samples per second on 1 and 2 torch.distributed ranks
(gloo, on the loopback interface) over the examples the robots collected. Writes
benchmarks/results/fleet.json.

    .venv/bin/python benchmarks/fleet_bench.py [--minutes 4] [--robots 1 2] [--ranks 1 2]

On a 2-core machine both robots, the learner and every node share the two cores: the figures
measure how the stack divides a fixed machine, not how a fleet of robots with their own computers
scales.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent


def _env() -> dict:
    from interseg.rosenv import ros_environment

    env = ros_environment(domain_id=int(os.environ.get("ROS_DOMAIN_ID", random.randint(110, 160))))
    env["GLOO_SOCKET_IFNAME"] = "lo"  # torch.distributed stays on this machine too
    return env


def _progress(run_dir: Path, robot: int) -> list[dict]:
    path = run_dir / f"robot{robot}" / "progress.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.is_file() else []


def _wire_bytes(store_dir: Path, sample: int = 40) -> dict:
    """Serialized sizes of the StoreExample requests the store's examples travelled in."""
    from rclpy.serialization import serialize_message

    from interseg.learning.store import ExampleStore
    from interseg.nodes.convert import image_to_msg
    from interseg_interfaces.srv import StoreExample

    with ExampleStore(store_dir) as store:
        rows = store.records()
        sizes = []
        for row in rows[:: max(1, len(rows) // sample)]:
            image, mask = store.read(row)
            request = StoreExample.Request(key=row.key, view=row.view, kind=row.kind, reason=row.reason)
            request.image = image_to_msg(image, "rgb8")
            if mask is not None:
                request.mask = image_to_msg(mask.astype("uint8") * 255, "mono8")
            sizes.append(len(serialize_message(request)))
    return {"examples": len(rows), "sampled": len(sizes), "mean_request_bytes": sum(sizes) / max(1, len(sizes))}


def run_robots(robots: int, minutes: float, out: Path, args) -> dict:
    run_dir = out / f"robots{robots}"
    command = [
        str(VENV_BIN / "interseg"),
        "launch",
        str(REPO / "launch/fleet.launch.yaml"),
        f"robots:={robots}",
        f"run_dir:={run_dir}",
        f"image_width:={args.width}",
        f"image_height:={args.height}",
        f"shadows:={args.shadows}",
        f"max_minutes:={minutes}",
    ]
    log = open(out / f"robots{robots}.log", "w")
    started = time.monotonic()
    proc = subprocess.Popen(command, env=_env(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        proc.wait(timeout=minutes * 60 + 240)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(timeout=60)
    wall = time.monotonic() - started
    log.close()
    per_robot = []
    for k in range(robots):
        records = _progress(run_dir, k)
        stamps = [r["time"] for r in records if "time" in r]
        per_robot.append(
            {
                "robot": k,
                "interactions": len(records),
                "first_to_last_s": (stamps[-1] - stamps[0]) if len(stamps) > 1 else None,
                "model_versions": sorted({r.get("model_version", 0) for r in records}),
            }
        )
    text = (out / f"robots{robots}.log").read_text()
    announcements = len(re.findall(r"\[trainer\]: model version \d+:", text))
    received = [int(n) for n in re.findall(r"switched to model version \d+ \(step \d+, (\d+) bytes received", text)]
    wire = _wire_bytes(run_dir / "examples")
    model_bytes = max(received, default=0)
    interactions = sum(r["interactions"] for r in per_robot)
    # rates over each robot's own span from its first to its last interaction (start-up excluded)
    rate = sum(3600 * (r["interactions"] - 1) / r["first_to_last_s"] for r in per_robot if r["first_to_last_s"])
    examples_per_interaction = wire["examples"] / max(1, interactions)
    return {
        "robots": robots,
        "minutes": minutes,
        "wall_s": wall,
        "per_robot": per_robot,
        "interactions": interactions,
        "interactions_per_hour": rate,
        "examples": wire["examples"],
        "examples_per_hour": rate * examples_per_interaction,
        "model_announcements": announcements,
        "bytes_per_interaction_up": examples_per_interaction * wire["mean_request_bytes"],
        "store_example_request_bytes": wire["mean_request_bytes"],
        "model_update_bytes": model_bytes,
        "models_received": len(received),
        "bytes_per_interaction_down": sum(received) / max(1, interactions),
        "store": str(run_dir / "examples"),
    }


def _trainer_worker(store: str, run_dir: str, result: str, batch: int, steps: int, threads: int) -> None:
    """One rank (or the only process): a warm-up round, then ``steps`` timed steps."""
    import torch
    from torch.utils.data import DataLoader, RandomSampler

    from interseg.learning.dataset import WindowDataset
    from interseg.learning.model import ModelConfig
    from interseg.learning.trainer import Trainer
    from interseg.learning.trainer_config import TrainerConfig

    torch.set_num_threads(threads)
    trainer = Trainer(run_dir, ModelConfig(), TrainerConfig(batch_size=batch, device="cpu", seed=0))
    dataset = WindowDataset(store, trainer.model_config, seed=trainer.ranks.rank)

    def loader(n: int):
        generator = torch.Generator().manual_seed(1000 * trainer.ranks.rank + n)
        sampler = RandomSampler(dataset, replacement=True, num_samples=n * batch, generator=generator)
        return DataLoader(dataset, batch_size=batch, sampler=sampler, drop_last=True)

    trainer.train_one_epoch(loader(5), progress=False)  # warm-up (and the image cache)
    start = time.perf_counter()
    trainer.train_one_epoch(loader(steps), progress=False)
    seconds = time.perf_counter() - start
    if trainer.ranks.main:
        samples = steps * batch * trainer.ranks.world
        Path(result).write_text(json.dumps({"world": trainer.ranks.world, "seconds": seconds, "samples": samples}))


def run_ranks(ranks: int, store: Path, out: Path, args) -> dict:
    result = out / f"ranks{ranks}.json"
    worker = [__file__, "--worker", str(store), str(out / f"trainer-ranks{ranks}"), str(result)]
    worker += [str(args.batch), str(args.steps), str(max(1, 2 // ranks))]
    if ranks == 1:
        command = [sys.executable, *worker]
    else:
        command = [str(VENV_BIN / "torchrun"), "--standalone", "--nproc_per_node", str(ranks)]
        command += ["--local-addr", "127.0.0.1", *worker]
    subprocess.run(command, env=_env(), check=True, capture_output=True, timeout=1800)
    data = json.loads(result.read_text())
    return {
        "ranks": ranks,
        "threads_per_rank": max(1, 2 // ranks),
        "batch_per_rank": args.batch,
        "steps": args.steps,
        "samples_per_s": data["samples"] / data["seconds"],
    }


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        store, run_dir, result, batch, steps, threads = sys.argv[2:8]
        _trainer_worker(store, run_dir, result, int(batch), int(steps), int(threads))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=4.0, help="run time of each robot count")
    parser.add_argument("--robots", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--ranks", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--shadows", default="true")
    parser.add_argument("--batch", type=int, default=32, help="trainer batch per rank")
    parser.add_argument("--steps", type=int, default=40, help="timed trainer steps")
    parser.add_argument("--work", type=Path, default=REPO / "runs" / "fleet-bench")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "fleet.json")
    args = parser.parse_args()
    sys.path.insert(0, str(REPO / "src" / "interseg"))
    from interseg.evaluation.bench.provenance import machine_info, versions

    args.work.mkdir(parents=True, exist_ok=True)
    robots = []
    for count in args.robots:
        print(f"[fleet] {count} robot(s) for {args.minutes} min ...", flush=True)
        robots.append(run_robots(count, args.minutes, args.work, args))
        r = robots[-1]
        print(
            f"[fleet] {count} robot(s): {r['interactions']} interactions, {r['interactions_per_hour']:.0f}/h, "
            f"{r['examples_per_hour']:.0f} examples/h, {r['bytes_per_interaction_up'] / 1e6:.1f} MB up and "
            f"{r['bytes_per_interaction_down'] / 1e6:.1f} MB down per interaction",
            flush=True,
        )
    store = Path(robots[-1]["store"])
    trainers = []
    for count in args.ranks:
        print(f"[fleet] trainer on {count} rank(s) ...", flush=True)
        trainers.append(run_ranks(count, store, args.work, args))
        print(f"[fleet] {count} rank(s): {trainers[-1]['samples_per_s']:.0f} samples/s", flush=True)
    result = {
        "robots": robots,
        "trainer": trainers,
        "settings": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "notes": (
            "every robot, the learner and the trainer share this machine's cores; interactions_per_hour "
            "sums each robot's rate between its first and last interaction; bytes up: StoreExample requests "
            "(serialized, from the stored examples), bytes down: the checkpoints the robots' hypotheses nodes "
            "received in ModelUpdate (model_transport: weights), from their logs"
        ),
        "machine": machine_info(),
        "versions": versions(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"[fleet] {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
