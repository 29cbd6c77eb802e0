"""``$(eval EXPRESSION [MODULES])``: the expression language of ROS 2 launch's PythonExpression
(Jazzy, Kilted), evaluated in a short-lived child process so that it always ends.

What upstream does (launch/substitutions/python_expression.py): the expression text, after its
own substitutions, goes to ``eval(text, {}, names)``. The empty globals get Python's builtins,
so the whole of Python's expression syntax and every builtin are there (``len``, ``str``,
``__import__``, attribute access on anything). ``names`` holds each module of the second
argument, a comma-separated list read as plain text (default: ``math``), bound under the
module's ``__name__``; ``math``'s functions and constants are also bound without the prefix
(``sqrt(16)``, ``pi``). The result is ``str()`` of the value: ``True``, ``4.0``, ``1024``.

A launch file is code: ros2 launch runs Python launch files and any command an ``executable``
names, so upstream does not sandbox ``$(eval)`` and neither does this reader (``__import__``
and attribute tricks work as they do upstream). What it adds is a bound: upstream evaluates in
the launch process itself, where ``9**9**9`` or ``'x' * 10**12`` hangs or exhausts the
machine before anything starts. Here the same call runs in a fresh Python process (same
interpreter and environment, the launch file's directory nowhere on its path) that must
finish within ``EVAL_TIMEOUT_S`` seconds once its modules are imported, and may allocate at
most ``MEMORY_LIMIT_BYTES`` beyond them; past either limit it is killed with its whole process
group and the launch stops with one line. Side effects of an expression (environment
variables it sets, modules it patches) stay in that process; upstream's reach the launch
process, which no launch file should rely on.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time

EVAL_TIMEOUT_S = 5.0  # for the expression itself, once its modules are imported
IMPORT_TIMEOUT_S = 60.0  # for the interpreter to start and import the modules (torch takes seconds)
MEMORY_LIMIT_BYTES = 1 << 30  # address space the expression may add to the imported modules'
DEFAULT_MODULES = ("math",)


class ExpressionError(ValueError):
    """The expression cannot be evaluated; one line."""


def module_names(text: str | None) -> list[str]:
    """The modules argument as PythonExpression.parse reads it: absent -> math; empty -> no
    module; otherwise comma-separated names, stripped. An empty name (``'math,'``) is refused:
    upstream's importlib.import_module('') raises ValueError there."""
    if text is None:
        return list(DEFAULT_MODULES)
    if text == "":
        return []
    names = [name.strip() for name in text.split(",")]
    if not all(names):
        raise ExpressionError(
            f"$(eval) modules '{text}': empty module name (expected comma-separated names such as 'math,os')"
        )
    return names


def _shown(expression: str, limit: int = 120) -> str:
    """The expression on one line, shortened, for messages."""
    text = " ".join(expression.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


# Runs in the child: reads {"modules", "expression", "memory"} from stdin, imports the modules
# as upstream does, reports "ready", limits its address space, evaluates and reports one JSON
# line {"value"} or {"error"} on the result channel. The expression's own prints go to stderr.
_CHILD = r"""
import json, os, sys
request = json.loads(sys.stdin.read())
channel = os.fdopen(os.dup(1), "w")
os.dup2(2, 1)

def report(**reply):
    channel.write(json.dumps(reply) + "\n")
    channel.flush()

def describe(exc):
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__

try:
    import importlib
    names = {}
    for name in request["modules"]:
        module = importlib.import_module(name)
        if module.__name__ == "math":
            names.update(vars(module))
        names[module.__name__] = module
except BaseException as exc:
    report(error=f"cannot import module: {describe(exc)}")
    raise SystemExit(0)
try:
    import resource
    with open("/proc/self/statm") as statm:
        used = int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = used + request["memory"]
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
except (ImportError, OSError, ValueError):
    pass
report(ready=True)
try:
    value = str(eval(request["expression"], {}, names))
except MemoryError:
    report(error=f"MemoryError: needs more than {request['memory'] >> 20} MiB")
except BaseException as exc:
    report(error=describe(exc))
else:
    report(value=value)
"""


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()


def evaluate(
    expression: str,
    modules: list[str] | tuple[str, ...] = DEFAULT_MODULES,
    *,
    timeout: float = EVAL_TIMEOUT_S,
    import_timeout: float = IMPORT_TIMEOUT_S,
    memory_limit: int = MEMORY_LIMIT_BYTES,
) -> str:
    """``str(eval(expression, {}, names))`` as upstream computes it, in a child process; raises
    ExpressionError with a one-line reason when it fails, takes longer than ``timeout`` seconds
    or needs more than ``memory_limit`` bytes."""
    command = [sys.executable, *(["-P"] if sys.version_info >= (3, 11) else []), "-c", _CHILD]
    request = json.dumps({"modules": list(modules), "expression": expression, "memory": int(memory_limit)})
    shown = _shown(expression)
    proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, start_new_session=True)
    try:
        assert proc.stdin is not None and proc.stdout is not None
        try:
            proc.stdin.write(request.encode())
            proc.stdin.close()
        except BrokenPipeError:
            pass
        fd = proc.stdout.fileno()
        lines: list[dict] = []
        pending = bytearray()
        deadline = time.monotonic() + import_timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                _kill_group(proc)
                if any(line.get("ready") for line in lines):
                    raise ExpressionError(
                        f"$(eval {shown}): not finished after {timeout:g} s, stopped (ros2 launch would hang here)"
                    )
                raise ExpressionError(
                    f"$(eval {shown}): importing {', '.join(modules)} took more than {import_timeout:g} s"
                )
            ready, _, _ = select.select([fd], [], [], remaining)
            if not ready:
                continue
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                break
            pending += chunk
            while (end := pending.find(b"\n")) >= 0:
                message = json.loads(bytes(pending[:end]))
                del pending[: end + 1]
                lines.append(message)
                if message.get("ready"):
                    deadline = time.monotonic() + timeout
        proc.wait()
    except BaseException:
        _kill_group(proc)
        raise
    finally:
        if proc.stdout is not None:
            proc.stdout.close()
    result = next((line for line in lines if "value" in line or "error" in line), None)
    if result is None:
        how = (
            f"killed by signal {signal.Signals(-proc.returncode).name}"
            if proc.returncode < 0
            else f"exit code {proc.returncode}"
        )
        raise ExpressionError(f"$(eval {shown}) failed: the evaluating process ended without a result ({how})")
    if "error" in result:
        raise ExpressionError(f"$(eval {shown}) failed: {result['error']}")
    return result["value"]
