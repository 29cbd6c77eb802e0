"""`interseg segment` end to end on image files, folders and bags, with what goes wrong on the way:
an unreadable image, another size (resized with a warning, or refused), a bag without a topic or
with the wrong one, an empty folder, a file that is not a checkpoint."""

import json

import cv2
import numpy as np
import pytest

from interseg.cli import main as interseg

from .helpers import photo, write_rgb


def _outputs(out, name):
    overlay = cv2.imread(str(out / "overlays" / f"{name}.png"), cv2.IMREAD_UNCHANGED)
    labels = cv2.imread(str(out / "labels" / f"{name}.png"), cv2.IMREAD_UNCHANGED)
    return overlay, labels


def test_a_folder_with_another_size_and_a_broken_file(square_checkpoint, tmp_path, capsys):
    folder = tmp_path / "photos"
    write_rgb(folder / "a.png", photo(0))
    write_rgb(folder / "sub" / "b.jpg", photo(1, size=(640, 480)))  # twice the network's size
    (folder / "broken.png").write_bytes(b"not a png")
    out = tmp_path / "out"
    code = interseg(["segment", square_checkpoint, str(folder), "--out", str(out), "--min-score", "0", "--quiet"])
    err = capsys.readouterr().err
    assert code == 1  # one image could not be read
    assert "resized to the network's 320x240" in err and "broken" in err

    images = json.loads((out / "images.json").read_text())
    assert [(i["file_name"], i["width"], i["height"]) for i in images] == [("a", 320, 240), ("sub__b", 640, 480)]
    results = json.loads((out / "results.json").read_text())
    assert results and {r["image_id"] for r in results} == {1, 2}
    for name, (width, height) in (("a", (320, 240)), ("sub__b", (640, 480))):
        overlay, labels = _outputs(out, name)
        assert overlay.shape == (height, width, 3)
        assert labels.dtype == np.uint16 and labels.shape == (height, width)
        ids = [i for i in np.unique(labels) if i]
        assert ids and ids[0] == 1  # id 1 is the best hypothesis
    # The resized image's masks are in its own pixels: the best one covers the same part of the
    # frame as in the 320x240 result, scaled (the images differ, so only its size is compared).
    big = [r for r in results if r["image_id"] == 2]
    small = [r for r in results if r["image_id"] == 1]
    assert max(r["bbox"][2] for r in big) > 1.5 * max(r["bbox"][2] for r in small)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["images"] == 2 and [f["name"] for f in summary["failed"]] == ["broken"]
    assert summary["hypotheses"] == len(results)


def test_no_resize_refuses_other_sizes(square_checkpoint, tmp_path, capsys):
    write_rgb(tmp_path / "big.png", photo(1, size=(640, 480)))
    write_rgb(tmp_path / "ok.png", photo(2))
    out = tmp_path / "out"
    files = [str(tmp_path / "big.png"), str(tmp_path / "ok.png")]
    code = interseg(["segment", square_checkpoint, *files, "--out", str(out), "--no-resize", "--quiet"])
    assert code == 1
    assert "trained on 320x240" in capsys.readouterr().err
    assert [i["file_name"] for i in json.loads((out / "images.json").read_text())] == ["ok"]


def _write_bag(path, frames):
    from rosbags.rosbag2 import StoragePlugin, Writer
    from rosbags.typesys import Stores, get_typestore

    types = get_typestore(Stores.ROS2_JAZZY)
    Image = types.types["sensor_msgs/msg/Image"]
    CompressedImage = types.types["sensor_msgs/msg/CompressedImage"]
    Header = types.types["std_msgs/msg/Header"]
    Time = types.types["builtin_interfaces/msg/Time"]
    String = types.types["std_msgs/msg/String"]
    with Writer(path, version=8, storage_plugin=StoragePlugin.MCAP) as writer:
        raw = writer.add_connection("/camera/image_raw", Image.__msgtype__, typestore=types)
        packed = writer.add_connection("/camera/image_raw/compressed", CompressedImage.__msgtype__, typestore=types)
        text = writer.add_connection("/notes", String.__msgtype__, typestore=types)
        for k, (image, encoding) in enumerate(frames):
            header = Header(stamp=Time(sec=100 + k, nanosec=0), frame_id="camera_optical")
            data = image if encoding == "rgb8" else np.ascontiguousarray(image[..., ::-1])
            msg = Image(header, image.shape[0], image.shape[1], encoding, 0, image.shape[1] * 3, data.reshape(-1))
            writer.write(raw, (100 + k) * 10**9, types.serialize_cdr(msg, Image.__msgtype__))
            jpeg = np.frombuffer(cv2.imencode(".png", image[..., ::-1])[1].tobytes(), np.uint8)
            compressed = CompressedImage(header, "png", jpeg)
            writer.write(packed, (100 + k) * 10**9, types.serialize_cdr(compressed, CompressedImage.__msgtype__))
            writer.write(text, (100 + k) * 10**9, types.serialize_cdr(String("x"), String.__msgtype__))


def test_a_bag_topic_raw_and_compressed(square_checkpoint, tmp_path, capsys):
    bag = tmp_path / "bag"
    frames = [(photo(3), "rgb8"), (photo(4), "bgr8")]
    _write_bag(bag, frames)
    outs = {}
    for topic in ("/camera/image_raw", "/camera/image_raw/compressed"):
        out = tmp_path / topic.replace("/", "_")
        assert interseg(["segment", square_checkpoint, str(bag), "--topic", topic, "--out", str(out), "--quiet"]) == 0
        outs[topic] = out
        images = json.loads((out / "images.json").read_text())
        assert [i["stamp_ns"] for i in images] == [100 * 10**9, 101 * 10**9]
    # The same pixels arrive through both topics (bgr8 decoded to RGB, PNG lossless): same results.
    raw = json.loads((outs["/camera/image_raw"] / "results.json").read_text())
    compressed = json.loads((outs["/camera/image_raw/compressed"] / "results.json").read_text())
    assert [r["segmentation"] for r in raw] == [r["segmentation"] for r in compressed]

    assert interseg(["segment", square_checkpoint, str(bag), "--out", str(tmp_path / "x")]) == 2
    assert "--topic" in capsys.readouterr().err
    assert interseg(["segment", square_checkpoint, str(bag), "--topic", "/nope", "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert "no topic /nope" in err and "/camera/image_raw (sensor_msgs/msg/Image)" in err and "/notes" not in err
    assert interseg(["segment", square_checkpoint, str(bag), "--topic", "/notes", "--out", str(tmp_path / "x")]) == 2
    assert "std_msgs/msg/String" in capsys.readouterr().err


@pytest.mark.parametrize(
    "setup, message",
    [
        (lambda d: (d / "empty").mkdir(), "holds no images"),
        (lambda d: None, "does not exist"),
        (lambda d: (d / "empty").write_text("x"), "not an image"),
    ],
)
def test_inputs_that_cannot_be_read_are_refused_before_any_work(square_checkpoint, tmp_path, capsys, setup, message):
    setup(tmp_path)
    code = interseg(["segment", square_checkpoint, str(tmp_path / "empty"), "--out", str(tmp_path / "out")])
    assert code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_a_file_that_is_not_a_checkpoint(tmp_path, capsys):
    write_rgb(tmp_path / "a.png", photo(0))
    (tmp_path / "model.pt").write_bytes(b"\x00" * 64)
    code = interseg(["segment", str(tmp_path / "model.pt"), str(tmp_path / "a.png"), "--out", str(tmp_path / "o")])
    assert code == 2
    assert "not a readable checkpoint" in capsys.readouterr().err
