"""Tables and figures of the hyperparameter searches: ranges per round, values tried, samplers compared."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from lessonbench import fileio  # noqa: E402
from lessonbench.fileio import log  # noqa: E402
from lessonbench.report.figures import WIDTH, save  # noqa: E402

STRATEGY_LABELS = {"random": "narrowing random search (the lesson's)", "tpe": "Optuna TPE, whole space"}
STRATEGY_COLOURS = {"random": "#1f77b4", "tpe": "#d62728"}


def main_search(trials: pd.DataFrame, settings: dict) -> pd.DataFrame:
    """The lesson's search: the narrowing random search with the first search seed."""
    first = settings["search_seeds"][0]
    return trials[(trials["strategy"] == "random") & (trials["search_seed"] == first)]


def rounds_table(trials: pd.DataFrame, settings: dict) -> pd.DataFrame:
    """Per round of the lesson's search: each hyperparameter's range (or choices), best accuracy in and so far."""
    main = main_search(trials, settings)
    rows = []
    best_so_far = -np.inf
    for round_no, group in main.groupby("round", sort=True):
        best_so_far = max(best_so_far, group["val_accuracy"].max())
        row = {"round": int(round_no), "trials": len(group), "best_val_accuracy_round": group["val_accuracy"].max(),
               "best_val_accuracy_so_far": best_so_far}
        for name in settings["space"]:
            row[name] = group[f"range:{name}"].iloc[0]
        rows.append(row)
    return pd.DataFrame(rows)


def samplers_table(trials: pd.DataFrame, timings: list[dict]) -> pd.DataFrame:
    """Per search (strategy x search seed): best validation accuracy, when it was found, trials per second."""
    speed = {(t["strategy"], t["search_seed"]): t["trials_per_second"] for t in timings}
    rows = []
    for (strategy, seed), group in trials.groupby(["strategy", "search_seed"], sort=True):
        ordered = group.sort_values("trial")
        best = ordered.loc[ordered["val_accuracy"].idxmax()]
        rows.append({"strategy": strategy, "search_seed": int(seed), "trials": len(group),
                     "best_val_accuracy": best["val_accuracy"], "found_at_trial": int(best["trial"]) + 1,
                     "median_val_accuracy": ordered["val_accuracy"].median(),
                     "trials_per_second": speed.get((strategy, seed))})
    return pd.DataFrame(rows)


def choice_table(best: dict, settings: dict) -> pd.DataFrame:
    """The lesson's search's choice: one row per hyperparameter, with the range it was searched in."""
    rows = []
    for name, dim in settings["space"].items():
        searched = (", ".join(json.dumps(c) if isinstance(c, bool) else str(c) for c in dim["choices"])
                    if "choices" in dim else f"{dim['low']:g} – {dim['high']:g} ({dim['scale']})")
        value = best["values"][name]
        shown = f"{value:.3g}" if isinstance(value, float) else json.dumps(value) if isinstance(value, bool) else value
        rows.append({"hyperparameter": name, "chosen": shown, "value": json.dumps(value), "searched": searched,
                     "trial": best["trial"] + 1, "round": best["round"], "val_accuracy": best["val_accuracy"]})
    return pd.DataFrame(rows)


