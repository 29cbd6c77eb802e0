"""Each node's declared parameter defaults equal its config/<node>.yaml, and the YAML names only
parameters the node declares: a node started without its params file behaves as the launch files
start it. Static: the ``declare(self, "name", default, ...)`` calls are read from each node
module's source and their defaults evaluated in the imported module's globals; no node is created.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
NODES = REPO / "src" / "interseg" / "interseg" / "nodes"
CONFIG = REPO / "config"


def _node_name(cls: ast.ClassDef) -> str | None:
    """The name a Node subclass passes to ``super().__init__("name")``, if it does."""
    for call in ast.walk(cls):
        if (
            isinstance(call, ast.Call)
            and isinstance(call.func, ast.Attribute)
            and call.func.attr == "__init__"
            and isinstance(call.func.value, ast.Call)
            and getattr(call.func.value.func, "id", None) == "super"
            and call.args
            and isinstance(call.args[0], ast.Constant)
            and isinstance(call.args[0].value, str)
        ):
            return call.args[0].value
    return None


def _declares(cls: ast.ClassDef, where: str) -> list[tuple[str, ast.expr]]:
    """(parameter name, default expression) of every ``declare(self, ...)`` call in the class."""
    found = []
    for call in ast.walk(cls):
        if isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "declare":
            assert len(call.args) >= 3, f"{where}:{call.lineno}: declare() needs (node, name, default, ...)"
            name = call.args[1]
            assert isinstance(name, ast.Constant) and isinstance(name.value, str), (
                f"{where}:{call.lineno}: the parameter name must be a string literal for this check"
            )
            found.append((name.value, call.args[2]))
    return found


def _nodes() -> dict[str, tuple[str, ast.ClassDef]]:
    """node name -> (module name, class) for every node class in interseg/nodes."""
    nodes = {}
    for path in sorted(NODES.glob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for cls in (n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)):
            name = _node_name(cls)
            if name is not None:
                assert name not in nodes, f"two node classes named {name}"
                nodes[name] = (f"interseg.nodes.{path.stem}", cls)
    return nodes


def _yaml_parameters(path: Path) -> tuple[str, dict]:
    data = yaml.safe_load(path.read_text())
    keys = (
        [k for k, v in data.items() if isinstance(v, dict) and "ros__parameters" in v] if isinstance(data, dict) else []
    )
    assert len(keys) == 1, f"{path.name}: expected one '/**/<node>: ros__parameters' entry, found {keys}"
    return keys[0].rsplit("/", 1)[-1], data[keys[0]]["ros__parameters"]


def _config_files() -> list[Path]:
    """The params files: config/*.yaml with a ros__parameters entry (cameras.yaml is data, not parameters)."""
    return [p for p in sorted(CONFIG.glob("*.yaml")) if "ros__parameters" in p.read_text()]


def _same(default, configured) -> bool:
    if isinstance(default, tuple):
        default = list(default)
    if isinstance(default, bool) or isinstance(configured, bool):
        return type(default) is type(configured) and default == configured
    if isinstance(default, float) and isinstance(configured, int):
        return default == float(configured)  # declare() takes an integer for a double
    if isinstance(default, list) and isinstance(configured, list):
        return len(default) == len(configured) and all(_same(d, c) for d, c in zip(default, configured))
    return type(default) is type(configured) and default == configured


def test_every_params_file_belongs_to_a_node():
    nodes = _nodes()
    for path in _config_files():
        node, _ = _yaml_parameters(path)
        assert path.stem == node, f"{path.name} configures node '{node}'; name the file {node}.yaml"
        assert node in nodes, f"{path.name}: no node class in interseg/nodes is named '{node}'"


@pytest.mark.parametrize("config", _config_files(), ids=lambda p: p.stem)
def test_declared_defaults_equal_the_params_file(config: Path):
    node, parameters = _yaml_parameters(config)
    module_name, cls = _nodes()[node]
    module = importlib.import_module(module_name)
    where = f"{module_name} ({node})"
    declared = {}
    for name, expression in _declares(cls, module_name):
        try:
            declared[name] = eval(compile(ast.Expression(expression), module.__file__, "eval"), vars(module))  # noqa: S307
        except Exception as exc:
            pytest.fail(
                f"{where}: the default of '{name}' ({ast.unparse(expression)}) cannot be evaluated from the module: "
                f"{exc!r}"
            )
    problems = [
        f"{where}: parameter '{name}': the node declares {declared[name]!r}, config/{config.name} has {value!r}"
        for name, value in parameters.items()
        if name in declared and not _same(declared[name], value)
    ]
    problems += [
        f"{where}: config/{config.name} sets '{name}' ({value!r}), which the node does not declare"
        for name, value in parameters.items()
        if name not in declared
    ]
    assert not problems, "\n".join(problems)


def test_node_modules_name_only_config_files_that_exist():
    import re

    missing = [
        f"{path.name}: {name}"
        for path in sorted(NODES.glob("*.py"))
        for name in sorted(set(re.findall(r"\bconfig/([\w.-]*\w)", path.read_text())))
        if not (CONFIG / name).is_file()
    ]
    assert not missing, f"node modules name config files that do not exist: {missing}"
