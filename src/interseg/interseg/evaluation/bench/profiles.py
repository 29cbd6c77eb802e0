"""Run sizes (profiles) of `interseg bench`, the names of the compared methods and the paper's
Table 1, and the settings every method shares (network configuration, bottom-up tuning grid)."""

from __future__ import annotations

from dataclasses import dataclass, replace

METHODS = ("bottom_up", "bottom_up_tuned", "self_sup_ce", "self_sup_rsl", "supervised_oracle", "mask_rcnn")


@dataclass(frozen=True)
class Profile:
    name: str
    width: int
    height: int
    shadows: bool
    seeds: tuple[int, ...]
    interactions: int  # executed pick-and-places per seed
    round_every: int  # interactions between training rounds (the policy is updated after each)
    steps_per_round: int
    final_steps: int  # extra steps on the complete store once collection ends
    batch_size: int
    reset_every: int  # re-scatter the arena every N interactions (paper: 25)
    test_per_background: int  # test split: 10 backgrounds x this (paper: 5)
    val_per_background: int  # validation split: 6 backgrounds x this
    bottom_up_grid: int  # how many BottomUpConfig candidates the tuning tries
    maskrcnn_batch: int = 2
    efficacy_window: int = 10
    max_attempts_factor: int = 4  # give up after interactions x this attempts (rejected grasps)
    test_limit: int | None = None  # score on the first N test images only (CI smoke test)
    val_limit: int | None = None
    ce_curve: bool = True  # also score every cross-entropy checkpoint (AP versus interactions for CE)
    # Replay the in-loop learner's schedule with cross-entropy and on ground truth (the oracle), and
    # train Mask R-CNN for the oracle's time: the comparisons of Table 1. Without them a run
    # measures the in-loop learner and the bottom-up baselines only.
    replays: bool = True
    # Passive pre-training, Algorithm 1's step 1 (`--start pretrained`, the default): frames of
    # pushing recorded and steps trained on their masks, made once per profile and cached.
    pretrain_frames: int = 600
    pretrain_steps: int = 300
    # Started from random weights (`--start random`), the robot tests bottom-up proposals until the
    # first model update: a label-free stand-in for pre-training (a random network almost never
    # points at an object, and a short run would collect no positive at all).
    bootstrap_bottom_up: bool = True
    policy: str = "uniform"  # how the robot chooses among hypotheses (interseg.experiment.POLICIES)
    # Domain randomisation of the interaction arenas (interseg.sim.randomisation; the pre-training
    # and the evaluation sets are never randomised), and the camera model of the evaluation sets:
    # "default" or "strongest" (RealismConfig.strongest).
    randomise: bool = False
    test_realism: str = "default"

    # The network sees every profile's images at 320 px wide (input_scale = 320 / width), as the
    # node graph runs it on 640x480 cameras: the same window (80 px) and the same cost per step.
    network_width: int = 320
    window: int = 80

    @property
    def input_scale(self) -> float:
        return self.network_width / self.width


