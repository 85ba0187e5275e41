"""The report's intervals and tests: coverage at ten seeds, Holm, the sign test with censored values."""

from __future__ import annotations

import importlib.util
import math

import numpy as np
import pytest

from lessonbench import stats

from .conftest import ROOT


def coverage_module():
    """benchmarks/interval_coverage.py, the simulation the README's coverage table comes from."""
    spec = importlib.util.spec_from_file_location("interval_coverage", ROOT / "benchmarks" / "interval_coverage.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("shape", ["normal", "skewed", "discrete", "paired"])
def test_interval_covers_at_ten_seeds(shape):
    """A statistical property, seeded: the report's 95% interval covers the true mean >= 93% at 10 seeds."""
    sim = coverage_module()
    covered, _ = sim.coverage(shape, n=10, method="bootstrap-t", samples=800, resamples=1000, seed=1)
    assert covered >= 0.93, f"{shape}: {covered:.3f}"


def test_the_old_percentile_interval_would_fail_that_test():
    """The same check is able to fail: the percentile bootstrap the report used before covers ~89%."""
    sim = coverage_module()
    covered, _ = sim.coverage("normal", n=10, method="percentile", samples=400, resamples=1000, seed=1)
    assert covered < 0.93


def test_interval_is_deterministic_and_brackets_the_mean():
    values = np.random.default_rng(3).normal(0.97, 0.01, 10)
    low, high = stats.mean_interval(values)
    assert (low, high) == stats.mean_interval(values)
    assert low < values.mean() < high
    assert stats.mean_interval([0.9] * 10) == (0.9, 0.9)  # no spread: collapses
    assert all(math.isnan(v) for v in stats.mean_interval([]))


def test_interval_and_p_value_agree():
    """The interval excludes the threshold exactly when p < 0.05 (both from one bootstrap distribution)."""
    rng = np.random.default_rng(5)
    for shift in np.linspace(0, 1.5, 16):
        values = rng.normal(shift, 1.0, 10)
        res = stats.mean_test(values)
        assert (res["low"] > 0 or res["high"] < 0) == (res["p"] < 0.05), res


def test_band_matches_interval_per_column():
    matrix = np.random.default_rng(0).normal(size=(10, 30))
    matrix[:, 4] = 1.0
    matrix[2, 9] = np.nan  # a diverged seed: that epoch goes alone
    low, high = stats.band(matrix, resamples=stats.RESAMPLES)
    for j in range(30):
        assert (low[j], high[j]) == pytest.approx(stats.mean_interval(matrix[:, j]), nan_ok=True)


def test_holm():
    # Holm by hand: sorted 0.01, 0.02, 0.04 times 3, 2, 1 -> 0.03, 0.04, 0.04 (kept monotone)
    assert stats.holm([0.04, 0.01, 0.02]).tolist() == pytest.approx([0.04, 0.03, 0.04])
    adjusted = stats.holm([0.5, np.nan, 0.001])
    assert np.isnan(adjusted[1]) and adjusted[2] == pytest.approx(0.002) and adjusted[0] == pytest.approx(0.5)


def test_sign_test_ranks_censored_seeds_last():
    # treatment reaches the target in every seed, control never (+inf): every difference is -inf
    res = stats.sign_test([-math.inf] * 10)
    assert res["median"] == -math.inf and res["high"] == -math.inf and res["p"] == pytest.approx(2 / 2 ** 10)
    # both censored in some seeds: ties (0) count for neither side
    res = stats.sign_test([0.0, 0.0, -5.0, -3.0, -8.0, -2.0, -1.0, -4.0, -6.0, -7.0])
    assert res["p"] == pytest.approx(2 / 2 ** 8)
    assert res["low"] <= res["median"] <= res["high"]


def test_seeds_needed_grows_as_the_effect_shrinks():
    assert stats.seeds_needed(1.0, 1.0, 0.05) < stats.seeds_needed(0.5, 1.0, 0.05)
    assert math.isnan(stats.seeds_needed(0.0, 1.0, 0.05))
