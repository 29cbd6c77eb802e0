import sqlite3
import subprocess
import sys

import numpy as np
import pytest

from interseg.learning.dataset import WindowDataset, make_window
from interseg.learning.model import ModelConfig
from interseg.learning.store import SCHEMA_VERSION, ExampleStore
from interseg.learning.store_errors import StoreError, StoreSchemaError

IMAGE = (np.random.default_rng(0).random((60, 80, 3)) * 255).astype(np.uint8)
MASK = np.zeros((60, 80), bool)
MASK[20:40, 30:50] = True


def add_positive(store, **kw):
    args = dict(image=IMAGE, u=40.0, v=30.0, positive=True, mask=MASK, reason="test", interaction_id=1, view="cam0")
    args.update(kw)
    return store.add(**args)


def test_roundtrip_and_incremental_reads(tmp_path):
    with ExampleStore(tmp_path / "s", writer=True) as store:
        key = add_positive(store)
        store.add(
            image=IMAGE, u=5.0, v=5.0, positive=False, mask=None, reason="nothing moved", interaction_id=1, view="cam1"
        )
        records = store.records()
        assert [r.key for r in records][0] == key and len(records) == 2
        assert records[0].positive and records[0].mask_area == 400 and not records[1].positive
        assert np.array_equal(store.load_image(records[0]), IMAGE)
        assert np.array_equal(store.load_mask(records[0]), MASK)
        assert store.load_mask(records[1]) is None
        assert store.records(after_id=records[0].id) == records[1:]
    reader = ExampleStore(tmp_path / "s")
    assert reader.count() == 2
    with pytest.raises(StoreError, match="read-only"):
        add_positive(reader)


def test_single_writer_and_readers_in_other_processes(tmp_path):
    root = tmp_path / "s"
    writer = ExampleStore(root, writer=True)
    with pytest.raises(StoreError, match="already has a writer"):
        ExampleStore(root, writer=True)
    add_positive(writer)
    code = (
        "import sys; from interseg.learning.store import ExampleStore; "
        "s = ExampleStore(sys.argv[1]); print(s.count(), s.records()[-1].reason)"
    )
    out = subprocess.run([sys.executable, "-c", code, str(root)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["1", "test"]
    add_positive(writer, reason="second")
    out = subprocess.run([sys.executable, "-c", code, str(root)], capture_output=True, text=True, timeout=60)
    assert out.stdout.split() == ["2", "second"]
    writer.close()
    ExampleStore(root, writer=True).close()  # the lock is released on close


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(mask=np.zeros((60, 80), bool)), "empty"),
        (dict(mask=np.ones((60, 80), bool)), "whole image"),
        (dict(mask=None), "needs a mask"),
        (dict(mask=MASK[:30]), "does not match"),
        (dict(image=IMAGE.astype(np.float32)), "uint8"),
        (dict(image=IMAGE[..., :2]), "RGB"),
        (dict(u=float("nan")), "inside"),
        (dict(u=200.0), "inside"),
        (dict(positive=False), "must not carry"),
    ],
)
def test_bad_examples_leave_the_store_untouched(tmp_path, kwargs, message):
    with ExampleStore(tmp_path / "s", writer=True) as store:
        add_positive(store)
        before = sorted(p.name for p in (tmp_path / "s").rglob("*.png"))
        with pytest.raises(ValueError, match=message):
            add_positive(store, **kwargs)
        assert store.count() == 1
        assert sorted(p.name for p in (tmp_path / "s").rglob("*.png")) == before


def test_newer_schema_is_refused_and_left_untouched(tmp_path):
    root = tmp_path / "s"
    with ExampleStore(root, writer=True) as store:
        add_positive(store)
    db = sqlite3.connect(root / "examples.sqlite3")
    db.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION + 1,))
    db.commit()
    db.close()
    content = (root / "examples.sqlite3").read_bytes()
    for writer in (False, True):
        with pytest.raises(StoreSchemaError, match="newer|schema version"):
            ExampleStore(root, writer=writer)
    assert (root / "examples.sqlite3").read_bytes() == content


def test_missing_and_corrupt_stores(tmp_path):
    with pytest.raises(StoreError, match="no examples store"):
        ExampleStore(tmp_path / "nothing")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "examples.sqlite3").write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="not a readable SQLite"):
        ExampleStore(tmp_path / "bad")


