"""Tidy tables from the per-experiment runs: history, runs, leaderboard (with 95% intervals), timings.

A test accuracy's interval covers the seeds' spread and the test set's own sampling error (stats.two_way over
seeds x test samples); a validation accuracy's covers the seeds' (stats.mean_interval); both stay in [0, 1].
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from lessonbench import fileio
from lessonbench.analysis.claim_metrics import chance
from lessonbench.analysis.stats import mean_interval, two_way_each
from lessonbench.analysis.testset import right_wrong
from lessonbench.fileio import log
from lessonbench.spec.config import TUNED

ACCURACY = (0.0, 1.0)  # where an accuracy's interval must stay


def right_wrong_ok(runs: pd.DataFrame, probs: pd.DataFrame) -> np.ndarray:
    """1/0 per (seed, test sample) of one experiment's seeds that did not diverge."""
    ok = runs[runs["diverged_epoch"].isna()]
    return right_wrong(probs, runs["experiment"].iloc[0], ok["seed"]).to_numpy()


def learned_nothing(runs: pd.DataFrame, at_chance: float) -> pd.Series:
    """Per seed, whether it trained without diverging yet learned nothing: its final training loss within 2% of
    ln(1 / at_chance) (a uniform guess's loss), or its final validation accuracy below 1.5 times chance."""
    ok = runs["diverged_epoch"].isna()
    stalled = runs["final_train_loss"] >= 0.98 * -math.log(at_chance)
    return ok & (stalled | (runs["final_val_accuracy"] < 1.5 * at_chance))


def leaderboard_row(runs: pd.DataFrame, probs: pd.DataFrame, test: dict | None = None) -> dict:
    """Summary of one experiment's seeds; accuracy figures over the seeds that did not diverge.

    test: the two-way bootstrap of right_wrong_ok(runs, probs), where the caller computed it (with others).
    """
    ok = runs[runs["diverged_epoch"].isna()]
    test = test or two_way_each([right_wrong_ok(runs, probs)], bounds=ACCURACY)[0]
    low, high = test["low"], test["high"]
    return {
        "n_seeds": len(runs),
        "n_diverged": int(runs["diverged_epoch"].notna().sum()),
        "divergence_rate": float(runs["diverged_epoch"].notna().mean()),
        "n_learned_nothing": int(learned_nothing(runs, chance(probs)).sum()),
        "test_accuracy_mean": ok["final_test_accuracy"].mean(),
        "test_accuracy_ci_low": low,
        "test_accuracy_ci_high": high,
        "test_accuracy_std": ok["final_test_accuracy"].std(ddof=1),
        "best_val_accuracy_mean": ok["best_val_accuracy"].mean(),
        "best_val_epoch_mean": ok["best_val_epoch"].mean(),
        "final_val_accuracy_mean": ok["final_val_accuracy"].mean(),
        "final_train_accuracy_mean": ok["final_train_accuracy"].mean(),
        "train_val_gap_mean": (ok["final_train_accuracy"] - ok["final_val_accuracy"]).mean(),
        "n_params": int(runs["n_params"].iloc[0]),
    }


def score_board(runs: pd.DataFrame, meta: pd.DataFrame, probs: pd.DataFrame) -> pd.DataFrame:
    """One row per experiment in config order: section, epochs, the seeds' summary and the rank; no prose.

    What the figure steps read: a title edit leaves it, and them, alone.
    """
    groups = list(runs.groupby("experiment", sort=False))
    tests = two_way_each([right_wrong_ok(group, probs) for _, group in groups], bounds=ACCURACY)
    rows = [{"experiment": exp, **leaderboard_row(group, probs, test)} for (exp, group), test in zip(groups, tests)]
    board = meta[["experiment", "section", "epochs"]].merge(pd.DataFrame(rows), on="experiment")
    board["rank"] = board["test_accuracy_mean"].rank(ascending=False, method="min").astype("Int64")
    return board


def titled(scores: pd.DataFrame, meta: pd.DataFrame) -> pd.DataFrame:
    """The leaderboard: the score board with each experiment's title from `meta` beside its section."""
    return meta[["experiment", "section", "title", "epochs"]].merge(scores.drop(columns=["section", "epochs"]),
                                                                     on="experiment")


def make_leaderboard(runs: pd.DataFrame, meta: pd.DataFrame, probs: pd.DataFrame) -> pd.DataFrame:
    """One row per experiment in config order, with section and title from `meta`."""
    return titled(score_board(runs, meta, probs), meta)


