"""Metric definitions against scikit-learn and scipy."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score, log_loss

from lessonbench.analysis.tables import leaderboard_row, mean_interval, paired_differences
from lessonbench.engine.stacked import StackedMLP
from lessonbench.engine.training import evaluate, generators

from .conftest import DIGITS, probs_for


def test_evaluate_matches_sklearn(tensors):
    model = StackedMLP({"hidden": [20], "activation": "tanh", "batchnorm": False, "dropout": 0.0,
                        "init": {"name": "xavier_uniform"}}, k=2, shape=DIGITS)
    model.initialise(generators([0, 1], "init"))
    x, y = tensors["val"]
    scores = evaluate(model, x, y, probs=True)
    for k in range(2):
        probs = scores["probs"][k].double().numpy()
        probs /= probs.sum(1, keepdims=True)  # float32 softmax sums to 1 within 1e-7
        assert scores["accuracy"][k] == pytest.approx(accuracy_score(y.numpy(), probs.argmax(1)))
        assert scores["loss"][k] == pytest.approx(log_loss(y.numpy(), probs, labels=range(10)), rel=1e-5)
    assert scores["loss"][0] != scores["loss"][1]


def test_interval_brackets_the_mean_and_narrows_with_data():
    rng = np.random.default_rng(0)
    small, large = rng.normal(0.95, 0.01, 10), rng.normal(0.95, 0.01, 1000)
    lo_s, hi_s = mean_interval(small)
    lo_l, hi_l = mean_interval(large)
    assert lo_s < small.mean() < hi_s and lo_l < large.mean() < hi_l
    assert hi_l - lo_l < hi_s - lo_s
    assert mean_interval([0.9, 0.9, 0.9]) == (0.9, 0.9)
    # a deterministic output: numpy's global generator does not change it
    np.random.seed(1)
    first = mean_interval(small)
    np.random.seed(2)
    assert mean_interval(small) == first


def runs_frame(exp, accs, diverged=()):
    return pd.DataFrame({
        "experiment": exp, "seed": range(len(accs)), "final_test_accuracy": accs,
        "final_val_accuracy": accs, "final_train_accuracy": [a + 0.01 for a in accs], "final_train_loss": 0.1,
        "best_val_accuracy": accs, "best_val_epoch": 5, "n_params": 10,
        "diverged_epoch": pd.array([3 if s in diverged else None for s in range(len(accs))], dtype="Int64"),
    })


def test_leaderboard_row_excludes_diverged_seeds():
    runs = runs_frame("a", [0.9, 0.8, np.nan], diverged=(2,))
    row = leaderboard_row(runs, probs_for(runs))
    assert row["n_diverged"] == 1 and row["divergence_rate"] == pytest.approx(1 / 3)
    assert row["test_accuracy_mean"] == pytest.approx(0.85)
    assert row["train_val_gap_mean"] == pytest.approx(0.01)
    assert 0 <= row["test_accuracy_ci_low"] < 0.85 < row["test_accuracy_ci_high"] <= 1


def test_paired_differences_pair_by_seed():
    base = [0.90, 0.80, 0.85, 0.95, 0.70, 0.88]
    runs = pd.concat([runs_frame("base", base), runs_frame("b", [a + d for a, d in zip(base, [.01, .02, .03] * 2)])])
    diff = paired_differences(runs, "base", probs_for(runs)).iloc[0]
    # unpaired, the seeds' spread (0.70 to 0.95) would swamp a 2-point difference; paired, it is clear
    assert diff["diff_mean"] == pytest.approx(0.02, abs=1 / 360) and diff["share_better"] == 1.0
    assert 0 < diff["diff_ci_low"] < 0.02 < diff["diff_ci_high"] < 0.04
    # the interval also carries the test set's own sampling error: wider than the seeds' alone
    seeds_only = mean_interval([0.01, 0.02, 0.03] * 2)
    assert diff["diff_ci_high"] - diff["diff_ci_low"] > seeds_only[1] - seeds_only[0]

