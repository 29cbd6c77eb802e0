"""argparse types for the numeric options of the `interseg` commands, and a parser whose errors
are one line.

``float("nan")`` and ``float("inf")`` parse, and a negative or zero count parses as an int: an
option typed with one of these is refused by argparse itself, with one line naming the option
and the value, and exit code 2, before any work starts.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable
from typing import NoReturn


class ArgumentParser(argparse.ArgumentParser):
    """argparse with one line on stderr for a usage error (no usage block), exit code 2."""

    def error(self, message: str) -> NoReturn:
        print(f"{self.prog}: {message} (--help for usage)", file=sys.stderr)
        sys.exit(2)


def _number(text: str, kind: type) -> float | int:
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{'an integer' if kind is int else 'a number'} is needed, got {text!r}"
        ) from None
    if kind is float and not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
    return value


def int_range(minimum: int | None = None, maximum: int | None = None) -> Callable[[str], int]:
    """An integer in [minimum, maximum] (either bound may be open)."""

    def parse(text: str) -> int:
        value = _number(text, int)
        if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
            raise argparse.ArgumentTypeError(f"must be an integer {_bounds(minimum, maximum)}, got {text!r}")
        return value

    parse.__name__ = "integer"
    return parse


def float_range(
    minimum: float | None = None, maximum: float | None = None, *, exclusive_minimum: bool = False
) -> Callable[[str], float]:
    """A finite number in [minimum, maximum] ((minimum, maximum] with ``exclusive_minimum``)."""

    def parse(text: str) -> float:
        value = _number(text, float)
        below = minimum is not None and (value <= minimum if exclusive_minimum else value < minimum)
        if below or (maximum is not None and value > maximum):
            raise argparse.ArgumentTypeError(
                f"must be a finite number {_bounds(minimum, maximum, exclusive_minimum)}, got {text!r}"
            )
        return value

    parse.__name__ = "number"
    return parse


def _bounds(minimum, maximum, exclusive_minimum: bool = False) -> str:
    def text(value) -> str:
        return str(value) if isinstance(value, int) else f"{value:g}"

    low = None if minimum is None else f"{'>' if exclusive_minimum else '>='} {text(minimum)}"
    high = None if maximum is None else f"<= {text(maximum)}"
    return " and ".join(part for part in (low, high) if part)


positive_int = int_range(1)
non_negative_int = int_range(0)
positive_float = float_range(0.0, exclusive_minimum=True)
non_negative_float = float_range(0.0)
random_seed = int_range(0, 2**31 - 1)  # the nodes declare seeds as ROS integer parameters with this range
# Camera images: the labeller and the network need at least 32x32; MuJoCo's offscreen buffer and
# a 2-core machine's patience end well before 8K.
image_side = int_range(32, 8192)
