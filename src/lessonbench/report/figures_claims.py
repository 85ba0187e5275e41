"""Each claim's experiments drawn together: validation curves with 95% bands, the budget and the target."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from lessonbench.fileio import log
from lessonbench.report.figures import WIDTH, colors, drawn, mean_band, of_experiments, plt

FONT = 8


CLAIM_COLUMNS = ["treatment", "control", "metric", "budget", "target"]  # what plot_claim reads of a claim


def claim_experiments(claim) -> list[str]:
    """The experiments of a claim's treatment and control ('a - b' is a difference of two), each once."""
    return list(dict.fromkeys(claim["treatment"].split(" - ") + claim["control"].split(" - ")))


def plot_claim(rows: pd.DataFrame, history: pd.DataFrame, palette: dict):
    """Validation accuracy of every experiment in the claim (and the gap when a gap metric is claimed)."""
    first = rows.iloc[0]
    experiments = claim_experiments(first)
    gap = "train_val_gap" in set(rows["metric"])
    with plt.rc_context({"font.size": FONT, "axes.titlesize": FONT + 1, "legend.fontsize": FONT - 0.5}):
        fig, axes = plt.subplots(1, 2 if gap else 1, figsize=(WIDTH, 2.5), squeeze=False)
        ax_val = axes[0, 0]
        lowest = []
        for exp in experiments:
            hist = history[history["experiment"] == exp]
            if hist.empty:
                continue
            role = "treatment" if exp in first["treatment"].split(" - ") else "control"
            style = "-" if role == "treatment" else "--"
            val = mean_band(hist, "val", "accuracy") * 100
            ax_val.plot(val.index, val["mean"], style, color=palette[exp], label=f"{exp} ({role})", linewidth=1.3)
            ax_val.fill_between(val.index, val["low"], val["high"], color=palette[exp], alpha=0.2, linewidth=0)
            lowest.append(val["mean"].iloc[min(len(val) - 1, 4):].min())  # past the first epochs' climb
            if gap:
                wide = hist.pivot_table(index=["seed", "epoch"], columns="split", values="accuracy")
                diff = ((wide["train"] - wide["val"]) * 100).rename("accuracy").reset_index()
                g = mean_band(diff.assign(split="gap"), "gap", "accuracy")
                axes[0, 1].plot(g.index, g["mean"], style, color=palette[exp], linewidth=1.3)
                axes[0, 1].fill_between(g.index, g["low"], g["high"], color=palette[exp], alpha=0.2, linewidth=0)
        budget = int(first["budget"])
        for ax in axes.flat:
            if budget < history[history["experiment"].isin(experiments)]["epoch"].max():
                ax.axvline(budget, color="grey", linestyle=":", linewidth=1)
            ax.grid(alpha=0.3)
            ax.set_xlabel("epoch")
        if "epochs_to_target" in set(rows["metric"]):
            ax_val.axhline(100 * first["target"], color="black", linestyle="-.", linewidth=0.8,
                           label=f"target {100 * first['target']:.0f}%")
        ax_val.set_ylim(max(0, min([*lowest, 100 * first["target"]]) - 3), 100.5)
        ax_val.set_ylabel("validation accuracy (%)")
        ax_val.legend(loc="lower right", frameon=True)
        if gap:
            axes[0, 1].axhline(0, color="grey", linewidth=0.8)
            axes[0, 1].set_ylabel("train - validation (points)")
        fig.tight_layout()
    return fig


def plot_claim_lr(rows: pd.DataFrame, points: pd.DataFrame, palette: dict):
    """A largest_lr claim: final validation accuracy against the swept learning rate, every tuning seed a thin line
    and their mean a thick one, for both experiments, with the target the claim reads the largest rate at."""
    first = rows.iloc[0]
    with plt.rc_context({"font.size": FONT, "axes.titlesize": FONT + 1, "legend.fontsize": FONT - 0.5}):
        fig, ax = plt.subplots(figsize=(WIDTH, 2.5))
        for exp in claim_experiments(first):
            sweep = points[(points["experiment"] == exp) & (points["key"] == "optimizer.lr")]
            role = "treatment" if exp in first["treatment"].split(" - ") else "control"
            style = "-" if role == "treatment" else "--"
            for _, seed in sweep.groupby("seed"):
                seed = seed.sort_values("value")
                ax.plot(seed["value"], 100 * seed["final_val_accuracy"], style, color=palette[exp], alpha=0.25,
                        linewidth=0.6)
            mean = sweep.groupby("value")["final_val_accuracy"].mean() * 100
            ax.plot(mean.index, mean.to_numpy(), style, marker="o", ms=3, color=palette[exp], linewidth=1.5,
                    label=f"{exp} ({role}), mean of {sweep['seed'].nunique()} tuning seeds")
        ax.axhline(100 * first["target"], color="black", linestyle="-.", linewidth=0.8,
                   label=f"target {100 * first['target']:.0f}%")
        ax.set_xscale("log")
        ax.set_xlabel("learning rate")
        ax.set_ylabel("final validation accuracy (%)")
        ax.grid(alpha=0.3, which="both")
        ax.legend(loc="lower left", frameon=True)
        fig.tight_layout()
    return fig


