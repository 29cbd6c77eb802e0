"""The environment every ROS 2 process of the project runs in (ROS-free: only variables).

DDS must stay on this machine: the Fast DDS profile in config/ (shared memory plus UDP on
loopback, 127.0.0.1 as the only discovery peer) is used unless the caller already chose one,
and ROS_AUTOMATIC_DISCOVERY_RANGE is LOCALHOST as a second fence.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Mapping, MutableMapping

from interseg.paths import config_dir

FASTDDS_PROFILE = "fastdds_loopback.xml"


def ament_prefixes() -> list[str]:
    """Prefixes that hold ament indexes: the venv (ROS wheels and our interfaces)."""
    return [sys.prefix]


def apply_ros_environment(env: MutableMapping[str, str] | None = None, *, domain_id: int | None = None) -> MutableMapping[str, str]:
    """Fill in the project's ROS settings in ``env`` (default: os.environ), keeping explicit ones."""
    env = os.environ if env is None else env
    profile = config_dir() / FASTDDS_PROFILE
    if "FASTDDS_DEFAULT_PROFILES_FILE" not in env and "FASTRTPS_DEFAULT_PROFILES_FILE" not in env:
        env["FASTDDS_DEFAULT_PROFILES_FILE"] = str(profile)
    env.setdefault("RMW_IMPLEMENTATION", "rmw_fastrtps_cpp")
    env.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    if domain_id is not None:
        env["ROS_DOMAIN_ID"] = str(int(domain_id))
    prefixes = [p for p in env.get("AMENT_PREFIX_PATH", "").split(os.pathsep) if p]
    for prefix in ament_prefixes():
        if prefix not in prefixes:
            prefixes.append(prefix)
    env["AMENT_PREFIX_PATH"] = os.pathsep.join(prefixes)
    env.setdefault("PYTHONUNBUFFERED", "1")
    env.setdefault("RCUTILS_COLORIZED_OUTPUT", "0")
    return env


def ros_environment(base: Mapping[str, str] | None = None, *, domain_id: int | None = None) -> dict[str, str]:
    """A copy of ``base`` (default: os.environ) with the project's ROS settings applied."""
    env = dict(os.environ if base is None else base)
    apply_ros_environment(env, domain_id=domain_id)
    return env


def check_profile_exists() -> Path:
    profile = config_dir() / FASTDDS_PROFILE
    if not profile.is_file():
        raise FileNotFoundError(f"{profile}: Fast DDS loopback profile missing")
    return profile
