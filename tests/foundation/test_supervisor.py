"""`interseg launch`: real processes from YAML launch files, params, remaps, required nodes,
Ctrl-C, and one-line errors for bad input."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from conftest import REPO, interseg_command, wait_for

from interseg.supervision.launch_file import read_launch_file
from interseg.supervision.plan import LaunchError

pytestmark = pytest.mark.slow


def write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text))
    return path


def test_check_launch_file_runs_to_completion(ros_env):
    result = subprocess.run(
        interseg_command("launch", str(REPO / "launch/check.launch.yaml"), "count:=5"),
        env=ros_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "[listener] " in result.stdout and "received 5 messages" in result.stdout
    assert "[talker  ] " in result.stdout or "started talker" in result.stdout


def test_params_file_params_and_remaps_reach_the_node(tmp_path, processes, ros_node):
    from interseg.nodes.convert import msg_to_image
    from interseg_interfaces.msg import ObjectHypotheses

    params = write(
        tmp_path / "talker.yaml",
        """\
        /robot/talker_a:
          ros__parameters:
            width: 40
            height: 30
        """,
    )
    launch = write(
        tmp_path / "graph.launch.yaml",
        f"""\
        launch:
        - arg: {{name: topic, default: /unused}}
        - let: {{name: frame, value: "cam_$(var topic)"}}
        - node:
            pkg: interseg
            exec: talker_node
            name: talker_a
            namespace: robot
            param:
            - from: {params}
            - name: frame_id
              value: "$(eval '2 + 3')_frame"  # eval takes one argument: quote the expression
            - name: rate
              value: 25.0
            remap:
            - from: hypotheses
              to: $(var topic)
        """,
    )
    received: list = []
    ros_node.create_subscription(ObjectHypotheses, "/checked/hyps", received.append, 10)
    supervisor = processes.start(interseg_command("launch", str(launch), "topic:=/checked/hyps"), name="launch")
    wait_for(lambda: received, 30, message=f"remapped topic\n{processes.output(supervisor)}")
    assert msg_to_image(received[-1].hypotheses[0].mask).shape == (30, 40)
    assert received[-1].header.frame_id == "5_frame"
    names = wait_for(
        lambda: [n for n, ns in ros_node.get_node_names_and_namespaces() if n == "talker_a" and ns == "/robot"],
        10,
        message="node in namespace",
    )
    assert names


def test_dead_required_node_stops_the_graph_with_nonzero_exit(tmp_path, ros_env):
    launch = write(
        tmp_path / "dies.launch.yaml",
        f"""\
        launch:
        - node: {{pkg: interseg, exec: talker_node, name: survivor}}
        - executable:
            cmd: {sys.executable} -c "import time, sys; time.sleep(2); sys.exit(3)"
            name: fragile
            on_exit: shutdown
        """,
    )
    start = time.monotonic()
    result = subprocess.run(
        interseg_command("launch", str(launch)), env=ros_env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1, result.stdout
    assert "fragile exited with code 3" in result.stdout
    assert "required process fragile" in result.stdout
    assert time.monotonic() - start < 30


def test_ctrl_c_stops_everything_without_escalating(tmp_path, ros_env):
    launch = write(
        tmp_path / "pair.launch.yaml",
        """\
        launch:
        - node: {pkg: interseg, exec: talker_node, name: t1}
        - node: {pkg: interseg, exec: listener_node, name: l1}
        """,
    )
    proc = subprocess.Popen(
        interseg_command("launch", str(launch)),
        env=ros_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        lines.append(line)
        if "[l1] " in line and "message 1:" in line:
            break
    else:
        proc.kill()
        pytest.fail("graph did not start:\n" + "".join(lines))
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=15)  # (the stop's own bound: no escalation, checked below)
    assert proc.returncode == 0
    assert "stopping: received SIGINT" in out and "did not stop" not in out


@pytest.mark.parametrize(
    "content,args,expected",
    [
        ("launch: [ {node: {pkg: interseg, exec: talker_node}", [], "not valid YAML"),
        ("launch:\n- node: {pkg: interseg, exec: no_such_node}\n", [], "executable 'no_such_node' not found"),
        (
            "launch:\n- node: {pkg: interseg, exec: talker_node, param: [{from: /nonexistent/params.yaml}]}\n",
            [],
            "params file /nonexistent/params.yaml not found",
        ),
        (
            "launch:\n- arg: {name: rate, default: '1'}\n- node: {pkg: interseg, exec: talker_node}\n",
            ["rate=3"],
            "bad launch argument 'rate=3'",
        ),
        (
            "launch:\n- arg: {name: rate, default: '1'}\n- node: {pkg: interseg, exec: talker_node}\n",
            ["speed:=3"],
            "unknown launch argument(s) speed",
        ),
        (
            "launch:\n- arg: {name: needed}\n- node: {pkg: interseg, exec: talker_node}\n",
            [],
            "argument 'needed' has no default",
        ),
        ("launch:\n- nod: {pkg: interseg, exec: talker_node}\n", [], "unknown action 'nod'"),
        (
            "launch:\n- node: {pkg: interseg, exec: talker_node, name: x}\n- node: {pkg: no_such_pkg, exec: y}\n",
            [],
            "executable 'y' not found in package 'no_such_pkg'",
        ),
    ],
)
def test_bad_input_is_one_line_exit_2_and_nothing_started(tmp_path, ros_env, ros_node, content, args, expected):
    launch = tmp_path / "bad.launch.yaml"
    launch.write_text(content)
    result = subprocess.run(
        interseg_command("launch", str(launch), *args), env=ros_env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0] and (str(launch) in lines[0] or "launch argument" in lines[0]), (
        result.stderr
    )
    assert "started" not in result.stdout
    time.sleep(0.5)
    assert "x" not in [n for n, _ in ros_node.get_node_names_and_namespaces()]


def test_missing_launch_file_is_reported(ros_env):
    result = subprocess.run(
        interseg_command("launch", "/nonexistent/x.launch.yaml"),
        env=ros_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and "launch file not found" in result.stderr


def test_conditions_groups_and_includes_resolve(tmp_path):
    inner = write(
        tmp_path / "inner.launch.yaml",
        """\
        launch:
        - arg: {name: who, default: nobody}
        - node: {pkg: interseg, exec: listener_node, name: "listener_$(var who)"}
        """,
    )
    outer = write(
        tmp_path / "outer.launch.yaml",
        f"""\
        launch:
        - arg: {{name: with_talker, default: "true"}}
        - node: {{pkg: interseg, exec: talker_node, name: talker, if: $(var with_talker)}}
        - node: {{pkg: interseg, exec: talker_node, name: never, unless: $(var with_talker)}}
        - group:
            children:
            - push-ros-namespace: {{namespace: arm}}
            - include:
                file: $(dirname)/{inner.name}
                arg: [{{name: who, value: alice}}]
        """,
    )
    plan = read_launch_file(outer, {"with_talker": "true"})
    assert [p.name for p in plan.processes] == ["talker", "arm/listener_alice"]
    assert "__ns:=/arm" in plan.processes[1].command
    plan = read_launch_file(outer, {"with_talker": "false"})
    assert [p.name for p in plan.processes] == ["never", "arm/listener_alice"]
    with pytest.raises(
        LaunchError, match="is not a valid condition"
    ):  # evaluate_condition_expression: true/false/1/0 only
        read_launch_file(outer, {"with_talker": "maybe"})


def test_for_loops_repeat_their_children_with_the_index_as_launch_does(tmp_path):
    """launch's ForLoop: children once per index, ``$(index NAME)`` inside them and what they
    include, no scope of their own (a ``let`` in the loop is seen after it); bad lengths and an
    index outside its loop are one-line errors."""
    inner = write(
        tmp_path / "robot.launch.yaml",
        """\
        launch:
        - arg: {name: ns}
        - group:
            children:
            - push_ros_namespace: {namespace: $(var ns)}
            - node: {pkg: interseg, exec: listener_node, name: "listener_$(index k)"}
        """,
    )
    outer = write(
        tmp_path / "fleet.launch.yaml",
        f"""\
        launch:
        - arg: {{name: n, default: "2"}}
        - for:
            len: $(var n)
            name: k
            children:
            - for:
                len: "2"
                name: j
                children:
                - node: {{pkg: interseg, exec: talker_node, name: "talker_$(index k)_$(index j)"}}
            - group:
                children:
                - include:
                    file: $(dirname)/{inner.name}
                    arg: [{{name: ns, value: robot$(index k)}}]
            - let: {{name: last, value: $(index k)}}
        - log: {{message: "last $(var last none)"}}
        """,
    )
    plan = read_launch_file(outer, {})
    assert [p.name for p in plan.processes] == [
        "talker_0_0",
        "talker_0_1",
        "robot0/listener_0",
        "talker_1_0",
        "talker_1_1",
        "robot1/listener_1",
    ]
    assert "last 1" in plan.messages
    with pytest.raises(LaunchError, match="starts no processes"):  # no iteration at all
        read_launch_file(outer, {"n": "0"})
    with pytest.raises(LaunchError, match="len 'two' is not an integer"):
        read_launch_file(outer, {"n": "two"})
    stray = write(
        tmp_path / "stray.launch.yaml",
        """\
        launch:
        - for: {len: "1", name: k, children: [{log: {message: "$(index k)"}}]}
        - log: {message: "$(index k)"}
        """,
    )
    with pytest.raises(LaunchError, match=r"\$\(index k\) outside a 'for' action named 'k'"):
        read_launch_file(stray, {})
    for text, expected in (
        ('- for: {name: k, children: [{log: {message: "x"}}]}', "len"),
        ('- for: {len: "1", children: [{log: {message: "x"}}]}', "name"),
        ('- for: {len: 1, name: k, children: [{log: {message: "x"}}]}', "len"),
    ):
        bad = tmp_path / "bad.launch.yaml"
        bad.write_text("launch:\n" + text + "\n")
        with pytest.raises(LaunchError, match=expected):
            read_launch_file(bad, {})


def test_a_fleets_robots_start_from_the_learners_weights_in_arenas_of_their_own(tmp_path):
    import torch

    from interseg.learning.model import HypothesisNetwork, ModelConfig
    from interseg.learning.trainer import Trainer
    from interseg.learning.trainer_config import TrainerConfig

    plan = read_launch_file(REPO / "launch" / "fleet.launch.yaml", {"robots": "3", "seed": "5"})

    def seed(name):
        (command,) = [p.command for p in plan.processes if p.name == name]
        return [arg for arg in command if arg.startswith("seed:=")]

    assert seed("trainer") == ["seed:=5"]
    for k in range(3):
        assert seed(f"robot{k}/hypotheses") == ["seed:=5"]  # one initial model for the whole fleet
        assert seed(f"robot{k}/sim") == seed(f"robot{k}/experimenter") == [f"seed:={5 + k}"]
    # ... and one seed gives one model: the hypotheses node's initial network is the trainer's.
    config = ModelConfig(expected_size=(64, 48))
    torch.manual_seed(5)
    node_weights = HypothesisNetwork(config).state_dict()
    trainer_weights = Trainer(tmp_path, config, TrainerConfig(seed=5)).model.state_dict()
    assert all(torch.equal(node_weights[name], trainer_weights[name]) for name in node_weights)


SHIPPED = {
    "sim.launch.yaml": {},
    "robot.launch.yaml": {"publish_camera_poses": "true"},
    "pretrain.launch.yaml": {},
    "check.launch.yaml": {},
    "fleet.launch.yaml": {"robots": "3"},
}


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_every_shipped_node_is_respawned_or_takes_the_graph_down_for_a_stated_reason(name):
    plan = read_launch_file(REPO / "launch" / name, SHIPPED[name])
    assert plan.processes
    for spec in plan.processes:  # a node that dies must not go unnoticed
        assert spec.respawn != spec.required, f"{name}: {spec.name} must either respawn or have on_exit: shutdown"
        assert spec.respawn_max_retries < 0 and (not spec.respawn or spec.respawn_delay >= 1.0), spec
    lines = (REPO / "launch" / name).read_text().splitlines()
    for index, line in enumerate(lines):
        if line.strip().split(":")[0] in ("respawn", "on_exit"):
            above = index - 1
            while lines[above].strip().startswith("#"):
                above -= 1
            reason = (
                lines[above + 1].strip() if above + 1 < index else ""
            )  # first line of the comment block right above
            assert reason.startswith(("# respawn", "# shutdown")), (
                f"{name}:{index + 1}: {line.strip()} without its reason in a comment above it"
            )
