"""Reading ROS 2 launch files in the YAML front-end format into a list of processes to start.

The reader accepts what ROS 2's own YAML front end (launch + launch_yaml + launch_ros,
Jazzy/Kilted) accepts and reads it the same way, so that one file runs under ``interseg
launch`` and ``ros2 launch`` alike:

- Like upstream, a whole file is parsed before anything in it runs (every action, also those
  behind a false ``if``): an attribute the action does not read, a wrong YAML type or a bad
  substitution is an error even where it would never run. Included files are parsed when the
  include runs.
- Types follow ``launch_yaml``'s ``Entity.get_attr``: most attributes are read as strings and a
  YAML boolean or number there is refused (``respawn: true``, ``if: false``, ``default: 20``;
  write ``"true"``, ``"false"``, ``"20"``). ``respawn_delay``, ``sigterm_timeout`` and
  ``sigkill_timeout`` must be YAML floats (``2.0``; ros2 launch fails on ``"2.0"`` and on
  ``2``), ``respawn_max_retries`` a YAML integer. ``scoped``, ``shell``, ``emulate_tty`` take a
  YAML boolean (a string there counts as true when not empty, as upstream does).
- Launch configurations (``arg``, ``let``, ``push_ros_namespace``, ``set_remap``,
  ``set_parameter``) and ``set_env`` apply to everything after them in their scope: a
  ``group`` (``scoped``, the default) is a scope, an ``include`` is not (the included file sees
  and changes the including one's configurations, and its ``arg`` values stay set after it).
- Node parameters reach the node with the types ros2 launch gives them: a YAML scalar or list
  keeps its type (``value: "4"`` is the string ``'4'``), a value with substitutions is
  evaluated and then read as YAML (``value: $(var n)`` with ``n`` = ``4`` is the integer 4).
  ros2 launch writes them to a temporary parameters file; here each becomes
  ``-p name:=TEXT`` where TEXT is the same YAML text, so the node gets the same type.
- Relative paths (``include`` ``file``, ``param`` ``from``) are relative to the working
  directory, as in ros2 launch; use ``$(dirname)`` for paths next to the launch file.

Supported actions: ``arg`` (name, default, description, choice), ``let``, ``set_env``,
``unset_env``, ``log`` (message), ``group`` (scoped, children), ``include`` (file, arg),
``push_ros_namespace`` / ``push-ros-namespace`` (namespace), ``set_remap`` (from, to),
``set_parameter`` (name, value), ``node`` (pkg, exec, name, namespace, exec_name, param (name +
value or nested param, or from [+ allow_substs]), remap, args, ros_args, and the process
attributes below), ``executable`` (cmd + the process attributes: name, cwd, env,
launch-prefix, output, respawn, respawn_delay, respawn_max_retries, on_exit, shell,
emulate_tty, sigterm_timeout, sigkill_timeout), and ``if`` / ``unless`` on every action.
Substitutions: ``var`` (with optional default), ``env``, ``optenv``, ``find-pkg-share``,
``find-pkg-prefix`` (both through the ament index of AMENT_PREFIX_PATH and this Python's
prefix), ``find-exec``, ``exec-in-pkg``, ``dirname``, ``filename``, ``eval`` (a Python
expression with ``math`` or the listed modules, as upstream, evaluated in a child process
with a time and memory bound: see ``python_expression``), ``anon``, ``not``, ``and``, ``or``;
quoting and ``\\`` escapes as in upstream's grammar.

Where interseg launch is stricter than ros2 launch (each is a mistake ros2 launch would only
warn about or hit later): a missing parameters file, an unknown executable or a bad value for
``respawn``/``output`` stop the launch before anything starts; unknown ``name:=value``
arguments on the command line are refused.

Everything is resolved before any process starts, so that a bad file never leaves a
half-started graph: every problem raises ``LaunchError`` naming the file and the entry.
"""
from __future__ import annotations

import atexit
import os
import random
import re
import shlex
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import yaml

from interseg.launch import python_expression


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


# -- the ament index (what ament_index_python, FindPackageShare and ExecutableInPackage use) ---

def ament_prefixes(env: dict[str, str] | None = None) -> list[str]:
    """AMENT_PREFIX_PATH of ``env`` (default os.environ), then the prefixes every interseg
    process gets (interseg.rosenv: the venv), as the processes will see it."""
    from interseg.rosenv import ament_prefixes as project_prefixes

    env = os.environ if env is None else env
    prefixes = [p for p in env.get("AMENT_PREFIX_PATH", "").split(os.pathsep) if p]
    return prefixes + [p for p in project_prefixes() if p not in prefixes]


def _setup_hint(package: str) -> str:
    return " (run `make setup`: it installs interseg into the venv's ament index)" if package == "interseg" else ""


def package_prefix(package: str, env: dict[str, str] | None = None) -> Path:
    """The first prefix whose ament index lists ``package`` (get_package_prefix)."""
    prefixes = ament_prefixes(env)
    for prefix in prefixes:
        if (Path(prefix) / "share" / "ament_index" / "resource_index" / "packages" / package).is_file():
            return Path(prefix)
    raise LookupError(f"package '{package}' not found in the ament index of {os.pathsep.join(prefixes)}{_setup_hint(package)}")


def package_share(package: str, env: dict[str, str] | None = None) -> Path:
    """<prefix>/share/<package> (get_package_share_directory)."""
    return package_prefix(package, env) / "share" / package


