"""The state a launch file runs in: launch configurations and environment (a scope), the file
being run (a frame), and an action parsed from the file and waiting to run."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from interseg.supervision.substitutions import Parts


@dataclass
class Scope:
    """LaunchContext's launch configurations (the ROS namespace, remaps and global parameters
    live there too, as in launch_ros) and environment; a scoped group works on a copy."""

    configs: dict[str, Any]
    env: dict[str, str]

    def copy(self) -> Scope:
        return Scope(dict(self.configs), dict(self.env))


@dataclass
class Frame:
    file: Path  # for $(dirname), $(filename) and error messages
    scope: Scope


class ActionFailure(ValueError):
    """An error while running an action, already carrying its file and entry."""


@dataclass
class Action:
    kind: str
    label: str
    file: Path
    condition: tuple[str, Parts] | None
    run: Callable[[Frame], None]
    declares: tuple[str, bool, bool] | None = None  # arg: (name, has default, conditional)
