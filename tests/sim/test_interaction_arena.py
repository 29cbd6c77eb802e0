"""One interaction of Algorithm 1 in-process on the real MuJoCo arena (small images): the
runner observes, takes a hypothesis (here a visible object's ground-truth mask), plans with the
grasp planner's step, picks and places, labels every view and stores the examples; the hooks see
the scene before and after the pick."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from interseg.evaluation import ground_truth
from interseg.grasping import DEFAULT_PLACE_REGION, GraspSettings
from interseg.interaction import Hooks, InteractionRunner, run_interactions
from interseg.learning.hypothesis import grasp_from_mask
from interseg.sim.arena import ArenaConfig, SimulatedArena
from interseg.sim.backends import ArenaArm, ArenaCameras


class _OracleProposer:
    def __init__(self, arena, rng):
        self.arena, self.rng = arena, rng

    def propose(self, rgb):
        masks = [m for _, m in ground_truth.instance_masks(self.arena, "cam0", min_pixels=40)]
        if not masks:
            return [], 0
        mask = masks[int(self.rng.integers(len(masks)))]
        u, v, yaw, _ = grasp_from_mask(mask)
        return [SimpleNamespace(grasp_u=u, grasp_v=v, grasp_yaw=yaw, mask=mask, score=1.0)], 3


class _Sink:
    def __init__(self):
        self.added = []

    def add_example(self, example, *, interaction_id, model_version):
        self.added.append((example, interaction_id, model_version))


def test_one_interaction_on_the_arena():
    arena = SimulatedArena(ArenaConfig(width=160, height=120, shadows=False), seed=11)
    try:
        rng = np.random.default_rng(11)
        seen = {}

        def before_pick(interaction):
            seen["before"] = ground_truth.object_positions(arena)

        def after_pick(interaction):
            seen["moved"] = float(np.max(np.linalg.norm(ground_truth.object_positions(arena) - seen["before"], axis=1)))

        sink = _Sink()
        runner = InteractionRunner(
            ArenaCameras(arena),
            _OracleProposer(arena, rng),
            ArenaArm(arena),
            sink,
            GraspSettings(),
            rng,
            hooks=Hooks(before_pick=before_pick, after_pick=after_pick),
        )
        executed = []
        stats = run_interactions(
            runner,
            1,
            max_attempts=8,
            reset=lambda: arena.reset(int(rng.integers(2**31))),
            on_executed=lambda interaction, _s: executed.append(interaction),
        )
        assert stats.executed == 1 and len(executed) == 1
        interaction = executed[0]
        assert interaction.status == "executed" and interaction.interaction_id == 1 and interaction.model_version == 3
        assert GraspSettings().workspace.contains(interaction.plan.grasp.position)
        assert DEFAULT_PLACE_REGION.contains(interaction.plan.place)
        assert interaction.after is not None and set(interaction.after.rgb) == set(arena.camera_names)
        assert "moved" in seen
        assert {label.view for label in interaction.labels} <= set(arena.camera_names)
        assert len(sink.added) == len(interaction.examples) >= 1
        assert all(i == 1 and v == 3 for _, i, v in sink.added)
    finally:
        arena.close()
