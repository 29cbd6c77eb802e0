"""Reading ROS 2 launch files in the YAML front-end format into a list of processes to start.

Supported (the same file runs with `ros2 launch` on a full ROS install):
- actions: ``arg`` (name, default, description), ``let`` (name, value), ``node`` (pkg, exec,
  name, namespace, param, remap, args, ros_args, respawn, respawn_delay, on_exit, output,
  env), ``executable`` (cmd, name, args, respawn, on_exit, env), ``group`` (scoped, children,
  with ``push-ros-namespace`` / ``push_ros_namespace``), ``include`` (file, arg), ``set_env`` /
  ``set-env`` (name, value), ``log`` (message);
- the ``if`` / ``unless`` attributes on every action;
- substitutions: ``$(var NAME)``, ``$(env NAME [DEFAULT])``, ``$(optenv NAME [DEFAULT])``,
  ``$(find-pkg-share PKG)``, ``$(find-pkg-prefix PKG)``, ``$(dirname)``, ``$(filename)``,
  ``$(eval EXPR)`` (arithmetic and comparisons only), nested.

Everything is resolved before any process starts, so that a bad file never leaves a
half-started graph: every problem raises ``LaunchError`` naming the file.
"""
from __future__ import annotations

import ast
import operator
import os
import re
import shlex
import sys
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Callable

import yaml


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
    is_node: bool = True
    source: str = ""  # launch file that declared it


@dataclass
class LaunchPlan:
    processes: list[ProcessSpec]
    arguments: dict[str, str]
    env: dict[str, str]
    messages: list[str]


@dataclass
class _Context:
    file: Path
    variables: dict[str, str]
    namespace: str
    env: dict[str, str]


ActionHandler = Callable[["_Reader", Any, _Context], None]


def parse_cli_arguments(items: list[str]) -> dict[str, str]:
    """``name:=value`` pairs from the command line."""
    result: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition(":=")
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_\-]*", name):
            raise LaunchError(f"bad launch argument '{item}': expected name:=value")
        result[name] = value
    return result


def package_share(package: str) -> Path:
    """share/<package> of a package: the checkout or install for interseg, else AMENT_PREFIX_PATH."""
    if package == "interseg":
        from interseg.paths import share_dir

        return share_dir()
    for prefix in os.environ.get("AMENT_PREFIX_PATH", sys.prefix).split(os.pathsep):
        candidate = Path(prefix) / "share" / package
        if candidate.is_dir():
            return candidate
    raise LookupError(f"package '{package}' not found")


def package_prefix(package: str) -> Path:
    for prefix in os.environ.get("AMENT_PREFIX_PATH", sys.prefix).split(os.pathsep):
        if (Path(prefix) / "share" / package).is_dir():
            return Path(prefix)
    if package == "interseg":
        return Path(sys.prefix)
    raise LookupError(f"package '{package}' not found")


def resolve_executable(package: str, executable: str) -> list[str]:
    """Command that runs ``executable`` of ``package``: an entry point of the installed Python
    distribution (how pip installs interseg), or <prefix>/lib/<package>/<executable> (colcon)."""
    try:
        entry_points = metadata.distribution(package).entry_points
    except metadata.PackageNotFoundError:
        entry_points = []
    for entry in entry_points:
        if entry.group == "console_scripts" and entry.name == executable:
            module, _, attr = entry.value.partition(":")
            code = f"import sys; sys.argv[0] = {executable!r}; from {module} import {attr} as main; sys.exit(main())"
            return [sys.executable, "-c", code]
    for prefix in os.environ.get("AMENT_PREFIX_PATH", sys.prefix).split(os.pathsep):
        candidate = Path(prefix) / "lib" / package / executable
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return [str(candidate)]
    raise LookupError(f"executable '{executable}' not found in package '{package}'")


_SUBSTITUTION = re.compile(r"\$\(")

