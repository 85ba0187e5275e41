"""The ledger of report builds: entries per experiment, and what changed between two builds."""

from __future__ import annotations

import pandas as pd
import pytest

from lessonbench.analysis import ledger


def spec(lr: float) -> dict:
    return {"id": "adam", "title": "Adam", "seeds": 3, "epochs": 2, "batch_size": 32,
            "model": {"hidden": [100, 50], "activation": "sigmoid", "batchnorm": False, "dropout": 0.0,
                      "init": {"name": "uniform"}},
            "optimizer": {"name": "adam", "lr": lr}}


def build(n: int, lr: float, accuracies: list[float], extra: bool = False) -> pd.DataFrame:
    specs = {"adam": spec(lr), **({"new": {**spec(0.1), "id": "new"}} if extra else {})}
    runs = pd.DataFrame([{"experiment": exp, "seed": s, "final_test_accuracy": a}
                         for exp in specs for s, a in enumerate(accuracies)])
    board = pd.DataFrame([{"experiment": exp, "test_accuracy_mean": sum(accuracies) / 3, "test_accuracy_ci_low": 0.8,
                           "test_accuracy_ci_high": 0.99} for exp in specs])
    return ledger.entries(specs, runs, board, n, f"2026-11-2{n}T00:00:00Z")


def test_a_changed_setting_is_named_with_both_results_and_the_paired_difference(tmp_path):
    path = tmp_path / "ledger.csv"
    first = build(1, 0.01, [0.90, 0.92, 0.94])
    assert ledger.changes(ledger.previous(ledger.read(path)), first)["first"]
    ledger.append(path, ledger.read(path), first)
    second = build(2, 0.005, [0.91, 0.94, 0.97], extra=True)
    history = ledger.read(path)
    changes = ledger.changes(ledger.previous(history), second)
    assert not changes["first"] and changes["build"] == 1 and changes["removed"] == []
    assert [r["experiment"] for r in changes["added"]] == ["new"]
    (changed,) = changes["changed"]
    assert changed["settings"] == ["optimizer.lr 0.01 → 0.005"]
    assert changed["paired"]["mean"] == pytest.approx(0.02)  # per-seed differences 0.01, 0.02, 0.03
    assert changed["paired"]["low"] < 0.02 < changed["paired"]["high"]
    ledger.append(path, history, second)
    kept = ledger.read(path)
    assert sorted(set(kept["build"])) == [1, 2] and len(kept) == 3  # the history stays, readable as CSV
    assert ledger.changes(ledger.previous(kept), build(3, 0.005, [0.91, 0.94, 0.97], extra=True))["changed"] == []


def test_same_settings_with_new_results_is_a_change_and_removed_experiments_are_listed():
    before = build(1, 0.01, [0.90, 0.92, 0.94], extra=True)
    now = build(2, 0.01, [0.90, 0.92, 0.95])
    changes = ledger.changes(before, now)
    assert [r["experiment"] for r in changes["removed"]] == ["new"]
    assert changes["changed"][0]["settings"] == ["same settings; new results (code or data)"]


def test_an_experiment_whose_seeds_all_diverged_is_not_a_change(tmp_path):
    path = tmp_path / "ledger.csv"
    nan = float("nan")
    ledger.append(path, ledger.read(path), build(1, 0.01, [nan, nan, nan]))
    assert ledger.changes(ledger.previous(ledger.read(path)), build(2, 0.01, [nan, nan, nan]))["changed"] == []
