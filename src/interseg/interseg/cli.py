"""The `interseg` command. Each subcommand lives in its own module and is imported on use, so
that `interseg launch` does not pay for torch and `interseg bench` does not need a ROS graph."""

from __future__ import annotations

import importlib
import sys

# name -> ("module:function", one-line help). The function takes argv (list[str]) and returns an
# exit code. Keep the table sorted by name.
COMMANDS: dict[str, tuple[str, str]] = {
    "bench": (
        "interseg.evaluation.bench.cli:main",
        "Table 1 / Figure 2 benchmark on the test split with baselines (JSON, plots, HTML)",
    ),
    "demo": ("interseg.evaluation.demo:main", "the simulator demo: collect, train, evaluate, write a report"),
    "doctor": (
        "interseg.doctor:main",
        "which backends this machine can run (embedded, Gazebo, MoveIt, rviz) and what to install",
    ),
    "echo": ("interseg.nodes.introspection:echo_main", "print a summary of messages on a topic"),
    "evaluate-images": (
        "interseg.use.evaluate_images:main",
        "score a network on labelled images (OCID, OSD, label PNGs, COCO): AP and overlap/boundary P/R/F",
    ),
    "export-model": (
        "interseg.use.export_model:main",
        "export a network to ONNX or TorchScript, checked against the checkpoint",
    ),
    "export-examples": ("interseg.learning.commands:export_main", "export an examples store to a rosbag2 MCAP bag"),
    "gz": ("interseg.sim.gz_cli:main", "Gazebo: `gz world --split S --seed N --out DIR` writes the arena's SDF world"),
    "launch": ("interseg.supervision.supervisor:main", "run a YAML launch file (ROS 2 launch format)"),
    "make-eval-set": (
        "interseg.evaluation.eval_set:main",
        "render the val/test evaluation images with COCO ground truth",
    ),
    "record": ("interseg.nodes.recorder:record_main", "record topics to a rosbag2 MCAP bag"),
    "pretrain": ("interseg.pretrain_command:main", "pre-train the network on optical-flow masks of random pushes"),
    "rviz-config": (
        "interseg.rviz:main",
        "write the rviz configuration for a robot in a namespace (and the rviz2 command)",
    ),
    "security": (
        "interseg.security.cli:main",
        "SROS2 keystore and per-node enclaves for a secured graph (full ROS 2 install)",
    ),
    "segment": (
        "interseg.use.segment:main",
        "run a network on images, folders or a bag topic: overlays, label images, COCO results",
    ),
    "sim": ("interseg.sim.cli:main", "simulator tools: `sim snapshot --out DIR` writes the four views"),
    "topics": ("interseg.nodes.introspection:topics_main", "list topics, types and publisher counts"),
    "train": ("interseg.learning.commands:train_main", "train the hypothesis network online from an examples store"),
}


def usage() -> str:
    width = max(len(n) for n in COMMANDS)
    lines = ["usage: interseg COMMAND [ARGS...]", "", "commands:"]
    lines += [f"  {name:<{width}}  {help_}" for name, (_, help_) in sorted(COMMANDS.items())]
    lines += ["", "`interseg COMMAND --help` for a command's options."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(usage())
        return 0
    if argv[0] in ("-V", "--version"):
        from interseg import __version__

        print(__version__)
        return 0
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"interseg: unknown command '{name}'\n\n{usage()}", file=sys.stderr)
        return 2
    from interseg.rosenv import apply_ros_environment

    apply_ros_environment()  # every process the project starts stays on loopback DDS
    module_name, func_name = COMMANDS[name][0].split(":")
    func = getattr(importlib.import_module(module_name), func_name)
    return int(func(rest) or 0)


if __name__ == "__main__":
    sys.exit(main())
