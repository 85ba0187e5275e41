"""Intervals and tests over seeds: the one interval method the report uses, and the verdict rule's tests.

Every interval in the report is a 95% *studentized* bootstrap (bootstrap-t) interval of a mean over
seeds: resample the seeds, studentize each resample's mean by its own standard error, and read the
interval off the quantiles of that t-like statistic. At ten seeds the percentile bootstrap that
lessonbench used before covers the true mean in only ~89% of samples; the Student t interval reaches
95% for normal data but ~92% for skewed data; bootstrap-t keeps >= 94% for normal, skewed and discrete
(accuracy in steps of 1/360) data (benchmarks/interval_coverage.py prints the table). With fewer than
five values a bootstrap has too few distinct resamples, so the Student t interval is used there.

Resampling is seeded, so an interval is a deterministic output.
"""

from __future__ import annotations

import math

import numpy as np


def scipy_stats():
    """scipy.stats, imported at first use: it costs a second of start-up to every step importing this module,
    and most only bootstrap."""
    from scipy import stats

    return stats


LEVEL = 0.95
RESAMPLES = 10_000
SEED = 20250120
MIN_BOOTSTRAP = 5  # fewer values: Student t (a bootstrap of 2-4 values has a handful of distinct resamples)
METHOD = "studentized bootstrap (bootstrap-t)"


def _clean(values) -> np.ndarray:
    values = np.asarray(values, dtype=float)
    return values[np.isfinite(values)]


def _t_statistics(values: np.ndarray, resamples: int, seed: int) -> np.ndarray:
    """The bootstrap distribution of (resampled mean - mean) / resampled standard error."""
    idx = np.random.default_rng(seed).integers(0, len(values), size=(resamples, len(values)))
    return _studentize(values[idx], values)


def _studentize(boot: np.ndarray, values: np.ndarray) -> np.ndarray:
    """t of each resample (a row of `boot`) of `values`."""
    n = len(values)
    se = boot.std(axis=1, ddof=1) / math.sqrt(n)
    se[se < 1e-9 * values.std(ddof=1)] = 0.0  # one repeated value: rounding leaves a std of ~1e-17, not 0
    diff = boot.mean(axis=1) - values.mean()
    with np.errstate(divide="ignore", invalid="ignore"):
        t = diff / se
    # A resample of one repeated value has no spread: its t is 0 when it equals the mean, else +-inf,
    # which would make a quantile infinite; it counts as the most extreme finite value on its side.
    finite = t[np.isfinite(t)]
    if len(finite) == 0:
        return np.zeros_like(t)
    return np.nan_to_num(t, nan=0.0, posinf=max(finite.max(), 0.0), neginf=min(finite.min(), 0.0))


def mean_test(values, threshold: float = 0.0, level: float = LEVEL, resamples: int = RESAMPLES,
              seed: int = SEED) -> dict:
    """Mean, its `level` interval and the two-sided p-value of "mean == threshold".

    Both come from one bootstrap-t distribution (Student t below MIN_BOOTSTRAP values), so the
    interval excludes `threshold` exactly when p < 1 - level (up to the resampling grid).
    """
    values = _clean(values)
    n = len(values)
    out = {"n": n, "mean": float(values.mean()) if n else math.nan, "low": math.nan, "high": math.nan,
           "p": math.nan, "sd": float(values.std(ddof=1)) if n > 1 else math.nan}
    if n == 0:
        return out
    mean = out["mean"]
    if n < 2 or np.ptp(values) == 0:  # no spread: the interval collapses to the mean
        out.update(low=mean, high=mean, p=1.0 if mean == threshold else 0.0)
        return out
    se = values.std(ddof=1) / math.sqrt(n)
    t_obs = (mean - threshold) / se
    alpha = 1 - level
    if n < MIN_BOOTSTRAP:
        q = scipy_stats().t.ppf(1 - alpha / 2, n - 1)
        out.update(low=mean - q * se, high=mean + q * se, p=float(2 * scipy_stats().t.sf(abs(t_obs), n - 1)))
        return out
    t = _t_statistics(values, resamples, seed)
    upper, lower = np.quantile(t, [1 - alpha / 2, alpha / 2])
    # H0 mean == threshold: how often the bootstrap statistic is as far out as the observed one, two-sided,
    # counting the observed sample itself, so a p-value is never 0: (count + 1) / (resamples + 1)
    p = 2 * min((np.sum(t >= t_obs) + 1), (np.sum(t <= t_obs) + 1)) / (resamples + 1)
    out.update(low=float(mean - upper * se), high=float(mean - lower * se), p=float(min(1.0, p)))
    return out


