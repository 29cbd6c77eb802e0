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
``unset_env``, ``log`` (message), ``group`` (scoped, children), ``include`` (file, arg), ``for``
(len, name, children: the children once per index 0 .. len-1 in the enclosing scope, as
launch's ForLoop (Kilted and newer) runs them),
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
with a time and memory bound: see ``python_expression``), ``anon``, ``index`` (a ``for``
loop's index), ``not``, ``and``, ``or``;
quoting and ``\\`` escapes as in upstream's grammar.

Where interseg launch is stricter than ros2 launch (each is a mistake ros2 launch would only
warn about or hit later): a missing parameters file, an unknown executable or a bad value for
``respawn``/``output`` stop the launch before anything starts; unknown ``name:=value``
arguments on the command line are refused.

Everything is resolved before any process starts, so that a bad file never leaves a
half-started graph: every problem raises ``LaunchError`` naming the file and the entry.
"""

from __future__ import annotations

import os
import random
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from interseg.supervision import python_expression
from interseg.supervision.ament_index import package_prefix, package_share, resolve_executable
from interseg.supervision.entity import Entity
from interseg.supervision.plan import LaunchError, LaunchPlan, ProcessSpec
from interseg.supervision.process_actions import ProcessActions
from interseg.supervision.scope import Action, ActionFailure, Frame, Scope
from interseg.supervision.scope_actions import ScopeActions
from interseg.supervision.substitutions import Call, Parts, parse_substitution
from interseg.supervision.values import coerce_bool, condition_holds


class Reader(ScopeActions, ProcessActions):
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
        self.loop_indices: dict[str, str] = {}  # the enclosing `for` loops' indices, by loop name
        self.temp_dir: Path | None = None

    # -- substitutions ---------------------------------------------------------------------------
    def perform(self, parts: Parts, frame: Frame) -> str:
        return "".join(p if isinstance(p, str) else self._call(p, frame) for p in parts)

    def _call(self, call: Call, frame: Frame) -> str:
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
            return python_expression.evaluate(
                args[0], python_expression.module_names(args[1] if len(args) == 2 else None)
            )
        if name == "anon":
            return self.anon.setdefault(args[0], f"{args[0]}_{os.getpid()}_{random.getrandbits(62)}")
        if name == "index":
            if args[0] not in self.loop_indices:
                raise ValueError(f"$(index {args[0]}) outside a 'for' action named '{args[0]}'")
            return self.loop_indices[args[0]]
        if name == "not":
            return str(not coerce_bool(args[0], "$(not)")).lower()
        if name == "and":
            return str(coerce_bool(args[0], "$(and)") and coerce_bool(args[1], "$(and)")).lower()
        if name == "or":
            return str(coerce_bool(args[0], "$(or)") or coerce_bool(args[1], "$(or)")).lower()
        raise ValueError(f"unsupported substitution '$({name})'")

    # -- files -------------------------------------------------------------------------------------
    def load(self, path: Path) -> list[Action]:
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
        root = Entity("launch", document["launch"])
        try:
            if root.has("deprecated"):
                root.get("deprecated")
            children = root.children()
        except ValueError as exc:
            raise LaunchError(f"{path}: {exc}") from None
        return [self.parse_action(kind, body, path, str(i + 1)) for i, (kind, body) in enumerate(children)]

    def parse_action(self, kind: str, body: Any, file: Path, label: str) -> Action:
        """Parse one action (Parser.parse_action): check its attributes now, run it later."""
        parser = self.PARSERS.get(kind)
        if parser is None:
            known = ", ".join(sorted(self.PARSERS))
            raise LaunchError(f"{file}: unknown action '{kind}' (entry {label}; interseg launch knows {known})")
        entity = Entity(kind, body)
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

    def run_actions(self, actions: list[Action], frame: Frame) -> None:
        for action in actions:
            try:
                if action.condition is not None:
                    which, parts = action.condition
                    holds = condition_holds(self.perform(parts, frame), which)
                    if holds != (which == "if"):
                        continue
                action.run(frame)
            except (LaunchError, ActionFailure):
                raise
            except (ValueError, LookupError, TypeError, OSError) as exc:
                raise ActionFailure(f"{action.file}: {action.kind} (entry {action.label}): {exc}") from None

    def check_required(self, actions: list[Action], given: set[str], file: Path, top: bool) -> None:
        """IncludeLaunchDescription's check: an unconditional arg without default must be given."""
        for action in self._walk(actions, conditional=False):
            name, has_default, conditional = action.declares  # type: ignore[misc]
            if not has_default and not conditional and name not in given:
                if top:
                    raise LaunchError(
                        f"{file}: argument '{name}' has no default and was not given (pass {name}:=VALUE)"
                    )
                raise LaunchError(
                    f"{file}: included without its required argument '{name}' "
                    f"(pass it with arg: [{{name: {name}, value: ...}}])"
                )

    def _walk(self, actions: list[Action], conditional: bool):
        for action in actions:
            inner = conditional or action.condition is not None
            if action.declares is not None:
                action.declares = (action.declares[0], action.declares[1], inner)
                yield action
            for child in getattr(action.run, "children", []):
                yield from self._walk([child], inner)

    def include(self, path: Path, arguments: list[tuple[str, str]], frame: Frame, top: bool = False) -> None:
        if self.include_depth > 16:
            raise ValueError("includes nested too deeply (a cycle?)")
        actions = self.load(path)
        self.check_required(actions, {name for name, _ in arguments}, path, top)
        for name, value in arguments:  # SetLaunchConfiguration in the including scope
            frame.scope.configs[name] = value
        self.include_depth += 1
        try:
            self.run_actions(actions, Frame(path, frame.scope))
        finally:
            self.include_depth -= 1

    PARSERS: dict[str, Callable[..., Action]] = {**ScopeActions.SCOPE_PARSERS, **ProcessActions.PROCESS_PARSERS}


def read_launch_file(
    path: str | Path, arguments: dict[str, str] | None = None, env: dict[str, str] | None = None
) -> LaunchPlan:
    """Resolve a launch file into processes; raises LaunchError with a one-line reason."""
    path = Path(path).resolve() if Path(path).exists() else Path(path)
    base_env = dict(os.environ if env is None else env)
    reader = Reader(arguments or {}, base_env)
    reader.top_file = path
    scope = Scope({}, dict(base_env))
    try:
        # ros2 launch includes the file with the command-line arguments as launch arguments
        reader.include(path, list(reader.cli_arguments.items()), Frame(path, scope), top=True)
    except ActionFailure as exc:
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
