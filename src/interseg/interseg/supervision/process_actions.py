"""The actions that start processes: ``node`` and ``executable`` with the attributes they share
(ExecuteProcess), node parameters (values, nested names, parameter files) and ROS arguments."""

from __future__ import annotations

import atexit
import shlex
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from interseg.supervision.ament_index import resolve_executable
from interseg.supervision.entity import Entity
from interseg.supervision.plan import ProcessSpec
from interseg.supervision.scope import Action, Frame
from interseg.supervision.substitutions import Parts, is_text, parse_substitution, split_cmdline
from interseg.supervision.values import (
    absolute_namespace,
    coerce_bool,
    parameter_text,
    prefix_namespace,
    uniform_list,
    validate_namespace,
    validate_node_name,
    yaml_typed,
)


class ProcessActions:
    """Parsers of ``node`` and ``executable``, for the launch-file reader (which provides
    ``perform`` and the reader's state: processes, messages, base environment)."""

    def _process_attributes(self, entity: Entity, node: bool) -> dict[str, Any]:
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
                env.append(
                    (
                        parse_substitution(item.get("name", optional=False)),
                        parse_substitution(item.get("value", optional=False)),
                    )
                )
                item.assert_parsed()
        attrs["env"] = env
        return attrs

    def _finish_process(self, spec: ProcessSpec, attrs: dict[str, Any], frame: Frame) -> None:
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
            spec.respawn = coerce_bool(self.perform(attrs["respawn"], frame), "respawn")
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

    def _executable(self, entity: Entity, file: Path, label: str) -> Action:
        cmd = split_cmdline(parse_substitution(entity.get("cmd", optional=False)))
        attrs = self._process_attributes(entity, node=False)

        def run(frame: Frame) -> None:
            command = [self.perform(a, frame) for a in cmd]
            if not command or not command[0]:
                raise ValueError("empty cmd")
            name = self.perform(attrs["name"], frame) if attrs["name"] is not None else Path(command[0]).name
            self._finish_process(ProcessSpec(name, command, is_node=False, source=str(frame.file)), attrs, frame)

        return Action("executable", label, file, None, run)

    def _parameters(self, items: list[Entity]) -> list[Callable[[Frame], list[str]]]:
        """Node.parse_nested_parameters: each param entry becomes ROS arguments, in order."""
        result: list[Callable[[Frame], list[str]]] = []
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

    def _nested_parameters(self, items: list[Entity], prefix: list[Parts]) -> list[Callable[[Frame], str]]:
        rules: list[Callable[[Frame], str]] = []
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

    def _parameter_rule(self, name: list[Parts], value: Any) -> Callable[[Frame], str]:
        """``name:=TEXT`` with the value typed as launch_ros types a front-end parameter value:
        parse_if_substitutions (text without substitutions stays a string, other YAML scalars
        keep their type, a list's literal items must share one type), then ParameterValue with
        value_type None (a substituted text is read as YAML; a list must come out uniform)."""

        def split(item: Any) -> Any:  # a literal, or a list of parts when it has substitutions
            if isinstance(item, str):
                parts = parse_substitution(item)
                return "".join(parts) if is_text(parts) else parts
            return item

        is_list = isinstance(value, list)
        items = [split(v) for v in value] if is_list else [split(value)]
        literal_types = {type(v) for v in items if not isinstance(v, list)}
        if is_list and len(literal_types) > 1:
            raise ValueError(
                f"param list {value!r} mixes types ({', '.join(sorted(t.__name__ for t in literal_types))})"
            )

        def rule(frame: Frame) -> str:
            text_name = ".".join(self.perform(p, frame) for p in name)
            typed = [
                yaml_typed(self.perform(v, frame), f"param {text_name}") if isinstance(v, list) else v for v in items
            ]
            if not is_list:
                return f"{text_name}:={parameter_text(typed[0])}"
            if not uniform_list(typed, can_be_str=False):
                raise ValueError(f"param {text_name}: {typed!r} is not a list of one type")
            return f"{text_name}:={parameter_text(typed)}"

        return rule

    def _params_file(self, source: Parts, allow: Any) -> Callable[[Frame], list[str]]:
        allow_parts = parse_substitution(allow) if isinstance(allow, str) else None

        def run(frame: Frame) -> list[str]:
            path = Path(self.perform(source, frame))
            path = path if path.is_absolute() else Path.cwd() / path
            if not path.is_file():
                raise ValueError(f"params file {path} not found")
            text = path.read_text()
            substitute = (
                coerce_bool(self.perform(allow_parts, frame), "allow_substs")
                if allow_parts is not None
                else bool(allow)
            )
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

    def _node(self, entity: Entity, file: Path, label: str) -> Action:
        attrs = self._process_attributes(entity, node=True)
        args_text, ros_args_text = entity.get("args"), entity.get("ros_args")
        args = split_cmdline(parse_substitution(args_text)) if args_text is not None else []
        ros_args = split_cmdline(parse_substitution(ros_args_text)) if ros_args_text is not None else None
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
                remaps.append(
                    (
                        parse_substitution(item.get("from", optional=False)),
                        parse_substitution(item.get("to", optional=False)),
                    )
                )
                item.assert_parsed()
        parameters = self._parameters(entity.get("param", "entities")) if entity.has("param") else []

        def run(frame: Frame) -> None:
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
                validate_node_name(node_name)
                command += ["-r", f"__node:={node_name}"]
            expanded = self.perform(namespace, frame) if namespace is not None else None
            full_namespace = absolute_namespace(prefix_namespace(frame.scope.configs.get("ros_namespace"), expanded))
            if full_namespace is not None:
                validate_namespace(full_namespace)
                command += ["-r", f"__ns:={full_namespace}"]
            for param_name, value in frame.scope.configs.get("global_params", []):
                command += ["-p", f"{param_name}:={value}"]
            for parameter in parameters:
                command += parameter(frame)
            for source, target in [
                *frame.scope.configs.get("ros_remaps", []),
                *((self.perform(s, frame), self.perform(t, frame)) for s, t in remaps),
            ]:
                command += ["-r", f"{source}:={target}"]
            if exec_name is not None:
                display = self.perform(exec_name, frame)
            else:
                display = node_name or Path(exe).name
                if full_namespace and full_namespace != "/":
                    display = f"{full_namespace.strip('/')}/{display}"
            self._finish_process(ProcessSpec(display, command, is_node=True, source=str(frame.file)), attrs, frame)

        return Action("node", label, file, None, run)

    PROCESS_PARSERS: dict[str, Callable[..., Action]] = {"node": _node, "executable": _executable}
