"""The distributed trainer: two CPU ranks under torchrun (gloo, on the loopback interface) train
online rounds on one store; their weights (BatchNorm statistics included) are identical at the
end, only rank 0 writes checkpoints and the log, and the loss falls as in one process with the
same total batch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from learning.helpers import fill_store

pytestmark = pytest.mark.slow

HERE = Path(__file__).resolve().parent
ROUNDS, STEPS, BATCH = 3, 12, 4


def _run(command: list[str], tmp_path: Path) -> None:
    env = dict(os.environ, GLOO_SOCKET_IFNAME="lo", OMP_NUM_THREADS="1")
    result = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def test_two_gloo_ranks_keep_identical_weights_and_learn_like_one_process(tmp_path):
    store = tmp_path / "examples"
    fill_store(store, scenes=3).close()
    worker = str(HERE / "ddp_worker.py")
    torchrun = str(Path(sys.executable).with_name("torchrun"))
    two = tmp_path / "two"
    _run(
        [torchrun, "--standalone", "--nproc_per_node", "2", "--local-addr", "127.0.0.1", worker]
        + [str(store), str(tmp_path / "run-two"), str(two), str(BATCH), str(ROUNDS), str(STEPS)],
        tmp_path,
    )
    one = tmp_path / "one"  # one process, the same total batch
    _run(
        [
            sys.executable,
            worker,
            str(store),
            str(tmp_path / "run-one"),
            str(one),
            str(2 * BATCH),
            str(ROUNDS),
            str(STEPS),
        ],
        tmp_path,
    )

    infos = [json.loads((two / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert [(i["rank"], i["world"], i["version"]) for i in infos] == [(0, 2, ROUNDS), (1, 2, ROUNDS)]
    states = [torch.load(two / f"rank{r}.pt") for r in (0, 1)]
    assert states[0].keys() == states[1].keys()
    differ = [k for k in states[0] if not torch.equal(states[0][k], states[1][k])]
    assert not differ, f"weights differ across ranks: {differ[:5]}"
    initial = torch.load(one / "rank0.pt")  # (a different run: its weights are not the ranks')
    assert any(not torch.equal(initial[k], states[0][k]) for k in initial if initial[k].is_floating_point())
    # only rank 0 wrote: its checkpoints and log
    checkpoints = sorted(p.name for p in (tmp_path / "run-two" / "checkpoints").iterdir())
    assert checkpoints == [f"model-{v:06d}.pt" for v in range(1, ROUNDS + 1)]
    log = (tmp_path / "run-two" / "log.csv").read_text().splitlines()
    assert len(log) == 1 + ROUNDS * STEPS
    # the loss falls, as in one process with the same total batch
    single = json.loads((one / "rank0.json").read_text())["losses"]
    for info in infos:
        assert info["losses"][-1] < 0.8 * info["losses"][0], info
    assert single[-1] < 0.8 * single[0], single
    mean_two = float(np.mean([i["losses"][-1] for i in infos]))
    assert abs(mean_two - single[-1]) < 0.35 * single[-1], (mean_two, single)
    print(f"last-round loss: 2 ranks x {BATCH} {mean_two:.3f}, 1 process x {2 * BATCH} {single[-1]:.3f}")
