"""What `interseg segment` reads: image files, folders of them (recursively, sorted), and rosbag2
bags (a bag folder or a bare .mcap file) with the image topic to take. Bags are read with the
``rosbags`` library, without ROS; sensor_msgs/Image (rgb8, bgr8, rgba8, bgra8, mono8) and
sensor_msgs/CompressedImage are understood.

Everything is checked before any frame is read (missing paths, a bag without ``--topic``, a topic
the bag lacks or of another type), so a long run does not fail at its last input; an image that
cannot be decoded is reported as a frame with an error and the run goes on.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
IMAGE_TYPES = ("sensor_msgs/msg/Image", "sensor_msgs/msg/CompressedImage")


class InputError(ValueError):
    """Inputs that cannot be read at all (said before any work is done)."""


@dataclass
class Frame:
    name: str  # unique within a run, safe as a file name stem
    image: np.ndarray | None  # (H, W, 3) uint8 RGB, None when unreadable
    error: str | None = None
    stamp_ns: int | None = None  # bags: the message's header stamp


@dataclass
class Source:
    path: Path
    kind: str  # "image" or "bag"
    files: list[Path] | None = None  # "image": the files, with a common root
    root: Path | None = None
    topic: str | None = None
    count: int = 0


def is_bag(path: Path) -> bool:
    return (path.is_dir() and (path / "metadata.yaml").is_file()) or (path.is_file() and path.suffix == ".mcap")


def safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "image"


def _bag_topic(path: Path, topic: str | None) -> int:
    from rosbags.highlevel import AnyReader

    if not topic:
        raise InputError(f"{path} is a bag: say which image topic to read with --topic")
    try:
        with AnyReader([path]) as reader:
            found = {c.topic: c.msgtype for c in reader.connections}
            if topic not in found:
                listed = ", ".join(f"{t} ({m})" for t, m in sorted(found.items()) if m in IMAGE_TYPES) or "none"
                raise InputError(f"{path} has no topic {topic}; its image topics: {listed}")
            if found[topic] not in IMAGE_TYPES:
                raise InputError(f"{path}: {topic} carries {found[topic]}, not an image type {IMAGE_TYPES}")
            return sum(c.msgcount for c in reader.connections if c.topic == topic)
    except InputError:
        raise
    except Exception as exc:  # noqa: BLE001 (rosbags raises several unrelated types for damaged bags)
        raise InputError(f"{path} is not a readable bag ({type(exc).__name__}: {exc})") from None


def plan(inputs: list[str], topic: str | None = None) -> list[Source]:
    """Check every input and say what will be read from it."""
    if not inputs:
        raise InputError("no input given: name image files, folders or bags")
    sources = []
    for text in inputs:
        path = Path(text)
        if not path.exists():
            raise InputError(f"{path} does not exist")
        if is_bag(path):
            sources.append(Source(path, "bag", topic=topic, count=_bag_topic(path, topic)))
        elif path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
            if not files:
                raise InputError(f"{path} holds no images ({', '.join(IMAGE_SUFFIXES)})")
            sources.append(Source(path, "image", files=files, root=path, count=len(files)))
        elif path.suffix.lower() in IMAGE_SUFFIXES:
            sources.append(Source(path, "image", files=[path], root=path.parent, count=1))
        else:
            raise InputError(f"{path}: not an image ({', '.join(IMAGE_SUFFIXES)}), a folder or a bag")
    return sources


def read_rgb(path: Path) -> np.ndarray:
    """An image file -> (H, W, 3) uint8 RGB (grey and alpha images converted); ValueError if unreadable."""
    import cv2

    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise ValueError(f"{path}: not a readable image")
    if image.dtype != np.uint8:
        if image.dtype == np.uint16:
            image = (image >> 8).astype(np.uint8)
        else:
            raise ValueError(f"{path}: {image.dtype} pixels; 8- or 16-bit images are understood")
    if image.ndim == 2:
        return np.repeat(image[..., None], 3, axis=2)
    if image.shape[2] == 4:
        image = image[..., :3]
    return np.ascontiguousarray(image[..., ::-1])


def _image_frames(source: Source, used: set[str]) -> Iterator[Frame]:
    for file in source.files:
        relative = file.relative_to(source.root).with_suffix("") if file != source.path else Path(file.stem)
        name = _unique(safe_name(str(relative).replace("/", "__")), used)
        try:
            yield Frame(name, read_rgb(file))
        except ValueError as exc:
            yield Frame(name, None, str(exc))


def _bag_frames(source: Source, used: set[str]) -> Iterator[Frame]:
    from rosbags.highlevel import AnyReader
    from rosbags.typesys import Stores, get_typestore

    from interseg.image_messages import ImageFormatError, msg_to_rgb

    prefix = safe_name(source.path.stem + "_" + source.topic)
    with AnyReader([source.path], default_typestore=get_typestore(Stores.ROS2_JAZZY)) as reader:
        connections = [c for c in reader.connections if c.topic == source.topic]
        for index, (connection, _, raw) in enumerate(reader.messages(connections=connections)):
            name = _unique(f"{prefix}_{index:06d}", used)
            try:
                msg = reader.deserialize(raw, connection.msgtype)
                stamp = int(msg.header.stamp.sec) * 1_000_000_000 + int(msg.header.stamp.nanosec)
                yield Frame(name, msg_to_rgb(msg), stamp_ns=stamp)
            except (ImageFormatError, ValueError, AssertionError) as exc:
                yield Frame(name, None, f"{source.path} {source.topic} message {index}: {exc}")


def _unique(name: str, used: set[str]) -> str:
    candidate, n = name, 1
    while candidate in used:
        n += 1
        candidate = f"{name}_{n}"
    used.add(candidate)
    return candidate


def frames(sources: list[Source]) -> Iterator[Frame]:
    """Every frame of every source, in order, with names unique across them."""
    used: set[str] = set()
    for source in sources:
        yield from (_bag_frames if source.kind == "bag" else _image_frames)(source, used)
