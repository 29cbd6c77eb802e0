"""Seeded mask corruption for the noise experiment (learning/mask_noise.py)."""

from __future__ import annotations

import numpy as np
import pytest

from interseg.learning.mask_noise import (
    KINDS,
    NoiseSpec,
    NoisyExample,
    apply_noise,
    apply_noise_all,
    corrupt,
    neighbour,
    noise_summary,
    shift,
)


def _scene() -> np.ndarray:
    """Three objects on a 60x80 table: 1 and 2 touch, 3 stands apart."""
    instance = np.zeros((60, 80), np.int32)
    instance[10:30, 10:30] = 1
    instance[10:30, 30:45] = 2
    instance[40:55, 60:75] = 3
    return instance


def _examples() -> list[NoisyExample]:
    instance = _scene()
    out = []
    for k in (1, 2, 3):
        vs, us = np.nonzero(instance == k)
        out.append(NoisyExample(float(us.mean()), float(vs.mean()), True, instance == k, instance))
    out.append(NoisyExample(5.0, 50.0, False, None, instance))
    return out


def _centroid(mask: np.ndarray) -> np.ndarray:
    vs, us = np.nonzero(mask)
    return np.array([us.mean(), vs.mean()])


def test_spec_validation():
    with pytest.raises(ValueError):
        NoiseSpec("blur", 0.5)
    with pytest.raises(ValueError):
        NoiseSpec("dilate", 1.5)
    with pytest.raises(ValueError):
        NoiseSpec("shift", 0.5, -1)
    assert NoiseSpec("shift", 0.5).pixels > 0 and NoiseSpec("shift", 0.5, 3).pixels == 3


@pytest.mark.parametrize("kind", KINDS)
def test_rate_zero_is_identity_and_shapes_kept(kind):
    examples = _examples()
    clean = apply_noise_all(examples, [NoiseSpec(kind, 0.0)], seed=0)
    assert all(a is b for a, b in zip(examples, clean))
    noisy = apply_noise_all(examples, [NoiseSpec(kind, 1.0)], seed=0)
    for e in noisy:
        assert e.mask is None or (e.mask.shape == (60, 80) and e.mask.dtype == bool and e.mask.any())
    assert any(e.corruptions == (kind,) for e in noisy)


@pytest.mark.parametrize("kind", KINDS)
def test_seeds_reproduce(kind):
    specs = [NoiseSpec(kind, 0.7)]
    a = apply_noise_all(_examples(), specs, seed=3)
    b = apply_noise_all(_examples(), specs, seed=3)
    for x, y in zip(a, b):
        assert x.corruptions == y.corruptions and x.positive == y.positive
        assert (x.mask is None and y.mask is None) or np.array_equal(x.mask, y.mask)


def test_higher_rate_keeps_the_lower_rates_corruptions():
    examples = _examples() * 10
    low = apply_noise_all(examples, [NoiseSpec("shift", 0.3)], seed=1)
    high = apply_noise_all(examples, [NoiseSpec("shift", 0.8)], seed=1)
    for a, b in zip(low, high):
        if a.corruptions:
            assert b.corruptions and np.array_equal(a.mask, b.mask)
    assert sum(bool(e.corruptions) for e in high) > sum(bool(e.corruptions) for e in low)


def test_rate_is_the_fraction_corrupted():
    examples = [_examples()[0]] * 400
    noisy = apply_noise_all(examples, [NoiseSpec("dilate", 0.25)], seed=0)
    assert noise_summary(examples, noisy)["corrupted_fraction"] == pytest.approx(0.25, abs=0.06)


def test_dilate_grows_erode_shrinks():
    rng = np.random.default_rng(0)
    e = _examples()[0]
    grown = corrupt(e, NoiseSpec("dilate", 1.0, 3), rng).mask
    shrunk = corrupt(e, NoiseSpec("erode", 1.0, 3), rng).mask
    assert grown.sum() > e.mask.sum() and (grown >= e.mask).all()
    assert 0 < shrunk.sum() < e.mask.sum() and (shrunk <= e.mask).all()
    tiny = NoisyExample(1.0, 1.0, True, np.pad(np.ones((2, 2), bool), ((0, 58), (0, 78))), e.instance)
    assert corrupt(tiny, NoiseSpec("erode", 1.0, 5), rng).mask.any()  # never erased


def test_shift_moves_the_centroid_by_k():
    e = _examples()[0]
    for seed in range(5):
        moved = corrupt(e, NoiseSpec("shift", 1.0, 6), np.random.default_rng(seed)).mask
        assert moved.sum() == e.mask.sum()  # the object is away from the borders
        assert np.linalg.norm(_centroid(moved) - _centroid(e.mask)) == pytest.approx(6, abs=0.75)
    assert np.array_equal(shift(e.mask, 0, 0), e.mask)
    assert _centroid(shift(e.mask, 4, -2)) == pytest.approx(_centroid(e.mask) + [4, -2])


def test_merge_takes_the_touching_else_the_nearest_neighbour():
    examples = _examples()
    instance = examples[0].instance
    assert neighbour(examples[0].mask, instance) == 2  # touching
    assert neighbour(examples[2].mask, instance) == 2  # nearest to object 3
    merged = corrupt(examples[0], NoiseSpec("merge", 1.0), np.random.default_rng(0)).mask
    assert (merged >= (instance == 1)).all() and (merged >= (instance == 2)).all()
    assert not (merged & (instance == 3)).any()
    alone = NoisyExample(0.0, 0.0, True, instance == 1, (instance == 1).astype(np.int32))
    assert corrupt(alone, NoiseSpec("merge", 1.0), np.random.default_rng(0)) is alone


def test_half_drops_about_half_through_the_centroid():
    e = _examples()[0]
    for seed in range(5):
        half = corrupt(e, NoiseSpec("half", 1.0), np.random.default_rng(seed)).mask
        assert (half <= e.mask).all()
        assert 0.35 < half.sum() / e.mask.sum() < 0.65


def test_false_mask_is_on_the_table():
    examples = _examples()
    instance = examples[0].instance
    rng = np.random.default_rng(0)
    wrong = corrupt(examples[0], NoiseSpec("false", 1.0, 4), rng)
    assert wrong.positive and wrong.mask.any() and not (wrong.mask & (instance > 0)).any()
    assert (wrong.u, wrong.v) == (examples[0].u, examples[0].v)  # the point stays on the object
    table = corrupt(examples[3], NoiseSpec("false", 1.0, 4), rng)
    assert table.positive and table.mask[int(table.v), int(table.u)]
    assert not (table.mask & (instance > 0)).any()


def test_mask_kinds_leave_negatives_alone_and_specs_compose():
    negative = _examples()[3]
    assert apply_noise(negative, [NoiseSpec("dilate", 1.0)], 0, 0) is negative
    both = apply_noise(_examples()[0], [NoiseSpec("dilate", 1.0), NoiseSpec("shift", 1.0)], 0, 0)
    assert both.corruptions == ("dilate", "shift")