_EVAL_OPERATORS: dict[type, Callable[..., Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow,
    ast.USub: operator.neg, ast.UAdd: operator.pos, ast.Not: operator.not_,
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
    ast.Gt: operator.gt, ast.GtE: operator.ge,
}


def _safe_eval(expression: str) -> Any:
    """Evaluate literals, arithmetic, comparisons and and/or/not; nothing else."""

    def visit(node: ast.AST) -> Any:
        if isinstance(node, ast.Expression):
            return visit(node.body)
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name) and node.id in ("True", "False", "None", "true", "false"):
            return {"True": True, "False": False, "None": None, "true": True, "false": False}[node.id]
        if isinstance(node, ast.BinOp) and type(node.op) in _EVAL_OPERATORS:
            return _EVAL_OPERATORS[type(node.op)](visit(node.left), visit(node.right))
        if isinstance(node, ast.UnaryOp) and type(node.op) in _EVAL_OPERATORS:
            return _EVAL_OPERATORS[type(node.op)](visit(node.operand))
        if isinstance(node, ast.BoolOp):
            values = [visit(v) for v in node.values]
            return all(values) if isinstance(node.op, ast.And) else any(values)
        if isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in _EVAL_OPERATORS:
            return _EVAL_OPERATORS[type(node.ops[0])](visit(node.left), visit(node.comparators[0]))
        if isinstance(node, ast.IfExp):
            return visit(node.body) if visit(node.test) else visit(node.orelse)
        raise ValueError(f"unsupported expression element {type(node).__name__}")

    return visit(ast.parse(expression.strip(), mode="eval"))


def _as_bool(text: str, where: str) -> bool:
    lowered = str(text).strip().lower()
    if lowered in ("true", "1", "yes", "on"):
        return True
    if lowered in ("false", "0", "no", "off", ""):
        return False
    raise ValueError(f"{where}: '{text}' is not a boolean")


