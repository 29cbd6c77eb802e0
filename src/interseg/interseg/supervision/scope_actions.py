"""The actions that change what follows them rather than start a process: ``arg``, ``let``,
``set_env``, ``unset_env``, ``log``, ``group``, ``for``, ``include``, ``push_ros_namespace``,
``set_remap`` and ``set_parameter``, each parsed now and run later, as upstream's parsers do."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import yaml

from interseg.supervision.entity import Entity
from interseg.supervision.scope import Action, Frame
from interseg.supervision.substitutions import parse_substitution
from interseg.supervision.values import SCALARS, absolute_namespace, prefix_namespace, validate_namespace


class ScopeActions:
    """Parsers of the scope actions, for the launch-file reader (which provides ``perform``,
    ``parse_action``, ``include`` and the reader's state)."""

    def _arg(self, entity: Entity, file: Path, label: str) -> Action:
        name = entity.get("name", optional=False)
        default_text = entity.get("default")
        default = parse_substitution(default_text) if default_text is not None else None
        entity.get("description")
        choices = None
        if entity.has("choice"):
            choices = [c.get("value", optional=False) for c in entity.get("choice", "entities")]
        self.known_arguments.add(name)

        def run(frame: Frame) -> None:
            configs = frame.scope.configs
            if name not in configs:
                if default is None:
                    raise ValueError(f"argument '{name}' has no default and was not given (pass {name}:=VALUE)")
                configs[name] = self.perform(default, frame)
            if choices is not None and configs[name] not in choices:
                raise ValueError(f"argument '{name}' is '{configs[name]}', not one of {choices}")
            if frame.file == self.top_file:
                self.declared[name] = str(configs[name])

        return Action("arg", label, file, None, run, declares=(name, default is not None, False))

    def _let(self, entity: Entity, file: Path, label: str) -> Action:
        name = parse_substitution(entity.get("name", optional=False))
        value = parse_substitution(entity.get("value", optional=False))

        def run(frame: Frame) -> None:
            frame.scope.configs[self.perform(name, frame)] = self.perform(value, frame)

        return Action("let", label, file, None, run)

    def _set_env(self, entity: Entity, file: Path, label: str) -> Action:
        name = parse_substitution(entity.get("name", optional=False))
        value = parse_substitution(entity.get("value", optional=False))

        def run(frame: Frame) -> None:
            frame.scope.env[self.perform(name, frame)] = self.perform(value, frame)

        return Action("set_env", label, file, None, run)

    def _unset_env(self, entity: Entity, file: Path, label: str) -> Action:
        name = parse_substitution(entity.get("name", optional=False))

        def run(frame: Frame) -> None:
            frame.scope.env.pop(self.perform(name, frame), None)

        return Action("unset_env", label, file, None, run)

    def _log(self, entity: Entity, file: Path, label: str) -> Action:
        message = parse_substitution(entity.get("message", optional=False))

        def run(frame: Frame) -> None:
            self.messages.append(self.perform(message, frame))

        return Action("log", label, file, None, run)

    def _group(self, entity: Entity, file: Path, label: str) -> Action:
        scoped = entity.get("scoped", "bool")
        for unsupported in ("forwarding", "keep"):
            if entity.has(unsupported):
                raise ValueError(f"group '{unsupported}' is not supported by interseg launch")
        if isinstance(scoped, str):
            self.messages.append(
                f"warning: {file}: group (entry {label}): scoped: '{scoped}' is a string; ros2 launch "
                f"treats any non-empty string as true (write scoped: true or false, unquoted)"
            )
        scoped = bool(scoped) if scoped is not None else True
        children = [
            self.parse_action(kind, body, file, f"{label}.{i + 1}") for i, (kind, body) in enumerate(entity.children())
        ]

        def run(frame: Frame) -> None:
            inner = Frame(frame.file, frame.scope.copy() if scoped else frame.scope)
            self.run_actions(children, inner)

        run.children = children  # type: ignore[attr-defined]
        return Action("group", label, file, None, run)

    def _for(self, entity: Entity, file: Path, label: str) -> Action:
        """launch's ForLoop (``for``): the children once per index 0 .. len-1, where ``$(index
        NAME)`` is the index; they run in the enclosing scope (wrap them in a ``group`` to keep
        their launch configurations to one iteration), and the index is visible in what they
        include."""
        name = entity.get("name", optional=False)
        length = parse_substitution(entity.get("len", optional=False))
        children = [
            self.parse_action(kind, body, file, f"{label}.{i + 1}") for i, (kind, body) in enumerate(entity.children())
        ]

        def run(frame: Frame) -> None:
            text = self.perform(length, frame)
            try:
                count = int(text)
            except ValueError:
                raise ValueError(f"for '{name}': len '{text}' is not an integer") from None
            saved = dict(self.loop_indices)
            try:
                for index in range(count):
                    self.loop_indices[name] = str(index)
                    self.run_actions(children, frame)
            finally:
                self.loop_indices = saved

        run.children = children  # type: ignore[attr-defined]
        return Action("for", label, file, None, run)

    def _include(self, entity: Entity, file: Path, label: str) -> Action:
        target = parse_substitution(entity.get("file", optional=False))
        arguments = []
        if entity.has("arg"):
            for item in entity.get("arg", "entities"):
                arguments.append(
                    (
                        parse_substitution(item.get("name", optional=False)),
                        parse_substitution(item.get("value", optional=False)),
                    )
                )
                item.assert_parsed()

        def run(frame: Frame) -> None:
            path = Path(self.perform(target, frame))
            path = path if path.is_absolute() else Path.cwd() / path  # as ros2 launch: the working directory
            resolved = [(self.perform(n, frame), self.perform(v, frame)) for n, v in arguments]
            self.include(path, resolved, frame)

        return Action("include", label, file, None, run)

    def _push_ros_namespace(self, entity: Entity, file: Path, label: str) -> Action:
        namespace = parse_substitution(entity.get("namespace", optional=False))

        def run(frame: Frame) -> None:
            previous = frame.scope.configs.get("ros_namespace")
            combined = absolute_namespace(prefix_namespace(previous, self.perform(namespace, frame)))
            validate_namespace(combined)
            frame.scope.configs["ros_namespace"] = combined

        return Action("push_ros_namespace", label, file, None, run)

    def _set_remap(self, entity: Entity, file: Path, label: str) -> Action:
        source = parse_substitution(entity.get("from", optional=False))
        target = parse_substitution(entity.get("to", optional=False))

        def run(frame: Frame) -> None:
            remaps = frame.scope.configs.get("ros_remaps", [])
            remaps.append(
                (self.perform(source, frame), self.perform(target, frame))
            )  # the same list object, as upstream
            frame.scope.configs["ros_remaps"] = remaps

        return Action("set_remap", label, file, None, run)

    def _set_parameter(self, entity: Entity, file: Path, label: str) -> Action:
        name = parse_substitution(entity.get("name", optional=False))
        value = parse_substitution(entity.get("value", optional=False))

        def run(frame: Frame) -> None:
            # evaluate_parameter_dict: the substituted text read as YAML; the node gets
            # `-p name:=str(value)` (launch_ros Node formats global parameters with str()).
            text = self.perform(value, frame)
            try:
                typed = yaml.safe_load(text if text else "''")
            except yaml.YAMLError as exc:
                raise ValueError(
                    f"set_parameter value '{text}' is not valid YAML ({getattr(exc, 'problem', exc)})"
                ) from None
            if isinstance(typed, list):
                if not typed or not all(isinstance(v, type(typed[0])) for v in typed) or type(typed[0]) not in SCALARS:
                    raise ValueError(f"set_parameter value '{text}' is not a non-empty list of one type")
                typed = tuple(typed)
            elif not isinstance(typed, SCALARS):
                raise ValueError(f"set_parameter value '{text}' reads as {type(typed).__name__}")
            params = frame.scope.configs.get("global_params", [])
            params.append((self.perform(name, frame), typed))
            frame.scope.configs["global_params"] = params

        return Action("set_parameter", label, file, None, run)

    SCOPE_PARSERS: dict[str, Callable[..., Action]] = {
        "arg": _arg,
        "let": _let,
        "set_env": _set_env,
        "unset_env": _unset_env,
        "log": _log,
        "group": _group,
        "for": _for,
        "include": _include,
        "push_ros_namespace": _push_ros_namespace,
        "push-ros-namespace": _push_ros_namespace,
        "set_remap": _set_remap,
        "set_parameter": _set_parameter,
    }
