"""The report's intervals and tests: coverage at 5 and 10 seeds, calibration, two-way, TOST, Holm, power."""

from __future__ import annotations

import importlib.util
import math

import numpy as np
import pytest

from lessonbench.analysis import stats

from .conftest import ROOT


def coverage_module():
    """benchmarks/interval_coverage.py, the simulation the README's coverage table comes from."""
    spec = importlib.util.spec_from_file_location("interval_coverage", ROOT / "benchmarks" / "interval_coverage.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("shape", ["normal", "skewed", "tied", "paired"])
@pytest.mark.parametrize("n", [5, 10])
def test_interval_covers(shape, n):
    """A statistical property, seeded: the report's 95% interval covers the true mean >= 93% at 10 seeds, and
    >= 88% at 5 (Student t: tied data with every value equal cannot cover a mean between the steps)."""
    sim = coverage_module()
    covered, _ = sim.coverage(shape, n=n, method="report", samples=600, resamples=1000, seed=1)
    assert covered >= (0.93 if n == 10 else 0.88), f"{shape}, n={n}: {covered:.3f}"


@pytest.mark.parametrize("shape", ["skewed", "tied"])
def test_p_values_are_calibrated_under_the_null(shape):
    """With no effect, p < 0.01 in at most ~2% of samples at 10 seeds and ~3.5% at 5 (Student t on skewed data:
    ~2.5%); bootstrap-t alone gives ~4% on tied data at 10 and ~21% at 5."""
    sim = coverage_module()
    for n, most in ((5, 0.035), (10, 0.02)):
        below, _ = sim.null_calibration(shape, n, "report", samples=600, resamples=1000, seed=2)
        assert below <= most, f"{shape}, n={n}: {below:.3f}"


def test_the_old_methods_would_fail_those_tests():
    """The same checks are able to fail: the percentile bootstrap covers ~89% at ten seeds, and bootstrap-t alone
    at five tied seeds gives p < 0.01 far more often than 1%."""
    sim = coverage_module()
    covered, _ = sim.coverage("normal", n=10, method="percentile", samples=400, resamples=1000, seed=1)
    assert covered < 0.93
    below, _ = sim.null_calibration("tied", 5, "bootstrap-t", samples=400, resamples=1000, seed=2)
    assert below > 0.05


def test_two_way_interval_covers_the_test_population():
    """Test accuracy over seeds x test samples: the two-way interval covers the population mean (>= 93%) where the
    seeds-only interval, blind to the test set's sampling error, does not."""
    two, seeds_only, _ = coverage_module().two_way_coverage(10, samples=150, resamples=1000, seed=3)
    assert two >= 0.93 and seeds_only < two, (two, seeds_only)


def test_small_samples_use_student_t_and_equal_values_an_exact_p():
    values = [94.0, 95.0, 95.5, 96.0, 93.5]
    res = stats.mean_test(values, 95.0)
    assert res["method"] == "Student t"
    se = np.std(values, ddof=1) / math.sqrt(5)
    assert res["high"] - res["mean"] == pytest.approx(2.776445 * se, rel=1e-5)  # t(0.975, 4)
    res = stats.mean_test([0.5] * 5)  # every seed the same difference: the exact sign-flip p, never 0
    assert res["p"] == pytest.approx(2 / 2 ** 5) and res["low"] == res["high"] == 0.5
    assert stats.mean_test([0.0] * 5)["p"] == 1.0
    # from ten values the interval is at least as wide as Student t's
    wide = stats.mean_test(np.random.default_rng(0).normal(size=10))
    assert wide["method"] == "Student t and bootstrap-t"


def test_accuracy_interval_stays_inside_its_range():
    values = [0.99, 1.0, 1.0, 0.9, 1.0]  # near 100%: a t interval of five values reaches above it
    low, high = stats.mean_interval(values, bounds=(0.0, 1.0))
    assert 0.0 <= low and high == 1.0
    assert stats.mean_interval(values)[1] > 1  # unclipped, it does


def test_equivalence_needs_the_whole_90_percent_interval_inside_the_margin():
    rng = np.random.default_rng(4)
    small = rng.normal(0.1, 0.3, 10)
    res = stats.equivalence_test(small, margin=1.0)
    assert res["p"] < 0.05 and -1 < res["low"] and res["high"] < 1 and res["level"] == pytest.approx(0.9)
    res = stats.equivalence_test(small + 0.8, margin=1.0)  # near the margin: not shown equivalent
    assert res["p"] >= 0.05 and res["high"] >= 1


def test_equivalence_test_keeps_its_size_at_the_margin():
    """A true effect exactly at the margin is called 'no effect' in at most ~5% of samples (TOST's size), at 5 and
    10 seeds."""
    rng = np.random.default_rng(6)
    for n in (5, 10):
        calls = [stats.equivalence_test(rng.normal(1.0, 0.5, n), margin=1.0, resamples=500)["p"] < 0.05
                 for _ in range(300)]
        assert np.mean(calls) <= 0.07, (n, np.mean(calls))


def test_detectable_effect():
    """Power 80% at alpha 0.05, 10 values of sd 1: about 1.0 (noncentral t); it shrinks with more values."""
    assert stats.detectable_effect(10, 1.0, 0.05) == pytest.approx(0.99, abs=0.03)
    assert stats.detectable_effect(20, 1.0, 0.05) < stats.detectable_effect(10, 1.0, 0.05)
    assert math.isnan(stats.detectable_effect(10, 0.0, 0.05))


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


def test_two_way_each_is_two_way_of_each_matrix():
    """Matrices of one shape share one draw of the resampling weights: the same numbers as a call each."""
    rng = np.random.default_rng(5)
    matrices = [rng.integers(0, 2, size=shape).astype(float) for shape in ((3, 40), (3, 40), (2, 40), (3, 40))]
    matrices.append(np.zeros((0, 40)))
    each = stats.two_way_each(matrices, resamples=500, bounds=(0.0, 1.0))
    for matrix, result in zip(matrices, each):
        alone = stats.two_way(matrix, resamples=500, bounds=(0.0, 1.0))
        assert result.keys() == alone.keys()
        assert all(result[k] == alone[k] or (result[k] != result[k] and alone[k] != alone[k]) for k in alone)
