"""Domain randomisation (interseg.sim.randomisation) and the strongest camera model: what they
change, what they must not (the objects, their physics and the ground truth), and determinism."""

import numpy as np
import pytest

from interseg.evaluation import ground_truth
from interseg.sim.arena import ArenaConfig, SimulatedArena
from interseg.sim.randomisation import RandomisationConfig, draw_variation, photo_like_texture
from interseg.sim.realism import CameraSensor, RealismConfig, realism_preset
from interseg.sim.scene import TABLE_X, TABLE_Y


def _arena(seed: int, randomise: bool) -> SimulatedArena:
    config = ArenaConfig(width=160, height=120, randomisation=RandomisationConfig(enabled=randomise))
    return SimulatedArena(config, seed=seed)


def test_photo_like_textures_have_a_falling_power_spectrum():
    """Natural images' power falls roughly as 1/f^2; the drawn tables fall between 1/f and 1/f^3."""
    rng = np.random.default_rng(0)
    for _ in range(4):
        texture = photo_like_texture(rng, size=256)
        assert texture.shape == (256, 256, 3) and texture.dtype == np.uint8
        grey = texture.astype(np.float64).mean(axis=2)
        power = np.abs(np.fft.fft2(grey - grey.mean())) ** 2
        f = np.hypot(*np.meshgrid(np.fft.fftfreq(256), np.fft.fftfreq(256)))
        bands = np.geomspace(2 / 256, 0.25, 10)
        means = [power[(f >= lo) & (f < hi)].mean() for lo, hi in zip(bands[:-1], bands[1:])]
        slope = np.polyfit(np.log(np.sqrt(bands[:-1] * bands[1:])), np.log(means), 1)[0]
        assert -3.5 < slope < -0.8, slope


def test_clutter_stays_out_of_the_drop_area_and_off_the_objects():
    rng = np.random.default_rng(1)
    for _ in range(20):
        variation = draw_variation(RandomisationConfig(enabled=True), rng, cameras=4, width=640)
        assert 4 <= len(variation.clutter) <= 14
        for thing in variation.clutter:
            x, y, z = thing.pos
            on_table = TABLE_X[0] <= x <= TABLE_X[1] and TABLE_Y[0] <= y <= TABLE_Y[1] and z > -0.01
            if on_table:
                assert not (0.33 < x < 0.75 and -0.28 < y < 0.28), thing
                assert z < 0.02  # flat or low
            else:
                assert z < 0  # on the floor, beyond the table's edge
    nothing = draw_variation(RandomisationConfig(), rng, cameras=4, width=640)
    assert nothing.table_texture is None and not nothing.clutter and nothing.exposure == [1.0] * 4


def test_randomised_arenas_keep_their_objects_physics_and_ground_truth():
    plain, randomised = _arena(5, False), _arena(5, True)
    try:
        # The same objects settle at the same places: clutter collides with nothing.
        np.testing.assert_allclose(
            ground_truth.object_positions(plain), ground_truth.object_positions(randomised), atol=1e-9
        )
        truth_plain = ground_truth.instance_masks(plain, "cam0")
        truth_randomised = ground_truth.instance_masks(randomised, "cam0")
        assert [k for k, _ in truth_plain] == [k for k, _ in truth_randomised]  # clutter is no object
        a = plain.render_views(depth=False).rgb["cam0"].astype(int)
        b = randomised.render_views(depth=False).rgb["cam0"].astype(int)
        background = ground_truth.instance_map(plain, "cam0") == 0
        assert np.abs(a - b)[background].mean() > 20  # another table
        again = _arena(5, True)
        try:  # deterministic in the seed
            c = again.render_views(depth=False).rgb["cam0"].astype(int)
            assert np.abs(b - c).mean() < 8  # only the per-frame sensor noise differs
        finally:
            again.close()
    finally:
        plain.close()
        randomised.close()


def test_sensor_exposure_blur_and_noise_scale():
    image = np.zeros((64, 64, 3), np.uint8)
    image[:, 32:] = 200
    quiet = RealismConfig(exposure_drift=0.0, white_balance_drift=0.0)
    base = CameraSensor(quiet, np.random.default_rng(0)).expose(image).astype(float)
    noisy = CameraSensor(quiet, np.random.default_rng(0), noise_scale=3.0).expose(image).astype(float)
    assert 2.5 < noisy[:, :28].std() / base[:, :28].std() < 3.5
    dark = CameraSensor(quiet, np.random.default_rng(0), exposure=0.5).expose(image).astype(float)
    assert dark[:, 40:].mean() == pytest.approx(100, abs=3)
    blurred = CameraSensor(quiet, np.random.default_rng(0), blur_sigma_px=2.0).expose(image).astype(float)
    assert 30 < blurred[:, 31].mean() < 170 and base[:, 31].mean() < 10  # the edge is spread


def test_realism_presets():
    assert realism_preset("default") == RealismConfig()
    strongest = realism_preset("strongest")
    assert strongest.blur_sigma_px > 0 and strongest.read_noise > RealismConfig().read_noise
    with pytest.raises(ValueError, match="unknown realism preset"):
        realism_preset("cinematic")
    with pytest.raises(ValueError, match="range"):
        RandomisationConfig(exposure=(1.2, 0.8))
