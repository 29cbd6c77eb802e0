"""The launch-file reader accepts what ROS 2's YAML launch front end (launch, launch_yaml,
launch_ros; Jazzy/Kilted) accepts, refuses what it refuses, and types values as it does.

Each case names the upstream function it follows. Most cases resolve small files written into
tmp_path; the last ones start real processes (the supervisor and the talker node)."""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path

import pytest
from conftest import REPO, interseg_command, wait_for

from interseg.supervision.launch_file import read_launch_file
from interseg.supervision.plan import LaunchError
from interseg.supervision.values import parameter_text

pytestmark = pytest.mark.slow


def write(tmp_path: Path, text: str, name: str = "test.launch.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def plan_of(tmp_path: Path, text: str, arguments: dict[str, str] | None = None, **kwargs):
    return read_launch_file(write(tmp_path, text), arguments, **kwargs)


def node(text: str, **fields: str) -> str:
    """A talker node entry with extra YAML lines (already indented by the caller)."""
    return "launch:\n- node:\n    pkg: interseg\n    exec: talker_node\n" + textwrap.indent(
        textwrap.dedent(text), "    "
    )


def command_of(plan, name: str = "talker_node") -> list[str]:
    return next(p for p in plan.processes if p.name == name).command


def p_args(command: list[str]) -> list[str]:
    return [command[i + 1] for i, a in enumerate(command) if a == "-p"]


# -- what upstream refuses ------------------------------------------------------------------------

STRICT = [
    # ExecuteProcess.parse: get_attr('respawn_delay', data_type=float) lets a string through
    # (launch_yaml accepts str for every type) and `respawn_delay < 0.0` then raises
    # TypeError: '<' not supported between instances of 'str' and 'float'.
    (node('respawn: "true"\nrespawn_delay: "2.0"\n'), "'respawn_delay' must be a YAML float such as 2.0, got '2.0'"),
    # launch_yaml Entity.get_attr -> is_instance_of(2, float): an int is not a float.
    (node('respawn: "true"\nrespawn_delay: 2\n'), "write respawn_delay: 2.0"),
    (node("sigterm_timeout: '3.0'\n"), "'sigterm_timeout' must be a YAML float"),
    (node("respawn_delay: -1.0\n"), "'respawn_delay' must not be negative"),
    # ExecuteLocal compares respawn_max_retries with ints when the process exits.
    (node("respawn_max_retries: '3'\n"), "'respawn_max_retries' must be a YAML integer"),
    # ExecuteProcess.parse: get_attr('respawn') is a string attribute (then a substitution);
    # a YAML boolean fails Entity.get_attr's type check.
    (node("respawn: true\n"), "'respawn' must be a string"),
    # Action.parse: get_attr('if') / get_attr('unless') are strings.
    (node("if: false\n"), "'if' must be a string"),
    (node("if: 'true'\nunless: 'false'\n"), "'if' and 'unless' cannot be used together"),
    # DeclareLaunchArgument.parse: get_attr('default') is a string.
    (
        "launch:\n- arg: {name: n, default: 20}\n- node: {pkg: interseg, exec: talker_node}\n",
        "'default' must be a string",
    ),
    # expose_action's wrapper calls Entity.assert_entity_completely_parsed after parse().
    (node("nmae: talker\n"), "unexpected key(s) nmae in 'node'"),
    (node("remap: [{from: a, to: b, too: c}]\n"), "unexpected key(s) too in 'remap'"),
    (node("param: [{name: rate, value: 1.0, type: float}]\n"), "unexpected key(s) type in 'param'"),
    (node("env: [{name: A, value: b, extra: c}]\n"), "unexpected key(s) extra in 'env'"),
    ("launch:\n- executable: {cmd: 'true', args: '-x'}\n", "unexpected key(s) args in 'executable'"),
    # Entity.get_attr(data_type=List[Entity]) indexes data[0]: an empty list fails.
    (node("env: []\n"), "'env' must be a non-empty list of mappings"),
    # ExecuteProcess.parse: on_exit accepts only 'shutdown' (read as text, no substitution).
    (node("on_exit: restart\n"), "on_exit must be 'shutdown'"),
    # PythonExpression.parse: 1 or 2 arguments; unquoted spaces separate arguments.
    (node("name: \"n$(eval 2 + 3)\"\n"), "$(eval) takes 1 to 2 argument(s), got 3"),
    # instantiate_substitution: an unknown substitution name fails at parse time.
    (node("name: \"$(no-such-thing x)\"\n"), "unknown substitution '$(no-such-thing)'"),
    # Node.parse_nested_parameters: name and from are exclusive; value must be a scalar or a
    # uniform list (get_attr(data_type=None)); parse_if_substitutions refuses mixed literals.
    (node("param: [{name: rate, from: /x.yaml}]\n"), "either 'name' or 'from'"),
    (node("param: [{name: rate, value: {a: 1}}]\n"), "'value' must be a scalar or a list"),
    (node("param: [{name: rate, value: [1, true]}]\n"), "mixes types"),
    # Only 'set_env' is exposed (no 'set-env' spelling).
    (
        "launch:\n- set-env: {name: A, value: b}\n- node: {pkg: interseg, exec: talker_node}\n",
        "unknown action 'set-env'",
    ),
    # SetParameter.parse: get_attr('value') is a string attribute.
    (
        "launch:\n- set_parameter: {name: rate, value: 4}\n- node: {pkg: interseg, exec: talker_node}\n",
        "'value' must be a string",
    ),
    # ExecuteLocal: respawn is performed as a typed substitution (bool): not 'maybe'.
    (node("respawn: maybe\n"), "'maybe' is not a boolean"),
    # evaluate_condition_expression: true/false/1/0 only (not yes/on).
    (node("if: 'yes'\n"), "'yes' is not a valid condition"),
    # Entity.children of a dict entity needs 'children'.
    ("launch:\n- group: {scoped: false}\n", "needs its actions as a list, or a 'children' list"),
    # The whole file is parsed before it runs: a bad entry behind a false condition still fails.
    (
        "launch:\n- node: {pkg: interseg, exec: talker_node}\n- group:\n    if: 'false'\n    children:\n"
        "    - node: {pkg: interseg, exec: talker_node, name: x, respawn: true}\n",
        "'respawn' must be a string",
    ),
    # launch_yaml's root: exactly one key, 'launch' (Parser.parse_description).
    ("launch: []\nextra: 1\n", "single key 'launch'"),
]


@pytest.mark.parametrize("text,expected", STRICT)
def test_what_ros2_launch_refuses_is_refused_with_one_line(tmp_path, text, expected):
    path = write(tmp_path, text)
    with pytest.raises(LaunchError) as caught:
        read_launch_file(path)
    message = str(caught.value)
    assert expected in message, message
    assert "\n" not in message and str(path) in message


def test_quoted_respawn_delay_stops_interseg_launch_with_exit_2(tmp_path, ros_env):
    # The failure found with ros2 launch on a real install: respawn_delay: "2.0".
    path = write(tmp_path, node('name: t\nrespawn: "true"\nrespawn_delay: "2.0"\n'))
    result = subprocess.run(
        interseg_command("launch", str(path)), env=ros_env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "respawn_delay" in lines[0] and str(path) in lines[0]
    assert "started" not in result.stdout


# -- what upstream accepts, read as it reads it -----------------------------------------------------


def test_process_attributes_typed_as_upstream(tmp_path):
    # ExecuteProcess.parse: respawn is text performed to a bool, respawn_delay a float,
    # respawn_max_retries an int, shell/emulate_tty booleans, output one of launch.logging's.
    plan = plan_of(
        tmp_path,
        node(
            'name: t\nrespawn: "$(var again)"\nrespawn_delay: 0.5\nrespawn_max_retries: 2\n'
            'output: screen\nemulate_tty: true\ncwd: /tmp\n'
        ).replace("launch:\n", "launch:\n- arg: {name: again, default: 'True'}\n"),
    )
    spec = plan.processes[0]
    assert (spec.respawn, spec.respawn_delay, spec.respawn_max_retries, spec.cwd) == (True, 0.5, 2, "/tmp")
    plan = plan_of(tmp_path, node('name: t\nrespawn: "0"\n'))
    assert plan.processes[0].respawn is False  # coerce_to_type(bool) maps '1'/'0'


@pytest.mark.parametrize(
    "value,arguments,expected",
    [
        # Node.parse_nested_parameters -> parse_if_substitutions: text without substitutions stays
        # a string; other YAML scalars keep their type; yaml.dump writes them for rcl.
        ('"4"', {}, "x:='4'"),
        ("4", {}, "x:=4"),
        ("4.0", {}, "x:=4.0"),
        ('"true"', {}, "x:='true'"),
        ("true", {}, "x:=true"),
        ("''", {}, "x:=''"),
        ("[a, b]", {}, "x:=[a, b]"),
        ("[1, 2]", {}, "x:=[1, 2]"),
        # ParameterValue(value_type=None): a value with substitutions is performed, then read as YAML.
        ("$(var v)", {"v": "4"}, "x:=4"),
        ("$(var v)", {"v": "4.5"}, "x:=4.5"),
        ("$(var v)", {"v": "true"}, "x:=true"),
        ("$(var v)", {"v": "[cam1,cam2]"}, "x:=[cam1, cam2]"),
        ("$(var v)", {"v": ""}, "x:=''"),
        ("$(var v)", {"v": "runs/sim"}, "x:=runs/sim"),
        ('"$(var v)_frame"', {"v": "5"}, "x:=5_frame"),
        ('"$(var v)"', {"v": "'4'"}, "x:='4'"),
        # a list's substituted items are read as YAML one by one, literals stay
        ("[$(var v), 5]", {"v": "4"}, "x:=[4, 5]"),
    ],
)
def test_parameter_values_typed_as_launch_ros(tmp_path, value, arguments, expected):
    plan = plan_of(
        tmp_path,
        "launch:\n- arg: {name: v, default: unused}\n"
        + node(f"param: [{{name: x, value: {value}}}]\n").removeprefix("launch:\n"),
        arguments,
    )
    assert p_args(command_of(plan)) == [expected]


def test_substituted_value_that_is_not_a_scalar_or_uniform_list_is_refused(tmp_path):
    # coerce_to_type(None): the YAML result must be a valid parameter type.
    path = write(
        tmp_path,
        "launch:\n- arg: {name: v, default: 'a: 1'}\n"
        + node("param: [{name: x, value: $(var v)}]\n").removeprefix("launch:\n"),
    )
    with pytest.raises(LaunchError, match="reads as dict"):
        read_launch_file(path)
    with pytest.raises(LaunchError, match="not a scalar or a list of one type"):
        read_launch_file(path, {"v": "[1, a]"})


def test_parameter_text_round_trips_through_yaml():
    import yaml

    for value in ("4", 4, 4.0, True, "", "y", [1.0, 2.5], ["a b", "c"], "a: b", 1e-20):
        assert yaml.safe_load(parameter_text(value)) == value


def test_nested_params_and_files_keep_their_order(tmp_path):
    # Node.parse_nested_parameters: nested param entries become 'outer.inner'; each entry is
    # passed in order (ros2 launch: one --params-file per entry, later ones override).
    params = tmp_path / "p.yaml"
    params.write_text("/**:\n  ros__parameters:\n    rate: 3.0\n")
    plan = plan_of(
        tmp_path,
        node(
            f"param:\n- {{from: {params}}}\n- name: outer\n  param:\n  - {{name: inner, value: 2}}\n"
            "  - {name: deep, param: [{name: x, value: b}]}\n"
        ),
    )
    command = command_of(plan)
    start = command.index("--params-file")
    assert command[start:] == ["--params-file", str(params), "-p", "outer.inner:=2", "-p", "outer.deep.x:=b"]


def test_params_file_with_substitutions(tmp_path):
    # ParameterFile(allow_substs=True): the file's text is substituted into a copy.
    params = tmp_path / "p.yaml"
    params.write_text("/**:\n  ros__parameters:\n    frame_id: $(var f)\n")
    plan = plan_of(
        tmp_path,
        "launch:\n- arg: {name: f, default: cam9}\n"
        + node(f"param: [{{from: {params}, allow_substs: true}}]\n").removeprefix("launch:\n"),
    )
    copy = Path(command_of(plan)[command_of(plan).index("--params-file") + 1])
    assert copy != params and "frame_id: cam9" in copy.read_text()


def test_node_command_layout_follows_launch_ros(tmp_path):
    # Node.__init__ / _perform_substitutions: exe, args, --ros-args ros_args, then --ros-args
    # with name, namespace, global params, params, global then own remaps. A substitution's
    # result is one argument even with spaces (ExecuteProcess._parse_cmdline).
    plan = plan_of(
        tmp_path,
        """\
        launch:
        - arg: {name: words, default: "a b"}
        - set_remap: {from: x, to: y}
        - set_parameter: {name: width, value: "40"}
        - node:
            pkg: interseg
            exec: talker_node
            name: t
            namespace: ns
            args: --flag $(var words) "c d" e
            ros_args: --log-level warn
            param: [{name: rate, value: 5.0}]
            remap: [{from: hypotheses, to: h2}]
        """,
    )
    command = plan.processes[0].command
    assert command[1:] == [
        "--flag",
        "a b",
        "c d",
        "e",
        "--ros-args",
        "--log-level",
        "warn",
        "--ros-args",
        "-r",
        "__node:=t",
        "-r",
        "__ns:=/ns",
        "-p",
        "width:=40",
        "-p",
        "rate:=5.0",
        "-r",
        "x:=y",
        "-r",
        "hypotheses:=h2",
    ]
    assert plan.processes[0].name == "ns/t"


def test_scopes_groups_includes_namespaces_remaps(tmp_path, monkeypatch):
    # GroupAction (scoped by default) pushes launch configurations and the environment;
    # IncludeLaunchDescription does not scope: the included file sees the including file's
    # configurations and what it sets stays set. PushROSNamespace / SetRemap / SetParameter
    # live in the launch configurations, so groups scope them too.
    monkeypatch.chdir(tmp_path)
    write(
        tmp_path,
        """\
        launch:
        - arg: {name: who, default: nobody}
        - let: {name: from_inner, value: "set by inner, seen $(var outer_only)"}
        - node: {pkg: interseg, exec: listener_node, name: "l_$(var who)"}
        """,
        "inner.launch.yaml",
    )
    plan = plan_of(
        tmp_path,
        """\
        launch:
        - let: {name: outer_only, value: "yes"}
        - group:
            children:
            - push_ros_namespace: {namespace: arm}
            - set_remap: {from: hypotheses, to: /arm_h}
            - set_env: {name: INSIDE, value: "1"}
            - group:
              - push-ros-namespace: {namespace: left}
              - node: {pkg: interseg, exec: talker_node, name: deep}
            - node: {pkg: interseg, exec: talker_node, name: in_group}
            - include: {file: inner.launch.yaml, arg: [{name: who, value: alice}]}
        - node: {pkg: interseg, exec: talker_node, name: outside}
        - group:
            scoped: false
            children:
            - push_ros_namespace: {namespace: shared}
            - include: {file: inner.launch.yaml}
        - node: {pkg: interseg, exec: talker_node, name: after, env: [{name: X, value: "$(var from_inner)"}]}
        - log: {message: "who=$(var who) inside=$(optenv INSIDE unset)"}
        """,
    )
    by_name = {p.name: p for p in plan.processes}
    assert list(by_name) == [
        "arm/left/deep",
        "arm/in_group",
        "arm/l_alice",
        "outside",
        "shared/l_nobody",
        "shared/after",
    ]
    assert "__ns:=/arm/left" in by_name["arm/left/deep"].command
    assert (
        "hypotheses:=/arm_h" in by_name["arm/left/deep"].command
        and "hypotheses:=/arm_h" in by_name["arm/l_alice"].command
    )
    assert by_name["arm/in_group"].env["INSIDE"] == "1" and "INSIDE" not in by_name["outside"].env
    assert not any(a.startswith("hypotheses:=") for a in by_name["outside"].command)
    assert "__ns:=/shared" in by_name["shared/after"].command  # an unscoped group's namespace stays
    # the first include's who=alice stayed inside its group; the second include (unscoped)
    # declared who=nobody and its let for the rest of the file
    assert by_name["shared/after"].env["X"] == "set by inner, seen yes"
    assert plan.messages == ["who=nobody inside=unset"]


def test_upstream_substitution_forms(tmp_path, monkeypatch):
    # LaunchConfiguration.parse (var with default), EnvironmentVariable (env with a quoted
    # default), grammar: '$' not followed by '(' is text, '\\' escapes, quoted arguments.
    monkeypatch.setenv("LAUNCH_COMPAT_SET", "here")
    plan = plan_of(
        tmp_path,
        """\
        launch:
        - log: {message: "$(var missing fallback)|$(env LAUNCH_COMPAT_UNSET 'two words')|$(env LAUNCH_COMPAT_SET)\
|cost $5|a\\\\$(b)"}
        - log: {message: "$(eval '2 ** 10')|$(eval 'sqrt(16)')|$(not false)|$(and true 1)|$(or 0 false)"}
        - log: {message: "$(dirname)|$(filename)"}
        - node: {pkg: interseg, exec: talker_node}
        """,
    )
    path = tmp_path / "test.launch.yaml"
    assert plan.messages == ["fallback|two words|here|cost $5|a$(b)", "1024|4.0|true|true|false", f"{tmp_path}|{path}"]


def test_relative_paths_are_relative_to_the_working_directory(tmp_path, monkeypatch):
    # AnyLaunchDescriptionSource and ParameterFile open relative paths from the working
    # directory, not from the launch file's folder.
    (tmp_path / "sub").mkdir()
    write(tmp_path / "sub", "launch:\n- node: {pkg: interseg, exec: listener_node}\n", "inner.launch.yaml")
    outer = write(tmp_path / "sub", "launch:\n- include: {file: sub/inner.launch.yaml}\n", "outer.launch.yaml")
    monkeypatch.chdir(tmp_path)
    assert [p.name for p in read_launch_file(outer).processes] == ["listener_node"]
    monkeypatch.chdir(tmp_path / "sub")
    with pytest.raises(LaunchError, match="launch file not found"):
        read_launch_file(outer)


def test_lenient_forms_upstream_accepts(tmp_path):
    plan = plan_of(
        tmp_path,
        """\
        launch:
        - arg: {name: mode, default: a, choice: [{value: a}, {value: b}]}
        - group:                       # a group written as its list of actions
          - node: {pkg: interseg, exec: talker_node, name: t}
        - node: {pkg: interseg, exec: talker_node, name: t}   # same name twice: a warning upstream
        - executable: {cmd: "/bin/echo $(var mode)", name: echo, shell: true, launch-prefix: nice}
        """,
    )
    assert [p.name for p in plan.processes] == ["t", "t-2", "echo"]
    assert plan.processes[2].command == ["/bin/sh", "-c", "nice /bin/echo a"]
    assert any("two processes named 't'" in m for m in plan.messages)
    with pytest.raises(LaunchError, match="not one of"):  # DeclareLaunchArgument's choices
        read_launch_file(tmp_path / "test.launch.yaml", {"mode": "c"})


# -- the shipped launch files ---------------------------------------------------------------------

SHIPPED = sorted((REPO / "launch").glob("*.launch.yaml"))


@pytest.mark.parametrize("path", SHIPPED, ids=[p.name for p in SHIPPED])
def test_shipped_launch_files_pass_the_strict_reader(path, ros_env):
    plan = read_launch_file(path)
    assert plan.processes
    result = subprocess.run(
        interseg_command("launch", str(path), "--print"), env=ros_env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.strip().splitlines()) == len(plan.processes)


# -- real processes ----------------------------------------------------------------------------------


def test_group_namespace_remap_and_typed_parameters_reach_a_running_node(tmp_path, processes, ros_node):
    from interseg.nodes.convert import msg_to_image
    from interseg_interfaces.msg import ObjectHypotheses

    launch = write(
        tmp_path,
        """\
        launch:
        - arg: {name: rate, default: "20"}
        - group:
            children:
            - push_ros_namespace: {namespace: compat}
            - set_remap: {from: hypotheses, to: /compat_checked}
            - set_parameter: {name: width, value: "48"}
            - node:
                pkg: interseg
                exec: talker_node
                name: typed_talker
                param:
                - {name: rate, value: $(var rate)}
                - {name: frame_id, value: "4"}
        """,
    )
    received: list = []
    ros_node.create_subscription(ObjectHypotheses, "/compat_checked", received.append, 10)
    supervisor = processes.start(interseg_command("launch", str(launch), "rate:=25"), name="launch")
    wait_for(lambda: received or supervisor.poll() is not None, 40, message="messages on the remapped topic")
    assert received, processes.output(supervisor)
    assert received[-1].header.frame_id == "4"  # a quoted "4" stays a string
    assert msg_to_image(received[-1].hypotheses[0].mask).shape[1] == 48  # set_parameter "48" -> 48
    wait_for(
        lambda: ("typed_talker", "/compat") in ros_node.get_node_names_and_namespaces(), 10, message="node in /compat"
    )
