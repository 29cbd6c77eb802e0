"""The examples store: durable, append-only, one writer and any number of readers.

Layout of a store directory::

    examples.sqlite3        index (SQLite, WAL journal: readers never block the writer)
    images/<key>.png        the example's RGB image (lossless PNG)
    masks/<key>.png         its mask (mono PNG, 0/255), positives only
    writer.lock             flock held by the single writer process
    quarantine.jsonl        examples whose files turned out unusable, one JSON object per line

Schema (version 1)::

    schema_version(version INTEGER)              one row; a newer version is refused
    examples(
      id INTEGER PRIMARY KEY AUTOINCREMENT,      insertion order; readers poll "id > last"
      key TEXT UNIQUE NOT NULL,                  also the file name stem
      interaction_id INTEGER NOT NULL,
      view TEXT NOT NULL,                        camera name, e.g. "cam0"
      kind TEXT NOT NULL,                        "pick" | "place" | "push" | ...
      source TEXT NOT NULL,                      "interaction" | "push" | "human" | ...
      positive INTEGER NOT NULL,                 1 positive, 0 negative (background)
      u REAL NOT NULL, v REAL NOT NULL,          the point, full-resolution pixels
      mask_area INTEGER NOT NULL,                0 for negatives
      width INTEGER NOT NULL, height INTEGER NOT NULL,
      reason TEXT NOT NULL,                      why the labeller labelled it so
      image_path TEXT NOT NULL,                  relative to the store directory
      mask_path TEXT,                            NULL for negatives
      model_version INTEGER,                     network version that proposed the grasp
      created REAL NOT NULL)                     UNIX time

Writes are atomic: files are written to a temporary name, flushed and renamed, and only then is
the row inserted (in a transaction). A crash leaves at worst an unreferenced file, never a row
pointing at a missing or partial one. Bad input raises ValueError before anything is written; a
write the disk refuses (full, over quota, file too large) raises :class:`StoreWriteError` and
leaves the store as it was, so the writer can keep the example and try again later.

Files can still go bad afterwards (deleted, truncated, overwritten, restored from the wrong
backup). Readers check each example's files against its row
(:func:`interseg.learning.example_files.read_example`: PNG chunks and CRCs, decodable, the row's
size, the mask's area) and a bad one is *quarantined* (:mod:`interseg.learning.quarantine`):
appended to ``quarantine.jsonl`` with the reason (``{"key", "id", "reason", "time", "pid"}``),
logged once, skipped by every reader from then on, its files left where they are. Delete its
line (or the file) to have it read again. The store's errors are in
:mod:`interseg.learning.store_errors`; the MCAP export is :mod:`interseg.learning.store_export`.
"""

from __future__ import annotations

import fcntl
import os
import re
import sqlite3
import time
import uuid
from pathlib import Path

import cv2
import numpy as np

from interseg.learning.example_files import COLUMNS, BadExampleError, ExampleRecord, read_example
from interseg.learning.images import validate_rgb_image
from interseg.learning.quarantine import Quarantine
from interseg.learning.store_errors import StoreError, StoreNotReadyError, StoreSchemaError, StoreWriteError
from interseg.learning.store_export import ExportSummary, export_mcap