def make_timings(timings: list[dict]) -> pd.DataFrame:
    """Training wall time and host per experiment: not deterministic, kept apart from the numbers.

    The seeds of an experiment train together, so the time per seed is the stack's time over K.
    """
    return pd.DataFrame([
        {"experiment": t["experiment"], "seconds_per_seed_mean": t["seconds"] / t["seeds"],
         "seconds_total": float(t["seconds"]), "device": t["device"], "host": t["host"], "cpu": t["cpu"]}
        for t in timings
    ])


def experiment_meta(specs: dict) -> pd.DataFrame:
    """Section, title, description and the main settings of each experiment, in config order."""
    return pd.DataFrame([
        {"experiment": exp, "section": s["section"], "title": s["title"], "description": s["description"],
         "seeds": s["seeds"], "epochs": s["epochs"], "batch_size": s["batch_size"],
         "activation": s["model"]["activation"], "hidden": "-".join(map(str, s["model"]["hidden"])),
         "batchnorm": s["model"]["batchnorm"], "origin": s.get("origin", "added"), "dropout": s["model"]["dropout"],
         "init": s["model"]["init"]["name"], "optimizer": describe_block(s["optimizer"])}
        for exp, s in specs.items()
    ])


def describe_block(block: dict) -> str:
    """'sgd(lr=0.1, momentum=0.9)' for an optimizer or init block."""
    args = ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in block.items() if k != "name")
    return f"{block['name']}({args})"


def paired_differences(runs: pd.DataFrame, baseline: str, probs: pd.DataFrame) -> pd.DataFrame:
    """Test-accuracy difference of each experiment against `baseline`, paired by seed and test sample.

    Seed k of both experiments shares its shuffling order, so the per-seed difference removes that source of
    noise; the interval (stats.two_way over the paired seeds and the test samples) adds the test set's own.
    """
    ok = runs[runs["diverged_epoch"].isna()]
    seeds = {exp: set(group["seed"]) for exp, group in ok.groupby("experiment", sort=False)}
    base = right_wrong(probs, baseline) if baseline in seeds else None  # once, not once per experiment
    pairs = []
    for exp in runs["experiment"].unique():
        if exp == baseline or base is None:
            continue
        both = sorted(seeds.get(exp, set()) & seeds[baseline])  # all diverged: no pairs
        pairs.append((exp, both, right_wrong(probs, exp, both) - base.loc[both]))
    tests = iter(two_way_each([diff.to_numpy() for _, both, diff in pairs if both]))
    rows = []
    for exp, both, diff in pairs:
        res = next(tests) if both else {"mean": np.nan, "low": np.nan, "high": np.nan}
        per_seed = diff.mean(axis=1)
        rows.append({"experiment": exp, "baseline": baseline, "n_pairs": len(both), "diff_mean": res["mean"],
                     "diff_ci_low": res["low"], "diff_ci_high": res["high"],
                     "share_better": float((per_seed > 0).mean()) if both else np.nan})
    return pd.DataFrame(rows, columns=["experiment", "baseline", "n_pairs", "diff_mean", "diff_ci_low",
                                       "diff_ci_high", "share_better"])


def pick_showcase(board: pd.DataFrame, runs: pd.DataFrame) -> tuple[str, int]:
    """Experiment with the best mean final validation accuracy, and its seed with the best validation accuracy.

    Uses validation numbers only; ties go to the earlier experiment and the lower seed.
    """
    exp = board.loc[board["final_val_accuracy_mean"].idxmax(), "experiment"]
    seeds = runs[(runs["experiment"] == exp) & runs["diverged_epoch"].isna()].sort_values("seed")
    return exp, int(seeds.loc[seeds["final_val_accuracy"].idxmax(), "seed"])


def showcase_table(board: pd.DataFrame, runs: pd.DataFrame, probs: pd.DataFrame) -> pd.DataFrame:
    """The model whose confusion matrix and mistakes the report shows, chosen once here: one row."""
    exp, seed = pick_showcase(board, runs)
    mine = probs[(probs["experiment"] == exp) & (probs["seed"] == seed)]
    return pd.DataFrame([{"experiment": exp, "seed": seed, "n_test": len(mine),
                          "n_errors": int((mine["pred"] != mine["label"]).sum())}])


def data_table(split: pd.DataFrame, scaler: dict) -> pd.DataFrame:
    """The data as the runs saw it, one row: samples per part, and what the scaler was fitted on."""
    parts = split["split"].value_counts()
    return pd.DataFrame([{"samples": len(split), **{part: int(parts.get(part, 0)) for part in ("train", "val", "test")},
                          "scaler_fit_on": scaler["fit_on"], "scaler_samples": int(scaler["n_samples"])}])


