"""benchmarks/noise_bench.py: its smallest setting end to end in a temporary folder (two kinds, one
noise level, a few steps), and its pieces: the oracle's examples of the rendered scenes, the
corrupted store, the table."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from interseg.evaluation.bench.methods import preload_torchvision_ops

preload_torchvision_ops()  # before any test creates an OpenGL context (see its docstring)

pytestmark = pytest.mark.slow

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "noise_bench.py"


def _load():
    spec = importlib.util.spec_from_file_location("noise_bench", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_smallest_setting_end_to_end(tmp_path):
    bench = _load()
    out = tmp_path / "out"
    argv = ["--scenes", "1", "--steps", "2", "--batch", "4", "--kinds", "merge", "false", "--levels", "0.5"]
    argv += ["--width", "160", "--height", "120", "--test-per-background", "1", "--test-limit", "2", "--quiet"]
    argv += ["--out", str(out), "--work", str(tmp_path / "work"), "--cache", str(tmp_path / "cache")]
    argv += ["--eval-root", str(tmp_path / "eval")]
    assert bench.main(argv) == 0
    numbers = json.loads((out / "noise.json").read_text())
    assert (out / "noise.png").stat().st_size > 0
    assert numbers["command"].startswith("benchmarks/noise_bench.py --scenes 1")
    assert numbers["config"]["levels"] == [0.0, 0.5] and numbers["config"]["test_images"] == 2
    assert len(numbers["runs"]) == 3 * 2  # clean + two kinds at one level, CE and RSL each
    assert {(r["kind"], r["loss"]) for r in numbers["runs"]} >= {("clean", "ce"), ("merge", "rsl"), ("false", "ce")}
    for kind in ("merge", "false"):
        for loss in ("ce", "rsl"):
            entries = numbers["table"][kind][loss]
            assert [e["level"] for e in entries] == [0.0, 0.5]
            assert all(0.0 <= e["ap30"] <= 1.0 and 0.0 <= e["ap50"] <= 1.0 for e in entries)
        # level 0 is the shared clean store
        assert numbers["table"][kind]["ce"][0]["ap30"] == numbers["table"]["merge"]["ce"][0]["ap30"]
    assert numbers["stores"]["seed0/clean-0"]["corrupted"] == 0
    assert 0 < numbers["stores"]["seed0/false-0.5"]["corrupted"] < numbers["stores"]["seed0/false-0.5"]["examples"]
    # the scenes are cached: a second render reads them back unchanged
    again = bench.render_scenes(1, 160, 120, tmp_path / "cache", progress=False)
    assert again[0]["rgb"].shape[1:] == (120, 160, 3) and again[0]["instance"].max() > 0


def test_examples_and_corrupted_store(tmp_path):
    from interseg.learning.mask_noise import NoiseSpec, apply_noise_all
    from interseg.learning.store import ExampleStore

    bench = _load()
    instance = np.zeros((40, 60), np.uint8)
    instance[5:20, 5:25], instance[5:20, 25:40] = 1, 2  # two touching objects
    rgb = np.full((40, 60, 3), 90, np.uint8)
    scene = {"names": ["cam0"], "rgb": rgb[None], "instance": instance[None]}
    clean, rows = bench.clean_examples([scene], seed=0)
    assert sum(e.positive for e in clean) == 2 and len(clean) == 4  # two objects, two table points
    noisy = apply_noise_all(clean, [NoiseSpec("merge", 1.0)], seed=0)
    bench.write_store(tmp_path / "store", noisy, rows)
    with ExampleStore(tmp_path / "store") as store:
        records = store.records()
        assert len(records) == 4
        merged = [store.load_mask(r) for r in records if r.positive]
        assert all(m.sum() == ((instance == 1) | (instance == 2)).sum() for m in merged)
        assert all("noise: merge" in r.reason for r in records if r.positive)
    table = bench.aggregate(
        [{"kind": "clean", "level": 0.0, "loss": loss, "seed": 0, "ap30": 0.5, "ap50": 0.2} for loss in ("ce", "rsl")]
        + [
            {"kind": "merge", "level": 1.0, "loss": loss, "seed": 0, "ap30": 0.1, "ap50": 0.0} for loss in ("ce", "rsl")
        ],
        ["merge"],
        [0.0, 1.0],
    )
    assert [e["ap30"] for e in table["merge"]["rsl"]] == [0.5, 0.1]
    assert "merge" in bench.summary_text(table)
