"""`interseg evaluate-images` and the labelled-set layouts it reads (pairs, OCID, OSD, COCO)."""

import csv
import json

import cv2
import numpy as np
import pytest

from interseg.cli import main as interseg
from interseg.use.inputs import InputError
from interseg.use.labelled_sets import find_labelled_images

from .helpers import photo, write_rgb


def _labels(path, array):
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), array)


def _boxes(shape, *boxes, dtype=np.uint8):
    image = np.zeros(shape, dtype=dtype)
    for value, r0, r1, c0, c1 in boxes:
        image[r0:r1, c0:c1] = value
    return image


def test_ocid_floor_and_table_are_background_as_in_the_published_evaluation(tmp_path):
    for where in ("floor", "table"):
        seq = tmp_path / "ARID20" / where / "top" / "seq01"
        write_rgb(seq / "rgb" / "result_001.png", photo(0))
        _labels(
            seq / "label" / "result_001.png",
            _boxes((240, 320), (1, 0, 240, 0, 320), (2, 0, 100, 0, 100), (3, 150, 200, 150, 200)),
        )
    write_rgb(tmp_path / "ARID20" / "floor" / "top" / "seq02" / "rgb" / "unlabelled.png", photo(1))
    layout, items = find_labelled_images(tmp_path)
    assert layout == "ocid"
    by_place = {item.name.split("/")[1]: item.load_labels() for item in items}
    assert sorted(by_place) == ["floor", "table"]
    assert set(np.unique(by_place["floor"])) == {0, 2, 3}  # on the floor, 2 is an object
    assert set(np.unique(by_place["table"])) == {0, 3}  # on the table, 2 is the table


def test_osd_pairs_and_coco_layouts(tmp_path):
    osd = tmp_path / "OSD"
    write_rgb(osd / "image_color" / "learn0.png", photo(0))
    _labels(osd / "annotation" / "learn0.png", _boxes((240, 320), (1, 10, 50, 10, 50)))
    layout, items = find_labelled_images(osd)
    assert layout == "osd" and [i.name for i in items] == ["learn0"]
    assert items[0].load_labels()[20, 20] == 1

    images, labels = tmp_path / "imgs", tmp_path / "labels"
    write_rgb(images / "x" / "a.jpg", photo(1))
    write_rgb(images / "b.png", photo(2))  # no label: left out
    _labels(labels / "x" / "a.png", _boxes((240, 320), (7, 0, 10, 0, 10), dtype=np.uint16))
    layout, items = find_labelled_images(images, labels)
    assert layout == "pairs" and [i.name for i in items] == ["x/a"]
    assert items[0].load_labels().dtype == np.uint16

    coco = {
        "images": [{"id": 3, "file_name": "b.png", "width": 320, "height": 240}],
        "annotations": [
            {"id": 1, "image_id": 3, "category_id": 1, "segmentation": [[10, 10, 40, 10, 40, 40, 10, 40]]},
            {"id": 2, "image_id": 3, "category_id": 1, "segmentation": [[30, 30, 60, 30, 60, 60, 30, 60]]},
        ],
    }
    (tmp_path / "coco.json").write_text(json.dumps(coco))
    layout, items = find_labelled_images(images, coco=tmp_path / "coco.json")
    loaded = items[0].load_labels()
    assert layout == "coco" and loaded[20, 20] == 1 and loaded[35, 35] == 2 and loaded[50, 50] == 2


def test_sets_that_cannot_be_read(tmp_path):
    (tmp_path / "nothing").mkdir()
    with pytest.raises(InputError, match="no layout recognised"):
        find_labelled_images(tmp_path / "nothing")
    with pytest.raises(InputError, match="does not exist"):
        find_labelled_images(tmp_path / "missing")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(InputError, match="not COCO"):
        find_labelled_images(tmp_path / "nothing", coco=tmp_path / "bad.json")
    write_rgb(tmp_path / "i" / "a.png", photo(0))
    (tmp_path / "l").mkdir()
    with pytest.raises(InputError, match="no labelled images"):
        find_labelled_images(tmp_path / "i", tmp_path / "l")


def test_evaluating_on_its_own_output_scores_one_and_on_shifted_labels_less(square_checkpoint, tmp_path, capsys):
    images = tmp_path / "images"
    for k in range(3):
        write_rgb(images / f"im{k}.png", photo(10 + k))
    segmented = tmp_path / "segmented"
    assert interseg(["segment", square_checkpoint, str(images), "--out", str(segmented), "--quiet"]) == 0
    # Ground truth = the network's own label images: every P/R/F and the share at 0.75 are 1.
    out = tmp_path / "eval-self"
    code = interseg(
        ["evaluate-images", square_checkpoint, "--images", str(images), "--labels", str(segmented / "labels")]
        + ["--out", str(out), "--quiet"]
    )
    assert code == 0, capsys.readouterr().err
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["layout"] == "pairs" and metrics["images"] == 3
    for key in ("overlap_precision", "overlap_recall", "overlap_f", "boundary_f", "objects_at_075"):
        assert metrics[key] == 1.0, key
    assert metrics["ap30"] > 0.5
    rows = list(csv.DictReader((out / "per_image.csv").open()))
    assert [r["image"] for r in rows] == ["im0", "im1", "im2"] and all(float(r["overlap_f"]) == 1.0 for r in rows)
    assert "AP@0.3" in capsys.readouterr().out

    # The same labels shifted 12 px right: overlap and boundary scores fall, but stay above 0.
    shifted = tmp_path / "shifted"
    shifted.mkdir()
    for label_file in (segmented / "labels").glob("*.png"):
        labels = cv2.imread(str(label_file), cv2.IMREAD_UNCHANGED)
        moved = np.zeros_like(labels)
        moved[:, 12:] = labels[:, :-12]
        assert cv2.imwrite(str(shifted / label_file.name), moved)
    out2 = tmp_path / "eval-shifted"
    args = ["--images", str(images), "--labels", str(shifted), "--out", str(out2), "--quiet", "--overlays", "0"]
    assert interseg(["evaluate-images", square_checkpoint, *args]) == 0
    worse = json.loads((out2 / "metrics.json").read_text())
    assert 0 < worse["overlap_f"] < 0.95 and 0 < worse["boundary_f"] < 0.9
    assert not list((out2 / "overlays").iterdir())


def test_a_label_image_of_another_size_is_skipped_with_its_reason(square_checkpoint, tmp_path, capsys):
    write_rgb(tmp_path / "i" / "a.png", photo(0))
    write_rgb(tmp_path / "i" / "b.png", photo(1))
    _labels(tmp_path / "l" / "a.png", _boxes((240, 320), (1, 10, 60, 10, 60)))
    _labels(tmp_path / "l" / "b.png", _boxes((100, 100), (1, 10, 60, 10, 60)))
    args = ["--images", str(tmp_path / "i"), "--labels", str(tmp_path / "l"), "--out", str(tmp_path / "o"), "--quiet"]
    assert interseg(["evaluate-images", square_checkpoint, *args]) == 0
    metrics = json.loads((tmp_path / "o" / "metrics.json").read_text())
    assert metrics["images"] == 1 and "labels are 100x100, the image 320x240" in metrics["failed"][0]["error"]
    assert "skipped b" in capsys.readouterr().err
