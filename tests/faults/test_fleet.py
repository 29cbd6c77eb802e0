"""The fleet, across real processes: `interseg launch launch/fleet.launch.yaml robots:=2` runs two
namespaced robots and one learner (store writer + trainer); both robots' labellers feed the one
store through the store writer's service, the store writer and a labeller are SIGKILLed mid-run,
and every example a labeller announced is in the store exactly once; the trainer's models reach
both robots' hypotheses nodes."""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import pytest
from conftest import REPO, LaunchedGraph, spinning_node, wait_for

pytestmark = pytest.mark.slow

FLEET_ARGS = ("robots:=2", "image_width:=320", "image_height:=240", "shadows:=false", "steps_per_round:=4")
ROBOTS = (0, 1)


def progress(run_dir: Path, robot: int) -> list[dict]:
    path = run_dir / f"robot{robot}" / "progress.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.is_file() else []


def test_two_robots_feed_one_learner_and_every_announced_example_is_stored_once_through_kills(tmp_path, ros_env):
    from rclpy.qos import QoSProfile, ReliabilityPolicy

    from interseg.learning.store import ExampleStore
    from interseg.nodes.common import MODEL_UPDATE_QOS
    from interseg_interfaces.msg import LabelledExample, ModelUpdate

    run_dir = tmp_path / "fleet"
    announced: dict[int, list[str]] = {k: [] for k in ROBOTS}
    received_at: dict[int, list[float]] = {k: [] for k in ROBOTS}

    def on_example(msg, k: int) -> None:
        announced[k].append(msg.store_key)
        received_at[k].append(time.monotonic())

    updates: list[int] = []
    with spinning_node(f"fleet_test_{os.getpid()}") as node:
        for k in ROBOTS:
            node.create_subscription(
                LabelledExample,
                f"/robot{k}/labelled_examples",
                lambda msg, k=k: on_example(msg, k),
                QoSProfile(depth=1000, reliability=ReliabilityPolicy.RELIABLE),
            )
        node.create_subscription(
            ModelUpdate, "/model_updates", lambda msg: updates.append(msg.version), MODEL_UPDATE_QOS
        )
        graph = LaunchedGraph([str(REPO / "launch/fleet.launch.yaml"), f"run_dir:={run_dir}", *FLEET_ARGS], ros_env)
        try:

            def kill_and_restart(name: str) -> float:
                """SIGKILL ``name``; returns once its new process runs its own code (its first line)."""
                killed = graph.kill_respawned(name)
                assert f"{name} was killed by signal SIGKILL" in graph.output(killed)

                def restarted() -> bool:
                    after = graph.output(killed).split(f"respawned {name} (pid", 1)
                    return len(after) == 2 and f"[{name} " in after[1]

                wait_for(restarted, 120, message=f"{name} running again\n{graph.output(killed)[-4000:]}")
                return time.monotonic()

            def announced_after(robots, mark: float):  # (examples in flight at a kill come before it)
                return lambda: all(any(t > mark for t in received_at[k]) for k in robots)

            wait_for(
                lambda: all(len(announced[k]) > 1 for k in ROBOTS),
                300,
                message=f"examples from both robots\n{graph.output()[-4000:]}",
            )
            mark = kill_and_restart("store_writer")
            wait_for(
                announced_after(ROBOTS, mark),
                300,
                message=f"examples from both robots after the store writer died\n{graph.output()[-4000:]}",
            )
            mark = kill_and_restart("robot1/labeller")
            wait_for(
                announced_after((1,), mark),
                300,
                message=f"examples from robot1 after its labeller died\n{graph.output()[-4000:]}",
            )
            # a model of the one trainer reached both robots: their interactions use it
            wait_for(
                lambda: updates and all(any(r["model_version"] >= 1 for r in progress(run_dir, k)) for k in ROBOTS),
                300,
                message=f"a model in both robots' interactions\n{graph.output()[-4000:]}",
            )
            assert graph.proc.poll() is None, graph.output()[-4000:]
        finally:
            graph.kill()
        out = graph.output()

    assert "Traceback" not in out, out[-4000:]
    for k in ROBOTS:  # the models travelled in their announcements (the fleet's model_transport: weights)
        switched = rf"\[robot{k}/hypotheses *\] .*switched to model version \d+ \(step \d+, \d+ bytes received"
        assert re.search(switched, out), out[-4000:]
    with ExampleStore(run_dir / "examples") as store:
        rows = store.records()
    keys = [r.key for r in rows]
    stored = set(keys)
    every = announced[0] + announced[1]
    assert len(every) == len(set(every)), "an example was announced twice"
    missing = set(every) - stored
    assert not missing, f"announced but not in the store: {sorted(missing)}"
    # each robot's examples carry its namespace; one row per (robot, interaction, view, kind)
    for k in ROBOTS:
        assert announced[k] and all(key.startswith(f"robot{k}-") for key in announced[k]), announced[k]
        assert any(key.startswith(f"robot{k}-") for key in stored)
    identities = [key.rsplit("-", 1)[0] for key in keys]
    assert len(identities) == len(set(identities)), "an example was stored twice under two keys"
    print(
        f"fleet: {len(rows)} examples stored ({len(announced[0])} + {len(announced[1])} announced), "
        f"models {sorted(set(updates))}"
    )
