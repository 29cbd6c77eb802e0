"""One trainer process of the distributed-trainer test (tests/learning/test_distributed.py), run
under torchrun (or alone): trains ROUNDS online rounds on STORE and writes its rank's final
weights and per-round losses to OUT/rank<N>.pt and OUT/rank<N>.json.

    torchrun --standalone --nproc_per_node 2 ddp_worker.py STORE RUN_DIR OUT BATCH ROUNDS STEPS
"""

import json
import sys
from pathlib import Path

import torch

from interseg.learning.model import ModelConfig
from interseg.learning.trainer import Trainer
from interseg.learning.trainer_config import TrainerConfig


def main() -> None:
    store, run_dir, out = (Path(a) for a in sys.argv[1:4])
    batch, rounds, steps = (int(a) for a in sys.argv[4:7])
    torch.set_num_threads(1)
    config = TrainerConfig(
        batch_size=batch, seed=0, steps_per_round=steps, min_steps_per_round=steps, min_examples=4, device="cpu"
    )
    trainer = Trainer(run_dir, ModelConfig(input_scale=0.5, expected_size=(320, 240)), config)
    losses = []
    train_one_epoch = trainer.train_one_epoch

    def recorded(*args, **kwargs):
        stats = train_one_epoch(*args, **kwargs)
        losses.append(stats["loss"])
        return stats

    trainer.train_one_epoch = recorded
    trainer.run_online(store, max_rounds=rounds)
    rank = trainer.ranks.rank
    out.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu() for k, v in trainer.model.state_dict().items()}
    torch.save(state, out / f"rank{rank}.pt")
    info = {"rank": rank, "world": trainer.ranks.world, "losses": losses, "version": trainer.version}
    (out / f"rank{rank}.json").write_text(json.dumps(info))


if __name__ == "__main__":
    main()
