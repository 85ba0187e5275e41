"""Drawings kept in the store: the same drawing of the same data is copied back byte for byte, any other is drawn."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lessonbench import figures, stats
from lessonbench.figures import drawn


def history(accuracy_shift: float = 0.0) -> pd.DataFrame:
    rows = [{"experiment": exp, "seed": seed, "epoch": epoch, "split": split,
             "accuracy": 0.5 + 0.04 * epoch + 0.01 * seed + (accuracy_shift if exp == "a" else 0.0)}
            for exp in ("a", "b") for seed in range(3) for epoch in range(1, 6) for split in ("train", "val")]
    return pd.DataFrame(rows)


def test_a_stored_drawing_is_copied_back_and_any_change_of_its_data_draws_anew(tmp_path, monkeypatch):
    store = tmp_path / "store"
    calls = []
    plot = figures.plot_small_multiples

    def counting(*args):
        calls.append(args)
        return plot(*args)

    counting.__module__, counting.__qualname__ = plot.__module__, plot.__qualname__
    fresh, first, again, changed = (tmp_path / f"{name}.png" for name in ("fresh", "first", "again", "changed"))
    drawn(fresh, plot, history(), ["a", "b"])  # no store: drawn
    drawn(first, counting, history(), ["a", "b"], store=str(store))
    drawn(again, counting, history(), ["a", "b"], store=str(store))
    assert len(calls) == 1  # the second came from the store
    assert fresh.read_bytes() == first.read_bytes() == again.read_bytes()
    drawn(changed, counting, history(accuracy_shift=0.01), ["a", "b"], store=str(store))
    assert len(calls) == 2 and changed.read_bytes() != first.read_bytes()
    drawn(changed, counting, history(), ["b", "a"], store=str(store))  # other arguments: another drawing
    assert len(calls) == 3


def test_the_key_follows_the_code(monkeypatch):
    args = (history(), ["a", "b"])
    before = figures.figure_key(figures.plot_small_multiples, args)
    assert figures.figure_key(figures.plot_small_multiples, args) == before
    monkeypatch.setattr("lessonbench.store.code_digest", lambda: "another package")
    assert figures.figure_key(figures.plot_small_multiples, args) != before


def test_the_palette_is_seaborns_without_importing_it():
    import seaborn as sns

    for n in (3, 10, 23):
        experiments = [f"e{i}" for i in range(n)]
        assert figures.colors(experiments) == dict(zip(experiments, sns.color_palette(figures.PALETTE,
                                                                                      n_colors=max(10, n))))


def test_a_curves_band_comes_back_from_the_store_bit_for_bit(tmp_path, monkeypatch):
    matrix = np.random.default_rng(0).uniform(0.8, 1.0, size=(6, 12))
    monkeypatch.setitem(figures.STORE, "dir", "")  # restored afterwards
    expected = stats.band(matrix)
    figures.use_store(str(tmp_path / "store"))
    first = figures.band(matrix)

    def never(*args, **kwargs):
        raise AssertionError("computed again")

    monkeypatch.setattr(stats, "band", never)
    again = figures.band(matrix.copy())
    for got in (first, again):
        assert all(np.array_equal(a, b) for a, b in zip(expected, got))
    changed = matrix.copy()
    changed[0, 0] += 1e-12
    with pytest.raises(AssertionError, match="computed again"):
        figures.band(changed)


def test_the_key_follows_matplotlibs_settings(monkeypatch):
    args = (history(), ["a", "b"])
    before = figures.figure_key(figures.plot_small_multiples, args)
    monkeypatch.setitem(figures.matplotlib.rcParams, "lines.linewidth", 3.0)  # as a user's matplotlibrc might
    assert figures.figure_key(figures.plot_small_multiples, args) != before


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