SCHEMA_VERSION = 1
INDEX_NAME = "examples.sqlite3"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS examples (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT UNIQUE NOT NULL,
    interaction_id INTEGER NOT NULL,
    view TEXT NOT NULL,
    kind TEXT NOT NULL,
    source TEXT NOT NULL,
    positive INTEGER NOT NULL,
    u REAL NOT NULL,
    v REAL NOT NULL,
    mask_area INTEGER NOT NULL,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    reason TEXT NOT NULL,
    image_path TEXT NOT NULL,
    mask_path TEXT,
    model_version INTEGER,
    created REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS examples_interaction ON examples(interaction_id);
"""


_KEY = re.compile(r"[A-Za-z0-9._-]{1,128}")


def check_key(key: str) -> str:
    """A sender's example key names the example's files: [A-Za-z0-9._-], 1 to 128 characters, not
    starting with a dot. Raises ValueError otherwise."""
    if not isinstance(key, str) or not _KEY.fullmatch(key) or key.startswith("."):
        raise ValueError(f"bad example key {key!r}: use 1-128 of [A-Za-z0-9._-], not starting with '.'")
    return key


def _fsync_directory(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _atomic_write_png(path: Path, array: np.ndarray) -> None:
    ok, encoded = cv2.imencode(".png", array, [cv2.IMWRITE_PNG_COMPRESSION, 3])
    if not ok:
        raise StoreError(f"could not encode {path.name}")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(encoded.tobytes())
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)  # a full disk leaves no partial file behind
        raise
    _fsync_directory(path.parent)  # the rename itself must survive a power cut before the row exists


class ExampleStore:
    """Open a store for reading (default) or as its single writer (``writer=True`` creates it)."""

    def __init__(self, root: str | os.PathLike, *, writer: bool = False):
        self.root = Path(root)
        self.writer = writer
        self._lock_file = None
        index = self.root / INDEX_NAME
        if writer:
            self.root.mkdir(parents=True, exist_ok=True)
            (self.root / "images").mkdir(exist_ok=True)
            (self.root / "masks").mkdir(exist_ok=True)
            self._lock_file = open(self.root / "writer.lock", "a+")
            try:
                fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                self._lock_file.close()
                self._lock_file = None
                raise StoreError(f"{self.root} already has a writer (another process holds writer.lock)") from None
            existed = index.exists()
            # One thread at a time (the nodes serialise their callbacks), but not always the same one.
            self._db = sqlite3.connect(index, timeout=30.0, isolation_level=None, check_same_thread=False)
            try:
                if existed:
                    self._check_schema()
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=FULL")  # few, precious rows: fsync every commit
                if not existed or self._schema_version() is None:
                    self._db.executescript(_SCHEMA)
                    if self._schema_version() is None:
                        self._db.execute("INSERT INTO schema_version(version) VALUES (?)", (SCHEMA_VERSION,))
            except sqlite3.DatabaseError as exc:  # a damaged index, or no room to create one
                self.close()
                raise StoreError(f"{index} cannot be opened for writing: {exc}") from exc
            except BaseException:
                self.close()
                raise
        else:
            if not index.exists():
                raise StoreNotReadyError(f"no examples store at {self.root} (missing {INDEX_NAME})")
            self._db = sqlite3.connect(
                f"file:{index}?mode=ro", uri=True, timeout=30.0, isolation_level=None, check_same_thread=False
            )
            try:
                self._check_schema()
            except BaseException:
                self.close()
                raise
        self.quarantine = Quarantine(self.root)

    # -- schema ----------------------------------------------------------------------------------
    def _schema_version(self) -> int | None:
        try:
            row = self._db.execute("SELECT MAX(version) FROM schema_version").fetchone()
        except sqlite3.OperationalError:
            return None
        return None if row is None or row[0] is None else int(row[0])

    def _check_schema(self) -> None:
        try:
            version = self._schema_version()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.root / INDEX_NAME} is not a readable SQLite database: {exc}") from exc
        if version is None:
            if self.writer:
                return
            try:
                tables = self._db.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()[0]
            except sqlite3.DatabaseError as exc:
                raise StoreError(f"{self.root / INDEX_NAME} is not a readable SQLite database: {exc}") from exc
            if tables == 0:  # its writer has created the file and not yet the tables
                raise StoreNotReadyError(f"the examples store at {self.root} is being created (no tables yet)")
            raise StoreSchemaError(f"{self.root} has no schema_version table: not an examples store")
        if version > SCHEMA_VERSION:
            raise StoreSchemaError(
                f"{self.root} was written by schema version {version}; this code reads up to "
                f"{SCHEMA_VERSION}. Update interseg; the store was left untouched"
            )

    # -- writing ---------------------------------------------------------------------------------
    def add(
        self,
        *,
        image: np.ndarray,
        u: float,
        v: float,
        positive: bool,
        mask: np.ndarray | None,
        reason: str,
        interaction_id: int,
        view: str,
        kind: str = "pick",
        source: str = "interaction",
        model_version: int | None = None,
        key: str | None = None,
    ) -> str:
        """Append one example; returns its key (``key`` when given: a sender's own, see
        :func:`check_key`; a new one otherwise). Validates everything before writing anything."""
        if not self.writer:
            raise StoreError("store opened read-only; open it with writer=True to add examples")
        if key is not None:
            check_key(key)
            if self.has(key):
                raise ValueError(f"an example with key {key!r} is in the store already")
        image = validate_rgb_image(image, None, "example image")
        h, w = image.shape[:2]
        if not (np.isfinite(u) and np.isfinite(v) and -0.5 <= u <= w - 0.5 and -0.5 <= v <= h - 0.5):
            raise ValueError(f"point ({u}, {v}) is not inside the {w}x{h} image")
        mask_u8 = None
        if positive:
            if mask is None:
                raise ValueError("a positive example needs a mask")
            mask = np.asarray(mask)
            if mask.shape != (h, w):
                raise ValueError(f"mask shape {mask.shape} does not match the image ({h}, {w})")
            if mask.dtype != bool and not np.isin(np.unique(mask), (0, 1, 255)).all():
                raise ValueError("mask must be boolean (or 0/1, 0/255)")
            binary = mask.astype(bool)
            area = int(binary.sum())
            if area == 0:
                raise ValueError("a positive example's mask is empty")
            if area == h * w:
                raise ValueError("mask covers the whole image: a lighting change or camera motion, not an object")
            mask_u8 = binary.astype(np.uint8) * 255
        else:
            area = 0
            if mask is not None and np.asarray(mask).any():
                raise ValueError("a negative example must not carry a mask")
        key = key or f"{int(interaction_id):08d}-{view}-{kind}-{uuid.uuid4().hex[:8]}"
        image_rel = f"images/{key}.png"
        mask_rel = f"masks/{key}.png" if mask_u8 is not None else None
        written = []
        try:
            written.append(self.root / image_rel)
            _atomic_write_png(self.root / image_rel, cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
            if mask_u8 is not None:
                written.append(self.root / mask_rel)
                _atomic_write_png(self.root / mask_rel, mask_u8)
            with self._db:
                self._db.execute("BEGIN IMMEDIATE")
                self._db.execute(
                    "INSERT INTO examples(key, interaction_id, view, kind, source, positive, u, v, mask_area, "
                    "width, height, reason, image_path, mask_path, model_version, created) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        key,
                        int(interaction_id),
                        view,
                        kind,
                        source,
                        int(bool(positive)),
                        float(u),
                        float(v),
                        area,
                        w,
                        h,
                        reason,
                        image_rel,
                        mask_rel,
                        model_version,
                        time.time(),
                    ),
                )
                self._db.execute("COMMIT")
        except BaseException as exc:
            for path in written:
                path.unlink(missing_ok=True)
            if isinstance(exc, OSError):
                raise StoreWriteError(
                    f"could not write {written[-1].relative_to(self.root)}: {exc.strerror or exc}"
                ) from exc
            if isinstance(exc, sqlite3.OperationalError):  # SQLITE_FULL, SQLITE_IOERR_*, a lock held too long
                raise StoreWriteError(f"could not add the row to {INDEX_NAME}: {exc}") from exc
            if isinstance(exc, sqlite3.DatabaseError):  # SQLITE_CORRUPT, SQLITE_NOTADB: retrying will not help
                raise StoreError(f"{self.root / INDEX_NAME} is damaged: {exc}") from exc
            raise
        return key

    def add_example(
        self,
        example,
        *,
        interaction_id: int,
        source: str = "interaction",
        model_version: int | None = None,
        key: str | None = None,
    ) -> str:
        """Append a :class:`interseg.learning.labelling.LabelledExample`."""
        return self.add(
            image=example.image,
            u=example.u,
            v=example.v,
            positive=example.positive,
            mask=example.mask,
            reason=example.reason,
            interaction_id=interaction_id,
            view=example.view,
            kind=example.kind,
            source=source,
            model_version=model_version,
            key=key,
        )

    # -- reading ---------------------------------------------------------------------------------
    def has(self, key: str) -> bool:
        """Whether an example with this key is in the index."""
        return bool(self._query("SELECT 1 FROM examples WHERE key = ? LIMIT 1", (key,)))

    def _query(self, sql: str, params: tuple = ()) -> list[tuple]:
        try:
            return self._db.execute(sql, params).fetchall()
        except sqlite3.DatabaseError as exc:  # overwritten, truncated or otherwise damaged index
            raise StoreError(f"{self.root / INDEX_NAME} cannot be read: {exc}") from exc

    def records(
        self, after_id: int = 0, limit: int | None = None, *, include_quarantined: bool = False
    ) -> list[ExampleRecord]:
        """Rows with id > after_id in insertion order (poll with the last id seen), without the
        quarantined ones unless asked."""
        sql = f"SELECT {', '.join(COLUMNS)} FROM examples WHERE id > ? ORDER BY id"
        params: tuple = (int(after_id),)
        if limit is not None:
            sql += " LIMIT ?"
            params += (int(limit),)
        records = [ExampleRecord(*row[:6], bool(row[6]), *row[7:]) for row in self._query(sql, params)]
        if include_quarantined:
            return records
        self.quarantine.reload()
        return [r for r in records if r.key not in self.quarantine]

    def count(self) -> int:
        """Rows in the index, quarantined ones included."""
        return int(self._query("SELECT COUNT(*) FROM examples")[0][0])

    def read(self, record: ExampleRecord, *, quarantine: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
        """The example's image and mask (see :func:`read_example`); a bad example is quarantined
        (unless ``quarantine=False``) before :class:`BadExampleError` is raised."""
        try:
            return read_example(self.root, record)
        except BadExampleError as exc:
            if quarantine:
                self.quarantine.add(record, exc.reason)
            raise

    def load_image(self, record: ExampleRecord) -> np.ndarray:
        return self.read(record)[0]

    def load_mask(self, record: ExampleRecord) -> np.ndarray | None:
        return self.read(record)[1]

    def close(self) -> None:
        db = getattr(self, "_db", None)
        if db is not None:
            db.close()
            self._db = None
        if self._lock_file is not None:
            fcntl.flock(self._lock_file, fcntl.LOCK_UN)
            self._lock_file.close()
            self._lock_file = None

    def __enter__(self) -> ExampleStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- export ----------------------------------------------------------------------------------
    def export_mcap(self, path: str | os.PathLike, frame_prefix: str = "") -> ExportSummary:
        """Write every usable example to a rosbag2 MCAP bag (see
        :func:`interseg.learning.store_export.export_mcap`)."""
        return export_mcap(self, path, frame_prefix)