def plot_values(trials: pd.DataFrame, settings: dict, best: dict, path) -> None:
    """Validation accuracy of every trial of the lesson's search against each hyperparameter, coloured by round."""
    main = main_search(trials, settings)
    names = list(settings["space"])
    cols = min(3, len(names))
    rows = int(np.ceil(len(names) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(WIDTH, 2.1 * rows + 0.4), squeeze=False, sharey=True,
                             layout="constrained")
    cmap = plt.get_cmap("viridis", settings["rounds"])
    floor = max(0.0, 100 * main["val_accuracy"].quantile(0.1) - 5)
    for ax, name in zip(axes.flat, names):
        dim = settings["space"][name]
        values = main[f"hp:{name}"].map(fileio.decode_value)
        if "choices" in dim:
            labels = [json.dumps(c) if isinstance(c, bool) else str(c) for c in dim["choices"]]
            index = {json.dumps(c) if isinstance(c, bool) else str(c): i for i, c in enumerate(dim["choices"])}
            jitter = np.random.default_rng(0).uniform(-0.15, 0.15, len(values))
            x = np.array([index[json.dumps(v) if isinstance(v, bool) else str(v)] for v in values]) + jitter
            ax.set_xticks(range(len(labels)), labels)
            chosen_x = index[json.dumps(best["values"][name]) if isinstance(best["values"][name], bool)
                             else str(best["values"][name])]
        else:
            x = values.astype(float).to_numpy()
            if dim["scale"] == "log":
                ax.set_xscale("log")
            chosen_x = best["values"][name]
        points = ax.scatter(x, 100 * main["val_accuracy"].clip(lower=floor / 100), c=main["round"], cmap=cmap,
                            vmin=0.5, vmax=settings["rounds"] + 0.5, s=16, alpha=0.85, edgecolors="none",
                            rasterized=True)
        ax.scatter([chosen_x], [100 * best["val_accuracy"]], marker="*", s=140, facecolors="none",
                   edgecolors="black", linewidths=1.2, label="chosen")
        ax.set_xlabel(name)
        ax.grid(alpha=0.3)
    for ax in axes[:, 0]:
        ax.set_ylabel("validation accuracy (%)")
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    axes.flat[0].set_ylim(bottom=floor)
    axes.flat[0].legend(loc="lower left")
    bar = fig.colorbar(points, ax=axes, shrink=0.8, ticks=range(1, settings["rounds"] + 1))
    bar.set_label("round")
    fig.suptitle(f"The lesson's search: {len(main)} trials of {settings['epochs']} epochs "
                 f"(accuracies below {floor:.0f}% drawn at {floor:.0f}%)")
    save(fig, path)


def plot_samplers(trials: pd.DataFrame, path) -> None:
    """Best validation accuracy so far against trials, for each search; mean per strategy drawn thick."""
    fig, ax = plt.subplots(figsize=(WIDTH, 3.0))
    for strategy, group in trials.groupby("strategy", sort=True):
        curves = []
        for _, search in group.groupby("search_seed", sort=True):
            curve = 100 * search.sort_values("trial")["val_accuracy"].cummax().to_numpy()
            curves.append(curve)
            ax.plot(np.arange(1, len(curve) + 1), curve, color=STRATEGY_COLOURS[strategy], alpha=0.35, lw=1)
        mean = np.mean(curves, axis=0)
        ax.plot(np.arange(1, len(mean) + 1), mean, color=STRATEGY_COLOURS[strategy], lw=2.5,
                label=f"{STRATEGY_LABELS[strategy]} (mean of {len(curves)} searches)")
    low = 100 * trials.groupby(["strategy", "search_seed"])["val_accuracy"].first().min()
    ax.set_ylim(max(low - 1, 100 * trials["val_accuracy"].quantile(0.5) - 2), None)
    ax.set_xlabel("trials")
    ax.set_ylabel("best validation accuracy so far (%)")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    save(fig, path)


def summarise_search_step(args) -> None:
    settings = args.settings
    trials = pd.concat([pd.read_parquet(p) for p in args.trials], ignore_index=True)
    bests = [json.loads(Path(p).read_text()) for p in args.best]
    first = settings["search_seeds"][0]
    best = next(b for b in bests if b["strategy"] == "random" and b["search_seed"] == first)
    timings = [json.loads(Path(p).read_text()) for p in args.timing]
    out = Path(args.outdir)
    samplers = samplers_table(trials, timings)
    fileio.write_table(trials, out / "search_trials")
    fileio.write_table(rounds_table(trials, settings), out / "search_rounds")
    fileio.write_table(samplers.drop(columns="trials_per_second"), out / "search_samplers")
    fileio.write_table(pd.DataFrame(timings), out / "search_timings")  # wall times: apart from the numbers
    fileio.write_table(choice_table(best, settings), out / "search_choice")
    plot_values(trials, settings, best, args.values_figure)
    plot_samplers(trials, args.samplers_figure)
    for strategy, group in samplers.groupby("strategy"):
        log(f"{strategy}: best validation accuracy {100 * group['best_val_accuracy'].mean():.2f}% mean over "
            f"{len(group)} searches ({100 * group['best_val_accuracy'].min():.2f}-"
            f"{100 * group['best_val_accuracy'].max():.2f}%), {group['trials_per_second'].mean():.2f} trials/s")