def mean_interval(values, level: float = LEVEL) -> tuple[float, float]:
    """The report's 95% interval of a mean over seeds (see the module docstring)."""
    res = mean_test(values, level=level)
    return res["low"], res["high"]


def band(matrix, resamples: int = 2000) -> tuple[np.ndarray, np.ndarray]:
    """Per-column 95% interval of the mean over rows (seeds x epochs): mean_interval's method, column by column.

    2,000 resamples by default (a band on a curve is drawn, not printed as a number); NaN rows of a column
    (a diverged seed) are left out of that column.
    """
    matrix = np.asarray(matrix, dtype=float)
    bounds = [mean_test(matrix[:, j], resamples=resamples) for j in range(matrix.shape[1])]
    return np.array([b["low"] for b in bounds], dtype=float), np.array([b["high"] for b in bounds], dtype=float)


def sign_test(diffs, threshold: float = 0.0, level: float = LEVEL) -> dict:
    """Median of paired differences, its distribution-free interval and the exact sign test's p-value.

    For times with censored seeds (a seed that never reached the target has time +inf): differences
    may be +-inf and still order correctly, so a censored seed ranks last instead of being dropped.
    The interval is [d_(k), d_(n+1-k)] with the largest k whose binomial coverage is >= `level`.
    """
    diffs = np.sort(np.asarray([d for d in diffs if not np.isnan(d)], dtype=float))
    n = len(diffs)
    out = {"n": n, "median": float(np.median(diffs)) if n else math.nan, "low": -math.inf, "high": math.inf,
           "p": 1.0}
    if n == 0:
        return out
    k = 0  # order-statistic index: P(d_(k) <= median <= d_(n+1-k)) = 1 - 2 P(Bin(n, 1/2) < k)
    while k + 1 <= n and 1 - 2 * scipy_stats().binom.cdf(k, n, 0.5) >= level:
        k += 1
    if k > 0:
        out.update(low=float(diffs[k - 1]), high=float(diffs[n - k]))
    above, below = int((diffs > threshold).sum()), int((diffs < threshold).sum())
    if above + below:
        out["p"] = float(scipy_stats().binomtest(above, above + below, 0.5).pvalue)
    return out


def holm(pvalues) -> np.ndarray:
    """Holm's step-down adjusted p-values (reject at 0.05 where adjusted < 0.05); NaN stays NaN."""
    p = np.asarray(pvalues, dtype=float)
    adjusted = np.full_like(p, np.nan)
    ok = np.flatnonzero(~np.isnan(p))
    order = ok[np.argsort(p[ok], kind="stable")]
    m, running = len(order), 0.0
    for i, idx in enumerate(order):
        running = max(running, min(1.0, (m - i) * p[idx]))
        adjusted[idx] = running
    return adjusted


def seeds_needed(effect: float, sd: float, alpha: float, power: float = 0.8) -> float:
    """Seeds for a paired difference of this size and spread to clear a two-sided test at `alpha`.

    Normal approximation: n = ((z_(1-alpha/2) + z_power) * sd / effect)^2. NaN without a spread or effect.
    """
    if not (np.isfinite(effect) and np.isfinite(sd)) or effect == 0 or sd == 0:
        return math.nan
    z = scipy_stats().norm.ppf(1 - alpha / 2) + scipy_stats().norm.ppf(power)
    return float(math.ceil((z * sd / abs(effect)) ** 2))