def draw_claims_step(args) -> None:
    tables = Path(args.tables)
    claims = pd.read_parquet(tables / "claims.parquet")
    history = pd.read_parquet(tables / "history.parquet")
    scores = pd.read_parquet(tables / "scores.parquet")  # experiments in config order
    palette = colors(list(scores["experiment"]))
    for path in args.figures:  # results/figures/claims/CLAIM_ID.png
        rows = claims.loc[claims["claim_id"] == Path(path).stem, CLAIM_COLUMNS].reset_index(drop=True)
        experiments = claim_experiments(rows.iloc[0])
        mine = {exp: palette[exp] for exp in experiments if exp in palette}
        if rows["metric"].iloc[0] == "largest_lr":  # read off the sweeps: drawn from their points
            drawn(path, plot_claim_lr, rows, pd.read_parquet(tables / "sweep_points.parquet"), mine)
        else:
            drawn(path, plot_claim, rows, of_experiments(history, experiments), mine)
    log(f"{len(args.figures)} claim figures written")


KEY_LABELS = {"optimizer.lr": "learning rate", "optimizer.weight_decay": "weight decay (L2)",
              "model.dropout": "dropout rate"}


def plot_sensitivity(summary: pd.DataFrame, palette: dict):
    """Final validation accuracy against each swept value: one panel per hyperparameter, one line per sweep.

    Mean over seeds with its 95% interval as a band; an open circle marks the lesson's value, a star the best.
    """
    keys = list(dict.fromkeys(summary["key"]))
    with plt.rc_context({"font.size": FONT, "axes.titlesize": FONT + 1, "legend.fontsize": FONT - 0.5}):
        fig, axes = plt.subplots(len(keys), 1, figsize=(WIDTH, 2.4 * len(keys)), squeeze=False)
        for ax, key in zip(axes[:, 0], keys):
            lows = []
            for sweep, rows in summary[summary["key"] == key].groupby("sweep", sort=False):
                rows = rows.sort_values("value")
                color = palette.get(rows["experiment"].iloc[0], "black")
                x, mean = rows["value"], 100 * rows["val_accuracy_mean"]
                ax.plot(x, mean, "-", color=color, linewidth=1.3, label=f"{rows['experiment'].iloc[0]} ({sweep})")
                ax.fill_between(x, 100 * rows["val_accuracy_ci_low"], 100 * rows["val_accuracy_ci_high"],
                                color=color, alpha=0.2, linewidth=0)
                lesson, best = rows[rows["lesson_value"]], rows[rows["best"]]
                ax.plot(lesson["value"], 100 * lesson["val_accuracy_mean"], "o", mfc="white", color=color, ms=7)
                ax.plot(best["value"], 100 * best["val_accuracy_mean"], "*", color=color, ms=11, mec="black",
                        mew=0.5)
                lows.append(mean[mean >= mean.max() - 15].min())  # far-off values do not squash the rest
            if (summary.loc[summary["key"] == key, "scale"] == "log").all():
                ax.set_xscale("log")
            ax.set_ylim(max(0, min(lows) - 2), 100.5)
            ax.set_xlabel(KEY_LABELS.get(key, key))
            ax.set_ylabel("final validation acc. (%)")
            ax.grid(alpha=0.3, which="both")
            ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
        fig.tight_layout()
    return fig


def draw_sensitivity_step(args) -> None:
    tables = Path(args.tables)
    summary = pd.read_parquet(tables / "sweep_summary.parquet")
    scores = pd.read_parquet(tables / "scores.parquet")  # experiments in config order
    palette = colors(list(scores["experiment"]))
    mine = {exp: palette[exp] for exp in summary["experiment"].unique() if exp in palette}
    drawn(args.figure, plot_sensitivity, summary, mine)
    log(f"sensitivity figure of {summary['sweep'].nunique()} sweeps written")
