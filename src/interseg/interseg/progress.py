"""Progress bars that suit where their output goes: live (tqdm) on a terminal; in a log file or a
pipe, one plain line every ``log_every_percent`` percent (and at the end) instead of thousands of
carriage-return updates.

``progress_bar(...)`` takes tqdm's common arguments (``total``, ``desc``, ``disable``, ``unit``,
``file``) and returns an object with tqdm's ``update``, ``set_postfix_str``, ``close`` and the
context-manager protocol, so callers do not care which kind they got.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


class LogProgress:
    """tqdm's interface, printing ``desc: n/total (p%) [elapsed] postfix`` at each step of
    ``log_every_percent`` percent of ``total`` (every ``log_every`` updates when total is unknown)."""

    def __init__(
        self,
        total: int | float | None = None,
        desc: str = "",
        disable: bool = False,
        unit: str = "it",
        file: TextIO | None = None,
        log_every_percent: float = 10.0,
        log_every: int = 100,
        **_ignored,
    ) -> None:
        self.total, self.desc, self.disable, self.unit = total, desc, disable, unit
        self.file = file if file is not None else sys.stderr
        self.n = 0
        self.postfix = ""
        self._step = max(1e-9, float(total) * log_every_percent / 100.0) if total else float(log_every)
        self._next = self._step
        self._start = time.monotonic()
        self._closed = False

    def _line(self) -> str:
        elapsed = time.monotonic() - self._start
        count = (
            f"{self.n:g}/{self.total:g} {self.unit} ({100.0 * self.n / self.total:.0f}%)"
            if self.total
            else f"{self.n:g} {self.unit}"
        )
        text = f"{self.desc}: {count} [{elapsed:.0f} s]" if self.desc else f"{count} [{elapsed:.0f} s]"
        return f"{text} {self.postfix}" if self.postfix else text

    def _emit(self) -> None:
        if not self.disable:
            print(self._line(), file=self.file, flush=True)

    def update(self, n: int | float = 1) -> None:
        self.n += n
        if self.n + 1e-9 >= self._next:
            while self._next <= self.n + 1e-9:
                self._next += self._step
            if not (self.total and self.n >= self.total):  # the final line is close()'s
                self._emit()

    def set_postfix_str(self, s: str = "", refresh: bool = True) -> None:
        self.postfix = s

    def set_description(self, desc: str = "", refresh: bool = True) -> None:
        self.desc = desc

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._emit()

    def __enter__(self) -> LogProgress:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def progress_bar(
    total: int | float | None = None, desc: str = "", disable: bool = False, file: TextIO | None = None, **kwargs
):
    """A live tqdm bar when ``file`` (stderr by default) is a terminal, else a LogProgress."""
    stream = file if file is not None else sys.stderr
    if disable or not getattr(stream, "isatty", lambda: False)():
        return LogProgress(total=total, desc=desc, disable=disable, file=stream, **kwargs)
    from tqdm import tqdm

    kwargs.pop("log_every_percent", None)
    kwargs.pop("log_every", None)
    return tqdm(total=total, desc=desc, file=stream, **kwargs)
