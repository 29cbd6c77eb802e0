"""Labelled tabletop image sets in their common layouts, read as (image, instance label image)
pairs with 0 for background and one id per object.

Layouts (``--layout``; ``auto`` picks by the folders it finds):

- ``pairs``: ``--images DIR`` and ``--labels DIR``; an image and its label PNG share their path
  relative to the folders, up to the suffix (``a/b.jpg`` <-> ``a/b.png``). Optional depth in
  ``--depth DIR`` the same way (read for completeness; the network is RGB only).
- ``ocid``: the OCID dataset's tree: every ``.../seqNN/rgb/NAME.png`` with ``.../seqNN/label/NAME.png``
  (and ``depth/``). As in the published evaluation, label 1 (the floor) is background, and in
  sequences recorded on the table (a ``table`` folder in the path) label 2, the table, too.
- ``osd``: the OSD dataset: ``image_color/NAME.png`` with ``annotation/NAME.png`` (0 background).
- ``coco``: ``--coco FILE``, COCO instance annotations (RLE or polygons) whose ``file_name`` is
  relative to ``--images``; where annotations overlap, the later one owns the pixels.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from interseg.use.inputs import IMAGE_SUFFIXES, InputError

LAYOUTS = ("auto", "pairs", "ocid", "osd", "coco")


@dataclass
class LabelledImage:
    name: str
    image_path: Path
    load_labels: Callable[[], np.ndarray]
    depth_path: Path | None = None


def read_label_png(path: Path) -> np.ndarray:
    import cv2

    labels = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if labels is None:
        raise ValueError(f"{path}: not a readable label image")
    if labels.ndim == 3:
        channels = labels.reshape(-1, labels.shape[2])
        if not (channels == channels[:, :1]).all():
            raise ValueError(f"{path}: a colour label image; one channel with an id per object is needed")
        labels = labels[..., 0]
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"{path}: {labels.dtype} labels; integer ids are needed")
    return labels


def _ocid_labels(path: Path) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        labels = read_label_png(path).astype(np.int64)
        labels[labels == 1] = 0
        if "table" in path.parts:
            labels[labels == 2] = 0
        return labels

    return load


def _plain(path: Path) -> Callable[[], np.ndarray]:
    return lambda: read_label_png(path)


def _ocid(root: Path) -> list[LabelledImage]:
    items = []
    for image in sorted(root.rglob("rgb/*.png")):
        label = image.parent.parent / "label" / image.name
        if label.is_file():
            depth = image.parent.parent / "depth" / image.name
            name = str(image.relative_to(root).with_suffix("")).replace("/rgb/", "/")
            items.append(LabelledImage(name, image, _ocid_labels(label), depth if depth.is_file() else None))
    return items


def _osd(root: Path) -> list[LabelledImage]:
    items = []
    for image in sorted((root / "image_color").glob("*.png")):
        label = root / "annotation" / image.name
        if label.is_file():
            items.append(LabelledImage(image.stem, image, _plain(label)))
    return items


def _pairs(images: Path, labels: Path, depth: Path | None) -> list[LabelledImage]:
    items = []
    for image in sorted(p for p in images.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES):
        relative = image.relative_to(images).with_suffix("")
        label = labels / relative.with_suffix(".png")
        if label.is_file() and label.resolve() != image.resolve():
            d = None if depth is None else depth / relative.with_suffix(".png")
            items.append(LabelledImage(str(relative), image, _plain(label), d if d and d.is_file() else None))
    return items


def _coco(images: Path, annotations: Path) -> list[LabelledImage]:
    try:
        data = json.loads(annotations.read_text())
        by_image: dict[int, list[dict]] = {int(i["id"]): [] for i in data["images"]}
        for annotation in data.get("annotations", []):
            by_image[int(annotation["image_id"])].append(annotation)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"{annotations}: not COCO instance annotations ({type(exc).__name__}: {exc})") from None

    def loader(info: dict) -> Callable[[], np.ndarray]:
        def load() -> np.ndarray:
            from pycocotools import mask as mask_utils

            height, width = int(info["height"]), int(info["width"])
            labels = np.zeros((height, width), dtype=np.int64)
            for k, annotation in enumerate(by_image[int(info["id"])], start=1):
                segmentation = annotation["segmentation"]
                if isinstance(segmentation, list):  # polygons
                    rle = mask_utils.merge(mask_utils.frPyObjects(segmentation, height, width))
                elif isinstance(segmentation.get("counts"), list):  # uncompressed RLE
                    rle = mask_utils.frPyObjects(segmentation, height, width)
                else:
                    rle = segmentation
                labels[mask_utils.decode(rle).astype(bool)] = k
            return labels

        return load

    return [
        LabelledImage(str(Path(info["file_name"]).with_suffix("")), images / info["file_name"], loader(info))
        for info in sorted(data["images"], key=lambda i: i["id"])
    ]


def detect_layout(images: Path, labels: Path | None, coco: Path | None) -> str:
    if coco is not None:
        return "coco"
    if labels is not None:
        return "pairs"
    if (images / "image_color").is_dir() and (images / "annotation").is_dir():
        return "osd"
    if any(images.rglob("rgb/*.png")):
        return "ocid"
    raise InputError(
        f"{images}: no layout recognised (OSD's image_color/ + annotation/, OCID's .../rgb + .../label); "
        "give --labels DIR for image/label pairs or --coco FILE"
    )


def find_labelled_images(
    images: Path, labels: Path | None = None, layout: str = "auto", coco: Path | None = None, depth: Path | None = None
) -> tuple[str, list[LabelledImage]]:
    """(layout used, the labelled images found); InputError when nothing usable is there."""
    if layout not in LAYOUTS:
        raise InputError(f"unknown layout {layout!r}; one of {', '.join(LAYOUTS)}")
    for path in (images, labels, coco, depth):
        if path is not None and not path.exists():
            raise InputError(f"{path} does not exist")
    if layout == "auto":
        layout = detect_layout(images, labels, coco)
    if layout == "pairs" and labels is None:
        raise InputError("the pairs layout needs --labels DIR")
    if layout == "coco" and coco is None:
        raise InputError("the coco layout needs --coco FILE")
    found = {
        "ocid": lambda: _ocid(images),
        "osd": lambda: _osd(images),
        "pairs": lambda: _pairs(images, labels, depth),
        "coco": lambda: _coco(images, coco),
    }[layout]()
    if not found:
        raise InputError(f"{images}: no labelled images in the {layout} layout")
    return layout, found
