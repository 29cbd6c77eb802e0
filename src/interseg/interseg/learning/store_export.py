"""Export of an examples store to a rosbag2 MCAP bag (``interseg export-examples``)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from interseg.learning.example_files import COLUMNS, BadExampleError


@dataclass
class ExportSummary:
    """What :func:`export_mcap` wrote and what it left out (key -> reason)."""

    exported: int = 0
    skipped: dict[str, str] = field(default_factory=dict)
    newly_quarantined: int = 0  # of the skipped, those found bad during this export


def export_mcap(examples, path: str | os.PathLike, frame_prefix: str = "") -> ExportSummary:
    """Write every usable example of ``examples`` (an open
    :class:`~interseg.learning.store.ExampleStore`) to a rosbag2 MCAP bag: /examples/image (rgb8),
    /examples/mask (mono8, positives) and /examples/meta (std_msgs/String, the row as JSON), all
    stamped with the example's creation time. Quarantined examples are skipped, and so is every
    example found bad on the way (it is quarantined); the summary counts both."""
    from rosbags.rosbag2 import StoragePlugin, Writer
    from rosbags.typesys import Stores, get_typestore

    types = get_typestore(Stores.ROS2_JAZZY)
    Image = types.types["sensor_msgs/msg/Image"]
    Header = types.types["std_msgs/msg/Header"]
    Time = types.types["builtin_interfaces/msg/Time"]
    String = types.types["std_msgs/msg/String"]
    records = examples.records(include_quarantined=True)
    examples.quarantine.reload()
    summary = ExportSummary()
    with Writer(Path(path), version=9, storage_plugin=StoragePlugin.MCAP) as bag:
        image_conn = bag.add_connection("/examples/image", Image.__msgtype__, typestore=types)
        mask_conn = bag.add_connection("/examples/mask", Image.__msgtype__, typestore=types)
        meta_conn = bag.add_connection("/examples/meta", String.__msgtype__, typestore=types)
        for rec in records:
            if rec.key in examples.quarantine:
                summary.skipped[rec.key] = examples.quarantine.reasons[rec.key]
                continue
            try:
                rgb, mask = examples.read(rec)  # both checked before anything of it is written
            except BadExampleError as exc:
                summary.skipped[rec.key] = exc.reason
                summary.newly_quarantined += 1
                continue
            stamp_ns = int(rec.created * 1e9)
            header = Header(
                stamp=Time(sec=stamp_ns // 10**9, nanosec=stamp_ns % 10**9),
                frame_id=f"{frame_prefix}{rec.view}_optical_frame",
            )
            msg = Image(
                header=header,
                height=rec.height,
                width=rec.width,
                encoding="rgb8",
                is_bigendian=0,
                step=rec.width * 3,
                data=np.ascontiguousarray(rgb).reshape(-1),
            )
            bag.write(image_conn, stamp_ns, types.serialize_cdr(msg, Image.__msgtype__))
            if mask is not None:
                mmsg = Image(
                    header=header,
                    height=rec.height,
                    width=rec.width,
                    encoding="mono8",
                    is_bigendian=0,
                    step=rec.width,
                    data=(mask.astype(np.uint8) * 255).reshape(-1),
                )
                bag.write(mask_conn, stamp_ns, types.serialize_cdr(mmsg, Image.__msgtype__))
            meta = {c: getattr(rec, c) for c in COLUMNS}
            bag.write(meta_conn, stamp_ns, types.serialize_cdr(String(data=json.dumps(meta)), String.__msgtype__))
            summary.exported += 1
    return summary
