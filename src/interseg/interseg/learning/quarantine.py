"""The store's quarantine: examples whose files turned out unusable, recorded in
``quarantine.jsonl`` (one JSON object per line: ``{"key", "id", "reason", "time", "pid"}``),
skipped by every reader from then on, their files left where they are. Delete a line (or the
file) to have that example read again."""

from __future__ import annotations

import fcntl
import json
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from interseg.learning.example_files import ExampleRecord

LOG = logging.getLogger(__name__)
QUARANTINE_NAME = "quarantine.jsonl"


@dataclass
class Quarantine:
    """The store's quarantined examples (``quarantine.jsonl``), shared by every reader process.

    Appends are serialised with an flock, so two readers that find the same bad example record
    it once. When the file cannot be written (read-only store, full disk) the example is still
    skipped in this process, and the log says that it was not recorded."""

    root: Path
    _reasons: dict[str, str] = field(default_factory=dict)
    _unrecorded: dict[str, str] = field(default_factory=dict)
    _offset: int = 0
    _inode: int | None = None
    _unreadable: bool = False

    def __post_init__(self) -> None:
        self.root = Path(self.root)

    @property
    def path(self) -> Path:
        return self.root / QUARANTINE_NAME

    def reload(self) -> dict[str, str]:
        """Read what other processes appended since the last call; key -> reason."""
        try:
            with open(self.path, "rb") as f:
                st = os.fstat(f.fileno())
                if st.st_ino != self._inode or st.st_size < self._offset:  # replaced or edited by hand
                    self._reasons, self._offset, self._inode = {}, 0, st.st_ino
                f.seek(self._offset)
                chunk = f.read()
        except FileNotFoundError:
            self._reasons, self._offset, self._inode = {}, 0, None
            return self.reasons
        except OSError as exc:
            if not self._unreadable:
                LOG.warning(
                    "cannot read %s (%s): examples quarantined by other processes may be read again",
                    self.path,
                    exc.strerror or exc,
                )
                self._unreadable = True
            return self.reasons
        self._unreadable = False
        complete = chunk[: chunk.rfind(b"\n") + 1]  # a line being appended right now waits for the next call
        self._offset += len(complete)
        for line in complete.splitlines():
            try:
                entry = json.loads(line)
                self._reasons[str(entry["key"])] = str(entry.get("reason", ""))
            except (ValueError, KeyError, TypeError):
                continue  # a damaged line quarantines nothing
        return self.reasons

    @property
    def reasons(self) -> dict[str, str]:
        return self._reasons | self._unrecorded

    def __contains__(self, key: str) -> bool:
        return key in self._reasons or key in self._unrecorded

    def __len__(self) -> int:
        return len(self.reasons)

    def add(self, record: ExampleRecord, reason: str) -> bool:
        """Quarantine ``record``; True when this call did it (and logged it), False when it was
        already quarantined."""
        if record.key in self:
            return False
        line = (
            json.dumps(
                {
                    "key": record.key,
                    "id": record.id,
                    "reason": reason,
                    "time": round(time.time(), 3),
                    "pid": os.getpid(),
                }
            )
            + "\n"
        )
        try:
            with open(self.path, "a") as f:
                fcntl.flock(f, fcntl.LOCK_EX)
                self.reload()
                if record.key in self._reasons:
                    return False
                f.write(line)
                f.flush()
                os.fsync(f.fileno())
        except OSError as exc:
            self._unrecorded[record.key] = reason
            LOG.warning(
                "example %s (id %d) skipped: %s; it could not be recorded in %s (%s), so only this process skips it",
                record.key,
                record.id,
                reason,
                self.path,
                exc.strerror or exc,
            )
            return True
        self.reload()
        LOG.warning(
            "example %s (id %d) quarantined: %s (recorded in %s; its files are kept)",
            record.key,
            record.id,
            reason,
            self.path,
        )
        return True