def resolve_executable(package: str, executable: str, env: dict[str, str] | None = None) -> list[str]:
    """Command that runs ``executable`` of ``package``: <prefix>/lib/<package>/<executable> of
    the package's ament prefix, as ros2 run / ros2 launch find it."""
    try:
        prefix = package_prefix(package, env)
    except LookupError as exc:
        raise LookupError(f"executable '{executable}' not found in package '{package}': {exc}") from None
    candidate = prefix / "lib" / package / executable
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return [str(candidate)]
    raise LookupError(f"executable '{executable}' not found in package '{package}' ({candidate.parent}){_setup_hint(package)}")


# -- substitutions: upstream's grammar (launch/frontend/grammar.lark) -------------------------

@dataclass
class _Call:
    """``$(name arg ...)``; each argument is a list of parts."""

    name: str
    args: list[list[Any]]


Parts = list  # of str and _Call

# name -> (least, most) arguments, as each substitution's parse() checks them
_SUBSTITUTIONS: dict[str, tuple[int, int]] = {
    "var": (1, 2), "env": (1, 2), "optenv": (1, 2), "find-pkg-share": (1, 1), "find-pkg-prefix": (1, 1),
    "find-exec": (1, 1), "exec-in-pkg": (2, 2), "dirname": (0, 0), "filename": (0, 0), "eval": (1, 2),
    "anon": (1, 1), "not": (1, 1), "and": (2, 2), "or": (2, 2),
}
_IDENTIFIER = re.compile(r"[A-Za-z][A-Za-z0-9_\-]*")


class _SubstitutionParser:
    """Text with ``$(...)`` into parts. Follows launch's grammar: ``\\x`` is ``x`` everywhere, a
    ``$`` not followed by ``(`` is text, arguments are separated by one space and are either
    unquoted (no spaces, quotes or parentheses) or quoted with ' or \" (anything, nested
    substitutions included)."""

    def __init__(self, text: str):
        self.text = text
        self.i = 0

    def fail(self, what: str) -> None:
        raise ValueError(f"bad substitution syntax in {self.text!r} at character {self.i + 1}: {what}")

    def parse(self) -> Parts:
        return self._until(lambda c: False)

    def _until(self, stop: Callable[[str], bool]) -> Parts:
        parts: Parts = []
        buffer: list[str] = []
        text = self.text
        while self.i < len(text):
            c = text[self.i]
            if c == "\\" and self.i + 1 < len(text):
                buffer.append(text[self.i + 1])
                self.i += 2
            elif text.startswith("$(", self.i):
                if buffer:
                    parts.append("".join(buffer))
                    buffer = []
                parts.append(self._substitution())
            elif stop(c):
                break
            else:
                buffer.append(c)
                self.i += 1
        if buffer:
            parts.append("".join(buffer))
        return parts

    def _substitution(self) -> _Call:
        self.i += 2
        match = _IDENTIFIER.match(self.text, self.i)
        if not match:
            self.fail("expected a substitution name after '$('")
        name = match.group()
        self.i = match.end()
        args: list[Parts] = []
        while True:
            if self.i >= len(self.text):
                self.fail("unclosed '$('")
            c = self.text[self.i]
            if c == ")":
                self.i += 1
                break
            if c != " ":
                self.fail(f"expected ' ' or ')' after $({name}")
            self.i += 1
            args.append(self._argument())
        least, most = _SUBSTITUTIONS.get(name, (0, 99))
        if name not in _SUBSTITUTIONS:
            raise ValueError(f"unknown substitution '$({name})' in {self.text!r} (interseg launch supports "
                             f"{', '.join(sorted(_SUBSTITUTIONS))})")
        if not least <= len(args) <= most:
            expected = str(least) if least == most else f"{least} to {most}"
            raise ValueError(f"$({name}) takes {expected} argument(s), got {len(args)} in {self.text!r}")
        if name == "eval" and len(args) == 2:
            # PythonExpression.parse reads the module list before any substitution is performed
            if not _is_text(args[1]):
                raise ValueError(f"$(eval)'s module list must be plain text (comma-separated module names), not a substitution, in {self.text!r}")
            python_expression.module_names("".join(args[1]))
        return _Call(name, args)

    def _argument(self) -> Parts:
        if self.i < len(self.text) and self.text[self.i] in "'\"":
            quote = self.text[self.i]
            self.i += 1
            parts = self._until(lambda c: c == quote)
            if self.i >= len(self.text):
                self.fail("unclosed quote")
            self.i += 1
            return parts
        start = self.i
        parts = self._until(lambda c: c in " ()'\"")
        if self.i < len(self.text) and self.text[self.i] in "'\"(":
            self.fail("quote or '(' inside an unquoted argument (quote the argument or escape it with \\)")
        if self.i == start:
            self.fail("empty argument")
        return parts


def parse_substitution(text: str) -> Parts:
    return _SubstitutionParser(text).parse()


def _is_text(parts: Parts) -> bool:
    return all(isinstance(p, str) for p in parts)


