"""The lesson's illustrations drawn from recomputed numbers: optimizer paths, activation histograms."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from lessonbench import fileio
from lessonbench.engine.data import load_part, read_scaler  # noqa: E402
from lessonbench.fileio import log  # noqa: E402
from lessonbench.jobs import illustrations  # noqa: E402
from lessonbench.report.figures import WIDTH, save  # noqa: E402


def plot_optimizer_paths(paths: pd.DataFrame):
    """One panel per optimizer: its path over the contours of f(x, y) = x^2/20 + y^2."""
    labels = list(dict.fromkeys(paths["optimizer"]))
    cols = min(2, len(labels))
    rows = -(-len(labels) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(WIDTH, 1.9 * rows), squeeze=False, layout="constrained")
    gx, gy = np.meshgrid(np.linspace(-10, 10, 201), np.linspace(-5, 5, 101))
    for ax, label in zip(axes.flat, labels):
        path = paths[paths["optimizer"] == label]
        ax.contour(gx, gy, gx**2 / 20 + gy**2, levels=np.geomspace(0.1, 30, 12), colors="#bbbbbb", linewidths=0.7)
        ax.plot(path["x"], path["y"], "o-", color="tab:red", markersize=3, linewidth=1)
        ax.plot(0, 0, "+", color="black", markersize=10)
        end = path.iloc[-1]
        ax.set_title(f"{label}: {np.hypot(end['x'], end['y']):.3f} from the minimum after {int(end['step'])} steps")
        ax.set(xlim=(-10, 10), ylim=(-5, 5), xlabel="x", ylabel="y")
    for ax in list(axes.flat)[len(labels):]:
        ax.axis("off")
    return fig


def plot_activation_histograms(layers: dict[str, list], titles: dict[str, str], stats: pd.DataFrame,
                               by_layer_rows: bool = False):
    """One panel per case and layer (cases as rows, or as columns when by_layer_rows); sd and saturation shown."""
    cases = list(layers)
    n_layers = max(len(v) for v in layers.values())
    shape = (n_layers, len(cases)) if by_layer_rows else (len(cases), n_layers)
    fig, axes = plt.subplots(*shape, figsize=(WIDTH, min(1.25 * shape[0] + 0.2, 8.5)), squeeze=False,
                             layout="constrained")
    for r, case in enumerate(cases):
        for c, acts in enumerate(layers[case]):
            ax = axes[c, r] if by_layer_rows else axes[r, c]
            values = acts.flatten().numpy()
            upper = 1 if values.max() <= 1 else float(np.quantile(values, 0.99))
            ax.hist(values, bins=30, range=(0, upper), color="tab:blue", rasterized=True)
            row = stats[(stats["case"] == case) & (stats["layer"] == c + 1)].iloc[0]
            label = f"{titles[case]}, layer {c + 1}\n" if by_layer_rows else f"layer {c + 1}: "
            ax.set_title(f"{label}sd {row['std']:.3f}, sat. {100 * row['saturated_share']:.0f}%", fontsize=7)
            ax.tick_params(labelsize=7)
            ax.set_yticks([])
        if not by_layer_rows:
            axes[r, 0].set_ylabel(titles[case], fontsize=7)
    return fig


def draw_optimizer_paths_step(args) -> None:
    settings = args.settings
    paths = illustrations.optimizer_paths(settings)
    fileio.write_table(paths, args.table)
    save(plot_optimizer_paths(paths), args.figure)
    ends = paths[paths["step"] == settings["steps"]]
    log("distance to the minimum after the last step: "
        + ", ".join(f"{r['optimizer']} {np.hypot(r['x'], r['y']):.3f}" for _, r in ends.iterrows()))


def draw_activations_step(args) -> None:
    settings = args.settings
    frame = pd.read_parquet(args.split)
    x_train, _ = load_part(frame, read_scaler(args.scaler), "train")
    classes = int(frame["label"].max()) + 1
    stats = []
    cases = dict(settings["cases"])  # [name, case] pairs in file order
    for network, path in (("deep", args.deep_figure), ("lesson", args.lesson_figure)):
        layers = {}
        for case, spec in cases.items():
            if network == "deep":
                layers[case] = illustrations.deep_activations(spec, settings["deep"], settings["seed"])
            else:
                layers[case] = illustrations.lesson_activations(spec, x_train, settings["seed"], classes)
            rows = illustrations.activation_stats(layers[case], spec["activation"], settings["saturation"])
            stats += [{"network": network, "case": case, "title": spec["title"], **row} for row in rows]
        table = pd.DataFrame(stats)
        titles = {k: v["title"] for k, v in cases.items()}
        save(plot_activation_histograms(layers, titles, table[table["network"] == network], network == "lesson"), path)
    fileio.write_table(pd.DataFrame(stats), args.table)
    log(f"activation statistics for {len(settings['cases'])} cases written")


def measure_symmetry_step(args) -> None:
    weights = {exp: illustrations.load_weights(path) for exp, path in zip(args.experiments, args.weights)}
    table = illustrations.symmetry_table(weights, args.tolerance)
    fileio.write_table(table, args.table)
    log(table.groupby(["experiment", "layer"])["distinct_units"].mean().to_string())


def summarise_models_step(args) -> None:
    models, shape = args.models, (len(args.dataset["features"]), len(args.dataset["classes"]))
    fileio.write_json({exp: illustrations.model_summary(spec, shape) for exp, spec in models.items()}, args.output)
    log(f"model summaries of {len(models)} experiments written")
