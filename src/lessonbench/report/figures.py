"""Figures from the tables only: leaderboard, learning curves, confusion matrix, error gallery."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
from pathlib import Path  # noqa: E402

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from lessonbench import fileio
from lessonbench.analysis import stats  # noqa: E402
from lessonbench.engine.data import feature_names  # noqa: E402
from lessonbench.fileio import log  # noqa: E402

DPI = 150
PALETTE = "tab10"
# Figures are drawn at the size they print: the PDF's text width is 7.0 in (A4 less 16 mm margins), the
# stylesheet shows a PNG at DPI pixels per inch, and fonts are in points, none under MIN_FONT on paper.
WIDTH = 7.0
MIN_FONT = 7.0
matplotlib.rcParams.update({"font.size": 8, "axes.titlesize": 8.5, "axes.labelsize": 8, "xtick.labelsize": 7.5,
                            "ytick.labelsize": 7.5, "legend.fontsize": 7.5, "figure.titlesize": 9,
                            "legend.title_fontsize": 8})


def smallest_text(fig) -> float:
    """The smallest font size (pt) of any visible, non-empty text in the figure, as drawn."""
    sizes = [t.get_fontsize() for t in fig.findobj(matplotlib.text.Text) if t.get_visible() and t.get_text().strip()]
    return min(sizes, default=MIN_FONT)


def save(fig, path) -> None:
    """PNG at print resolution, without a timestamp, written atomically; logs its printed size and smallest text."""
    smallest = smallest_text(fig)
    with fileio.atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=DPI, format="png", bbox_inches="tight", pad_inches=0.02, metadata={"Software": None})
        header = Path(tmp).read_bytes()[16:24]  # PNG IHDR: width, height in pixels
    plt.close(fig)
    width, height = (int.from_bytes(header[i:i + 4], "big") / DPI for i in (0, 4))
    scale = min(1.0, WIDTH / width)  # wider than the text: the PDF scales it down, fonts with it
    log(f"{Path(path).name}: {width:.2f} x {height:.2f} in, printed at {100 * scale:.0f}%; "
        f"smallest text {smallest * scale:.1f} pt on paper")


def drawn(path, plot, *args) -> None:
    """save(plot(*args), path): one figure drawn from the data it is handed."""
    save(plot(*args), path)


def colors(experiments) -> dict:
    """One colour per experiment: seaborn's color_palette(PALETTE, n) (its ten colours, cycled), computed as seaborn
    does without importing it (seaborn imports scipy.stats: a second and a half of start-up)."""
    cmap = matplotlib.colormaps[PALETTE]
    palette = [tuple(map(float, rgb)) for rgb in cmap(np.linspace(0, 1, cmap.N))[:, :3]]
    return {exp: palette[i % len(palette)] for i, exp in enumerate(experiments)}


def plot_leaderboard(board: pd.DataFrame):
    """Mean test accuracy per experiment with its 95% bootstrap interval, best at the top."""
    board = board.sort_values("test_accuracy_mean", na_position="first")  # all-diverged rows at the bottom
    fig, ax = plt.subplots(figsize=(0.8 * WIDTH, 0.2 * len(board) + 0.9))
    y = np.arange(len(board))
    mean = 100 * board["test_accuracy_mean"].to_numpy(dtype=float)
    err = 100 * np.vstack([board["test_accuracy_mean"] - board["test_accuracy_ci_low"],
                           board["test_accuracy_ci_high"] - board["test_accuracy_mean"]]).astype(float)
    # An experiment far below the rest (all-equal weights, say) would squash the others: clip it at the edge.
    far = mean < np.nanmedian(mean) - 15
    low = 100 * board["test_accuracy_ci_low"].to_numpy(dtype=float)
    left = np.nanmin(low[~far], initial=100.0) - 1
    ax.errorbar(mean[~far], y[~far], xerr=err[:, ~far], fmt="o", color="black", ecolor="tab:blue", capsize=3)
    for yi, m in zip(y[far], mean[far]):
        ax.annotate(f"◀ {m:.1f}", (left, yi), va="center", color="tab:red")
    ax.set_xlim(left, 100)
    ax.set_ylim(-0.7, len(board) - 0.3)
    ax.set_yticks(y, [f"{e} (diverged)" if pd.isna(m) else e for e, m in zip(board["experiment"], mean)])
    ax.set_xlabel("test accuracy (%), mean over seeds; 95% interval over seeds and test samples")
    ax.grid(axis="x", alpha=0.4)
    return fig


def band(matrix) -> tuple[np.ndarray, np.ndarray]:
    """stats.band of a seeds x epochs matrix: the 95% interval of each epoch's mean."""
    return stats.band(np.ascontiguousarray(matrix, dtype=float))


