"""What resetting the arena in Gazebo takes (interseg.sim.gazebo_world.reset_plan, used by the
gz_reset_arena node): the old objects removed, the new seed's objects created at the drop poses
the MuJoCo arena uses, each a model Gazebo can take from a string, its files under the world."""

import xml.etree.ElementTree as ET

import numpy as np

from interseg.sim.arena import ArenaConfig, SimulatedArena
from interseg.sim.arrangement import plan_arrangement
from interseg.sim.gazebo_world import reset_plan


def test_a_reset_removes_the_old_objects_and_creates_the_new_seeds(tmp_path):
    old = [f"object_{i}" for i in range(5)]
    arrangement = plan_arrangement("train", 42)
    plan = reset_plan(old, arrangement, tmp_path)
    assert plan.remove == old
    arena = SimulatedArena(ArenaConfig(width=64, height=48), seed=0)
    try:
        assert arena.reset(seed=42) == len(plan.spawn)  # the MuJoCo arena scatters as many for that seed
    finally:
        arena.close()
    assert [s.name for s in plan.spawn] == [f"object_{i}" for i in range(len(arrangement.objects))]
    for spawn, (position, quat_wxyz) in zip(plan.spawn, arrangement.poses):
        np.testing.assert_allclose(spawn.position, position)
        np.testing.assert_allclose(spawn.orientation_xyzw, [*quat_wxyz[1:], quat_wxyz[0]])
        root = ET.fromstring(spawn.sdf.split("\n", 1)[1])
        model = root.find("model")
        assert root.tag == "sdf" and model.get("name") == spawn.name
        assert model.find("pose") is None  # the request carries the pose
        for uri in [u.text for u in model.iter("albedo_map")] + [u.text for u in model.iter("uri")]:
            assert uri.startswith("resets/train-42/") and (tmp_path / uri).is_file(), uri
