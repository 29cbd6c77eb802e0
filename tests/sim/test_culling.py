"""Leaving hidden arm links out of a render changes no pixel, parked or in the middle of a pick."""

from __future__ import annotations

import mujoco
import numpy as np
import pytest

import interseg.sim  # noqa: F401
from interseg.sim.arena import ArenaConfig, SimulatedArena
from interseg.sim.realism import RealismConfig


def _full_render(arena: SimulatedArena, camera: str) -> np.ndarray:
    """The same view drawn with every geom (no culling)."""
    physics = arena._physics

    def render():
        physics.renderer.update_scene(physics.data, camera=camera)
        physics.renderer.scene.flags[mujoco.mjtRndFlag.mjRND_SHADOW] = arena.config.shadows
        return physics.renderer.render().copy()

    return arena._on_gl(render)


@pytest.mark.parametrize("seed", [1, 4])
def test_culled_renders_equal_full_renders(seed):
    arena = SimulatedArena(ArenaConfig(width=320, height=240, realism=RealismConfig(enabled=False)), seed=seed)
    try:
        checked = []

        def compare() -> bool:
            views = arena.render_views(depth=False)
            for name in arena.camera_names:
                np.testing.assert_array_equal(views.rgb[name], _full_render(arena, name), err_msg=name)
            checked.append(True)
            return True

        compare()  # parked: most of the arm is left out
        culled = [
            arena._culling.hidden(arena._physics.data, _scene_for(arena, i), i, True)
            for i in range(len(arena.camera_names))
        ]
        assert any(culled), "the parked arm should be left out of some view"
        # lifted over the table: the arm is in view, and what is left out must still not show
        arena.pick_place(
            [0.5, 0.1, 0.02],
            0.4,
            [0.6, -0.15, 0.03],
            hold_callback=compare,
            phase_callback=lambda phase, _: compare() if phase in ("carry", "retreat") else True,
        )
        assert len(checked) >= 4
    finally:
        arena.close()


def _scene_for(arena: SimulatedArena, index: int):
    physics = arena._physics

    def update():
        physics.renderer.update_scene(physics.data, camera=arena.camera_names[index])
        return physics.renderer.scene

    return arena._on_gl(update)
