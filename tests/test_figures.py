"""Figures: the palette without seaborn, a panel that needs its own axis says so."""

from __future__ import annotations

import pandas as pd

from lessonbench.report import figures


def history(accuracy_shift: float = 0.0) -> pd.DataFrame:
    rows = [{"experiment": exp, "seed": seed, "epoch": epoch, "split": split,
             "accuracy": 0.5 + 0.04 * epoch + 0.01 * seed + (accuracy_shift if exp == "a" else 0.0)}
            for exp in ("a", "b") for seed in range(3) for epoch in range(1, 6) for split in ("train", "val")]
    return pd.DataFrame(rows)


def test_the_palette_is_seaborns_without_importing_it():
    import seaborn as sns

    for n in (3, 10, 23):
        experiments = [f"e{i}" for i in range(n)]
        assert figures.colors(experiments) == dict(zip(experiments, sns.color_palette(figures.PALETTE,
                                                                                      n_colors=max(10, n))))


def test_a_panel_whose_curves_stay_below_the_shared_axis_gets_its_own_and_says_so():
    """All-equal weights (~44%) and a too-small step (~34%) were empty boxes on the shared 50-100% axis."""
    frame = history()
    frame.loc[frame["experiment"] == "a", "accuracy"] = 0.3
    fig = figures.plot_small_multiples(frame.replace({"experiment": {"a": "low"}}), ["low", "b"])
    try:
        panels = {ax.get_title(): (ax.get_ylim(), [t.get_text() for t in ax.texts]) for ax in fig.axes
                  if ax.get_title()}
        assert panels == {"low": ((0.0, 101.0), ["own axis: 0-100%"]), "b": ((50.0, 101.0), [])}
    finally:
        figures.plt.close(fig)


def test_a_largest_learning_rate_claim_draws_its_sweeps(tmp_path):
    """A claim read off learning-rate sweeps is drawn from their points: accuracy against the rate (log axis), each
    tuning seed and the mean of each experiment, and the target line."""
    from lessonbench.report.figures_claims import plot_claim_lr

    grid = [0.1, 1.0, 10.0]
    points = pd.DataFrame([{"experiment": exp, "key": "optimizer.lr", "value": v, "seed": seed,
                            "final_val_accuracy": 0.95 if v <= top else 0.1}
                           for exp, top in (("bn", 1.0), ("plain", 0.1)) for v in grid for seed in (10, 11)])
    rows = pd.DataFrame([{"treatment": "bn", "control": "plain", "metric": "largest_lr", "budget": 100,
                          "target": 0.9}])
    fig = plot_claim_lr(rows, points, {"bn": "C0", "plain": "C1"})
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and len(ax.lines) == 2 * 2 + 2 + 1  # seeds, means, target
    assert [line.get_label() for line in ax.lines if not line.get_label().startswith("_")] == [
        "bn (treatment), mean of 2 tuning seeds", "plain (control), mean of 2 tuning seeds", "target 90%"]
