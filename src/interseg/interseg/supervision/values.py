"""Values typed as upstream launch types them (booleans, conditions, YAML-typed parameters),
and ROS node names and namespaces as launch_ros checks and combines them."""

from __future__ import annotations

import re
from typing import Any

import yaml


def coerce_bool(text: str, what: str) -> bool:
    """launch.utilities.type_utils.coerce_to_type(text, bool): '1'/'0', else a YAML boolean."""
    mapped = {"1": "true", "0": "false"}.get(text, text)
    try:
        value = yaml.safe_load(mapped) if mapped else None
    except yaml.YAMLError:
        value = None
    if not isinstance(value, bool):
        raise ValueError(f"{what}: '{text}' is not a boolean (true/false/1/0/yes/no/on/off)")
    return value


def condition_holds(text: str, what: str) -> bool:
    """launch.conditions.evaluate_condition_expression: only true/false/1/0, any case."""
    lowered = text.strip().lower()
    if lowered in ("true", "1"):
        return True
    if lowered in ("false", "0"):
        return False
    raise ValueError(f"{what}: '{text}' is not a valid condition (expected true, false, 1 or 0)")


SCALARS = (bool, int, float, str)


def uniform_list(values: list, can_be_str: bool) -> bool:
    """type_utils.is_instance_of_valid_type for a list."""
    if not values:
        return True
    member = next((type(v) for v in values if type(v) is not str), str)
    if member not in SCALARS:
        return False
    allowed = (member, str) if can_be_str else member
    return all(isinstance(v, allowed) for v in values)


def yaml_typed(text: str, what: str) -> Any:
    """coerce_to_type(text, None): the substituted text read as YAML; '' stays ''."""
    if not text:
        return text
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValueError(f"{what}: '{text}' is not valid YAML ({getattr(exc, 'problem', exc)})") from None
    if isinstance(value, list):
        if uniform_list(value, can_be_str=False):
            return value
    elif isinstance(value, SCALARS):
        return value
    raise ValueError(f"{what}: '{text}' reads as {type(value).__name__}, not a scalar or a list of one type")


def parameter_text(value: Any) -> str:
    """A parameter value as the YAML text ros2 launch writes for it (yaml.dump), which rcl
    parses back to the same type, for ``-p name:=TEXT``."""
    text = yaml.safe_dump(value, default_flow_style=True, width=2**30, allow_unicode=True)
    if text.endswith("\n...\n"):
        text = text[:-5]
    return text.rstrip("\n")


# -- ROS names -----------------------------------------------------------------------------------

_NAME_TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def validate_node_name(name: str) -> None:
    if not _NAME_TOKEN.fullmatch(name):
        raise ValueError(f"invalid node name '{name}' (letters, digits and _, not starting with a digit)")


def validate_namespace(namespace: str) -> None:
    if namespace == "/":
        return
    tokens = namespace.split("/")
    if not namespace.startswith("/") or not all(_NAME_TOKEN.fullmatch(t) for t in tokens[1:]):
        raise ValueError(f"invalid namespace '{namespace}'")


def prefix_namespace(base: str | None, namespace: str | None) -> str | None:
    """launch_ros.utilities.prefix_namespace."""
    if base is None and namespace is None:
        return None
    if namespace is None:
        combined = base
    elif not base or namespace.startswith("/"):
        combined = namespace
    else:
        combined = ("" if base == "/" else base) + "/" + namespace
    return combined if combined == "/" else combined.rstrip("/")


def absolute_namespace(namespace: str | None) -> str | None:
    if namespace is None or namespace.startswith("/"):
        return namespace
    return "/" + namespace
