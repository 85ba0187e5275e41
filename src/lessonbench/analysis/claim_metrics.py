"""A claim's numbers per seed: curve metrics at a budget, restricted times to a target, right/wrong matrices."""

from __future__ import annotations

import numpy as np
import pandas as pd

from lessonbench.analysis.testset import right_wrong


def chance(probs: pd.DataFrame) -> float:
    """The accuracy of a diverged model, whose non-finite outputs predict one class: one over the classes (the
    test probabilities' columns)."""
    return 1 / sum(column.startswith("prob_") for column in probs.columns)


METRICS = {  # name -> label, unit, whether it is read off the curves at the budget epoch
    "test_accuracy": ("final test accuracy", "points", False),
    "val_accuracy": ("validation accuracy at epoch {budget}", "points", True),
    "best_val_accuracy": ("best validation accuracy up to epoch {budget}", "points", True),
    "val_accuracy_auc": ("mean validation accuracy over epochs 1-{budget}", "points", True),
    "train_val_gap": ("train - validation accuracy at epoch {budget}", "points", True),
    "epochs_to_target": ("epochs to {target:.0%} validation accuracy", "epochs", True),
    # read off the experiment's learning-rate sweep (its tuning seeds), not its runs: see lr_reach
    "largest_lr": ("largest learning rate of the sweep that reaches {target:.0%} validation accuracy (log10)",
                   "decades", False),
}


def lr_reach(points: pd.DataFrame, experiment: str, target: float) -> pd.DataFrame:
    """Per tuning seed of the experiment's learning-rate sweep, log10 of the largest swept learning rate at which
    its final validation accuracy reaches `target` (restricted like a time: a seed that reaches it at no rate counts
    half a decade below the smallest, so it ranks last and is never dropped); `reached_target` says which did."""
    sweep = points[(points["experiment"] == experiment) & (points["key"] == "optimizer.lr")]
    floor = np.log10(sweep["value"].min()) - 0.5
    rows = []
    for seed, rates in sweep.groupby("seed"):
        good = rates.loc[rates["final_val_accuracy"] >= target, "value"]
        rows.append({"experiment": experiment, "seed": int(seed),
                     "largest_lr": float(np.log10(good.max())) if len(good) else float(floor),
                     "reached_target": bool(len(good))})
    return pd.DataFrame(rows)


def seed_metrics(history: pd.DataFrame, runs: pd.DataFrame, experiment: str, budget: int,
                 target: float, at_chance: float) -> pd.DataFrame:
    """Every metric of every seed of one experiment, curve metrics at epoch `budget`, in report units.

    Accuracies are in percent. A seed that diverged counts as a model at chance accuracy from its
    divergence on (its validation curve is extended with `at_chance`) and its train-validation gap is
    missing; a seed that never reaches the target counts budget + 1 epochs (`reached_target` False).
    """
    hist = history[(history["experiment"] == experiment) & (history["epoch"] <= budget)]
    wide = hist.pivot_table(index="seed", columns=["split", "epoch"], values="accuracy")
    rows = []
    for run in runs[runs["experiment"] == experiment].itertuples():
        val, train = np.full(budget, at_chance), np.full(budget, np.nan)
        if run.seed in wide.index and "val" in wide.columns.get_level_values(0):
            for split, curve in (("val", val), ("train", train)):
                series = wide.loc[run.seed, split].dropna()
                curve[series.index.to_numpy(dtype=int) - 1] = series.to_numpy()
        reached = np.flatnonzero(val >= target)
        test = at_chance if pd.notna(run.diverged_epoch) else run.final_test_accuracy
        rows.append({"experiment": experiment, "seed": int(run.seed), "budget": budget,
                     "test_accuracy": 100 * test, "val_accuracy": 100 * val[-1],
                     "best_val_accuracy": 100 * val.max(), "val_accuracy_auc": 100 * val.mean(),
                     "train_val_gap": 100 * (train[-1] - val[-1]),
                     "epochs_to_target": float(reached[0] + 1) if len(reached) else float(budget + 1),
                     "reached_target": bool(len(reached)), "train_accuracy": 100 * train[-1]})
    return pd.DataFrame(rows)


def correct_matrix(probs: pd.DataFrame, runs: pd.DataFrame, experiment: str, at_chance: float) -> pd.DataFrame:
    """seeds x test samples, 100 where the seed's model got the sample right, else 0 (a diverged seed: 100 x
    `at_chance` everywhere, as its accuracy counts)."""
    matrix = 100 * right_wrong(probs, experiment)
    diverged = runs[(runs["experiment"] == experiment) & runs["diverged_epoch"].notna()]["seed"]
    matrix.loc[matrix.index.isin(diverged)] = 100 * at_chance
    return matrix


def side_values(source: dict, ids: list[str], metric: str):
    """Per-seed values of one side, one experiment's or a - b for a pair: a Series from the seed metrics, or for
    test accuracy a seeds x samples frame from the right/wrong matrices."""
    values = [source[exp] if metric == "test_accuracy" else source[exp].set_index("seed")[metric] for exp in ids]
    return values[0] if len(values) == 1 else difference(values[0], values[1])


def difference(a, b):
    """a - b on the seeds (and test samples) both have."""
    a, b = a.align(b, join="inner")
    return a - b


def time_to_target(per_seed: pd.DataFrame, timings: pd.DataFrame, specs: dict) -> pd.DataFrame:
    """Wall-clock seconds to the target per claim, experiment and seed: not deterministic, kept apart.

    The seeds of an experiment train together, so a seed's epoch costs the stack's time per seed over the
    epochs run; a seed that never reached the target has no time (NaN).
    """
    columns = ["claim", "experiment", "seed", "epochs_to_target", "seconds_to_target"]
    if per_seed.empty or timings.empty:
        return pd.DataFrame(columns=columns)
    per_epoch = {row.experiment: row.seconds_per_seed_mean / specs[row.experiment]["epochs"]
                 for row in timings.itertuples() if row.experiment in specs}
    out = per_seed[columns[:4]].copy()
    seconds = out["epochs_to_target"] * out["experiment"].map(per_epoch)
    out["seconds_to_target"] = seconds.where(per_seed["reached_target"].to_numpy(dtype=bool))
    return out
