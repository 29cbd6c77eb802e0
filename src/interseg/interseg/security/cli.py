"""``interseg security keystore|enclave|permissions``, and the interseg nodes a launch file
starts, read from the command lines the launch-file reader builds."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from interseg.security.keystore import create_enclave, create_keystore, default_domain_id
from interseg.security.policy import (
    NODE_INTERFACES,
    NodeSpec,
    Remap,
    SecurityError,
    executable_for,
    node_permissions,
    split_node_name,
)
from interseg.supervision.launch_file import read_launch_file
from interseg.supervision.plan import LaunchError, parse_cli_arguments

EXIT_BAD_INPUT = 2


# -- nodes of a launch file --------------------------------------------------------------------


def _true(text: str) -> bool:
    return text.strip().strip("'\"").lower() in ("true", "1", "yes", "on")


def node_from_command(command: list[str], display: str) -> NodeSpec:
    """A node's name, namespace, remaps, use_sim_time and enclave from the command line the
    launch-file reader builds (``--ros-args -r __node:=... -r __ns:=... -r a:=b -p x:=y
    --enclave E``)."""
    executable = Path(command[0]).name
    if "--ros-args" not in command:
        raise SecurityError(f"{display}: not a ROS node command")
    ros_args = command[command.index("--ros-args") + 1 :]
    name, namespace, remaps, sim_time, enclave, parameters = None, "/", [], False, None, []
    i = 0
    while i < len(ros_args):
        flag = ros_args[i]
        value = ros_args[i + 1] if i + 1 < len(ros_args) else ""
        if flag in ("-r", "--remap"):
            rule = Remap.parse(value)
            if rule.source == "__node" or rule.source == "__name":
                name = rule.target
            elif rule.source == "__ns":
                namespace = rule.target
            else:
                remaps.append(rule)
            i += 2
        elif flag in ("-p", "--param"):
            parameter, _, text = value.partition(":=")
            parameters.append((parameter, text))
            if parameter == "use_sim_time":
                sim_time = _true(text)
            i += 2
        elif flag in ("-e", "--enclave"):
            enclave = value
            i += 2
        elif flag in ("--params-file", "--log-level", "--log-config-file"):
            i += 2
        else:
            i += 1
    if executable not in NODE_INTERFACES:
        raise SecurityError(
            f"{display}: '{executable}' is not an interseg node (known: {', '.join(sorted(NODE_INTERFACES))})"
        )
    name = name or NODE_INTERFACES[executable].node
    full_name = f"{namespace.rstrip('/')}/{name}" if namespace.startswith("/") else f"/{namespace.strip('/')}/{name}"
    return NodeSpec(full_name, executable, tuple(remaps), sim_time, enclave, tuple(parameters))


def nodes_of_launch_file(path: str, arguments: list[str]) -> list[NodeSpec]:
    """Every interseg node the launch file starts with these arguments, as started."""
    try:
        plan = read_launch_file(path, parse_cli_arguments(arguments))
    except LaunchError as exc:
        raise SecurityError(str(exc)) from None
    specs = [node_from_command(p.command, p.name) for p in plan.processes if p.is_node]
    if not specs:
        raise SecurityError(f"{path}: starts no interseg node")
    return specs


# -- command line ------------------------------------------------------------------------------


class _OneLineParser(argparse.ArgumentParser):
    """Bad command lines get one line and exit code 2, like every other bad input here."""

    def error(self, message: str):
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: {message} (see --help)\n")


def _parser() -> argparse.ArgumentParser:
    parser = _OneLineParser(
        prog="interseg security",
        description="SROS2 keystores for the interseg nodes (a full ROS 2 install runs them secured; "
        "the ROS 2 wheels' Fast DDS has no DDS Security plugins).",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    keystore = commands.add_parser("keystore", help="create a keystore: CA, governance (ros2 security create_keystore)")
    keystore.add_argument("keystore", type=Path)
    keystore.add_argument(
        "--domain-id", type=int, default=None, help="DDS domain of the governance (default: ROS_DOMAIN_ID or 0)"
    )
    enclave = commands.add_parser(
        "enclave",
        help="create node enclaves: identity and permissions limited to each node's own names",
        description="One enclave per node, with permissions for exactly the node's own topics, services and actions. "
        "--launch FILE [name:=value ...] secures every interseg node the launch file starts (its "
        "namespace, remaps, use_sim_time and --enclave); --node /ns/name[=EXECUTABLE] one node as "
        "started by hand (with --remap and --sim-time as you start it).",
    )
    enclave.add_argument("keystore", type=Path)
    enclave.add_argument(
        "--launch",
        nargs="+",
        metavar=("FILE", "name:=value"),
        help="launch file whose nodes to secure, and its arguments",
    )
    enclave.add_argument(
        "--node",
        action="append",
        default=[],
        metavar="/NS/NAME[=EXECUTABLE]",
        help="a node's full name; the executable defaults to the interseg node of that name",
    )
    enclave.add_argument(
        "--remap", action="append", default=[], metavar="FROM:=TO", help="a remap rule the --node nodes run with"
    )
    enclave.add_argument(
        "--sim-time", action="store_true", help="the --node nodes run with use_sim_time (they subscribe to /clock)"
    )
    enclave.add_argument("--enclave", help="enclave path of the single --node (default: the node's full name)")
    enclave.add_argument(
        "--domain-id", type=int, default=None, help="DDS domain of the permissions (default: ROS_DOMAIN_ID or 0)"
    )
    show = commands.add_parser("permissions", help="print the DDS topics a node's permissions allow (no files written)")
    show.add_argument("--node", action="append", required=True, metavar="/NS/NAME[=EXECUTABLE]")
    show.add_argument("--remap", action="append", default=[], metavar="FROM:=TO")
    show.add_argument("--sim-time", action="store_true")
    return parser


def _node_specs(args) -> list[NodeSpec]:
    remaps = tuple(Remap.parse(r) for r in args.remap)
    specs = []
    for item in args.node:
        full_name, _, executable = item.partition("=")
        split_node_name(full_name)
        executable = executable or executable_for(full_name.rpartition("/")[2])
        specs.append(NodeSpec(full_name, executable, remaps, args.sim_time))
    return specs


def _enclave(args) -> list[Path]:
    if bool(args.launch) == bool(args.node):
        raise SecurityError("give either --launch FILE or --node /ns/name (one or more)")
    if args.launch:
        if args.remap or args.sim_time or args.enclave:
            raise SecurityError(
                "--remap, --sim-time and --enclave go with --node; with --launch they come from the launch file"
            )
        specs = nodes_of_launch_file(args.launch[0], args.launch[1:])
    else:
        specs = _node_specs(args)
        if args.enclave:
            if len(specs) != 1:
                raise SecurityError("--enclave names the enclave of a single --node")
            specs[0].enclave = args.enclave
    enclaves = [s.enclave_path for s in specs]
    repeated = sorted({e for e in enclaves if enclaves.count(e) > 1})
    if repeated:
        raise SecurityError(f"several nodes would share the enclave {', '.join(repeated)}; give each its own --enclave")
    domain_id = default_domain_id() if args.domain_id is None else args.domain_id
    return [create_enclave(args.keystore, spec, domain_id) for spec in specs]


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "keystore":
            create_keystore(args.keystore, default_domain_id() if args.domain_id is None else args.domain_id)
            print(f"keystore {args.keystore}: CA in public/ and private/, governance in enclaves/")
        elif args.command == "enclave":
            for folder in _enclave(args):
                print(f"enclave {folder}")
        else:
            for spec in _node_specs(args):
                permissions = node_permissions(spec)
                for topic in sorted(permissions.publish):
                    print(f"{spec.full_name} publish   {topic}")
                for topic in sorted(permissions.subscribe):
                    print(f"{spec.full_name} subscribe {topic}")
    except (SecurityError, OSError) as exc:
        print(f"interseg security: {' '.join(str(exc).split())}", file=sys.stderr)
        return EXIT_BAD_INPUT
    return 0


if __name__ == "__main__":
    sys.exit(main())
