"""Bad command-line input and bad stores given to the `interseg` commands: one line on stderr that
says what is wrong, exit code 2 for the command line (1 for a store that fails on the way), no
traceback and no silent wait."""

from __future__ import annotations

import subprocess
import time

import pytest
from conftest import interseg_command

from interseg.cli import main as interseg_main


def run(*args: str, timeout: float = 60.0) -> tuple[subprocess.CompletedProcess, float]:
    start = time.monotonic()
    out = subprocess.run(interseg_command(*args), capture_output=True, text=True, timeout=timeout)
    return out, time.monotonic() - start


def one_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in text, text
    return lines[0]


@pytest.fixture
def corrupt_store(tmp_path):
    root = tmp_path / "corrupt"
    root.mkdir()
    (root / "examples.sqlite3").write_bytes(b"\x00garbage, not SQLite" * 500)
    return root


def test_train_on_a_store_that_is_not_there_says_so_at_once(tmp_path):
    out, seconds = run("train", "--store", str(tmp_path / "exmaples"), "--run-dir", str(tmp_path / "run"))
    assert out.returncode == 2 and seconds < 30
    line = one_line(out.stderr)
    assert line.startswith("interseg train: --store") and "no examples store" in line and "exmaples" in line
    assert "--wait" in line
    assert not (tmp_path / "run").exists()


def test_export_of_a_store_that_is_not_there(tmp_path):
    out, _ = run("export-examples", str(tmp_path / "nothing"), str(tmp_path / "bag"))
    assert out.returncode == 2
    assert "no examples store" in one_line(out.stderr) and not (tmp_path / "bag").exists()


@pytest.mark.parametrize("command", ["train", "export-examples"])
def test_a_corrupt_index_is_one_line(tmp_path, corrupt_store, command):
    if command == "train":
        args = ["train", "--store", str(corrupt_store), "--run-dir", str(tmp_path / "run")]
    else:
        args = ["export-examples", str(corrupt_store), str(tmp_path / "bag")]
    out, _ = run(*args)
    assert out.returncode == 1
    line = one_line(out.stderr)
    assert line.startswith(f"interseg {command}:") and "not a readable SQLite database" in line


def test_export_to_a_bag_that_exists(tmp_path):
    (tmp_path / "bag").mkdir()
    out, _ = run("export-examples", str(tmp_path / "store"), str(tmp_path / "bag"))
    assert out.returncode == 2 and "already exists" in one_line(out.stderr)


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "-1", "0", "1e400", "ten"])
def test_demo_minutes_must_be_a_real_duration(value):
    out, _ = run("demo", f"--minutes={value}")
    assert out.returncode == 2
    line = one_line(out.stderr)
    assert line.startswith("interseg demo: argument --minutes:") and repr(value) in line


# Every numeric option of the commands, each with a value it cannot use (parsed in this process: the
# command stops before it imports anything heavy or touches a file).
BAD_OPTIONS = [
    ("demo", ["--width", "0"]),
    ("demo", ["--height", "-480"]),
    ("demo", ["--steps-per-round", "0"]),
    ("demo", ["--eval-per-background", "0"]),
    ("demo", ["--seed", "-1"]),
    ("demo", ["--seed", "1.5"]),
    ("train", ["--store", "s", "--run-dir", "r", "--rounds", "0"]),
    ("train", ["--store", "s", "--run-dir", "r", "--steps-per-round", "-5"]),
    ("train", ["--store", "s", "--run-dir", "r", "--batch-size", "0"]),
    ("train", ["--store", "s", "--run-dir", "r", "--lr", "nan"]),
    ("train", ["--store", "s", "--run-dir", "r", "--lr", "0"]),
    ("train", ["--store", "s", "--run-dir", "r", "--threads", "0"]),
    ("pretrain", ["--out", "x.pt", "--frames", "-1"]),
    ("pretrain", ["--out", "x.pt", "--steps", "-1"]),
    ("pretrain", ["--out", "x.pt", "--batch-size", "0"]),
    ("pretrain", ["--out", "x.pt", "--lr", "inf"]),
    ("pretrain", ["--out", "x.pt", "--input-scale", "nan"]),
    ("pretrain", ["--out", "x.pt", "--input-scale", "0"]),
    ("pretrain", ["--out", "x.pt", "--width", "16"]),
    ("pretrain", ["--out", "x.pt", "--reset-every", "0"]),
    ("pretrain", ["--out", "x.pt", "--threads", "0"]),
    ("pretrain", ["--out", "x.pt", "--seed", "-2"]),
    ("bench", ["--seeds", "0", "-1"]),
    ("make-eval-set", ["--split", "test", "--out", "o", "--per-background", "0"]),
    ("make-eval-set", ["--split", "test", "--out", "o", "--width", "nan"]),
    ("sim", ["snapshot", "--out", "o", "--width", "0"]),
    ("sim", ["snapshot", "--out", "o", "--seed", "-1"]),
    ("record", ["/t", "-o", "b", "--duration", "nan"]),
    ("record", ["/t", "-o", "b", "--duration", "-1"]),
    ("record", ["/t", "-o", "b", "--max-messages", "-1"]),
    ("record", ["/t", "-o", "b", "--wait", "inf"]),
]


@pytest.mark.parametrize("command, args", BAD_OPTIONS, ids=[f"{c} {' '.join(a)}" for c, a in BAD_OPTIONS])
def test_numeric_options_out_of_range_are_refused(tmp_path, monkeypatch, capsys, command, args):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        interseg_main([command, *args])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    line = one_line(err)
    option = next(a for a in reversed(args) if a.startswith("-") and not a.lstrip("-").replace(".", "").isdigit())
    assert f"argument {option}:" in line and repr(args[-1]) in line, line
    assert list(tmp_path.iterdir()) == []
