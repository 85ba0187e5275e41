"""Coverage and calibration of the report's intervals and tests over few seeds, by simulation (seeded).

    python benchmarks/interval_coverage.py [--samples 2000] [--resamples 2000] [--seeds 5 10 20]

Coverage: for each shape of data and seed count, draws `samples` data sets of n values with a known mean,
builds each method's nominal 95% interval and prints the share that covers the true mean (and the mean
width relative to Student t). Calibration: the same data shifted so the true mean is the threshold (no
effect); prints the share of p-values below 0.01 and 0.001, which a calibrated test keeps at 1% and 0.1%.

Shapes, chosen to look like per-seed results:
- normal: N(0, 1);
- skewed: Gamma(2) (skewness 1.4, a long tail like an occasional bad seed, mirrored);
- tied: a paired difference of accuracies on 360 samples that is mostly 0 or one sample (steps of
  1/360, many ties; what the sweep points and regularisation twins give);
- paired: the per-seed difference of two accuracies that share the seed's data order (correlated, discrete).
Methods:
- percentile: the percentile bootstrap (what lessonbench used first);
- t: Student t;
- bootstrap-t: the studentized bootstrap at every n (what lessonbench used before, from 5 values);
- report: lessonbench.analysis.stats.mean_test, what the report uses (from 10 values the wider of Student t and
  bootstrap-t, Student t below, the exact sign-flip value when all differences are equal);
- two-way: lessonbench.analysis.stats.two_way on a seeds x test-samples matrix of right/wrong answers (a seed's
  accuracy varies, and the test samples are one draw of 360), what the report uses for test accuracies;
  its truth is the mean over seeds and over the population of test samples.
"""

from __future__ import annotations

import argparse

import numpy as np
from scipy import stats

from lessonbench.analysis import stats as lbstats

SHAPES = ("normal", "skewed", "tied", "paired")


def draw(shape: str, rng: np.random.Generator, n: int) -> tuple[np.ndarray, float]:
    """n values of one shape and their true mean."""
    if shape == "normal":
        return rng.normal(0.0, 1.0, n), 0.0
    if shape == "skewed":
        return -rng.gamma(2.0, 1.0, n), -2.0
    if shape == "tied":  # 0 in 60% of seeds, +-1 sample otherwise: mean 0.1/360
        steps = rng.choice([-1, 0, 1], size=n, p=[0.15, 0.6, 0.25])
        return steps / 360, 0.1 / 360
    if shape == "paired":  # shared seed effect + each experiment's own noise, counted in whole samples
        seed_effect = rng.normal(0.0, 0.006, n)
        a = rng.binomial(360, np.clip(0.965 + seed_effect, 0, 1)) / 360
        b = rng.binomial(360, np.clip(0.960 + seed_effect, 0, 1)) / 360
        return a - b, 0.005
    raise ValueError(shape)


def draw_matrix(rng: np.random.Generator, n: int, samples: int = 360) -> tuple[np.ndarray, float]:
    """A seeds x test-samples matrix of right (1) / wrong (0): each test sample has its own difficulty (a draw
    from the population of digits), each seed its own skill; the truth is the population mean accuracy."""
    difficulty = rng.normal(0.0, 1.0, samples)
    skill = rng.normal(2.2, 0.15, n)
    p = 1 / (1 + np.exp(-(skill[:, None] - 1.2 * difficulty[None, :])))
    return (rng.random((n, samples)) < p).astype(float), TRUE_TWO_WAY


def _population_mean() -> float:
    rng = np.random.default_rng(0)
    difficulty, skill = rng.normal(0.0, 1.0, 400_000), rng.normal(2.2, 0.15, 400_000)
    return float(np.mean(1 / (1 + np.exp(-(skill - 1.2 * difficulty)))))


TRUE_TWO_WAY = _population_mean()


def student_t(values: np.ndarray, threshold: float) -> tuple[float, float, float]:
    n, mean, se = len(values), values.mean(), values.std(ddof=1) / np.sqrt(len(values))
    if se == 0:
        return mean, mean, float(mean == threshold)
    q = stats.t.ppf(0.975, n - 1)
    return mean - q * se, mean + q * se, float(2 * stats.t.sf(abs(mean - threshold) / se, n - 1))


def percentile(values: np.ndarray, threshold: float, resamples: int) -> tuple[float, float, float]:
    if np.ptp(values) == 0:
        return values.mean(), values.mean(), float(values.mean() == threshold)
    res = stats.bootstrap((values,), np.mean, confidence_level=0.95, n_resamples=resamples,
                          method="percentile", rng=np.random.default_rng(lbstats.SEED))
    boot = res.bootstrap_distribution
    p = 2 * min(np.mean(boot <= threshold), np.mean(boot >= threshold))
    return res.confidence_interval.low, res.confidence_interval.high, float(min(1.0, p))


