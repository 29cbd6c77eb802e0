"""Shared simulator fixtures: one small arena per module (building one takes about a second)."""
from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def small_arena():
    from interseg.sim.arena import ArenaConfig, SimulatedArena

    arena = SimulatedArena(ArenaConfig(width=160, height=120), seed=3)
    yield arena
    arena.close()
