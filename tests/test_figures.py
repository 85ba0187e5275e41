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
