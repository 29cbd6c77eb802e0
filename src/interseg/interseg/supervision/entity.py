"""launch_yaml's Entity: one action's YAML element, its attributes read with upstream's type
checks, and a record of what was read so that an unread attribute is an error."""

from __future__ import annotations

from typing import Any

import yaml

from interseg.supervision.values import SCALARS, uniform_list

_TYPE_NAMES = {
    bool: "a YAML boolean",
    int: "a YAML integer",
    float: "a YAML float",
    str: "a string",
    list: "a list",
    dict: "a mapping",
    type(None): "empty",
}


def _describe(value: Any) -> str:
    shown = yaml.safe_dump(value, default_flow_style=True, width=2**30).strip()
    shown = shown[:-4].rstrip() if shown.endswith("...") else shown
    return f"{shown} ({_TYPE_NAMES.get(type(value), type(value).__name__)})"


class Entity:
    def __init__(self, kind: str, element: Any):
        self.kind = kind
        self.element = element
        self.read: set[str] = set()
        self.children_read = False

    def has(self, name: str) -> bool:
        return isinstance(self.element, dict) and name in self.element

    def get(self, name: str, kind: str = "str", optional: bool = True) -> Any:
        """An attribute, type-checked as get_attr(data_type=..., can_be_str=True) checks it."""
        if isinstance(self.element, list):  # an entity given as its list of children has no attributes
            if optional:
                return None
            raise ValueError(f"missing attribute '{name}' ('{self.kind}' is written as a list)")
        if not isinstance(self.element, dict):
            raise ValueError(f"'{self.kind}' must be a mapping of attributes, got {_describe(self.element)}")
        if name not in self.element:
            if optional:
                return None
            raise ValueError(f"missing attribute '{name}'")
        self.read.add(name)
        value = self.element[name]
        if kind == "str":
            if not isinstance(value, str):
                hint = (
                    f'; write {name}: "{_describe(value).split(" (")[0]}"'
                    if isinstance(value, (bool, int, float))
                    else ""
                )
                raise ValueError(
                    f"'{name}' must be a string (ros2 launch reads it as text), got {_describe(value)}{hint}"
                )
        elif kind == "bool":
            if not isinstance(value, (bool, str)):
                raise ValueError(f"'{name}' must be true or false, got {_describe(value)}")
        elif kind == "float":  # respawn_delay, sigterm/sigkill_timeout: compared with 0.0 at parse
            if not isinstance(value, float):
                hint = (
                    f"; write {name}: {float(value)!r}"
                    if isinstance(value, int) and not isinstance(value, bool)
                    else ""
                )
                if isinstance(value, str):
                    try:
                        hint = f"; write {name}: {float(value)!r} without quotes"
                    except ValueError:
                        pass
                raise ValueError(
                    f"'{name}' must be a YAML float such as 2.0, got {_describe(value)} (ros2 launch fails on it){hint}"
                )
        elif kind == "int":  # respawn_max_retries
            if not isinstance(value, int):
                raise ValueError(f"'{name}' must be a YAML integer, got {_describe(value)} (ros2 launch fails on it)")
        elif kind == "value":  # get_attr(data_type=None): a scalar, or a list of one type (strings mixed in)
            ok = isinstance(value, SCALARS) or (isinstance(value, list) and uniform_list(value, can_be_str=True))
            if not ok:
                raise ValueError(f"'{name}' must be a scalar or a list of scalars of one type, got {_describe(value)}")
        elif kind == "entities":
            if not isinstance(value, list) or not value or not all(isinstance(v, dict) for v in value):
                raise ValueError(f"'{name}' must be a non-empty list of mappings, got {_describe(value)}")
            return [Entity(name, v) for v in value]
        return value

    def children(self) -> list[tuple[str, Any]]:
        self.children_read = True
        element = self.element
        if isinstance(element, dict):
            if "children" not in element:
                raise ValueError(f"'{self.kind}' needs its actions as a list, or a 'children' list")
            self.read.add("children")
            element = element["children"]
        if not isinstance(element, list):
            raise ValueError(f"'{self.kind}' children must be a list of actions, got {_describe(element)}")
        result = []
        for child in element:
            if not isinstance(child, dict) or len(child) != 1:
                raise ValueError(f"each action must be a mapping with one key (the action), got {_describe(child)}")
            ((kind, body),) = child.items()
            result.append((str(kind), body))
        return result

    def assert_parsed(self) -> None:
        """Entity.assert_entity_completely_parsed: nothing the action did not read."""
        if isinstance(self.element, list):
            if not self.children_read:
                raise ValueError(f"'{self.kind}' does not take a list of nested actions")
            return
        if not isinstance(self.element, dict):
            raise ValueError(f"'{self.kind}' must be a mapping of attributes, got {_describe(self.element)}")
        unread = sorted(set(map(str, self.element)) - self.read)
        if unread:
            raise ValueError(
                f"unexpected key(s) {', '.join(unread)} in '{self.kind}' "
                "(ros2 launch refuses attributes its action does not read)"
            )
