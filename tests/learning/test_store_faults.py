"""Damaged example files and a disk that refuses writes, at the store and the dataset: bad
examples are found, quarantined with their reason (once, shared by every reader process), skipped,
and never deleted; a refused write leaves the store as it was and can be retried."""

import json
import logging
import re
import subprocess
import sys

import numpy as np
import pytest

from interseg.learning.dataset import WindowDataset
from interseg.learning.example_files import BadExampleError, read_example
from interseg.learning.model import ModelConfig
from interseg.learning.quarantine import QUARANTINE_NAME
from interseg.learning.store import ExampleStore
from interseg.learning.store_errors import NoReadableExamplesError

from .helpers import damage_file

IMAGE = (np.random.default_rng(0).random((60, 80, 3)) * 255).astype(np.uint8)
MASK = np.zeros((60, 80), bool)
MASK[20:40, 30:50] = True
CONFIG = ModelConfig(expected_size=None, window=48, mask_size=8, input_scale=0.5)


def add(store, positive=True, interaction_id=1):
    return store.add(
        image=IMAGE,
        u=40.0,
        v=30.0,
        positive=positive,
        mask=MASK if positive else None,
        reason="test",
        interaction_id=interaction_id,
        view="cam0",
    )


@pytest.fixture
def store(tmp_path):
    with ExampleStore(tmp_path / "s", writer=True) as store:
        for i in range(6):
            add(store, positive=i % 2 == 0, interaction_id=i)
        yield store


@pytest.mark.parametrize(
    "target, damage, reason",
    [
        ("image", "delete", "is missing"),
        ("image", "truncate", "is truncated"),
        ("image", "garbage", "not a PNG file"),
        ("image", "flip", "corrupt: bad CRC"),
        ("image", "empty", "empty file"),
        ("image", "resize", "its row says 80x60"),
        ("image", "grey", "not 8-bit RGB"),
        ("mask", "delete", "is missing"),
        ("mask", "truncate", "is truncated"),
        ("mask", "resize", "its row says 80x60"),
        ("mask", "other_mask", "its row says 400"),
    ],
)
def test_every_kind_of_damage_is_named(store, target, damage, reason):
    record = store.records()[0]
    assert record.positive
    damage_file(store.root / (record.image_path if target == "image" else record.mask_path), damage)
    with pytest.raises(BadExampleError, match=reason) as info:
        read_example(store.root, record)
    assert info.value.record == record and record.key in str(info.value)


