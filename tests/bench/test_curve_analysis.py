"""How `interseg bench` reads the end of an AP-versus-interactions curve."""

import pytest

from interseg.evaluation.bench.scoring import curve_analysis


def test_a_curve_that_levels_off():
    result = curve_analysis([0, 100, 200, 300, 400, 500, 600, 700, 800], [0, 20, 35, 45, 52, 56, 58, 58.5, 58.6])
    assert result["interactions_to_95_percent_of_final"] == 500  # 56 >= 0.95 * 58.6 = 55.67
    assert result["last_quarter_points"] == 3  # 600, 700, 800 (from 600 on)
    assert result["last_quarter_slope_per_100"] == pytest.approx(0.3, abs=1e-9)
    assert result["flattened"] is False  # AP in percent here: 0.3 points per 100 is above 0.01
    flat = curve_analysis([0, 100, 200, 300, 400, 500, 600, 700, 800], [0, 0.3, 0.5, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6])
    assert flat["flattened"] is True and flat["interactions_to_95_percent_of_final"] == 300


def test_a_curve_still_climbing_and_odd_inputs():
    result = curve_analysis([0, 25, 50, 75, 100], [0.0, 0.1, 0.2, 0.3, 0.4])
    assert result["interactions_to_95_percent_of_final"] == 100
    assert result["last_quarter_slope_per_100"] == pytest.approx(0.4) and result["flattened"] is False
    one = curve_analysis([36], [0.2])
    assert one["last_quarter_slope_per_100"] is None and one["flattened"] is None
    with pytest.raises(ValueError, match="2 interaction counts for 1 AP values"):
        curve_analysis([0, 1], [0.5])
