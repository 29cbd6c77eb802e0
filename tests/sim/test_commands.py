"""`interseg sim snapshot` and `interseg make-eval-set` write what they promise."""

from __future__ import annotations

import json

import numpy as np

from interseg.cli import main as interseg_main


def test_snapshot_writes_four_views_and_a_grid(tmp_path):
    assert (
        interseg_main(["sim", "snapshot", "--out", str(tmp_path), "--width", "96", "--height", "72", "--seed", "2"])
        == 0
    )
    import cv2

    for name in ("cam0", "cam1", "cam2", "cam3"):
        assert cv2.imread(str(tmp_path / f"{name}.png")).shape == (72, 96, 3)
    assert cv2.imread(str(tmp_path / "grid.png")).shape == (144, 192, 3)


def test_make_eval_set_writes_coco_masks_for_unseen_objects(tmp_path):
    from pycocotools.coco import COCO

    from interseg.sim.catalog import background_split

    assert (
        interseg_main(
            [
                "make-eval-set",
                "--split",
                "val",
                "--out",
                str(tmp_path),
                "--per-background",
                "1",
                "--width",
                "160",
                "--height",
                "120",
            ]
        )
        == 0
    )
    coco = COCO(str(tmp_path / "instances_cam0.json"))
    assert len(coco.getImgIds()) == len(background_split("val")) == 6
    assert {img["background_id"] for img in coco.loadImgs(coco.getImgIds())} == set(background_split("val"))
    annotations = coco.loadAnns(coco.getAnnIds())
    assert len(annotations) >= 6 * 2
    mask = coco.annToMask(annotations[0])
    assert mask.shape == (120, 160) and mask.sum() == annotations[0]["area"]
    for name in ("cam1", "cam2", "cam3"):
        assert json.loads((tmp_path / f"instances_{name}.json").read_text())["images"]
    assert np.array(json.loads((tmp_path / "cameras.json").read_text())[0]["world_from_camera"]).shape == (4, 4)