def test_bad_example_is_quarantined_once_with_its_reason_and_its_files_kept(store, caplog):
    records = store.records()
    damage_file(store.root / records[2].image_path, "truncate")
    with caplog.at_level(logging.WARNING, logger="interseg.learning.quarantine"):
        with pytest.raises(BadExampleError):
            store.read(records[2])
        with pytest.raises(BadExampleError):
            store.read(records[2])  # found again by a reader that did not skip it: not recorded twice
    assert sum("quarantined" in r.getMessage() for r in caplog.records) == 1
    lines = (store.root / QUARANTINE_NAME).read_text().splitlines()
    assert len(lines) == 1
    entry = json.loads(lines[0])
    assert entry["key"] == records[2].key and entry["id"] == records[2].id and "truncated" in entry["reason"]
    assert (store.root / records[2].image_path).exists() and (store.root / records[2].mask_path).exists()
    assert [r.key for r in store.records()] == [r.key for i, r in enumerate(records) if i != 2]
    assert len(store.records(include_quarantined=True)) == 6 and store.count() == 6
    # another process reading the same store skips it without reading its files again
    code = (
        "import sys; from interseg.learning.store import ExampleStore; s = ExampleStore(sys.argv[1]); "
        "print(len(s.records()), s.quarantine.reasons[sys.argv[2]])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(store.root), records[2].key], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("5 image images/") and "truncated" in out.stdout


def test_quarantine_file_edited_by_hand_is_reread(store):
    records = store.records()
    damage_file(store.root / records[1].image_path, "delete")
    with pytest.raises(BadExampleError):
        store.read(records[1])
    assert len(store.records()) == 5
    (store.root / QUARANTINE_NAME).write_text("")  # the file was restored: read it again
    assert len(store.records()) == 6


def test_a_reader_that_cannot_record_the_quarantine_still_skips_and_says_so(store, caplog):
    records = store.records()
    damage_file(store.root / records[0].mask_path, "garbage")
    (store.root / QUARANTINE_NAME).mkdir()  # cannot be appended to (as on a read-only or full disk)
    with caplog.at_level(logging.WARNING, logger="interseg.learning.quarantine"):
        with pytest.raises(BadExampleError):
            store.read(records[0])
    assert "could not be recorded" in caplog.text and "only this process" in caplog.text
    assert records[0].key not in [r.key for r in store.records()]


def test_dataset_skips_replaces_and_drops_bad_examples(store, caplog):
    records = store.records()
    dataset = WindowDataset(store.root, CONFIG, augment=False)
    assert len(dataset) == 6
    damage_file(store.root / records[0].image_path, "delete")
    damage_file(store.root / records[3].image_path, "resize")
    with caplog.at_level(logging.WARNING, logger="interseg.learning.quarantine"):
        windows = [dataset[i] for i in range(6)]
    # a bad example's place in the batch goes to the next usable one
    assert [int(w["example_id"]) for w in windows] == [records[i].id for i in (1, 1, 2, 4, 4, 5)]
    assert caplog.text.count("quarantined") == 2 and "missing" in caplog.text and "row says" in caplog.text
    assert dataset.quarantined == 2
    assert dataset.refresh() == 0 and [r.id for r in dataset.records] == [records[i].id for i in (1, 2, 4, 5)]
    # other readers skip them too
    with ExampleStore(store.root, writer=False) as reader:
        assert len(reader.records()) == 4


def test_dataset_with_nothing_usable_says_so(store):
    dataset = WindowDataset(store.root, CONFIG, augment=False)
    for record in store.records():
        damage_file(store.root / record.image_path, "garbage")
    with pytest.raises(NoReadableExamplesError, match="none of the 6 examples"):
        dataset[0]
    assert dataset.quarantined == 6 and dataset.refresh() == 0 and len(dataset) == 0


def test_cached_examples_are_not_read_again(store):
    dataset = WindowDataset(store.root, CONFIG, augment=False)
    first = dataset[0]
    damage_file(store.root / store.records()[0].image_path, "delete")
    assert int(dataset[0]["example_id"]) == int(first["example_id"])  # from memory, still correct
    assert dataset.quarantined == 0


# A process whose files may not grow past a limit gets EFBIG from write(), as on a full disk.
_FULL_DISK = """
import os, resource, sys
import numpy as np
from interseg.learning.example_files import read_example
from interseg.learning.store import ExampleStore
from interseg.learning.store_errors import StoreWriteError
root, limit = sys.argv[1], sys.argv[2]
image = (np.random.default_rng(0).random((60, 80, 3)) * 255).astype(np.uint8)
mask = np.zeros((60, 80), bool); mask[20:40, 30:50] = True
def add(store, i):
    return store.add(image=image, u=40.0, v=30.0, positive=True, mask=mask, reason="t", interaction_id=i, view="cam0")
with ExampleStore(root, writer=True) as store:
    for i in range(10):
        add(store, i)
    sizes = {"wal": os.path.getsize(os.path.join(root, "examples.sqlite3-wal")), "png": 1000}
    # "png": smaller than any image; "wal": the index's journal cannot grow, the PNGs fit
    resource.setrlimit(resource.RLIMIT_FSIZE, (sizes[limit], resource.RLIM_INFINITY))
    try:
        add(store, 99)
        print("stored although the disk was full")
    except StoreWriteError as exc:
        print("refused:", exc)
    resource.setrlimit(resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    print("rows", store.count())
    add(store, 100)  # space is back
    print("rows", store.count())
with ExampleStore(root) as reader:
    for record in reader.records():
        read_example(root, record)
    print("readable", reader.count(), sorted({r.interaction_id for r in reader.records()})[-2:])
"""


@pytest.mark.parametrize(
    "limit, message",
    [("png", "could not write images/.*File too large"), ("wal", "could not add the row to examples.sqlite3")],
)
def test_a_refused_write_leaves_the_store_as_it_was(tmp_path, limit, message):
    root = tmp_path / "s"
    out = subprocess.run(
        [sys.executable, "-c", _FULL_DISK, str(root), limit], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("refused:"), out.stdout
    assert re.search(message, lines[0]), lines[0]
    assert lines[1:] == ["rows 10", "rows 11", "readable 11 [9, 100]"]
    # no file of the refused example, no temporary file
    assert len(list((root / "images").iterdir())) == 11 and len(list((root / "masks").iterdir())) == 11
