"""Image messages as numpy arrays, without ROS: decoding works on any object with the fields of
sensor_msgs/Image (an rclpy message, or one read from a bag by ``rosbags``) or of
sensor_msgs/CompressedImage. The nodes use it through :mod:`interseg.nodes.convert`."""

from __future__ import annotations

import numpy as np

ENCODINGS: dict[str, tuple[np.dtype, int]] = {
    "rgb8": (np.dtype(np.uint8), 3),
    "bgr8": (np.dtype(np.uint8), 3),
    "rgba8": (np.dtype(np.uint8), 4),
    "bgra8": (np.dtype(np.uint8), 4),
    "mono8": (np.dtype(np.uint8), 1),
    "mono16": (np.dtype("<u2"), 1),
    "32FC1": (np.dtype("<f4"), 1),
    "16UC1": (np.dtype("<u2"), 1),
}


class ImageFormatError(ValueError):
    """An image message whose encoding, size or data does not match what it claims."""


def msg_to_image(msg, expected_encoding: str | tuple[str, ...] | None = None) -> np.ndarray:
    """Image message -> numpy array (a copy): (H, W, channels) for colour encodings, (H, W) for
    the others."""
    if expected_encoding is not None:
        allowed = (expected_encoding,) if isinstance(expected_encoding, str) else expected_encoding
        if msg.encoding not in allowed:
            raise ImageFormatError(f"encoding '{msg.encoding}', expected {' or '.join(allowed)}")
    if msg.encoding not in ENCODINGS:
        raise ImageFormatError(f"unsupported encoding '{msg.encoding}'")
    dtype, channels = ENCODINGS[msg.encoding]
    if msg.is_bigendian and dtype.itemsize > 1:
        dtype = dtype.newbyteorder(">")
    if msg.height == 0 or msg.width == 0:
        raise ImageFormatError("empty image (0 rows or columns)")
    row_bytes = msg.width * channels * dtype.itemsize
    if msg.step < row_bytes:
        raise ImageFormatError(f"step {msg.step} smaller than a row ({row_bytes} bytes)")
    buffer = np.frombuffer(
        bytes(msg.data) if not isinstance(msg.data, (bytes, bytearray, memoryview)) else msg.data, np.uint8
    )
    if buffer.size != msg.step * msg.height:
        raise ImageFormatError(
            f"data has {buffer.size} bytes, expected {msg.step * msg.height} ({msg.height} rows x step {msg.step})"
        )
    rows = buffer.reshape(msg.height, msg.step)[:, :row_bytes]
    array = np.ascontiguousarray(rows).view(dtype)
    shape = (msg.height, msg.width, channels) if channels > 1 else (msg.height, msg.width)
    return array.reshape(shape).astype(dtype.newbyteorder("="), copy=True)


def compressed_to_rgb(msg) -> np.ndarray:
    """sensor_msgs/CompressedImage (JPEG or PNG, colour or grey) -> (H, W, 3) uint8 RGB."""
    import cv2

    data = np.frombuffer(bytes(msg.data), np.uint8)
    if data.size == 0:
        raise ImageFormatError("empty compressed image")
    bgr = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if bgr is None:
        raise ImageFormatError(f"compressed image (format '{msg.format}') could not be decoded")
    return np.ascontiguousarray(bgr[..., ::-1])


def msg_to_rgb(msg) -> np.ndarray:
    """An Image (rgb8, bgr8, rgba8, bgra8 or mono8) or CompressedImage message -> (H, W, 3) uint8 RGB."""
    if hasattr(msg, "format") and not hasattr(msg, "encoding"):
        return compressed_to_rgb(msg)
    image = msg_to_image(msg, ("rgb8", "bgr8", "rgba8", "bgra8", "mono8"))
    if msg.encoding in ("bgr8", "bgra8"):
        return np.ascontiguousarray(image[..., 2::-1])
    if msg.encoding == "mono8":
        return np.repeat(image[..., None], 3, axis=2)
    return np.ascontiguousarray(image[..., :3])