def _format_parameter(value: Any) -> str:
    """A YAML value as the text of ``-p name:=value`` (parsed by rcl as YAML)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_format_parameter(v) for v in value) + "]"
    if isinstance(value, str):
        return value
    return repr(value) if isinstance(value, float) else str(value)


def _join_namespace(outer: str, inner: str) -> str:
    if inner.startswith("/"):
        return inner.rstrip("/") or "/"
    parts = [p for p in (outer.strip("/"), inner.strip("/")) if p]
    return "/" + "/".join(parts) if parts else ""


class _Reader:
    def __init__(self, cli_arguments: dict[str, str]):
        self.cli_arguments = dict(cli_arguments)
        self.used_cli_arguments: set[str] = set()
        self.processes: list[ProcessSpec] = []
        self.messages: list[str] = []
        self.declared: dict[str, str] = {}
        self.include_depth = 0

    # -- substitutions -------------------------------------------------------------------------
    def substitute(self, value: Any, ctx: _Context) -> str:
        if value is None:
            return ""
        if not isinstance(value, str):
            return value if isinstance(value, str) else _format_parameter(value)
        out, i = [], 0
        while i < len(value):
            match = _SUBSTITUTION.search(value, i)
            if not match:
                out.append(value[i:])
                break
            out.append(value[i:match.start()])
            depth, j = 1, match.end()
            while j < len(value) and depth:
                if value.startswith("$(", j):
                    depth += 1
                    j += 2
                    continue
                if value[j] == ")":
                    depth -= 1
                j += 1
            if depth:
                raise ValueError(f"unclosed substitution in '{value}'")
            inner = self.substitute(value[match.end():j - 1], ctx)
            out.append(self._evaluate(inner, ctx))
            i = j
        return "".join(out)

    def _evaluate(self, inner: str, ctx: _Context) -> str:
        kind, _, rest = inner.strip().partition(" ")
        rest = rest.strip()
        if kind == "var":
            if rest not in ctx.variables:
                raise ValueError(f"undefined launch argument '{rest}'")
            return ctx.variables[rest]
        if kind in ("env", "optenv"):
            name, _, default = rest.partition(" ")
            if name in ctx.env:
                return ctx.env[name]
            if default or kind == "optenv":
                return default
            raise ValueError(f"environment variable '{name}' is not set")
        if kind == "find-pkg-share":
            return str(package_share(rest))
        if kind == "find-pkg-prefix":
            return str(package_prefix(rest))
        if kind == "dirname":
            return str(ctx.file.parent)
        if kind == "filename":
            return str(ctx.file)
        if kind == "eval":
            result = _safe_eval(rest.strip("'\""))
            return _format_parameter(result)
        raise ValueError(f"unsupported substitution '$({inner})'")

    # -- actions -------------------------------------------------------------------------------
    def read_file(self, path: Path, ctx_vars: dict[str, str] | None, env: dict[str, str], namespace: str = "", top: bool = False) -> None:
        if not path.is_file():
            raise LaunchError(f"{path}: launch file not found")
        try:
            document = yaml.safe_load(path.read_text())
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" (line {mark.line + 1})" if mark is not None else ""
            raise LaunchError(f"{path}: not valid YAML{where}: {getattr(exc, 'problem', exc)}") from None
        if not isinstance(document, dict) or "launch" not in document or not isinstance(document["launch"], list):
            raise LaunchError(f"{path}: expected a mapping with a 'launch' list at the top")
        ctx = _Context(path, dict(ctx_vars or {}), namespace, env)
        self.read_actions(document["launch"], ctx, top=top)

    def read_actions(self, actions: list, ctx: _Context, top: bool = False) -> None:
        for index, entry in enumerate(actions):
            if not isinstance(entry, dict) or len(entry) != 1:
                raise LaunchError(f"{ctx.file}: entry {index + 1} must be a mapping with one action, got {entry!r}")
            (kind, body), = entry.items()
            handler = self.HANDLERS.get(kind)
            if handler is None:
                raise LaunchError(f"{ctx.file}: unknown action '{kind}' (entry {index + 1})")
            body = body if body is not None else {}
            try:
                if isinstance(body, dict) and not self._condition_holds(body, ctx):
                    continue
                handler(self, body, ctx, top) if kind == "arg" else handler(self, body, ctx)
            except LaunchError:
                raise
            except (ValueError, LookupError, TypeError, KeyError) as exc:
                detail = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
                raise LaunchError(f"{ctx.file}: {kind} (entry {index + 1}): {detail}") from None

    def _condition_holds(self, body: dict, ctx: _Context) -> bool:
        if "if" in body and not _as_bool(self.substitute(body["if"], ctx), "if"):
            return False
        if "unless" in body and _as_bool(self.substitute(body["unless"], ctx), "unless"):
            return False
        return True

    def _arg(self, body: dict, ctx: _Context, top: bool = False) -> None:
        name = self._require(body, "name", ctx)
        if name in ctx.variables and not top:
            return  # passed in by an include
        if top and name in self.cli_arguments:
            ctx.variables[name] = self.cli_arguments[name]
            self.used_cli_arguments.add(name)
        elif "default" in body:
            ctx.variables[name] = self.substitute(body["default"], ctx)
        elif name not in ctx.variables:
            raise ValueError(f"argument '{name}' has no default and was not given (pass {name}:=VALUE)")
        if top:
            self.declared[name] = ctx.variables[name]

    def _let(self, body: dict, ctx: _Context) -> None:
        ctx.variables[self._require(body, "name", ctx)] = self.substitute(self._require(body, "value", ctx), ctx)

    def _set_env(self, body: dict, ctx: _Context) -> None:
        ctx.env[self._require(body, "name", ctx)] = self.substitute(self._require(body, "value", ctx), ctx)

    def _log(self, body: dict, ctx: _Context) -> None:
        self.messages.append(self.substitute(self._require(body, "message", ctx), ctx))

    def _group(self, body: Any, ctx: _Context) -> None:
        children = body.get("children", []) if isinstance(body, dict) else body
        if not isinstance(children, list):
            raise ValueError("group children must be a list")
        scoped = _as_bool(self.substitute(body.get("scoped", "true"), ctx), "scoped") if isinstance(body, dict) else True
        inner = _Context(ctx.file, dict(ctx.variables), ctx.namespace, dict(ctx.env)) if scoped else ctx
        for entry in children:
            if isinstance(entry, dict) and len(entry) == 1:
                (kind, child), = entry.items()
                if kind in ("push-ros-namespace", "push_ros_namespace"):
                    namespace = child.get("namespace", "") if isinstance(child, dict) else child
                    inner.namespace = _join_namespace(inner.namespace, self.substitute(namespace, inner))
                    continue
            self.read_actions([entry], inner)

    def _include(self, body: dict, ctx: _Context) -> None:
        target = Path(self.substitute(self._require(body, "file", ctx), ctx))
        if not target.is_absolute():
            target = ctx.file.parent / target
        if self.include_depth > 16:
            raise ValueError("includes nested too deeply (a cycle?)")
        passed = {}
        for item in body.get("arg", []) or []:
            passed[self._require(item, "name", ctx)] = self.substitute(item.get("value", ""), ctx)
        self.include_depth += 1
        try:
            self.read_file(target, passed, dict(ctx.env), ctx.namespace)
        finally:
            self.include_depth -= 1

    def _node(self, body: dict, ctx: _Context) -> None:
        package = self.substitute(self._require(body, "pkg", ctx), ctx)
        executable = self.substitute(self._require(body, "exec", ctx), ctx)
        command = resolve_executable(package, executable)
        name = self.substitute(body.get("name", ""), ctx)
        namespace = _join_namespace(ctx.namespace, self.substitute(body.get("namespace", ""), ctx))
        command += shlex.split(self.substitute(body.get("args", ""), ctx))
        ros_args: list[str] = []
        if name:
            ros_args += ["-r", f"__node:={name}"]
        if namespace:
            ros_args += ["-r", f"__ns:={namespace}"]
        for item in body.get("param", []) or []:
            if not isinstance(item, dict):
                raise ValueError(f"param entries must be mappings, got {item!r}")
            if "from" in item:
                params_file = Path(self.substitute(item["from"], ctx))
                if not params_file.is_absolute():
                    params_file = ctx.file.parent / params_file
                if not params_file.is_file():
                    raise ValueError(f"params file {params_file} not found")
                try:
                    yaml.safe_load(params_file.read_text())
                except yaml.YAMLError as exc:
                    raise ValueError(f"params file {params_file} is not valid YAML: {getattr(exc, 'problem', exc)}") from None
                ros_args += ["--params-file", str(params_file)]
            else:
                param_name = self._require(item, "name", ctx)
                value = item.get("value")
                value = self.substitute(value, ctx) if isinstance(value, str) else _format_parameter(value)
                ros_args += ["-p", f"{param_name}:={value if value != '' else chr(39) * 2}"]  # '' : YAML empty string
        for item in body.get("remap", []) or []:
            ros_args += ["-r", f"{self.substitute(self._require(item, 'from', ctx), ctx)}:={self.substitute(self._require(item, 'to', ctx), ctx)}"]
        ros_args += shlex.split(self.substitute(body.get("ros_args", ""), ctx))
        if ros_args:
            command += ["--ros-args", *ros_args]
        display = name or executable
        self._add(ProcessSpec(display if not namespace else f"{namespace.strip('/')}/{display}", command, is_node=True, source=str(ctx.file)), body, ctx)

    def _executable(self, body: dict, ctx: _Context) -> None:
        command = shlex.split(self.substitute(self._require(body, "cmd", ctx), ctx))
        if not command:
            raise ValueError("empty cmd")
        command += shlex.split(self.substitute(body.get("args", ""), ctx))
        name = self.substitute(body.get("name", ""), ctx) or Path(command[0]).name
        self._add(ProcessSpec(name, command, is_node=False, source=str(ctx.file)), body, ctx)

    def _add(self, spec: ProcessSpec, body: dict, ctx: _Context) -> None:
        spec.env = dict(ctx.env)
        for item in body.get("env", []) or []:
            spec.env[self._require(item, "name", ctx)] = self.substitute(item.get("value", ""), ctx)
        on_exit = self.substitute(body.get("on_exit", ""), ctx)
        if on_exit not in ("", "shutdown"):
            raise ValueError(f"on_exit '{on_exit}' is not supported (only 'shutdown')")
        spec.required = on_exit == "shutdown"
        spec.respawn = _as_bool(self.substitute(body.get("respawn", "false"), ctx), "respawn")
        spec.respawn_delay = float(self.substitute(body.get("respawn_delay", "0"), ctx))
        taken = {p.name for p in self.processes}
        if spec.name in taken:
            raise ValueError(f"two processes named '{spec.name}'")
        self.processes.append(spec)

    def _require(self, body: Any, key: str, ctx: _Context) -> Any:
        if not isinstance(body, dict) or key not in body:
            raise ValueError(f"missing '{key}'")
        return body[key]

    HANDLERS: dict[str, Callable[..., None]] = {
        "arg": _arg, "let": _let, "node": _node, "executable": _executable, "group": _group,
        "include": _include, "set_env": _set_env, "set-env": _set_env, "log": _log,
    }


def read_launch_file(path: str | Path, arguments: dict[str, str] | None = None, env: dict[str, str] | None = None) -> LaunchPlan:
    """Resolve a launch file into processes; raises LaunchError with a one-line reason."""
    path = Path(path).resolve() if Path(path).exists() else Path(path)
    reader = _Reader(arguments or {})
    base_env = dict(os.environ if env is None else env)
    reader.read_file(path, {}, base_env, top=True)
    unknown = set(reader.cli_arguments) - reader.used_cli_arguments
    if unknown:
        known = ", ".join(sorted(reader.declared)) or "none"
        raise LaunchError(f"{path}: unknown launch argument(s) {', '.join(sorted(unknown))} (declared: {known})")
    if not reader.processes:
        raise LaunchError(f"{path}: starts no processes")
    return LaunchPlan(reader.processes, reader.declared, base_env, reader.messages)
