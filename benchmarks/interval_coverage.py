"""Coverage of the report's 95% intervals over few seeds, by simulation (seeded, about a minute).

    python benchmarks/interval_coverage.py [--samples 2000] [--methods percentile t bootstrap-t]

For each shape of data and seed count, draws `samples` data sets of n values with a known mean, builds
each method's nominal 95% interval and prints the share that covers the true mean (and the mean width
relative to Student t). Shapes, chosen to look like per-seed results:
- normal: N(0, 1);
- skewed: Gamma(2) (skewness 1.4, a long tail like an occasional bad seed, mirrored);
- discrete: test accuracy of 360 samples, Binomial(360, 0.97) / 360 (steps of 1/360, ties);
- paired: the per-seed difference of two such accuracies that share the seed's data order
  (correlated, discrete).
`percentile` is what lessonbench used before (scipy.stats.bootstrap, percentile); `bootstrap-t` is
lessonbench.stats.mean_interval, what the report uses now.
"""

from __future__ import annotations

import argparse

import numpy as np
from scipy import stats

from lessonbench import stats as lbstats


def draw(shape: str, rng: np.random.Generator, n: int) -> tuple[np.ndarray, float]:
    """n values of one shape and their true mean."""
    if shape == "normal":
        return rng.normal(0.0, 1.0, n), 0.0
    if shape == "skewed":
        return -rng.gamma(2.0, 1.0, n), -2.0
    if shape == "discrete":
        return rng.binomial(360, 0.97, n) / 360, 0.97
    if shape == "paired":  # shared seed effect + each experiment's own noise, counted in whole samples
        seed_effect = rng.normal(0.0, 0.006, n)
        a = rng.binomial(360, np.clip(0.965 + seed_effect, 0, 1)) / 360
        b = rng.binomial(360, np.clip(0.960 + seed_effect, 0, 1)) / 360
        return a - b, 0.005
    raise ValueError(shape)


def student_t(values: np.ndarray) -> tuple[float, float]:
    n, mean, se = len(values), values.mean(), values.std(ddof=1) / np.sqrt(len(values))
    q = stats.t.ppf(0.975, n - 1)
    return mean - q * se, mean + q * se


def percentile(values: np.ndarray, resamples: int) -> tuple[float, float]:
    if np.ptp(values) == 0:
        return values.mean(), values.mean()
    res = stats.bootstrap((values,), np.mean, confidence_level=0.95, n_resamples=resamples,
                          method="percentile", rng=np.random.default_rng(lbstats.SEED))
    return res.confidence_interval.low, res.confidence_interval.high


def bootstrap_t(values: np.ndarray, resamples: int) -> tuple[float, float]:
    res = lbstats.mean_test(values, resamples=resamples)
    return res["low"], res["high"]


METHODS = {"percentile": percentile, "t": lambda v, _: student_t(v), "bootstrap-t": bootstrap_t}
SHAPES = ("normal", "skewed", "discrete", "paired")


def coverage(shape: str, n: int, method: str, samples: int, resamples: int, seed: int = 0) -> tuple[float, float]:
    """(share of intervals covering the true mean, mean width)."""
    rng = np.random.default_rng([seed, n, SHAPES.index(shape)])
    hits, widths = 0, []
    for _ in range(samples):
        values, truth = draw(shape, rng, n)
        low, high = METHODS[method](values, resamples)
        hits += low <= truth <= high
        widths.append(high - low)
    return hits / samples, float(np.mean(widths))


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


if __name__ == "__main__":
    main()
