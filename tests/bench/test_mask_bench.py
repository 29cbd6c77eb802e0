"""benchmarks/mask_bench.py: its smallest setting end to end in a temporary folder (two variants,
a few steps), and the variant syntax."""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from pathlib import Path

import pytest

from interseg.evaluation.bench.methods import preload_torchvision_ops

preload_torchvision_ops()  # before any test creates an OpenGL context (see its docstring)

pytestmark = pytest.mark.slow

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "mask_bench.py"


def _load():
    sys.path.insert(0, str(SCRIPT.parent))
    spec = importlib.util.spec_from_file_location("mask_bench", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_smallest_setting_end_to_end(tmp_path):
    bench = _load()
    out = tmp_path / "out"
    argv = ["--variants", "base", "small:mask_size=16,network_width=160,steps=3,refine=false"]
    argv += ["--scenes", "1", "--steps", "2"]
    argv += ["--batch", "4", "--width", "160", "--height", "120", "--test-per-background", "1", "--test-limit", "2"]
    argv += ["--out", str(out), "--work", str(tmp_path / "work"), "--cache", str(tmp_path / "cache"), "--quiet"]
    argv += ["--eval-root", str(tmp_path / "eval"), "--threads", "1"]
    assert bench.main(argv) == 0
    numbers = json.loads((out / "masks.json").read_text())
    assert (out / "masks.png").stat().st_size > 0
    base, small = numbers["runs"]
    assert (base["variant"], base["steps"], small["variant"], small["steps"]) == ("base", 2, "small", 3)
    assert base["model_config"]["mask_size"] == 32 and small["model_config"]["mask_size"] == 16
    assert base["model_config"]["refine"] is True and small["model_config"]["refine"] is False  # default: refined
    assert base["model_config"]["input_scale"] == 2.0 and small["model_config"]["input_scale"] == 1.0
    for run in numbers["runs"]:
        assert 0.0 <= run["ap50"] <= run["ap30"] <= 1.0
        assert 0.0 <= run["recall_iou50"] <= run["recall_iou30"] <= 1.0 and run["objects"] > 0
        assert run["inference_ms_640x480"] > 0


def test_variant_syntax():
    bench = _load()
    assert bench.parse_variant("base") == ("base", {})
    assert bench.parse_variant("m:mask_size=48,input_scale=0.75") == ("m", {"mask_size": 48, "input_scale": 0.75})
    assert bench.parse_variant("r:refine=true") == ("r", {"refine": True})
    for bad in ("m:mask_size", "m:colour=3", ":mask_size=4"):
        with pytest.raises(argparse.ArgumentTypeError):
            bench.parse_variant(bad)