def bootstrap_t(values: np.ndarray, threshold: float, resamples: int) -> tuple[float, float, float]:
    """The studentized bootstrap alone, at every n (what the report used before, from 5 values)."""
    mean, se = values.mean(), values.std(ddof=1) / np.sqrt(len(values))
    if se == 0:
        return mean, mean, float(mean == threshold)
    t = lbstats._t_statistics(values, resamples, lbstats.SEED)
    upper, lower = np.quantile(t, [0.975, 0.025])
    t_obs = (mean - threshold) / se
    p = 2 * min(np.sum(t >= t_obs) + 1, np.sum(t <= t_obs) + 1) / (resamples + 1)
    return mean - upper * se, mean - lower * se, float(min(1.0, p))


def report(values: np.ndarray, threshold: float, resamples: int) -> tuple[float, float, float]:
    res = lbstats.mean_test(values, threshold, resamples=resamples)
    return res["low"], res["high"], res["p"]


METHODS = {"percentile": percentile, "t": lambda v, thr, _: student_t(v, thr), "bootstrap-t": bootstrap_t,
           "report": report}


def coverage(shape: str, n: int, method: str, samples: int, resamples: int, seed: int = 0) -> tuple[float, float]:
    """(share of intervals covering the true mean, mean width)."""
    rng = np.random.default_rng([seed, n, SHAPES.index(shape)])
    hits, widths = 0, []
    for _ in range(samples):
        values, truth = draw(shape, rng, n)
        low, high, _ = METHODS[method](values, truth, resamples)
        hits += low <= truth <= high
        widths.append(high - low)
    return hits / samples, float(np.mean(widths))


def null_calibration(shape: str, n: int, method: str, samples: int, resamples: int,
                     seed: int = 0) -> tuple[float, float]:
    """(share of p < 0.01, share of p < 0.001) when the threshold is the true mean: no effect."""
    rng = np.random.default_rng([seed, n, SHAPES.index(shape), 1])
    ps = np.array([METHODS[method](*draw(shape, rng, n), resamples)[2] for _ in range(samples)])
    return float(np.mean(ps < 0.01)), float(np.mean(ps < 0.001))


def two_way_coverage(n: int, samples: int, resamples: int, seed: int = 0) -> tuple[float, float, float]:
    """(coverage of the two-way interval, coverage of the seeds-only report interval, p < 0.01 under the null)
    for test accuracies: the seeds-only interval ignores that the test samples are one draw."""
    rng = np.random.default_rng([seed, n, 99])
    two, seeds_only, low_p = 0, 0, 0
    for _ in range(samples):
        matrix, truth = draw_matrix(rng, n)
        res = lbstats.two_way(matrix, truth, resamples=resamples)
        two += res["low"] <= truth <= res["high"]
        low, high, _ = report(matrix.mean(axis=1), truth, resamples)
        seeds_only += low <= truth <= high
        low_p += res["p"] < 0.01
    return two / samples, seeds_only / samples, low_p / samples


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--samples", type=int, default=2000)
    p.add_argument("--resamples", type=int, default=2000)
    p.add_argument("--seeds", type=int, nargs="+", default=[5, 10, 20])
    p.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    args = p.parse_args()
    print(f"coverage of nominal 95% intervals, {args.samples} simulated data sets per cell, "
          f"{args.resamples} resamples; width relative to Student t")
    print(f"{'shape':<10}{'seeds':>6}" + "".join(f"{m:>22}" for m in args.methods))
    for shape in SHAPES:
        for n in args.seeds:
            cells = {m: coverage(shape, n, m, args.samples, args.resamples) for m in args.methods + ["t"]}
            row = "".join(f"{100 * cells[m][0]:>14.1f}% (x{cells[m][1] / cells['t'][1]:.2f})" for m in args.methods)
            print(f"{shape:<10}{n:>6}{row}", flush=True)
    print("\nnull calibration: share of p < 0.01 / p < 0.001 when there is no effect (calibrated: 1.0% / 0.10%)")
    print(f"{'shape':<10}{'seeds':>6}" + "".join(f"{m:>22}" for m in args.methods))
    for shape in SHAPES:
        for n in args.seeds:
            cells = [null_calibration(shape, n, m, args.samples, args.resamples) for m in args.methods]
            print(f"{shape:<10}{n:>6}" + "".join(f"{100 * a:>13.1f}% / {100 * b:.2f}%" for a, b in cells), flush=True)
    print("\ntest accuracy (seeds x 360 test samples): coverage of the two-way interval and of the seeds-only one;"
          " two-way p < 0.01 under the null")
    for n in args.seeds:
        two, seeds_only, low_p = two_way_coverage(n, max(200, args.samples // 5), args.resamples)
        print(f"{'two-way':<10}{n:>6}{100 * two:>14.1f}%{100 * seeds_only:>14.1f}%{100 * low_p:>14.1f}%", flush=True)


if __name__ == "__main__":
    main()