def test_export_mcap(tmp_path):
    from rosbags.rosbag2 import Reader
    from rosbags.typesys import Stores, get_typestore

    with ExampleStore(tmp_path / "s", writer=True) as store:
        add_positive(store)
        store.add(image=IMAGE, u=5.0, v=5.0, positive=False, mask=None, reason="bg", interaction_id=2, view="cam1")
        summary = store.export_mcap(tmp_path / "bag")
        assert summary.exported == 2 and summary.skipped == {}
    typestore = get_typestore(Stores.ROS2_JAZZY)
    counts = {}
    with Reader(tmp_path / "bag") as reader:
        for conn, _, raw in reader.messages():
            counts[conn.topic] = counts.get(conn.topic, 0) + 1
            if conn.topic == "/examples/image" and counts[conn.topic] == 1:
                msg = typestore.deserialize_cdr(raw, conn.msgtype)
                assert msg.encoding == "rgb8" and msg.header.frame_id == "cam0_optical_frame"
                assert np.array_equal(np.asarray(msg.data).reshape(60, 80, 3), IMAGE)
    assert counts == {"/examples/image": 2, "/examples/mask": 1, "/examples/meta": 2}


def test_window_dataset_targets_and_refresh(tmp_path):
    config = ModelConfig(expected_size=None, window=48, mask_size=8, input_scale=0.5)
    store = ExampleStore(tmp_path / "s", writer=True)
    add_positive(store)
    dataset = WindowDataset(tmp_path / "s", config, augment=False)
    assert len(dataset) == 1
    item = dataset[0]
    assert item["image"].shape == (3, 48, 48) and item["mask"].shape == (8, 8)
    assert float(item["objectness"]) == 1.0 and float(item["has_mask"]) == 1.0
    # 20x20 full-res square = 10x10 network px inside a 48 px window -> about 1.7 of 8 mask cells
    centre = item["mask"][3:5, 3:5]
    assert bool(centre.all()) and float(item["mask"].sum()) < 16
    store.add(image=IMAGE, u=5.0, v=5.0, positive=False, mask=None, reason="bg", interaction_id=2, view="cam0")
    assert dataset.refresh() == 1 and len(dataset) == 2
    assert float(dataset[1]["objectness"]) == 0.0 and float(dataset[1]["has_mask"]) == 0.0
    augmented = WindowDataset(tmp_path / "s", config, augment=True)
    a, b = augmented[0], augmented[0]
    assert not np.array_equal(a["image"].numpy(), b["image"].numpy())  # a fresh augmentation each draw
    assert 0.0 <= float(a["image"].min()) and float(a["image"].max()) <= 1.0
    store.close()


def test_flipped_window_mirrors_the_mask():
    config = ModelConfig(expected_size=None, window=48, mask_size=8, input_scale=0.5)
    mask = np.zeros((60, 80), bool)
    mask[20:40, 30:42] = True  # extends left of the point only... then right after flipping

    class FlipOnly:
        def uniform(self, low, high, size=None):
            return 0.0 if size is None else np.zeros(size)

        def random(self):
            return 0.0  # < 0.5: flip

    plain = make_window(IMAGE, 41.0, 30.0, True, mask, config)
    flipped = make_window(IMAGE, 41.0, 30.0, True, mask, config, rng=FlipOnly(), colour_jitter=0.0)
    assert np.array_equal(flipped["mask"].numpy(), plain["mask"].numpy()[:, ::-1])


def test_offcentre_negatives_lie_just_outside_the_mask():
    from interseg.learning.dataset import offcentre_point

    config = ModelConfig(expected_size=None, window=48, mask_size=8, input_scale=0.5)  # 96 px full windows
    rng = np.random.default_rng(0)
    for _ in range(20):
        u, v = offcentre_point(MASK, config, rng)
        assert not MASK[int(v), int(u)]
        d = max(30 - u, u - 49, 20 - v, v - 39, 0)  # distance to the square [30, 49] x [20, 39], roughly
        assert 0.1 * 96 - 1.5 <= d <= np.hypot(0.25 * 96, 0.25 * 96)
    assert offcentre_point(np.ones((60, 80), bool), config, rng) is None


def test_dataset_mixes_offcentre_negatives(tmp_path):
    config = ModelConfig(expected_size=None, window=48, mask_size=8, input_scale=0.5)
    with ExampleStore(tmp_path / "s", writer=True) as store:
        add_positive(store)
    dataset = WindowDataset(tmp_path / "s", config, augment=True, offcentre_negatives=0.5)
    targets = [float(dataset[0]["objectness"]) for _ in range(40)]
    assert 5 < sum(targets) < 35
    plain = WindowDataset(tmp_path / "s", config, augment=False, offcentre_negatives=1.0)
    assert float(plain[0]["objectness"]) == 1.0  # evaluation windows are never altered