def summarise_points(points: pd.DataFrame) -> pd.DataFrame:
    """Per sweep and value: mean final validation accuracy with its 95% interval, lesson and best flags."""
    rows = []
    for (sweep, value), group in points.groupby(["sweep", "value"], sort=False):
        low, high = mean_interval(group["final_val_accuracy"], bounds=ACCURACY)
        rows.append({"sweep": sweep, "experiment": group["experiment"].iloc[0], "key": group["key"].iloc[0],
                     "scale": group["scale"].iloc[0],
                     "value": value, "lesson_value": bool(group["lesson_value"].iloc[0]), "seeds": len(group),
                     "val_accuracy_mean": group["final_val_accuracy"].mean(), "val_accuracy_ci_low": low,
                     "val_accuracy_ci_high": high,
                     "train_val_gap_mean": (group["final_train_accuracy"] - group["final_val_accuracy"]).mean()})
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    best = table.groupby("sweep", sort=False)["val_accuracy_mean"].transform("max")
    first_best = table[table["val_accuracy_mean"] == best].groupby("sweep", sort=False)["value"].transform("first")
    table["best"] = False
    table.loc[first_best.index, "best"] = table.loc[first_best.index, "value"] == first_best
    table["within_1_point"] = table["val_accuracy_mean"] >= best - 0.01
    # a best value at either end of the grid: the optimum may lie beyond it
    low = table.groupby("sweep", sort=False)["value"].transform("min")
    high = table.groupby("sweep", sort=False)["value"].transform("max")
    table["at_edge"] = table["best"] & ((table["value"] == low) | (table["value"] == high))
    return table


def collect_tables_step(args) -> None:
    # one file per experiment with runs: the configured ones in the config's order, then the search's choice
    # and the sweeps' best points (their spec files written by those steps); the prose is not needed here
    specs = {spec["id"]: spec for spec in args.specs}
    meta = pd.DataFrame([{"experiment": exp, "section": s["section"], "epochs": s["epochs"]}
                         for exp, s in specs.items()])
    runs = pd.concat([pd.read_parquet(p) for p in args.runs], ignore_index=True)
    out = Path(args.outdir)
    fileio.write_table(pd.concat([pd.read_parquet(p) for p in args.history], ignore_index=True), out / "history")
    fileio.write_table(runs, out / "runs")
    probs = pd.concat([pd.read_parquet(p) for p in args.test_probs], ignore_index=True)
    fileio.write_table(probs, out / "test_probs")
    board = score_board(runs, meta, probs)
    fileio.write_table(board, out / "scores")
    fileio.write_table(showcase_table(board, runs, probs), out / "showcase")
    fileio.write_table(data_table(pd.read_parquet(args.split), json.loads(Path(args.scaler).read_text())), out / "data")
    fileio.write_table(paired_differences(runs, next(iter(specs)), probs), out / "comparisons")
    if args.tuned_base:  # the search's choice against the model the lesson hand-picked, paired by seed
        pair = runs[runs["experiment"].isin([args.tuned_base, TUNED])]
        fileio.write_table(paired_differences(pair, args.tuned_base, probs), out / "tuned_vs_base")
    fileio.write_table(make_timings([json.loads(Path(p).read_text()) for p in args.timing]), out / "timings")
    if args.sweep_points:  # every sweep's value x seed, and per value the mean with its interval
        points = pd.concat([pd.read_parquet(p) for p in args.sweep_points], ignore_index=True)
        fileio.write_table(points, out / "sweep_points")
        fileio.write_table(summarise_points(points), out / "sweep_summary")
    log(f"tables for {len(specs)} experiments written to {out}")


def label_tables_step(args) -> None:
    """The tables that carry the experiments' titles and descriptions, from the specs and the score board."""
    specs = {spec["id"]: spec for spec in args.specs}
    meta = experiment_meta(specs)
    out = Path(args.outdir)
    fileio.write_table(meta, out / "experiments")
    # every experiment's resolved spec, prose and all (the ledger's record of what each experiment was)
    fileio.write_text(json.dumps(specs, indent=1, sort_keys=True) + "\n", out / "specs.json")
    fileio.write_table(titled(pd.read_parquet(args.scores), meta), out / "leaderboard")
    log(f"titles of {len(specs)} experiments written to {out}")
