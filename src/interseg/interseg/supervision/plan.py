"""What reading a launch file produces: the processes to start and the launch's arguments,
environment and messages; the error every reading problem raises."""

from __future__ import annotations

import re
from dataclasses import dataclass, field


class LaunchError(Exception):
    """A launch file (or its arguments) cannot be turned into processes; one line, names the file."""


@dataclass
class ProcessSpec:
    """One process the supervisor starts: a node (with its ROS arguments) or a plain executable."""

    name: str
    command: list[str]
    env: dict[str, str] = field(default_factory=dict)
    required: bool = False  # on_exit: shutdown -> the whole graph stops when it exits
    respawn: bool = False
    respawn_delay: float = 0.0
    respawn_max_retries: int = -1  # negative: no limit
    is_node: bool = True
    source: str = ""  # launch file that declared it
    cwd: str | None = None


@dataclass
class LaunchPlan:
    processes: list[ProcessSpec]
    arguments: dict[str, str]
    env: dict[str, str]
    messages: list[str]


def parse_cli_arguments(items: list[str]) -> dict[str, str]:
    """``name:=value`` pairs from the command line."""
    result: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition(":=")
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_\-]*", name):
            raise LaunchError(f"bad launch argument '{item}': expected name:=value")
        result[name] = value
    return result