def _cmdline(parts: Parts) -> list[Parts]:
    """Split a command line into arguments the way ExecuteProcess._parse_cmdline does: text is
    split with shlex, a substitution's result is never split."""
    result: list[Parts] = []
    arg: Parts = []

    def close() -> None:
        nonlocal arg
        result.append(arg)
        arg = []

    for part in parts or [""]:
        if not isinstance(part, str):
            arg.append(part)
            continue
        tokens = shlex.split(part)
        if not tokens:
            close()
            continue
        if part[0].isspace() and arg:
            close()
        arg.append(tokens[0])
        if len(tokens) > 1:
            close()
            arg.append(tokens[-1])
        if len(tokens) > 2:
            result.extend([t] for t in tokens[1:-1])
        if part[-1].isspace():
            close()
    if arg:
        result.append(arg)
    return result


# -- values typed as upstream types them -----------------------------------------------------

def _coerce_bool(text: str, what: str) -> bool:
    """launch.utilities.type_utils.coerce_to_type(text, bool): '1'/'0', else a YAML boolean."""
    mapped = {"1": "true", "0": "false"}.get(text, text)
    try:
        value = yaml.safe_load(mapped) if mapped else None
    except yaml.YAMLError:
        value = None
    if not isinstance(value, bool):
        raise ValueError(f"{what}: '{text}' is not a boolean (true/false/1/0/yes/no/on/off)")
    return value


def _condition(text: str, what: str) -> bool:
    """launch.conditions.evaluate_condition_expression: only true/false/1/0, any case."""
    lowered = text.strip().lower()
    if lowered in ("true", "1"):
        return True
    if lowered in ("false", "0"):
        return False
    raise ValueError(f"{what}: '{text}' is not a valid condition (expected true, false, 1 or 0)")


_SCALARS = (bool, int, float, str)


def _uniform(values: list, can_be_str: bool) -> bool:
    """type_utils.is_instance_of_valid_type for a list."""
    if not values:
        return True
    member = next((type(v) for v in values if type(v) is not str), str)
    if member not in _SCALARS:
        return False
    allowed = (member, str) if can_be_str else member
    return all(isinstance(v, allowed) for v in values)


def _yaml_typed(text: str, what: str) -> Any:
    """coerce_to_type(text, None): the substituted text read as YAML; '' stays ''."""
    if not text:
        return text
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValueError(f"{what}: '{text}' is not valid YAML ({getattr(exc, 'problem', exc)})") from None
    if isinstance(value, list):
        if _uniform(value, can_be_str=False):
            return value
    elif isinstance(value, _SCALARS):
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


def _validate_node_name(name: str) -> None:
    if not _NAME_TOKEN.fullmatch(name):
        raise ValueError(f"invalid node name '{name}' (letters, digits and _, not starting with a digit)")


def _validate_namespace(namespace: str) -> None:
    if namespace == "/":
        return
    tokens = namespace.split("/")
    if not namespace.startswith("/") or not all(_NAME_TOKEN.fullmatch(t) for t in tokens[1:]):
        raise ValueError(f"invalid namespace '{namespace}'")


def _prefix_namespace(base: str | None, namespace: str | None) -> str | None:
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


def _absolute(namespace: str | None) -> str | None:
    if namespace is None or namespace.startswith("/"):
        return namespace
    return "/" + namespace


# -- entities: launch_yaml's Entity, which records the attributes read ------------------------

_TYPE_NAMES = {bool: "a YAML boolean", int: "a YAML integer", float: "a YAML float", str: "a string",
               list: "a list", dict: "a mapping", type(None): "empty"}


def _describe(value: Any) -> str:
    shown = yaml.safe_dump(value, default_flow_style=True, width=2**30).strip()
    shown = shown[:-4].rstrip() if shown.endswith("...") else shown
    return f"{shown} ({_TYPE_NAMES.get(type(value), type(value).__name__)})"


class _Entity:
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
                hint = f'; write {name}: "{_describe(value).split(" (")[0]}"' if isinstance(value, (bool, int, float)) else ""
                raise ValueError(f"'{name}' must be a string (ros2 launch reads it as text), got {_describe(value)}{hint}")
        elif kind == "bool":
            if not isinstance(value, (bool, str)):
                raise ValueError(f"'{name}' must be true or false, got {_describe(value)}")
        elif kind == "float":  # respawn_delay, sigterm/sigkill_timeout: compared with 0.0 at parse
            if not isinstance(value, float):
                hint = f"; write {name}: {float(value)!r}" if isinstance(value, int) and not isinstance(value, bool) else ""
                if isinstance(value, str):
                    try:
                        hint = f"; write {name}: {float(value)!r} without quotes"
                    except ValueError:
                        pass
                raise ValueError(f"'{name}' must be a YAML float such as 2.0, got {_describe(value)} (ros2 launch fails on it){hint}")
        elif kind == "int":  # respawn_max_retries
            if not isinstance(value, int):
                raise ValueError(f"'{name}' must be a YAML integer, got {_describe(value)} (ros2 launch fails on it)")
        elif kind == "value":  # get_attr(data_type=None): a scalar, or a list of one type (strings mixed in)
            ok = isinstance(value, _SCALARS) or (isinstance(value, list) and _uniform(value, can_be_str=True))
            if not ok:
                raise ValueError(f"'{name}' must be a scalar or a list of scalars of one type, got {_describe(value)}")
        elif kind == "entities":
            if not isinstance(value, list) or not value or not all(isinstance(v, dict) for v in value):
                raise ValueError(f"'{name}' must be a non-empty list of mappings, got {_describe(value)}")
            return [_Entity(name, v) for v in value]
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
            raise ValueError(f"unexpected key(s) {', '.join(unread)} in '{self.kind}' (ros2 launch refuses attributes its action does not read)")


