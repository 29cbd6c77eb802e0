"""declare(): a double parameter takes an integer (launch arguments without a decimal point,
`-p x:=4`, params files), other type mismatches stop the node with one clear line. Real node
processes, their parameters read back over the parameter services."""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import REPO, call_service, interseg_command, wait_for
from rcl_interfaces.msg import ParameterType

pytestmark = pytest.mark.slow


def get_parameters(ros_node, node: str, names: list[str]):
    from rcl_interfaces.srv import GetParameters

    client = ros_node.create_client(GetParameters, f"{node}/get_parameters")
    wait_for(client.service_is_ready, 60, message=f"{node}/get_parameters")
    return call_service(client, GetParameters.Request(names=names), 30, message="parameter values").values


def test_experimenter_takes_an_integer_launch_argument_for_its_double_max_minutes(tmp_path, processes, ros_node):
    # The sim.launch.yaml case: max_minutes:=4 reaches the node as the integer 4 (ros2 launch
    # types it the same way), on top of config/experimenter.yaml.
    launch = tmp_path / "experimenter.launch.yaml"
    launch.write_text(f"""\
launch:
- arg: {{name: max_minutes, default: "0.0"}}
- node:
    pkg: interseg
    exec: experimenter_node
    name: experimenter
    param:
    - from: {REPO / 'config' / 'experimenter.yaml'}
    - {{name: max_minutes, value: $(var max_minutes)}}
    - {{name: capture_timeout, value: 3}}
""")
    supervisor = processes.start(interseg_command("launch", str(launch), "max_minutes:=4"), name="launch")
    values = get_parameters(ros_node, "/experimenter", ["max_minutes", "capture_timeout"])
    assert [(v.type, v.double_value) for v in values] == [
        (ParameterType.PARAMETER_DOUBLE, 4.0),
        (ParameterType.PARAMETER_DOUBLE, 3.0),
    ]
    assert supervisor.poll() is None, processes.output(supervisor)
    assert "experimenter exited" not in processes.output(supervisor)


def test_talker_started_with_an_integer_rate_runs_at_that_rate(processes, ros_node):
    talker = processes.python(
        [
            "-c",
            "import sys; from interseg.nodes.demo_pair import talker_main; sys.exit(talker_main())",
            "--ros-args",
            "-r",
            "__node:=int_rate_talker",
            "-p",
            "rate:=4",
        ],
        name="talker",
    )
    (value,) = get_parameters(ros_node, "/int_rate_talker", ["rate"])
    assert (value.type, value.double_value) == (ParameterType.PARAMETER_DOUBLE, 4.0)
    assert talker.poll() is None


def test_boolean_or_string_for_a_double_stops_the_node_with_one_line(ros_env):
    for given, shown in (("true", "True (a boolean)"), ("fast", "'fast' (a string)")):
        result = subprocess.run(
            [
                sys.executable,
                "-c",
                "import sys; from interseg.nodes.demo_pair import talker_main; sys.exit(talker_main())",
                "--ros-args",
                "-r",
                "__node:=bad_rate_talker",
                "-p",
                f"rate:={given}",
            ],
            env=ros_env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 1
        lines = [line for line in result.stderr.splitlines() if "rate" in line]
        assert lines == [f"Talker: failed to start: parameter 'rate' must be a number (double), got {shown}"], (
            result.stderr
        )
