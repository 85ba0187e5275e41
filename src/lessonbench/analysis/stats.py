"""Intervals and tests over seeds: the interval methods the report uses and the verdict rule's tests.

A mean over seeds gets a 95% interval and a p-value from the distribution of t = (mean - mu) / se:
- below 10 values, Student t: a bootstrap of 5 values has 126 distinct resamples and gives erratic,
  lopsided intervals (an accuracy interval of [-180%, 97%] at five seeds) and p-values far below what
  five values can show;
- from 10 values up, the wider of the Student t interval and the *studentized* bootstrap (bootstrap-t)
  one, and the larger of their p-values. At ten seeds Student t covers ~93% of skewed samples (one bad
  seed) and bootstrap-t ~91% of tied ones (differences in steps of one test sample, many zero), where it
  also gives p < 0.01 in ~4% of samples with no effect; the union covers >= 94% of both;
- values with no spread at all (every seed the same difference): the interval is that value and the
  p-value the exact sign-flip test's, 2 / 2^n (all n signs agree), never 0.
benchmarks/interval_coverage.py prints each method's coverage at 5, 10 and 20 values and its calibration
under the null (the share of p-values below 0.01 and 0.001 when there is no effect).

Test-set accuracies have a second source of error besides the seeds: the one fixed set of test samples.
`two_way` resamples seeds and test samples together (a two-way percentile bootstrap of the mean of a
seeds x samples matrix), so an interval of a test accuracy covers what another draw of test samples
would show.

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
MIN_BOOTSTRAP = 10  # fewer values: Student t (see the module docstring)
METHOD = ("over seeds, the wider of Student t and the studentized bootstrap from 10 values up, Student t below; "
          "test accuracies: a two-way bootstrap over seeds and test samples")


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


class _TDistribution:
    """The distribution of t = (mean - mu) / se for one sample: bootstrap-t (`boot`) or Student t with n - 1
    degrees of freedom (`boot` None)."""

    def __init__(self, n: int, boot: np.ndarray | None = None):
        self.n, self.boot = n, boot

    def quantile(self, q: float) -> float:
        if self.boot is None:
            return float(scipy_stats().t.ppf(q, self.n - 1))
        return float(np.quantile(self.boot, q))

    def upper_tail(self, t: float) -> float:
        """P(T >= t), never 0 for the bootstrap: (count + 1) / (resamples + 1), the observed sample counted."""
        if self.boot is None:
            return float(scipy_stats().t.sf(t, self.n - 1))
        return float((np.sum(self.boot >= t) + 1) / (len(self.boot) + 1))

    def lower_tail(self, t: float) -> float:
        if self.boot is None:
            return float(scipy_stats().t.cdf(t, self.n - 1))
        return float((np.sum(self.boot <= t) + 1) / (len(self.boot) + 1))

    @property
    def floor(self) -> float:
        """The smallest two-sided p-value the method can give (the resampling grid's), 0 for Student t."""
        return 0.0 if self.boot is None else 2 / (len(self.boot) + 1)


def _summary(values: np.ndarray) -> dict:
    n = len(values)
    return {"n": n, "mean": float(values.mean()) if n else math.nan, "low": math.nan, "high": math.nan,
            "p": math.nan, "p_greater": math.nan, "p_less": math.nan, "p_floor": 0.0, "method": "",
            "sd": float(values.std(ddof=1)) if n > 1 else math.nan,
            "se": float(values.std(ddof=1) / math.sqrt(n)) if n > 1 else math.nan}


def _no_spread(out: dict, threshold: float) -> dict:
    """Every value the same: the interval is the value; the p-values the exact sign-flip test's."""
    n, mean = out["n"], out["mean"]
    exact = 0.5 ** n  # all n signs the same under the null of a symmetric difference around the threshold
    greater = exact if mean > threshold else 1.0
    less = exact if mean < threshold else 1.0
    out.update(low=mean, high=mean, p_greater=greater, p_less=less, p=min(1.0, 2 * min(greater, less)),
               method="exact sign-flip (no spread)")
    return out


def mean_test(values, threshold: float = 0.0, level: float = LEVEL, resamples: int = RESAMPLES,
              seed: int = SEED, bounds: tuple[float, float] | None = None) -> dict:
    """Mean, its `level` interval and the p-values of "mean == threshold" (two-sided `p`, and the one-sided
    `p_greater` for mean > threshold and `p_less` for mean < threshold).

    The interval and the p-values come from the same distributions of t (see the module docstring), so the
    interval excludes `threshold` exactly when p < 1 - level (up to the resampling grid). `bounds` clips the
    interval to the values the quantity can take (an accuracy: [0, 1]). `p_floor` is the smallest p-value the
    method can give: a p-value equal to it means "at most this".
    """
    values = _clean(values)
    out = _summary(values)
    if out["n"] == 0:
        return out
    if out["n"] < 2 or np.ptp(values) == 0:
        return _no_spread(out, threshold)
    mean, n, se = out["mean"], out["n"], out["se"]
    dists = [_TDistribution(n)]
    if n >= MIN_BOOTSTRAP:
        dists.append(_TDistribution(n, _t_statistics(values, resamples, seed)))
    alpha, t_obs = 1 - level, (mean - threshold) / se
    # From MIN_BOOTSTRAP values, the wider of the two intervals and the larger of the two p-values: Student t
    # undercovers skewed seeds, bootstrap-t tied ones (steps of one test sample); the union covers both
    low = min(mean - d.quantile(1 - alpha / 2) * se for d in dists)
    high = max(mean - d.quantile(alpha / 2) * se for d in dists)
    greater, less = max(d.upper_tail(t_obs) for d in dists), max(d.lower_tail(t_obs) for d in dists)
    if bounds is not None:
        low, high = max(low, bounds[0]), min(high, bounds[1])
    out.update(low=float(low), high=float(high), p_greater=greater, p_less=less, p=min(1.0, 2 * min(greater, less)),
               p_floor=dists[-1].floor, method="Student t" if len(dists) == 1 else "Student t and bootstrap-t")
    return out


def equivalence_test(values, margin: float, level: float = LEVEL, test=None, **kwargs) -> dict:
    """Two one-sided tests (TOST, Schuirmann 1987) of "the mean lies within (-margin, +margin)", by `test`
    (mean_test by default; two_way for a seeds x test-samples matrix).

    p is the larger of the two one-sided p-values (mean > -margin, mean < +margin); the interval is the
    1 - 2 alpha one (90% for alpha 0.05), which lies inside the margins exactly when p < alpha.
    `p_outside` tests the opposite, "the mean lies beyond the margin" (mean > +margin or mean < -margin): twice
    the smaller one-sided p-value (Bonferroni over the two sides), what contradicts a claim of no effect.
    """
    test = test or mean_test
    inner = 1 - 2 * (1 - level)
    above = test(values, -margin, level=inner, **kwargs)
    below = test(values, margin, level=inner, **kwargs)
    return {**above, "p": max(above["p_greater"], below["p_less"]), "p_floor": above["p_floor"] / 2, "level": inner,
            "p_outside": min(1.0, 2 * min(below["p_greater"], above["p_less"]))}


def mean_interval(values, level: float = LEVEL, bounds: tuple[float, float] | None = None) -> tuple[float, float]:
    """The report's 95% interval of a mean over seeds (see the module docstring)."""
    res = mean_test(values, level=level, bounds=bounds)
    return res["low"], res["high"]


def band(matrix, resamples: int = 2000) -> tuple[np.ndarray, np.ndarray]:
    """Per-column 95% interval of the mean over rows (seeds x epochs): mean_interval's method, column by column.

    2,000 resamples by default (a band on a curve is drawn, not printed as a number); NaN rows of a column
    (a diverged seed) are left out of that column.
    """
    matrix = np.asarray(matrix, dtype=float)
    bounds = [mean_test(matrix[:, j], resamples=resamples) for j in range(matrix.shape[1])]
    return np.array([b["low"] for b in bounds], dtype=float), np.array([b["high"] for b in bounds], dtype=float)


def two_way(matrix, threshold: float = 0.0, level: float = LEVEL, resamples: int = RESAMPLES, seed: int = SEED,
            bounds: tuple[float, float] | None = None) -> dict:
    """The mean of a seeds x test-samples matrix with a two-way bootstrap: seeds and samples resampled together.

    A row is one seed, a column one test sample (1/0 for right/wrong, or the difference of two experiments'
    1/0 on the same sample and seed). Each resample draws seeds and samples with replacement (multinomial
    weights), so the interval carries the seeds' spread and the test set's own sampling error. Percentile
    interval; p-values by inverting it: the share of resampled means on the far side of `threshold`.
    """
    return two_way_each([matrix], threshold, level, resamples, seed, bounds)[0]


def two_way_each(matrices, threshold: float = 0.0, level: float = LEVEL, resamples: int = RESAMPLES,
                 seed: int = SEED, bounds: tuple[float, float] | None = None) -> list[dict]:
    """`two_way` of each matrix. The resampling weights depend only on the matrix's shape and the seed, so
    matrices of one shape (every experiment's seeds x test samples) share one draw of them: the same numbers
    as one `two_way` call each, without drawing 10,000 x samples multinomial weights again for every one."""
    weights: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}
    results = []
    for matrix in matrices:
        matrix = np.asarray(matrix, dtype=float)
        if matrix.size and matrix.shape not in weights:
            rows, cols = matrix.shape
            rng = np.random.default_rng(seed)
            weights[matrix.shape] = (rng.multinomial(rows, np.full(rows, 1 / rows), size=resamples),
                                     rng.multinomial(cols, np.full(cols, 1 / cols), size=resamples))
        results.append(_two_way(matrix, weights.get(matrix.shape), threshold, level, resamples, bounds))
    return results