def mean_band(history: pd.DataFrame, split: str, column: str) -> pd.DataFrame:
    """Per-epoch mean over seeds of one split's column with its 95% interval (stats.band): mean, low, high."""
    wide = history[history["split"] == split].pivot(index="seed", columns="epoch", values=column)
    low, high = band(wide.to_numpy())
    return pd.DataFrame({"mean": wide.mean(axis=0).to_numpy(), "low": low, "high": high}, index=wide.columns)


def plot_section(history: pd.DataFrame, experiments: list[str], palette: dict):
    """Validation accuracy (mean, 95% band over seeds) in full and zoomed, and the train-val gap per epoch.

    Two panels a row, at the text width; the legend has the fourth cell to itself, off the data."""
    fig, axes = plt.subplots(2, 2, figsize=(WIDTH, 4.6), layout="constrained")
    (ax_val, ax_zoom), (ax_gap, ax_legend) = axes
    settled = []
    for exp in experiments:
        hist = history[history["experiment"] == exp]
        if hist.empty:  # every seed diverged in its first epoch: nothing to draw
            continue
        val = mean_band(hist, "val", "accuracy") * 100
        for ax in (ax_val, ax_zoom):
            ax.plot(val.index, val["mean"], color=palette[exp], label=exp, linewidth=1.2)
            ax.fill_between(val.index, val["low"], val["high"], color=palette[exp], alpha=0.2, linewidth=0)
        settled.append(val["mean"].iloc[len(val) // 2:].min())
        wide = hist.pivot_table(index=["seed", "epoch"], columns="split", values="accuracy")
        gap = ((wide["train"] - wide["val"]) * 100).unstack("epoch")  # seeds x epochs
        low, high = band(gap.to_numpy())
        ax_gap.plot(gap.columns, gap.mean(axis=0), color=palette[exp], label=exp, linewidth=1.2)
        ax_gap.fill_between(gap.columns, low, high, color=palette[exp], alpha=0.2, linewidth=0)
    ax_val.set(xlabel="epoch", ylabel="validation accuracy (%)", title="Validation accuracy")
    ax_val.set_ylim(max(0, ax_val.get_ylim()[0]), 100)
    ax_zoom.set(xlabel="epoch", ylabel="validation accuracy (%)", title="Validation accuracy, zoomed")
    # where the better half of the curves settle (the others are in the full panel beside it)
    ax_zoom.set_ylim(max(0, float(np.median(settled)) - 5 if settled else 0), 100)
    ax_gap.set(xlabel="epoch", ylabel="train − validation (points)", title="Train-validation gap")
    ax_gap.axhline(0, color="grey", linewidth=0.8)
    for ax in (ax_val, ax_zoom, ax_gap):
        ax.grid(alpha=0.3)
    handles, labels = ax_val.get_legend_handles_labels()
    ax_legend.axis("off")
    ax_legend.legend(handles, labels, loc="center", frameon=False, title="mean over seeds, 95% band",
                     ncols=2 if len(labels) > 6 else 1)
    return fig


SHARED_FLOOR = 50  # the small multiples' shared accuracy axis starts here (%)


def plot_small_multiples(history: pd.DataFrame, experiments: list[str]):
    """One panel per experiment: train and validation accuracy, mean with 95% band over seeds.

    The panels share a 50-100% axis, so that the good runs can be told apart; an experiment whose curves never
    reach 50% (all-equal weights, a too-small step) would be an empty box there, so its panel spans 0-100% and
    says so inside the panel.
    """
    cols = 4
    rows = -(-len(experiments) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(WIDTH, 1.45 * rows + 0.5), squeeze=False, layout="constrained")
    for i, (ax, exp) in enumerate(zip(axes.flat, experiments)):
        hist = history[history["experiment"] == exp]
        top = 0.0
        for split, color in (("train", "tab:orange"), ("val", "tab:blue")):
            curve = mean_band(hist, split, "accuracy") * 100
            ax.plot(curve.index, curve["mean"], color=color, label=split, linewidth=1.2)
            ax.fill_between(curve.index, curve["low"], curve["high"], color=color, alpha=0.2, linewidth=0)
            top = max(top, curve["mean"].max()) if len(curve) else top
        own_scale = not hist.empty and top < SHARED_FLOOR
        ax.set_title(exp)
        if own_scale:  # said inside the panel, in its empty upper half: a longer title could widen the figure
            ax.text(0.04, 0.94, "own axis: 0-100%", transform=ax.transAxes, ha="left", va="top", fontsize=7.5)
        if hist.empty:
            ax.text(0.5, 0.5, "every seed diverged", ha="center", va="center", transform=ax.transAxes)
        ax.set_ylim(0 if own_scale else SHARED_FLOOR, 101)
        if i % cols and not own_scale:  # the shared axis is labelled in the first column
            ax.tick_params(labelleft=False)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(experiments):]:
        ax.axis("off")
    fig.legend(*axes.flat[0].get_legend_handles_labels(), loc="outside upper center", ncols=2, frameon=False)
    fig.supxlabel("epoch", fontsize=8)
    fig.supylabel("accuracy (%)", fontsize=8)
    return fig


def plot_confusion(probs: pd.DataFrame, title: str, classes: list[str]):
    """Confusion matrix of the test predictions in probs (sklearn), as an annotated heatmap, rows and columns
    named by the dataset's classes."""
    import seaborn as sns  # here: only this figure needs it, and it costs a second and a half to import
    from sklearn.metrics import confusion_matrix

    matrix = confusion_matrix(probs["label"], probs["pred"], labels=range(len(classes)))
    fig, ax = plt.subplots(figsize=(4.2, 3.6))
    sns.heatmap(matrix, annot=True, fmt="d", cmap="Blues", cbar=False, ax=ax, square=True,
                xticklabels=classes, yticklabels=classes)
    ax.set(xlabel="predicted", ylabel="true", title=title)
    return fig


def plot_error_gallery(errors: pd.DataFrame, description: dict, value_range: tuple[float, float], cols: int = 8):
    """Each misclassified test sample as its image (the dataset's `image_shape`) with true class, prediction and
    its probability."""
    n = max(1, len(errors))
    rows = -(-n // cols)
    classes, features = description["classes"], description["features"]
    fig, axes = plt.subplots(rows, cols, figsize=(WIDTH, 1.05 * rows), squeeze=False)
    for ax, (_, err) in zip(axes.flat, errors.iterrows()):
        ax.imshow(err[features].to_numpy(dtype=float).reshape(description["image_shape"]), cmap="gray_r",
                  vmin=value_range[0], vmax=value_range[1])
        ax.set_title(f"true {classes[err['label']]}, pred {classes[err['pred']]}\np={err['pred_prob']:.2f}",
                     fontsize=7)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    for ax in list(axes.flat)[len(errors):]:
        ax.axis("off")
    if errors.empty:
        axes.flat[0].text(0.5, 0.5, "no misclassified test samples", ha="center", va="center")
    fig.tight_layout()
    return fig


def plot_error_table(errors: pd.DataFrame, description: dict, rows: int = 12, columns: int = 6):
    """The most confidently misclassified test rows of a table of data: true class, prediction, its probability
    and its first features."""
    classes, features = description["classes"], description["features"][:columns]
    top = errors.head(rows)
    cells = [[str(r["sample"]), classes[r["label"]], classes[r["pred"]], f"{r['pred_prob']:.2f}",
              *(f"{r[f]:.3g}" for f in features)] for _, r in top.iterrows()]
    fig, ax = plt.subplots(figsize=(WIDTH, 0.22 * (len(cells) + 1) + 0.2))
    ax.axis("off")
    if cells:
        table = ax.table(cellText=cells, colLabels=["row", "true", "predicted", "p", *features], bbox=[0, 0, 1, 1],
                         cellLoc="right", colLoc="right")
        table.auto_set_font_size(False)
        table.set_fontsize(7.5)
    else:
        ax.text(0.5, 0.5, "no misclassified test samples", ha="center", va="center")
    fig.tight_layout()
    return fig


def misclassified(probs: pd.DataFrame, split_frame: pd.DataFrame) -> pd.DataFrame:
    """Wrong test predictions joined with their raw features, most confident mistakes first."""
    wrong = probs[probs["pred"] != probs["label"]].copy()
    wrong["pred_prob"] = wrong[[c for c in probs.columns if c.startswith("prob_")]].max(axis=1)
    features = split_frame[split_frame["split"] == "test"][["sample", *feature_names(split_frame)]]
    return wrong.merge(features, on="sample").sort_values(["pred_prob", "sample"], ascending=[False, True])


def named_mistakes(errors: pd.DataFrame, description: dict) -> pd.DataFrame:
    """Every misclassified test sample of the showcase model, most confident first: its row in the data, true and
    predicted class by name, the probability given, and all its features (results/tables/misclassified.csv)."""
    classes = description["classes"]
    out = pd.DataFrame({"row": errors["sample"], "true": [classes[i] for i in errors["label"]],
                        "predicted": [classes[i] for i in errors["pred"]], "p": errors["pred_prob"]})
    return pd.concat([out, errors[description["features"]]], axis=1)


def draw_figures_step(args) -> None:
    tables_dir = Path(args.tables)
    history = pd.read_parquet(tables_dir / "history.parquet")
    board = pd.read_parquet(tables_dir / "scores.parquet")  # the leaderboard's numbers, in config order; no titles
    palette = colors(list(board["experiment"]))
    drawn(args.leaderboard, plot_leaderboard,
          board[["experiment", "test_accuracy_mean", "test_accuracy_ci_low", "test_accuracy_ci_high"]])
    drawn(args.small_multiples, plot_small_multiples, history, list(board["experiment"]))
    for section, path in zip(args.sections, args.section_figures):
        experiments = list(board.loc[board["section"] == section, "experiment"])
        drawn(path, plot_section, of_experiments(history, experiments), experiments,
              {exp: palette[exp] for exp in experiments})
    showcase = pd.read_parquet(tables_dir / "showcase.parquet").iloc[0]  # chosen by the tables step
    exp, seed = showcase["experiment"], int(showcase["seed"])
    probs = pd.read_parquet(tables_dir / "test_probs.parquet")
    probs = probs[(probs["experiment"] == exp) & (probs["seed"] == seed)].reset_index(drop=True)
    split, description = pd.read_parquet(args.split), args.dataset
    errors = misclassified(probs, split).reset_index(drop=True)
    fileio.write_csv(named_mistakes(errors, description), args.mistakes)
    drawn(args.confusion, plot_confusion, probs[["label", "pred"]], f"{exp}, seed {seed}", description["classes"])
    if description["image_shape"]:
        values = split[description["features"]].to_numpy()
        drawn(args.errors, plot_error_gallery, errors, description, (float(values.min()), float(values.max())))
    else:
        drawn(args.errors, plot_error_table, errors, description)
    log(f"figures written; showcase {exp} seed {seed} with {len(errors)} test errors")


def of_experiments(history: pd.DataFrame, experiments: list[str]) -> pd.DataFrame:
    """The rows of these experiments, in their order in the table, numbered afresh."""
    return history[history["experiment"].isin(experiments)].reset_index(drop=True)
