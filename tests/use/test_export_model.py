"""`interseg export-model`: ONNX and TorchScript files that give the checkpoint's hypotheses, a
check that fails when they do not, and `interseg segment` running the exported files."""

import json

import onnx
import pytest

from interseg.cli import main as interseg
from interseg.learning.export import ExportedPredictor, ExportError
from interseg.learning.predictor import HypothesisPredictor
from interseg.use.export_model import check_images, parity

from .helpers import photo, write_rgb


@pytest.fixture(scope="module")
def exported(square_checkpoint, tmp_path_factory):
    folder = tmp_path_factory.mktemp("exported")
    files = {}
    for fmt, name in (("onnx", "model.onnx"), ("torchscript", "model.pt")):
        out = folder / name
        assert interseg(["export-model", square_checkpoint, "--format", fmt, "--out", str(out)]) == 0
        files[fmt] = out
    return files


@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
def test_the_exported_file_passes_its_check_and_segments_as_the_checkpoint(square_checkpoint, exported, fmt, tmp_path):
    check = json.loads(exported[fmt].with_name(exported[fmt].name + ".check.json").read_text())
    assert check["passed"] and check["same_cells"] and check["min_mask_iou"] >= 0.99
    assert max(check["max_abs_difference"].values()) <= 1e-3
    assert not list(exported[fmt].parent.glob("*.partial*"))  # nothing left of the writing
    predictor = ExportedPredictor(exported[fmt])
    assert predictor.config.expected_size == (320, 240) and predictor.config.mask_threshold == 0.001

    write_rgb(tmp_path / "in" / "a.png", photo(5))
    runs = {}
    for label, model in (("checkpoint", square_checkpoint), ("exported", str(exported[fmt]))):
        out = tmp_path / label
        assert interseg(["segment", model, str(tmp_path / "in"), "--out", str(out), "--quiet"]) == 0
        runs[label] = json.loads((out / "results.json").read_text())
    assert [r["segmentation"] for r in runs["checkpoint"]] == [r["segmentation"] for r in runs["exported"]]
    for a, b in zip(runs["checkpoint"], runs["exported"]):
        assert a["score"] == pytest.approx(b["score"], abs=1e-5)


def test_the_check_fails_when_the_file_computes_something_else(square_checkpoint, exported, tmp_path):
    model = onnx.load(str(exported["onnx"]))
    weights = max(model.graph.initializer, key=lambda t: len(t.raw_data))
    weights.raw_data = bytes(len(weights.raw_data))  # the largest weight tensor zeroed
    damaged = tmp_path / "damaged.onnx"
    onnx.save(model, str(damaged))
    reference = HypothesisPredictor.from_checkpoint(square_checkpoint)
    check = parity(ExportedPredictor(damaged), reference, check_images((320, 240), None, count=2), 1e-3)
    assert not check["passed"]
    assert max(check["max_abs_difference"].values()) > 1e-3


def test_files_that_are_not_exported_networks(tmp_path, exported, capsys):
    plain = onnx.load(str(exported["onnx"]))
    del plain.metadata_props[:]
    onnx.save(plain, str(tmp_path / "plain.onnx"))
    with pytest.raises(ExportError, match="no interseg metadata"):
        ExportedPredictor(tmp_path / "plain.onnx")
    (tmp_path / "junk.onnx").write_bytes(b"junk")
    with pytest.raises(ExportError, match="not a readable ONNX"):
        ExportedPredictor(tmp_path / "junk.onnx")
    write_rgb(tmp_path / "a.png", photo(0))
    assert interseg(["segment", str(tmp_path / "plain.onnx"), str(tmp_path / "a.png"), "--out", str(tmp_path)]) == 2
    assert "no interseg metadata" in capsys.readouterr().err
    missing = tmp_path / "missing.pt"
    assert interseg(["export-model", str(missing), "--format", "onnx", "--out", str(tmp_path / "x.onnx")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_the_readme_onnx_example_runs_on_an_exported_file(exported, capsys):
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    block = readme.split("<!-- onnx-example -->")[1].split("<!-- /onnx-example -->")[0]
    code = block.split("```python")[1].split("```")[0]
    assert 'model_file = "model.onnx"' in code
    exec(code.replace('"model.onnx"', repr(str(exported["onnx"]))), {})
    assert "best candidate: score" in capsys.readouterr().out