# -- execution state ---------------------------------------------------------------------------

@dataclass
class _Scope:
    """LaunchContext's launch configurations (the ROS namespace, remaps and global parameters
    live there too, as in launch_ros) and environment; a scoped group works on a copy."""

    configs: dict[str, Any]
    env: dict[str, str]

    def copy(self) -> "_Scope":
        return _Scope(dict(self.configs), dict(self.env))


@dataclass
class _Frame:
    file: Path  # for $(dirname), $(filename) and error messages
    scope: _Scope


class _Failure(ValueError):
    """An error while running an action, already carrying its file and entry."""


@dataclass
class _Action:
    kind: str
    label: str
    file: Path
    condition: tuple[str, Parts] | None
    run: Callable[[_Frame], None]
    declares: tuple[str, bool, bool] | None = None  # arg: (name, has default, conditional)


class _Reader:
    def __init__(self, cli_arguments: dict[str, str], base_env: dict[str, str]):
        self.cli_arguments = dict(cli_arguments)
        self.base_env = base_env
        self.processes: list[ProcessSpec] = []
        self.messages: list[str] = []
        self.declared: dict[str, str] = {}
        self.known_arguments: set[str] = set()
        self.top_file: Path | None = None
        self.include_depth = 0
        self.anon: dict[str, str] = {}
        self.temp_dir: Path | None = None

    # -- substitutions ---------------------------------------------------------------------------
    def perform(self, parts: Parts, frame: _Frame) -> str:
        return "".join(p if isinstance(p, str) else self._call(p, frame) for p in parts)

    def _call(self, call: _Call, frame: _Frame) -> str:
        args = [self.perform(a, frame) for a in call.args]
        name = call.name
        if name == "var":
            if args[0] in frame.scope.configs:
                return str(frame.scope.configs[args[0]])
            if len(args) == 2:
                return args[1]
            raise ValueError(f"launch configuration '{args[0]}' does not exist (no arg or let sets it)")
        if name in ("env", "optenv"):
            if args[0] in frame.scope.env:
                return frame.scope.env[args[0]]
            if len(args) == 2 or name == "optenv":
                return args[1] if len(args) == 2 else ""
            raise ValueError(f"environment variable '{args[0]}' does not exist")
        if name == "find-pkg-share":
            return str(package_share(args[0], self.base_env))
        if name == "find-pkg-prefix":
            return str(package_prefix(args[0], self.base_env))
        if name == "find-exec":
            found = shutil.which(args[0], path=self.base_env.get("PATH"))
            if found is None:
                raise ValueError(f"executable '{args[0]}' not found on the PATH")
            return found
        if name == "exec-in-pkg":
            return resolve_executable(args[1], args[0], self.base_env)[0]
        if name == "dirname":
            return str(frame.file.parent)
        if name == "filename":
            return str(frame.file)
        if name == "eval":
            # PythonExpression: the modules argument is plain text (checked when parsed)
            return python_expression.evaluate(args[0], python_expression.module_names(args[1] if len(args) == 2 else None))
        if name == "anon":
            return self.anon.setdefault(args[0], f"{args[0]}_{os.getpid()}_{random.getrandbits(62)}")
        if name == "not":
            return str(not _coerce_bool(args[0], "$(not)")).lower()
        if name == "and":
            return str(_coerce_bool(args[0], "$(and)") and _coerce_bool(args[1], "$(and)")).lower()
        if name == "or":
            return str(_coerce_bool(args[0], "$(or)") or _coerce_bool(args[1], "$(or)")).lower()
        raise ValueError(f"unsupported substitution '$({name})'")

    # -- files -------------------------------------------------------------------------------------
    def load(self, path: Path) -> list[_Action]:
        if not path.is_file():
            raise LaunchError(f"{path}: launch file not found")
        if path.suffix not in (".yaml", ".yml"):
            raise LaunchError(f"{path}: not a YAML launch file (interseg launch reads the YAML front end only)")
        try:
            document = yaml.safe_load(path.read_text())
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" (line {mark.line + 1})" if mark is not None else ""
            raise LaunchError(f"{path}: not valid YAML{where}: {getattr(exc, 'problem', exc)}") from None
        if not isinstance(document, dict) or len(document) != 1 or "launch" not in document:
            raise LaunchError(f"{path}: expected a mapping with the single key 'launch' at the top")
        root = _Entity("launch", document["launch"])
        try:
            if root.has("deprecated"):
                root.get("deprecated")
            children = root.children()
        except ValueError as exc:
            raise LaunchError(f"{path}: {exc}") from None
        return [self.parse_action(kind, body, path, str(i + 1)) for i, (kind, body) in enumerate(children)]

    def parse_action(self, kind: str, body: Any, file: Path, label: str) -> _Action:
        """Parse one action (Parser.parse_action): check its attributes now, run it later."""
        parser = self.PARSERS.get(kind)
        if parser is None:
            known = ", ".join(sorted(self.PARSERS))
            raise LaunchError(f"{file}: unknown action '{kind}' (entry {label}; interseg launch knows {known})")
        entity = _Entity(kind, body)
        try:
            condition = None
            if_text, unless_text = entity.get("if"), entity.get("unless")
            if if_text is not None and unless_text is not None:
                raise ValueError("'if' and 'unless' cannot be used together")
            if if_text is not None:
                condition = ("if", parse_substitution(if_text))
            elif unless_text is not None:
                condition = ("unless", parse_substitution(unless_text))
            action = parser(self, entity, file, label)
            action.condition = condition
            entity.assert_parsed()
        except LaunchError:
            raise
        except (ValueError, LookupError, TypeError) as exc:
            raise LaunchError(f"{file}: {kind} (entry {label}): {exc}") from None
        return action

    def run_actions(self, actions: list[_Action], frame: _Frame) -> None:
        for action in actions:
            try:
                if action.condition is not None:
                    which, parts = action.condition
                    holds = _condition(self.perform(parts, frame), which)
                    if holds != (which == "if"):
                        continue
                action.run(frame)
            except (LaunchError, _Failure):
                raise
            except (ValueError, LookupError, TypeError, OSError) as exc:
                raise _Failure(f"{action.file}: {action.kind} (entry {action.label}): {exc}") from None

    def check_required(self, actions: list[_Action], given: set[str], file: Path, top: bool) -> None:
        """IncludeLaunchDescription's check: an unconditional arg without default must be given."""
        for action in self._walk(actions, conditional=False):
            name, has_default, conditional = action.declares  # type: ignore[misc]
            if not has_default and not conditional and name not in given:
                if top:
                    raise LaunchError(f"{file}: argument '{name}' has no default and was not given (pass {name}:=VALUE)")
                raise LaunchError(f"{file}: included without its required argument '{name}' (pass it with arg: [{{name: {name}, value: ...}}])")

    def _walk(self, actions: list[_Action], conditional: bool):
        for action in actions:
            inner = conditional or action.condition is not None
            if action.declares is not None:
                action.declares = (action.declares[0], action.declares[1], inner)
                yield action
            for child in getattr(action.run, "children", []):
                yield from self._walk([child], inner)

    def include(self, path: Path, arguments: list[tuple[str, str]], frame: _Frame, top: bool = False) -> None:
        if self.include_depth > 16:
            raise ValueError("includes nested too deeply (a cycle?)")
        actions = self.load(path)
        self.check_required(actions, {name for name, _ in arguments}, path, top)
        for name, value in arguments:  # SetLaunchConfiguration in the including scope
            frame.scope.configs[name] = value
        self.include_depth += 1
        try:
            self.run_actions(actions, _Frame(path, frame.scope))
        finally:
            self.include_depth -= 1

    # -- actions -------------------------------------------------------------------------------------
    def _arg(self, entity: _Entity, file: Path, label: str) -> _Action:
        name = entity.get("name", optional=False)
        default_text = entity.get("default")
        default = parse_substitution(default_text) if default_text is not None else None
        entity.get("description")
        choices = None
        if entity.has("choice"):
            choices = [c.get("value", optional=False) for c in entity.get("choice", "entities")]
        self.known_arguments.add(name)

        def run(frame: _Frame) -> None:
            configs = frame.scope.configs
            if name not in configs:
                if default is None:
                    raise ValueError(f"argument '{name}' has no default and was not given (pass {name}:=VALUE)")
                configs[name] = self.perform(default, frame)
            if choices is not None and configs[name] not in choices:
                raise ValueError(f"argument '{name}' is '{configs[name]}', not one of {choices}")
            if frame.file == self.top_file:
                self.declared[name] = str(configs[name])

        return _Action("arg", label, file, None, run, declares=(name, default is not None, False))

    def _let(self, entity: _Entity, file: Path, label: str) -> _Action:
        name = parse_substitution(entity.get("name", optional=False))
        value = parse_substitution(entity.get("value", optional=False))

        def run(frame: _Frame) -> None:
            frame.scope.configs[self.perform(name, frame)] = self.perform(value, frame)

        return _Action("let", label, file, None, run)

    def _set_env(self, entity: _Entity, file: Path, label: str) -> _Action:
        name = parse_substitution(entity.get("name", optional=False))
        value = parse_substitution(entity.get("value", optional=False))

        def run(frame: _Frame) -> None:
            frame.scope.env[self.perform(name, frame)] = self.perform(value, frame)

        return _Action("set_env", label, file, None, run)

    def _unset_env(self, entity: _Entity, file: Path, label: str) -> _Action:
        name = parse_substitution(entity.get("name", optional=False))

        def run(frame: _Frame) -> None:
            frame.scope.env.pop(self.perform(name, frame), None)

        return _Action("unset_env", label, file, None, run)

    def _log(self, entity: _Entity, file: Path, label: str) -> _Action:
        message = parse_substitution(entity.get("message", optional=False))

        def run(frame: _Frame) -> None:
            self.messages.append(self.perform(message, frame))

        return _Action("log", label, file, None, run)

    def _group(self, entity: _Entity, file: Path, label: str) -> _Action:
        scoped = entity.get("scoped", "bool")
        for unsupported in ("forwarding", "keep"):
            if entity.has(unsupported):
                raise ValueError(f"group '{unsupported}' is not supported by interseg launch")
        if isinstance(scoped, str):
            self.messages.append(f"warning: {file}: group (entry {label}): scoped: '{scoped}' is a string; ros2 launch "
                                 f"treats any non-empty string as true (write scoped: true or false, unquoted)")
        scoped = bool(scoped) if scoped is not None else True
        children = [self.parse_action(kind, body, file, f"{label}.{i + 1}") for i, (kind, body) in enumerate(entity.children())]

        def run(frame: _Frame) -> None:
            inner = _Frame(frame.file, frame.scope.copy() if scoped else frame.scope)
            self.run_actions(children, inner)

        run.children = children  # type: ignore[attr-defined]
        return _Action("group", label, file, None, run)

    def _include(self, entity: _Entity, file: Path, label: str) -> _Action:
        target = parse_substitution(entity.get("file", optional=False))
        arguments = []
        if entity.has("arg"):
            for item in entity.get("arg", "entities"):
                arguments.append((parse_substitution(item.get("name", optional=False)), parse_substitution(item.get("value", optional=False))))
                item.assert_parsed()

        def run(frame: _Frame) -> None:
            path = Path(self.perform(target, frame))
            path = path if path.is_absolute() else Path.cwd() / path  # as ros2 launch: the working directory
            resolved = [(self.perform(n, frame), self.perform(v, frame)) for n, v in arguments]
            self.include(path, resolved, frame)

        return _Action("include", label, file, None, run)

    def _push_ros_namespace(self, entity: _Entity, file: Path, label: str) -> _Action:
        namespace = parse_substitution(entity.get("namespace", optional=False))

        def run(frame: _Frame) -> None:
            previous = frame.scope.configs.get("ros_namespace")
            combined = _absolute(_prefix_namespace(previous, self.perform(namespace, frame)))
            _validate_namespace(combined)
            frame.scope.configs["ros_namespace"] = combined

        return _Action("push_ros_namespace", label, file, None, run)

    def _set_remap(self, entity: _Entity, file: Path, label: str) -> _Action:
        source = parse_substitution(entity.get("from", optional=False))
        target = parse_substitution(entity.get("to", optional=False))

        def run(frame: _Frame) -> None:
            remaps = frame.scope.configs.get("ros_remaps", [])
            remaps.append((self.perform(source, frame), self.perform(target, frame)))  # the same list object, as upstream
            frame.scope.configs["ros_remaps"] = remaps

        return _Action("set_remap", label, file, None, run)

    def _set_parameter(self, entity: _Entity, file: Path, label: str) -> _Action:
        name = parse_substitution(entity.get("name", optional=False))
        value = parse_substitution(entity.get("value", optional=False))

        def run(frame: _Frame) -> None:
            # evaluate_parameter_dict: the substituted text read as YAML; the node gets
            # `-p name:=str(value)` (launch_ros Node formats global parameters with str()).
            text = self.perform(value, frame)
            try:
                typed = yaml.safe_load(text if text else "''")
            except yaml.YAMLError as exc:
                raise ValueError(f"set_parameter value '{text}' is not valid YAML ({getattr(exc, 'problem', exc)})") from None
            if isinstance(typed, list):
                if not typed or not all(isinstance(v, type(typed[0])) for v in typed) or type(typed[0]) not in _SCALARS:
                    raise ValueError(f"set_parameter value '{text}' is not a non-empty list of one type")
                typed = tuple(typed)
            elif not isinstance(typed, _SCALARS):
                raise ValueError(f"set_parameter value '{text}' reads as {type(typed).__name__}")
            params = frame.scope.configs.get("global_params", [])
            params.append((self.perform(name, frame), typed))
            frame.scope.configs["global_params"] = params

        return _Action("set_parameter", label, file, None, run)

    # -- processes -------------------------------------------------------------------------------
    def _process_attributes(self, entity: _Entity, node: bool) -> dict[str, Any]:
        """ExecuteProcess.parse: the attributes nodes and executables share."""
        attrs: dict[str, Any] = {}
        for key in ("cwd", "name", "launch-prefix", "output", "respawn"):
            text = entity.get(key)
            attrs[key] = parse_substitution(text) if text is not None else None
        on_exit = entity.get("on_exit")
        if on_exit is not None and on_exit != "shutdown":
            raise ValueError(f"on_exit must be 'shutdown' (the only value ros2 launch reads here), got '{on_exit}'")
        attrs["on_exit"] = on_exit
        attrs["respawn_max_retries"] = entity.get("respawn_max_retries", "int")
        for key in ("respawn_delay", "sigkill_timeout", "sigterm_timeout"):
            value = entity.get(key, "float")
            if value is not None and value < 0.0:
                raise ValueError(f"'{key}' must not be negative, got {value}")
            attrs[key] = value
        for key in ("shell", "emulate_tty"):
            value = entity.get(key, "bool")
            attrs[key] = bool(value) if value is not None else False
        env = []
        if entity.has("env"):
            for item in entity.get("env", "entities"):
                env.append((parse_substitution(item.get("name", optional=False)), parse_substitution(item.get("value", optional=False))))
                item.assert_parsed()
        attrs["env"] = env
        return attrs

    def _finish_process(self, spec: ProcessSpec, attrs: dict[str, Any], frame: _Frame) -> None:
        spec.env = dict(frame.scope.env)
        for name, value in attrs["env"]:
            spec.env[self.perform(name, frame)] = self.perform(value, frame)
        if attrs["cwd"] is not None:
            spec.cwd = self.perform(attrs["cwd"], frame)
        if attrs["launch-prefix"] is not None:
            spec.command = shlex.split(self.perform(attrs["launch-prefix"], frame)) + spec.command
        if attrs["output"] is not None:
            output = self.perform(attrs["output"], frame)
            if output not in ("screen", "log", "both", "own_log", "full"):
                raise ValueError(f"output '{output}' is not one of screen, log, both, own_log, full")
        if attrs["shell"]:
            spec.command = ["/bin/sh", "-c", " ".join(spec.command)]
        spec.required = attrs["on_exit"] == "shutdown"
        if attrs["respawn"] is not None:
            spec.respawn = _coerce_bool(self.perform(attrs["respawn"], frame), "respawn")
        spec.respawn_delay = attrs["respawn_delay"] or 0.0
        if attrs["respawn_max_retries"] is not None:
            spec.respawn_max_retries = int(attrs["respawn_max_retries"])
        taken = {p.name for p in self.processes}
        if spec.name in taken:
            base, n = spec.name, 2
            while f"{base}-{n}" in taken:
                n += 1
            spec.name = f"{base}-{n}"
            self.messages.append(f"warning: two processes named '{base}'; the second is shown as '{spec.name}'")
        self.processes.append(spec)

    def _executable(self, entity: _Entity, file: Path, label: str) -> _Action:
        cmd = _cmdline(parse_substitution(entity.get("cmd", optional=False)))
        attrs = self._process_attributes(entity, node=False)

        def run(frame: _Frame) -> None:
            command = [self.perform(a, frame) for a in cmd]
            if not command or not command[0]:
                raise ValueError("empty cmd")
            name = self.perform(attrs["name"], frame) if attrs["name"] is not None else Path(command[0]).name
            self._finish_process(ProcessSpec(name, command, is_node=False, source=str(frame.file)), attrs, frame)

        return _Action("executable", label, file, None, run)

    def _parameters(self, items: list[_Entity]) -> list[Callable[[_Frame], list[str]]]:
        """Node.parse_nested_parameters: each param entry becomes ROS arguments, in order."""
        result: list[Callable[[_Frame], list[str]]] = []
        for item in items:
            source = item.get("from")
            allow = item.get("allow_substs", "bool")
            name = item.get("name")
            if source is not None and name is not None:
                raise ValueError("a param has either 'name' or 'from', not both")
            if source is not None:
                item.assert_parsed()
                result.append(self._params_file(parse_substitution(source), allow))
            elif name is not None:
                if allow is not None:
                    raise ValueError("'allow_substs' goes only with 'from'")
                values = self._nested_parameters([item], [])
                result.append(lambda frame, values=values: [arg for pair in values for arg in ("-p", pair(frame))])
            else:
                raise ValueError("a param needs 'name' (with 'value' or nested 'param') or 'from'")
        return result

    def _nested_parameters(self, items: list[_Entity], prefix: list[Parts]) -> list[Callable[[_Frame], str]]:
        rules: list[Callable[[_Frame], str]] = []
        for item in items:
            name = [*prefix, parse_substitution(item.get("name", optional=False))]
            value = item.get("value", "value")
            nested = item.get("param", "entities") if item.has("param") else None
            item.assert_parsed()
            if value is not None and nested:
                raise ValueError("a param has either 'value' or nested 'param', not both")
            if value is not None:
                rules.append(self._parameter_rule(name, value))
            elif nested:
                rules.extend(self._nested_parameters(nested, name))
            else:
                raise ValueError("a param needs 'value' or nested 'param'")
        return rules

    def _parameter_rule(self, name: list[Parts], value: Any) -> Callable[[_Frame], str]:
        """``name:=TEXT`` with the value typed as launch_ros types a front-end parameter value:
        parse_if_substitutions (text without substitutions stays a string, other YAML scalars
        keep their type, a list's literal items must share one type), then ParameterValue with
        value_type None (a substituted text is read as YAML; a list must come out uniform)."""

        def split(item: Any) -> Any:  # a literal, or a list of parts when it has substitutions
            if isinstance(item, str):
                parts = parse_substitution(item)
                return "".join(parts) if _is_text(parts) else parts
            return item

        is_list = isinstance(value, list)
        items = [split(v) for v in value] if is_list else [split(value)]
        literal_types = {type(v) for v in items if not isinstance(v, list)}
        if is_list and len(literal_types) > 1:
            raise ValueError(f"param list {value!r} mixes types ({', '.join(sorted(t.__name__ for t in literal_types))})")

        def rule(frame: _Frame) -> str:
            text_name = ".".join(self.perform(p, frame) for p in name)
            typed = [_yaml_typed(self.perform(v, frame), f"param {text_name}") if isinstance(v, list) else v for v in items]
            if not is_list:
                return f"{text_name}:={parameter_text(typed[0])}"
            if not _uniform(typed, can_be_str=False):
                raise ValueError(f"param {text_name}: {typed!r} is not a list of one type")
            return f"{text_name}:={parameter_text(typed)}"

        return rule

    def _params_file(self, source: Parts, allow: Any) -> Callable[[_Frame], list[str]]:
        allow_parts = parse_substitution(allow) if isinstance(allow, str) else None

        def run(frame: _Frame) -> list[str]:
            path = Path(self.perform(source, frame))
            path = path if path.is_absolute() else Path.cwd() / path
            if not path.is_file():
                raise ValueError(f"params file {path} not found")
            text = path.read_text()
            substitute = _coerce_bool(self.perform(allow_parts, frame), "allow_substs") if allow_parts is not None else bool(allow)
            if substitute:
                text = self.perform(parse_substitution(text), frame)
            try:
                yaml.safe_load(text)
            except yaml.YAMLError as exc:
                raise ValueError(f"params file {path} is not valid YAML: {getattr(exc, 'problem', exc)}") from None
            if substitute:  # ParameterFile(allow_substs=True) passes a substituted copy
                path = self._temporary_file(path.name, text)
            return ["--params-file", str(path)]

        return run

    def _temporary_file(self, name: str, text: str) -> Path:
        if self.temp_dir is None:
            self.temp_dir = Path(tempfile.mkdtemp(prefix="interseg_launch_params_"))
            atexit.register(shutil.rmtree, self.temp_dir, True)
        path = self.temp_dir / f"{len(list(self.temp_dir.iterdir()))}_{name}"
        path.write_text(text)
        return path

    def _node(self, entity: _Entity, file: Path, label: str) -> _Action:
        attrs = self._process_attributes(entity, node=True)
        args_text, ros_args_text = entity.get("args"), entity.get("ros_args")
        args = _cmdline(parse_substitution(args_text)) if args_text is not None else []
        ros_args = _cmdline(parse_substitution(ros_args_text)) if ros_args_text is not None else None
        exec_name = entity.get("exec_name")
        exec_name = parse_substitution(exec_name) if exec_name is not None else None
        package = entity.get("pkg")
        package = parse_substitution(package) if package is not None else None
        executable = parse_substitution(entity.get("exec", optional=False))
        namespace = entity.get("namespace")
        namespace = parse_substitution(namespace) if namespace is not None else None
        remaps = []
        if entity.has("remap"):
            for item in entity.get("remap", "entities"):
                remaps.append((parse_substitution(item.get("from", optional=False)), parse_substitution(item.get("to", optional=False))))
                item.assert_parsed()
        parameters = self._parameters(entity.get("param", "entities")) if entity.has("param") else []

        def run(frame: _Frame) -> None:
            exe = self.perform(executable, frame)
            if package is not None:
                command = resolve_executable(self.perform(package, frame), exe, self.base_env)
            else:
                command = [shutil.which(exe, path=self.base_env.get("PATH")) or exe]
            command += [self.perform(a, frame) for a in args]
            if ros_args is not None:
                command += ["--ros-args", *(self.perform(a, frame) for a in ros_args)]
            command.append("--ros-args")
            node_name = None
            if attrs["name"] is not None:
                node_name = self.perform(attrs["name"], frame)
                _validate_node_name(node_name)
                command += ["-r", f"__node:={node_name}"]
            expanded = self.perform(namespace, frame) if namespace is not None else None
            full_namespace = _absolute(_prefix_namespace(frame.scope.configs.get("ros_namespace"), expanded))
            if full_namespace is not None:
                _validate_namespace(full_namespace)
                command += ["-r", f"__ns:={full_namespace}"]
            for param_name, value in frame.scope.configs.get("global_params", []):
                command += ["-p", f"{param_name}:={value}"]
            for parameter in parameters:
                command += parameter(frame)
            for source, target in [*frame.scope.configs.get("ros_remaps", []),
                                   *((self.perform(s, frame), self.perform(t, frame)) for s, t in remaps)]:
                command += ["-r", f"{source}:={target}"]
            if exec_name is not None:
                display = self.perform(exec_name, frame)
            else:
                display = node_name or Path(exe).name
                if full_namespace and full_namespace != "/":
                    display = f"{full_namespace.strip('/')}/{display}"
            self._finish_process(ProcessSpec(display, command, is_node=True, source=str(frame.file)), attrs, frame)

        return _Action("node", label, file, None, run)

    PARSERS: dict[str, Callable[..., _Action]] = {
        "arg": _arg, "let": _let, "set_env": _set_env, "unset_env": _unset_env, "log": _log,
        "group": _group, "include": _include, "push_ros_namespace": _push_ros_namespace,
        "push-ros-namespace": _push_ros_namespace, "set_remap": _set_remap, "set_parameter": _set_parameter,
        "node": _node, "executable": _executable,
    }


def read_launch_file(path: str | Path, arguments: dict[str, str] | None = None, env: dict[str, str] | None = None) -> LaunchPlan:
    """Resolve a launch file into processes; raises LaunchError with a one-line reason."""
    path = Path(path).resolve() if Path(path).exists() else Path(path)
    base_env = dict(os.environ if env is None else env)
    reader = _Reader(arguments or {}, base_env)
    reader.top_file = path
    scope = _Scope({}, dict(base_env))
    try:
        # ros2 launch includes the file with the command-line arguments as launch arguments
        reader.include(path, list(reader.cli_arguments.items()), _Frame(path, scope), top=True)
    except _Failure as exc:
        raise LaunchError(str(exc)) from None
    except (ValueError, LookupError, TypeError, OSError) as exc:
        raise LaunchError(f"{path}: {exc}") from None
    unknown = set(reader.cli_arguments) - reader.known_arguments
    if unknown:
        known = ", ".join(sorted(reader.known_arguments)) or "none"
        raise LaunchError(f"{path}: unknown launch argument(s) {', '.join(sorted(unknown))} (declared: {known})")
    if not reader.processes:
        raise LaunchError(f"{path}: starts no processes")
    return LaunchPlan(reader.processes, reader.declared, base_env, reader.messages)
