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
backup). Readers check each example's files against its row (:func:`read_example`: PNG chunks
and CRCs, decodable, the row's size, the mask's area) and a bad one is *quarantined*: appended to
``quarantine.jsonl`` with the reason (``{"key", "id", "reason", "time", "pid"}``), logged once,
skipped by every reader from then on, its files left where they are. Delete its line (or the
file) to have it read again.
"""
from __future__ import annotations

import errno
import fcntl
import json
import logging
import os
import sqlite3
import struct
import time
import uuid
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from interseg.learning.images import validate_rgb_image

LOG = logging.getLogger(__name__)
SCHEMA_VERSION = 1
INDEX_NAME = "examples.sqlite3"
QUARANTINE_NAME = "quarantine.jsonl"

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


class StoreError(RuntimeError):
    """The store cannot be used as asked (missing, locked by another writer, corrupt)."""


class StoreSchemaError(StoreError):
    """The store was written by a newer (or unknown) schema version."""


class StoreNotReadyError(StoreError):
    """No store there yet: the index is missing, or its writer has not created the tables yet."""


class StoreWriteError(StoreError):
    """The disk refused a write (full, over quota, file too large, I/O error); nothing of the
    example was kept, the store is as it was, and the same example can be added again later."""


class BadExampleError(StoreError):
    """An example's image or mask file is missing, truncated, corrupt or does not fit its row."""

    def __init__(self, record: "ExampleRecord", reason: str):
        super().__init__(f"example {record.key} (id {record.id}): {reason}")
        self.record = record
        self.reason = reason


class NoReadableExamplesError(StoreError):
    """Every example a reader holds turned out to be unusable."""


@dataclass(frozen=True)
class ExampleRecord:
    id: int
    key: str
    interaction_id: int
    view: str
    kind: str
    source: str
    positive: bool
    u: float
    v: float
    mask_area: int
    width: int
    height: int
    reason: str
    image_path: str
    mask_path: str | None
    model_version: int | None
    created: float


_COLUMNS = [f for f in ExampleRecord.__dataclass_fields__]
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# An example's file that cannot be opened for these reasons is the example's fault; any other
# OSError (too many open files, out of memory, ...) is the reading process's and is raised.
_BAD_FILE_ERRNOS = {errno.ENOENT, errno.EISDIR, errno.ENOTDIR, errno.EACCES, errno.EPERM, errno.EIO, errno.ELOOP}


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


def png_problem(data: bytes) -> str | None:
    """Why ``data`` is not a complete, intact PNG (signature, every chunk's length and CRC, the
    IEND chunk), or None. Catches truncation and bit rot before the decoder sees them."""
    if not data:
        return "empty file"
    if not data.startswith(_PNG_SIGNATURE):
        return "not a PNG file"
    view = memoryview(data)
    pos = len(_PNG_SIGNATURE)
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", view[pos:pos + 8])
        end = pos + 12 + length
        if end > len(data):
            return f"truncated: {len(data)} bytes, its {kind.decode('latin-1')} chunk needs {end}"
        (crc,) = struct.unpack(">I", view[end - 4:end])
        if zlib.crc32(view[pos + 4:end - 4]) != crc:
            return f"corrupt: bad CRC in the {kind.decode('latin-1')} chunk at byte {pos}"
        if kind == b"IEND":
            return None
        pos = end
    return f"truncated: {len(data)} bytes and no IEND chunk"


def _read_png(root: Path, relative: str, flags: int, what: str, record: "ExampleRecord") -> np.ndarray:
    try:
        data = (root / relative).read_bytes()
    except OSError as exc:
        if exc.errno not in _BAD_FILE_ERRNOS:
            raise
        reason = "missing" if exc.errno == errno.ENOENT else f"unreadable ({exc.strerror})"
        raise BadExampleError(record, f"{what} {relative} is {reason}") from None
    problem = png_problem(data)
    if problem is not None:
        raise BadExampleError(record, f"{what} {relative} is {problem}")
    array = cv2.imdecode(np.frombuffer(data, np.uint8), flags)
    if array is None:
        raise BadExampleError(record, f"{what} {relative} could not be decoded")
    return array


