"""The paper's splits: sizes, disjointness, determinism; objects graspable and varied."""

from __future__ import annotations

import numpy as np
import pytest

from interseg.sim import catalog


def test_object_and_background_splits_are_disjoint_with_paper_sizes():
    for split_fn, sizes, total in (
        (catalog.object_split, catalog.OBJECT_SPLIT_SIZES, catalog.NUM_OBJECTS),
        (catalog.background_split, catalog.BACKGROUND_SPLIT_SIZES, catalog.NUM_BACKGROUNDS),
    ):
        ids = {name: set(split_fn(name)) for name in catalog.SPLITS}
        assert {name: len(v) for name, v in ids.items()} == sizes
        assert not ids["train"] & ids["val"] and not ids["train"] & ids["test"] and not ids["val"] & ids["test"]
        assert set().union(*ids.values()) == set(range(total))
    assert catalog.OBJECT_SPLIT_SIZES == {"train": 36, "val": 8, "test": 15}
    assert catalog.BACKGROUND_SPLIT_SIZES == {"train": 24, "val": 6, "test": 10}


def test_catalogue_is_deterministic():
    assert catalog.make_object(17) == catalog.make_object(17)
    assert catalog.make_background(9) == catalog.make_background(9)
    texture = catalog.background_texture(catalog.make_background(9), size=64)
    assert np.array_equal(texture, catalog.background_texture(catalog.make_background(9), size=64))


def test_every_split_has_varied_objects_the_gripper_can_hold():
    for split in catalog.SPLITS:
        objects = [catalog.make_object(i) for i in catalog.object_split(split)]
        assert len({o.kind for o in objects}) >= 5, split
    for object_id in range(catalog.NUM_OBJECTS):
        spec = catalog.make_object(object_id)
        assert 0.01 < spec.height < 0.1, spec.name
        assert spec.footprint_radius < 0.12, spec.name
    multicoloured = [
        o
        for o in map(catalog.make_object, range(catalog.NUM_OBJECTS))
        if len(o.parts) > 1 or any(p.pattern != "plain" for p in o.parts)
    ]
    assert len(multicoloured) > catalog.NUM_OBJECTS // 2


def test_bad_ids_and_split_names_are_rejected():
    with pytest.raises(ValueError, match="outside"):
        catalog.make_object(catalog.NUM_OBJECTS)
    with pytest.raises(ValueError, match="unknown split"):
        catalog.object_split("training")
