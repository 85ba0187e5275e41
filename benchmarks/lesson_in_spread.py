"""Check: the lesson's own training loop lands where the project's seeds do, experiment by experiment.

    python benchmarks/lesson_in_spread.py                      # after `snakemake --cores 4` (a few minutes)
    python benchmarks/lesson_in_spread.py --results /tmp/b/results --seeds 3 --experiments momentum adam

For every experiment of experiments/lesson.yaml (or --experiments), train the lesson's own loop
(benchmarks/stacked_vs_lesson.fit_lesson: DataLoader with shuffle, nn.Sequential, torch.optim, torch's global
seed) for --seeds seeds and score its final model on the test part; set that against the project's seeds of
the same experiment in a finished run (results/runs/<experiment>/runs.parquet, final_test_accuracy): their
range and the 95% prediction interval of one more seed (mean +- t(0.975, n-1) * sd * sqrt(1 + 1/n)).
If the engine trains the lesson's model, a lesson seed falls outside that interval about 1 time in 20;
the script prints each verdict and the count against that expectation. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import pandas as pd  # noqa: E402
import torch  # noqa: E402
from scipy import stats  # noqa: E402
from stacked_vs_lesson import fit_lesson  # noqa: E402  (this folder is on sys.path)

from lessonbench.engine.data import fit_scaler, load_parts, split_frame  # noqa: E402
from lessonbench.spec.config import resolve_experiments  # noqa: E402


def prediction_interval(values: pd.Series) -> tuple[float, float]:
    n, mean, sd = len(values), values.mean(), values.std(ddof=1)
    half = stats.t.ppf(0.975, n - 1) * sd * math.sqrt(1 + 1 / n)
    return mean - half, mean + half


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--results", type=Path, default=ROOT / "results", help="a finished run's results folder")
    p.add_argument("--experiments", nargs="+", help="default: every experiment of experiments/lesson.yaml")
    p.add_argument("--seeds", type=int, default=2, help="lesson-loop seeds per experiment")
    args = p.parse_args()
    torch.set_num_threads(1)
    data_settings, specs = resolve_experiments([ROOT / "experiments" / "lesson.yaml"])
    frame = split_frame(data_settings)[0]
    data = load_parts(frame, fit_scaler(frame, data_settings["scaler_fit"]), ("train", "val", "test"))
    tx, ty = data["test"]
    print("| experiment | lesson loop, test accuracy (%) | project seeds: range (%) | 95% prediction interval (%) "
          "| inside |")
    print("|---|---|---|---|---|")
    outside = total = 0
    for exp in args.experiments or list(specs):
        runs = pd.read_parquet(args.results / "runs" / exp / "runs.parquet")["final_test_accuracy"].dropna()
        low, high = prediction_interval(runs)
        accuracies = []
        for seed in range(args.seeds):
            model = fit_lesson(specs[exp], seed, data).eval()
            with torch.no_grad():
                accuracies.append(float((model(tx).argmax(1) == ty).double().mean()))
        inside = [low <= a <= high for a in accuracies]
        outside += inside.count(False)
        total += len(inside)
        print(f"| {exp} | {', '.join(f'{100 * a:.1f}' for a in accuracies)} | {100 * runs.min():.1f}-"
              f"{100 * runs.max():.1f} ({len(runs)} seeds) | {100 * low:.1f} to {100 * high:.1f} | "
              f"{sum(inside)}/{len(inside)} |", flush=True)
    print(f"\n{outside} of {total} lesson seeds outside the project's 95% prediction interval "
          f"(expected about {0.05 * total:.1f} if both train the same model)")


if __name__ == "__main__":
    main()
