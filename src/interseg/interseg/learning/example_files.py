"""An example's row (:class:`ExampleRecord`) and its files: reading and checking them.

:func:`read_example` checks each example's files against its row (PNG chunks and CRCs with
:func:`png_problem`, decodable, the row's size, the mask's area) and raises
:class:`BadExampleError` with the reason when a file is missing, truncated, corrupt or does not
fit.
"""

from __future__ import annotations

import errno
import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from interseg.learning.store_errors import StoreError


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


class BadExampleError(StoreError):
    """An example's image or mask file is missing, truncated, corrupt or does not fit its row."""

    def __init__(self, record: ExampleRecord, reason: str):
        super().__init__(f"example {record.key} (id {record.id}): {reason}")
        self.record = record
        self.reason = reason


COLUMNS = [f for f in ExampleRecord.__dataclass_fields__]
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# An example's file that cannot be opened for these reasons is the example's fault; any other
# OSError (too many open files, out of memory, ...) is the reading process's and is raised.
_BAD_FILE_ERRNOS = {errno.ENOENT, errno.EISDIR, errno.ENOTDIR, errno.EACCES, errno.EPERM, errno.EIO, errno.ELOOP}


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
        length, kind = struct.unpack(">I4s", view[pos : pos + 8])
        end = pos + 12 + length
        if end > len(data):
            return f"truncated: {len(data)} bytes, its {kind.decode('latin-1')} chunk needs {end}"
        (crc,) = struct.unpack(">I", view[end - 4 : end])
        if zlib.crc32(view[pos + 4 : end - 4]) != crc:
            return f"corrupt: bad CRC in the {kind.decode('latin-1')} chunk at byte {pos}"
        if kind == b"IEND":
            return None
        pos = end
    return f"truncated: {len(data)} bytes and no IEND chunk"


def _read_png(root: Path, relative: str, flags: int, what: str, record: ExampleRecord) -> np.ndarray:
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
        raise BadExampleError(record, f"image {record.image_path} is not 8-bit RGB (shape {bgr.shape}, {bgr.dtype})")
    if bgr.shape[:2] != (record.height, record.width):
        raise BadExampleError(
            record,
            f"image {record.image_path} is {bgr.shape[1]}x{bgr.shape[0]}, its row says {record.width}x{record.height}",
        )
    mask = None
    if record.mask_path is not None:
        grey = _read_png(root, record.mask_path, cv2.IMREAD_UNCHANGED, "mask", record)
        if grey.ndim != 2 or grey.dtype != np.uint8:
            raise BadExampleError(
                record,
                f"mask {record.mask_path} is not an 8-bit single-channel image (shape {grey.shape}, {grey.dtype})",
            )
        if grey.shape != (record.height, record.width):
            raise BadExampleError(
                record,
                f"mask {record.mask_path} is {grey.shape[1]}x{grey.shape[0]}, "
                f"its row says {record.width}x{record.height}",
            )
        mask = grey > 127
        area = int(mask.sum())
        if area != record.mask_area:
            raise BadExampleError(record, f"mask {record.mask_path} covers {area} px, its row says {record.mask_area}")
    elif record.positive:
        raise BadExampleError(record, "a positive example without a mask file in its row")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), mask