def _two_way(matrix: np.ndarray, weights, threshold: float, level: float, resamples: int,
             bounds: tuple[float, float] | None) -> dict:
    """two_way of one matrix, given its (row, column) resampling weights."""
    rows, cols = matrix.shape
    out = {"n": rows, "mean": float(matrix.mean()) if matrix.size else math.nan, "low": math.nan, "high": math.nan,
           "p": math.nan, "p_greater": math.nan, "p_less": math.nan, "p_floor": 2 / (resamples + 1),
           "method": "two-way bootstrap (seeds x test samples)",
           "sd": float(matrix.mean(axis=1).std(ddof=1)) if rows > 1 else math.nan, "se": math.nan}
    if not matrix.size:
        return out
    row_w, col_w = weights
    means = np.einsum("rs,sc,rc->r", row_w, matrix, col_w) / (rows * cols)
    alpha = 1 - level
    low, high = np.quantile(means, [alpha / 2, 1 - alpha / 2])
    if bounds is not None:
        low, high = max(low, bounds[0]), min(high, bounds[1])
    # H1 mean > threshold is shown when few resampled means fall at or below it (counting the sample itself)
    greater = (np.sum(means <= threshold) + 1) / (resamples + 1)
    less = (np.sum(means >= threshold) + 1) / (resamples + 1)
    out.update(low=float(low), high=float(high), p_greater=float(greater), p_less=float(less),
               p=float(min(1.0, 2 * min(greater, less))), se=float(means.std(ddof=1)))
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


def detectable_effect(n: int, sd: float, alpha: float, power: float = 0.8) -> float:
    """The smallest mean paired difference (from the null value) a two-sided t-test of n values with this spread
    detects at `alpha` with probability `power` (noncentral t), in the values' unit; NaN without two values or a
    spread. A test with a wider error than the seeds' spread (the two-way bootstrap) passes se x sqrt(n) as sd.

    Computed from the seeds' spread and count, not from the observed effect (which would be observed power,
    Hoenig & Heisey 2001): what these seeds could have shown, whatever the effect was.
    """
    if n < 2 or not np.isfinite(sd) or sd <= 0:
        return math.nan
    st = scipy_stats()
    df, crit = n - 1, st.t.ppf(1 - alpha / 2, n - 1)

    def shortfall(effect_in_sd: float) -> float:
        nc = effect_in_sd * math.sqrt(n)  # the far tail (below -crit) is negligible and NaN for a large nc
        return st.nct.sf(crit, df, nc) + np.nan_to_num(st.nct.cdf(-crit, df, nc)) - power

    from scipy.optimize import brentq

    top = 1.0
    while shortfall(top) < 0:  # bracket the root: power grows with the effect
        top *= 2
    return float(brentq(shortfall, 1e-6, top) * sd)