def read_example(root: str | os.PathLike, record: ExampleRecord) -> tuple[np.ndarray, np.ndarray | None]:
    """The example's RGB image and boolean mask (None for a negative), checked against its row;
    :class:`BadExampleError` with the reason when a file is missing, truncated, corrupt or does not
    fit (size, channels, a positive's mask area)."""
    root = Path(root)
    bgr = _read_png(root, record.image_path, cv2.IMREAD_UNCHANGED, "image", record)
    if bgr.ndim != 3 or bgr.shape[2] != 3 or bgr.dtype != np.uint8:
        raise BadExampleError(record, f"image {record.image_path} is not 8-bit RGB "
                                      f"(shape {bgr.shape}, {bgr.dtype})")
    if bgr.shape[:2] != (record.height, record.width):
        raise BadExampleError(record, f"image {record.image_path} is {bgr.shape[1]}x{bgr.shape[0]}, "
                                      f"its row says {record.width}x{record.height}")
    mask = None
    if record.mask_path is not None:
        grey = _read_png(root, record.mask_path, cv2.IMREAD_UNCHANGED, "mask", record)
        if grey.ndim != 2 or grey.dtype != np.uint8:
            raise BadExampleError(record, f"mask {record.mask_path} is not an 8-bit single-channel image "
                                          f"(shape {grey.shape}, {grey.dtype})")
        if grey.shape != (record.height, record.width):
            raise BadExampleError(record, f"mask {record.mask_path} is {grey.shape[1]}x{grey.shape[0]}, "
                                          f"its row says {record.width}x{record.height}")
        mask = grey > 127
        area = int(mask.sum())
        if area != record.mask_area:
            raise BadExampleError(record, f"mask {record.mask_path} covers {area} px, its row says {record.mask_area}")
    elif record.positive:
        raise BadExampleError(record, "a positive example without a mask file in its row")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), mask


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
                LOG.warning("cannot read %s (%s): examples quarantined by other processes may be read again",
                            self.path, exc.strerror or exc)
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
        line = json.dumps({"key": record.key, "id": record.id, "reason": reason, "time": round(time.time(), 3),
                           "pid": os.getpid()}) + "\n"
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
            LOG.warning("example %s (id %d) skipped: %s; it could not be recorded in %s (%s), so only this "
                        "process skips it", record.key, record.id, reason, self.path, exc.strerror or exc)
            return True
        self.reload()
        LOG.warning("example %s (id %d) quarantined: %s (recorded in %s; its files are kept)", record.key,
                    record.id, reason, self.path)
        return True


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
                raise StoreError(f"{self.root} already has a writer (another process holds writer.lock)")
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
            self._db = sqlite3.connect(f"file:{index}?mode=ro", uri=True, timeout=30.0, isolation_level=None,
                                       check_same_thread=False)
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
            raise StoreSchemaError(f"{self.root} was written by schema version {version}; this code reads up to "
                                   f"{SCHEMA_VERSION}. Update interseg; the store was left untouched")

    # -- writing ---------------------------------------------------------------------------------
    def add(self, *, image: np.ndarray, u: float, v: float, positive: bool, mask: np.ndarray | None,
            reason: str, interaction_id: int, view: str, kind: str = "pick", source: str = "interaction",
            model_version: int | None = None) -> str:
        """Append one example; returns its key. Validates everything before writing anything."""
        if not self.writer:
            raise StoreError("store opened read-only; open it with writer=True to add examples")
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
        key = f"{int(interaction_id):08d}-{view}-{kind}-{uuid.uuid4().hex[:8]}"
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
                    (key, int(interaction_id), view, kind, source, int(bool(positive)), float(u), float(v), area,
                     w, h, reason, image_rel, mask_rel, model_version, time.time()))
                self._db.execute("COMMIT")
        except BaseException as exc:
            for path in written:
                path.unlink(missing_ok=True)
            if isinstance(exc, OSError):
                raise StoreWriteError(f"could not write {written[-1].relative_to(self.root)}: "
                                      f"{exc.strerror or exc}") from exc
            if isinstance(exc, sqlite3.OperationalError):  # SQLITE_FULL, SQLITE_IOERR_*, a lock held too long
                raise StoreWriteError(f"could not add the row to {INDEX_NAME}: {exc}") from exc
            if isinstance(exc, sqlite3.DatabaseError):  # SQLITE_CORRUPT, SQLITE_NOTADB: retrying will not help
                raise StoreError(f"{self.root / INDEX_NAME} is damaged: {exc}") from exc
            raise
        return key

    def add_example(self, example, *, interaction_id: int, source: str = "interaction",
                    model_version: int | None = None) -> str:
        """Append a :class:`interseg.learning.labelling.LabelledExample`."""
        return self.add(image=example.image, u=example.u, v=example.v, positive=example.positive,
                        mask=example.mask, reason=example.reason, interaction_id=interaction_id,
                        view=example.view, kind=example.kind, source=source, model_version=model_version)

    # -- reading ---------------------------------------------------------------------------------
    def _query(self, sql: str, params: tuple = ()) -> list[tuple]:
        try:
            return self._db.execute(sql, params).fetchall()
        except sqlite3.DatabaseError as exc:  # overwritten, truncated or otherwise damaged index
            raise StoreError(f"{self.root / INDEX_NAME} cannot be read: {exc}") from exc

    def records(self, after_id: int = 0, limit: int | None = None, *,
                include_quarantined: bool = False) -> list[ExampleRecord]:
        """Rows with id > after_id in insertion order (poll with the last id seen), without the
        quarantined ones unless asked."""
        sql = f"SELECT {', '.join(_COLUMNS)} FROM examples WHERE id > ? ORDER BY id"
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

    def __enter__(self) -> "ExampleStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- export ----------------------------------------------------------------------------------
    def export_mcap(self, path: str | os.PathLike, frame_prefix: str = "") -> "ExportSummary":
        """Write every usable example to a rosbag2 MCAP bag: /examples/image (rgb8), /examples/mask
        (mono8, positives) and /examples/meta (std_msgs/String, the row as JSON), all stamped
        with the example's creation time. Quarantined examples are skipped, and so is every
        example found bad on the way (it is quarantined); the summary counts both."""
        from rosbags.rosbag2 import StoragePlugin, Writer
        from rosbags.typesys import Stores, get_typestore

        store = get_typestore(Stores.ROS2_JAZZY)
        Image = store.types["sensor_msgs/msg/Image"]
        Header = store.types["std_msgs/msg/Header"]
        Time = store.types["builtin_interfaces/msg/Time"]
        String = store.types["std_msgs/msg/String"]
        records = self.records(include_quarantined=True)
        self.quarantine.reload()
        summary = ExportSummary()
        with Writer(Path(path), version=9, storage_plugin=StoragePlugin.MCAP) as bag:
            image_conn = bag.add_connection("/examples/image", Image.__msgtype__, typestore=store)
            mask_conn = bag.add_connection("/examples/mask", Image.__msgtype__, typestore=store)
            meta_conn = bag.add_connection("/examples/meta", String.__msgtype__, typestore=store)
            for rec in records:
                if rec.key in self.quarantine:
                    summary.skipped[rec.key] = self.quarantine.reasons[rec.key]
                    continue
                try:
                    rgb, mask = self.read(rec)  # both checked before anything of it is written
                except BadExampleError as exc:
                    summary.skipped[rec.key] = exc.reason
                    summary.newly_quarantined += 1
                    continue
                stamp_ns = int(rec.created * 1e9)
                header = Header(stamp=Time(sec=stamp_ns // 10**9, nanosec=stamp_ns % 10**9),
                                frame_id=f"{frame_prefix}{rec.view}_optical_frame")
                msg = Image(header=header, height=rec.height, width=rec.width, encoding="rgb8", is_bigendian=0,
                            step=rec.width * 3, data=np.ascontiguousarray(rgb).reshape(-1))
                bag.write(image_conn, stamp_ns, store.serialize_cdr(msg, Image.__msgtype__))
                if mask is not None:
                    mmsg = Image(header=header, height=rec.height, width=rec.width, encoding="mono8",
                                 is_bigendian=0, step=rec.width, data=(mask.astype(np.uint8) * 255).reshape(-1))
                    bag.write(mask_conn, stamp_ns, store.serialize_cdr(mmsg, Image.__msgtype__))
                meta = {c: getattr(rec, c) for c in _COLUMNS}
                bag.write(meta_conn, stamp_ns,
                          store.serialize_cdr(String(data=json.dumps(meta)), String.__msgtype__))
                summary.exported += 1
        return summary


@dataclass
class ExportSummary:
    """What :meth:`ExampleStore.export_mcap` wrote and what it left out (key -> reason)."""

    exported: int = 0
    skipped: dict[str, str] = field(default_factory=dict)
    newly_quarantined: int = 0  # of the skipped, those found bad during this export