PROFILES = {
    "tiny": Profile(
        "tiny",
        320,
        240,
        shadows=False,
        seeds=(0,),
        interactions=4,
        round_every=2,
        steps_per_round=2,
        final_steps=2,
        batch_size=4,
        reset_every=4,
        test_per_background=1,
        val_per_background=1,
        bottom_up_grid=2,
        efficacy_window=2,
        pretrain_frames=60,
        pretrain_steps=2,
        test_limit=4,
        val_limit=3,
        ce_curve=False,
    ),
    # A short run resets the arena often so that the learners see more than two or three scenes.
    "quick": Profile(
        "quick",
        320,
        240,
        shadows=True,
        seeds=(0, 1, 2),
        interactions=36,
        round_every=12,
        steps_per_round=60,
        final_steps=150,
        batch_size=16,
        reset_every=4,
        test_per_background=3,
        val_per_background=1,
        bottom_up_grid=3,
        efficacy_window=6,
        ce_curve=False,
    ),
    # Sized from one measured seed of 200 interactions (benchmarks/results/standard-seed0: each
    # interaction ~3.1 s at 640x480 with its labelling and ground truth, scoring ~1.2 min) and the
    # trainer's ~125 samples/s once the examples' scaled images are cached: 150 interactions and
    # 1,200 steps of 32 per method (~5 min each; Mask R-CNN gets the oracle's time) project to
    # ~30 min per seed on two cores (measured with the pre-trained start, 80 px windows and the
    # refinement: 7 min of pre-training once, then 28 min per seed on a quiet machine, 48 min on a
    # loaded one; benchmarks/results/standard). The hypothesis network (TrainerConfig.device "auto") and
    # Mask R-CNN train on a GPU when torch sees one.
    "standard": Profile(
        "standard",
        640,
        480,
        shadows=True,
        seeds=(0, 1, 2),
        interactions=150,
        round_every=25,
        steps_per_round=100,
        final_steps=600,
        batch_size=32,
        reset_every=10,
        test_per_background=5,
        val_per_background=5,
        bottom_up_grid=8,
        efficacy_window=25,
        pretrain_frames=1000,
        pretrain_steps=600,
    ),
    # Does the robot keep improving? One seed, 1,000 interactions at 640x480, the curve sampled
    # every 100 (a training round each); sized for <= 2 h on two cores from the standard run
    # (benchmarks/results/standard: ~3.5 s per interaction with labelling and ground truth, the
    # in-loop trainer at ~85 samples/s): ~58 min of interactions, 3,600 steps of 32 (~23 min),
    # eleven checkpoints scored (~5 min). The replays (cross-entropy, oracle, Mask R-CNN) would
    # add ~65 min, so this profile measures the in-loop learner's curve and the baselines only
    # (measured: 79.2 min, benchmarks/results/long).
    "long": Profile(
        "long",
        640,
        480,
        shadows=True,
        seeds=(0,),
        interactions=1000,
        round_every=100,
        steps_per_round=300,
        final_steps=600,
        batch_size=32,
        reset_every=10,
        test_per_background=5,
        val_per_background=5,
        bottom_up_grid=8,
        efficacy_window=100,
        pretrain_frames=1000,
        pretrain_steps=600,
        ce_curve=False,
        replays=False,
    ),
}

# The paper's Table 1 (AP in percent), for the side-by-side table.
PAPER_TABLE1 = {
    "bottom_up": ("GOP", 7.4, 5.6),
    "bottom_up_tuned": ("GOP tuned", 24.3, 20.7),
    "self_sup_ce": ("Ours", 44.1, 20.2),
    "self_sup_rsl": ("Ours + RSL", 48.7, 24.6),
    "supervised_oracle": ("DeepMask tuned (COCO + ImageNet)", 61.8, 47.3),
    "mask_rcnn": ("DeepMask (COCO + ImageNet)", 44.5, 34.3),
}
METHOD_LABELS = {
    "bottom_up": "bottom-up (Felzenszwalb + RAG merging), untuned",
    "bottom_up_tuned": "bottom-up, tuned on val",
    "self_sup_ce": "ours, self-supervised, cross-entropy",
    "self_sup_rsl": "ours, self-supervised, Robust Set Loss",
    "supervised_oracle": "same network on ground-truth masks (oracle)",
    "mask_rcnn": "Mask R-CNN R18-FPN, scratch, ground truth",
}


def network_config(profile: Profile):
    from interseg.learning.model import ModelConfig

    return ModelConfig(
        input_scale=profile.input_scale, window=profile.window, expected_size=(profile.width, profile.height)
    )


def pretrain_setting(profile: Profile):
    """The passive pre-training every seed of ``profile`` starts from (one per profile, cached)."""
    from interseg.evaluation.pretrained_start import PretrainSetting

    return PretrainSetting(
        width=profile.width,
        height=profile.height,
        input_scale=profile.input_scale,
        frames=profile.pretrain_frames,
        steps=profile.pretrain_steps,
        batch_size=profile.batch_size,
    )


def bottom_up_grid(n: int) -> list:
    """Candidates for the validation tuning, the untuned default first."""
    from interseg.learning.baselines import BottomUpConfig

    base = BottomUpConfig()
    candidates = [
        base,
        replace(base, felzenszwalb_scale=300.0, merge_thresholds=(12.0, 24.0, 40.0)),
        replace(base, felzenszwalb_scale=80.0, min_area_fraction=0.001, max_area_fraction=0.08),
        replace(base, felzenszwalb_scale=200.0, nms_iou=0.5, contrast_scale=15.0),
        replace(base, felzenszwalb_scale=100.0, merge_thresholds=(6.0, 12.0, 20.0, 32.0), top_k=50),
        replace(base, felzenszwalb_sigma=1.2, felzenszwalb_scale=250.0, max_area_fraction=0.08),
        replace(base, felzenszwalb_min_size=80, merge_thresholds=(10.0, 20.0, 35.0, 50.0)),
        replace(base, felzenszwalb_scale=150.0, nms_iou=0.6, min_area_fraction=0.003, top_k=50),
    ]
    return candidates[: max(1, n)]
