"""Substitutions in launch-file text: upstream's grammar (launch/frontend/grammar.lark) into
parts (text and ``$(...)`` calls), and a command line split into arguments as ExecuteProcess
splits it."""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from interseg.supervision import python_expression


@dataclass
class Call:
    """``$(name arg ...)``; each argument is a list of parts."""

    name: str
    args: list[list[Any]]


Parts = list  # of str and Call

# name -> (least, most) arguments, as each substitution's parse() checks them
_SUBSTITUTIONS: dict[str, tuple[int, int]] = {
    "var": (1, 2),
    "env": (1, 2),
    "optenv": (1, 2),
    "find-pkg-share": (1, 1),
    "find-pkg-prefix": (1, 1),
    "find-exec": (1, 1),
    "exec-in-pkg": (2, 2),
    "dirname": (0, 0),
    "filename": (0, 0),
    "eval": (1, 2),
    "anon": (1, 1),
    "index": (1, 2),  # ForLoopIndex parses a second argument as ForEachVar does, and ignores it
    "not": (1, 1),
    "and": (2, 2),
    "or": (2, 2),
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

    def _substitution(self) -> Call:
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
            raise ValueError(
                f"unknown substitution '$({name})' in {self.text!r} (interseg launch supports "
                f"{', '.join(sorted(_SUBSTITUTIONS))})"
            )
        if not least <= len(args) <= most:
            expected = str(least) if least == most else f"{least} to {most}"
            raise ValueError(f"$({name}) takes {expected} argument(s), got {len(args)} in {self.text!r}")
        if name == "eval" and len(args) == 2:
            # PythonExpression.parse reads the module list before any substitution is performed
            if not is_text(args[1]):
                raise ValueError(
                    "$(eval)'s module list must be plain text (comma-separated module names), not a substitution, "
                    f"in {self.text!r}"
                )
            python_expression.module_names("".join(args[1]))
        return Call(name, args)

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


def is_text(parts: Parts) -> bool:
    return all(isinstance(p, str) for p in parts)


def split_cmdline(parts: Parts) -> list[Parts]:
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
