"""The learner's pre-trained start: made once per setting, cached, checked and made again when the
cache is unusable; nothing half-built is left behind."""

from __future__ import annotations

import json

import pytest

from interseg.evaluation.bench.methods import preload_torchvision_ops
from interseg.evaluation.pretrained_start import PretrainSetting, ensure_pretrained
from interseg.learning.checkpoint import read_checkpoint

preload_torchvision_ops()  # before the simulator's OpenGL context (see its docstring)

pytestmark = pytest.mark.slow

SETTING = PretrainSetting(width=320, height=240, input_scale=1.0, frames=60, steps=2, batch_size=4)


def test_pretraining_is_made_once_cached_and_remade_when_unusable(tmp_path, capsys):
    made = ensure_pretrained(SETTING, tmp_path, progress=False)
    assert not made.cached and made.checkpoint == tmp_path / SETTING.key / "checkpoint.pt"
    data = read_checkpoint(made.checkpoint)
    assert data["model_config"]["expected_size"] in ([320, 240], (320, 240))
    assert data["model_config"]["input_scale"] == 1.0
    assert made.collection["frames"] == 60 and made.collection["positives"] >= 1 and made.cost_s > 0
    assert sorted(p.name for p in tmp_path.iterdir()) == [SETTING.key]  # no building folder left
    assert sorted(p.name for p in made.checkpoint.parent.iterdir()) == ["checkpoint.pt", "examples", "pretrain.json"]
    stamp = made.checkpoint.stat().st_mtime_ns

    again = ensure_pretrained(SETTING, tmp_path, progress=False)
    assert again.cached and again.cost_s == made.cost_s and again.collection == made.collection
    assert made.checkpoint.stat().st_mtime_ns == stamp  # read, not made again
    other = ensure_pretrained(PretrainSetting(**(vars(SETTING) | {"steps": 3})), tmp_path, progress=False)
    assert not other.cached and other.checkpoint.parent != made.checkpoint.parent  # its own entry

    made.checkpoint.write_bytes(b"truncated")  # a damaged cache is made again, with a line saying so
    capsys.readouterr()
    remade = ensure_pretrained(SETTING, tmp_path, progress=False)
    assert not remade.cached and "is unusable" in capsys.readouterr().out
    read_checkpoint(remade.checkpoint)

    info = remade.checkpoint.parent / "pretrain.json"  # an entry written for another setting is not trusted
    meta = json.loads(info.read_text())
    meta["setting"]["frames"] = 999
    info.write_text(json.dumps(meta))
    assert not ensure_pretrained(SETTING, tmp_path, progress=False).cached


def test_a_setting_without_frames_or_steps_is_refused():
    with pytest.raises(ValueError, match="frames, steps and batch_size >= 1"):
        PretrainSetting(width=320, height=240, input_scale=1.0, frames=0, steps=2, batch_size=4)
