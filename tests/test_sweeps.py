"""Sensitivity sweeps: points on tuning seeds, the best chosen on validation and retrained on fresh seeds."""

from __future__ import annotations

import copy

import pandas as pd
import pytest
import torch

from lessonbench.analysis.tables import summarise_points
from lessonbench.engine.data import fit_scaler
from lessonbench.fileio import write_json, write_parquet
from lessonbench.jobs.experiment import run_experiment, write_experiment
from lessonbench.jobs.sweeps import run_sweep
from lessonbench.spec.config import with_values
from lessonbench.spec.studies import resolve_sweeps

from .conftest import ROOT, assert_names_field

SWEEPS = ROOT / "experiments" / "sweeps.yaml"
QUIET = dict(log=lambda message: None)


@pytest.fixture(scope="module")
def files(lesson, split_frame, tmp_path_factory):
    """split, scaler, and the `adam` experiment (2 seeds x 2 epochs) as its training job writes it."""
    tmp = tmp_path_factory.mktemp("sweep")
    paths = {"split": tmp / "split.parquet", "scaler": tmp / "scaler.json"}
    write_parquet(split_frame, paths["split"])
    write_json(fit_scaler(split_frame, lesson[0]["scaler_fit"]), paths["scaler"])
    spec = {**copy.deepcopy(lesson[1]["adam"]), "seeds": 2, "epochs": 2}
    result = run_experiment("adam", spec, paths["split"], paths["scaler"], threads=1, **QUIET)
    exp = {name: tmp / f"adam.{name}.{ext}" for name, ext in (("history", "parquet"), ("runs", "parquet"),
                                                                ("test_probs", "parquet"), ("weights", "pt"),
                                                                ("timing", "json"))}
    write_experiment(result, exp)
    return {**paths, "experiment": exp, "spec": spec}


def sweep_of(files, values):
    spec = files["spec"]
    return {"id": "adam_lr", "experiment": "adam", "key": "optimizer.lr", "values": values, "seeds": 2,
            "tuning_seeds": [2, 3], "scale": "log", "lesson_value": spec["optimizer"]["lr"], "spec": spec}


def alone(files, lr, seeds):
    """The experiment at learning rate `lr`, trained on its own on `seeds`."""
    return run_experiment("x", with_values(files["spec"], {"optimizer.lr": lr}), files["split"], files["scaler"],
                          threads=1, seeds=seeds, **QUIET)


def test_tuning_seeds_choose_and_fresh_seeds_are_scored(files):
    """Every value trains on the tuning seeds (2, 3), bit for bit the experiment with that value on them; the best
    value by mean validation accuracy is retrained on the experiment's own seeds (0, 1), and only that is scored."""
    sweep = sweep_of(files, [0.01, 0.05])  # 0.01 is adam's own value
    points, best, chosen = run_sweep(sweep, files["split"], files["scaler"], files["experiment"], 1, **QUIET)
    assert set(points["seed"]) == {2, 3}
    for lr in (0.01, 0.05):
        ref = alone(files, lr, [2, 3])["history"]
        last = ref[(ref["split"] == "val") & (ref["epoch"] == 2)].set_index("seed")["accuracy"]
        mine = points[points["value"] == lr].set_index("seed")["final_val_accuracy"]
        assert mine.tolist() == last.tolist()  # equal floats, not close ones
    means = points.groupby("value")["final_val_accuracy"].mean()
    assert chosen["value"] == means.idxmax() and chosen["spec"]["optimizer"]["lr"] == chosen["value"]
    assert chosen["tuning_seeds"] == [2, 3] and chosen["seeds"] == [0, 1]
    assert set(best["runs"]["experiment"]) == {"adam_lr_best"} and best["runs"]["seed"].tolist() == [0, 1]
    # whichever won, the best's files are that value trained on the fresh seeds, bit for bit
    fresh = alone(files, chosen["value"], [0, 1])
    for seed in (0, 1):
        for name, tensor in fresh["weights"][seed].items():
            assert torch.equal(best["weights"][seed][name], tensor), name
    assert best["runs"]["final_test_accuracy"].tolist() == fresh["runs"]["final_test_accuracy"].tolist()
    pd.testing.assert_frame_equal(best["history"].drop(columns="experiment").reset_index(drop=True),
                                  fresh["history"].drop(columns="experiment").reset_index(drop=True))


def test_a_grid_edge_is_said(files):
    _, _, chosen = run_sweep(sweep_of(files, [0.01, 0.05, 5.0]), files["split"], files["scaler"], files["experiment"],
                             1, **QUIET)
    assert chosen["at_edge"] == (chosen["value"] in (0.01, 5.0))


def test_summary_marks_best_lesson_and_near_best():
    points = pd.DataFrame({"sweep": "s", "experiment": "e", "key": "optimizer.lr", "scale": "log",
                           "value": [0.1, 0.1, 1.0, 1.0, 3.0, 3.0],
                           "lesson_value": [False] * 2 + [True] * 2 + [False] * 2,
                           "seed": [0, 1] * 3, "final_val_accuracy": [0.90, 0.92, 0.97, 0.95, 0.955, 0.965],
                           "final_train_accuracy": [0.95] * 6})
    table = summarise_points(points)
    assert table["best"].tolist() == [False, True, False]  # 0.96 at 1.0 ties 0.96 at 3.0: the earlier value
    assert table["lesson_value"].tolist() == [False, True, False]
    assert table["within_1_point"].tolist() == [False, True, True]
    assert table["at_edge"].tolist() == [False, False, False]


@pytest.mark.parametrize("change, field", [
    (("values: [0.001, 0.003, 0.01, 0.03, 0.1]", "values: []"), "sweeps.adam_lr.values"),  # empty
    (("values: [0.001, 0.003, 0.01, 0.03, 0.1]", "values: [0.001, 0.001]"), "sweeps.adam_lr.values"),  # duplicate
    (("values: [0.001, 0.003, 0.01, 0.03, 0.1]", "values: [0.001, -0.003]"), "sweeps.adam_lr.values.1"),  # lr <= 0
    (("experiment: adam\n    key: optimizer.lr", "experiment: adam\n    key: model.activation"),
     "sweeps.adam_lr.key"),  # structural: not sweepable
    (("experiment: adam\n    key: optimizer.lr", "experiment: adam\n    key: optimizer.momentum"),
     "sweeps.adam_lr.key"),  # Adam takes no momentum
    (("experiment: adam\n", "experiment: adamm\n"), "sweeps.adam_lr.experiment"),  # no such experiment
])
def test_bad_sweeps_name_the_field(lesson, change, field, tmp_path):
    assert_names_field(SWEEPS, change, lambda p: resolve_sweeps(p, lesson[1]), field, tmp_path)


def test_default_sweeps_resolve(lesson):
    sweeps = resolve_sweeps(SWEEPS, lesson[1])
    assert [s["experiment"] for s in sweeps] == ["sgd_uniform", "momentum", "adagrad", "adam", "l2", "dropout",
                                                 "xavier", "batchnorm"]
    for sweep in sweeps:  # five values with the experiment's own; tuning seeds apart from its seeds 0-9
        assert sweep["lesson_value"] in sweep["values"] and len(sweep["values"]) == 5
        assert sweep["tuning_seeds"] == list(range(10, 10 + sweep["seeds"])) and sweep["spec"]["seeds"] == 10
    assert [s["seeds"] for s in sweeps] == [5] * 6 + [15, 15]  # the largest_lr claim needs more (sweeps.yaml)


def assert_same_sweep(a, b):
    """Two run_sweep results: the same points, and the best point's history, runs, test probabilities, weights."""
    pd.testing.assert_frame_equal(a[0], b[0])
    for name in ("history", "runs", "test_probs"):
        pd.testing.assert_frame_equal(a[1][name], b[1][name])
    for seed, state in b[1]["weights"].items():
        assert all(torch.equal(state[k], a[1]["weights"][seed][k]) for k in state)


def test_points_trained_before_are_read_back_from_the_store_bit_for_bit(files, tmp_path):
    """An edit of the swept experiment's own value leaves the other points' specs as they were: not retrained."""
    store_dir, logs = tmp_path / "store", []
    sweep = sweep_of(files, [0.01, 0.05, 0.1])
    first = run_sweep(sweep, files["split"], files["scaler"], files["experiment"], 1, log=logs.append,
                      store_dir=store_dir)
    assert not any("from the store" in line for line in logs)
    # adam's lr edited to 0.02: its grid is the same, every point was trained before
    edited = {**sweep, "lesson_value": 0.02, "spec": with_values(files["spec"], {"optimizer.lr": 0.02})}
    logs.clear()
    stored = run_sweep(edited, files["split"], files["scaler"], files["experiment"], 1, log=logs.append,
                       store_dir=store_dir)
    assert sum("read back from the store" in line for line in logs) == 3
    fresh = run_sweep(edited, files["split"], files["scaler"], files["experiment"], 1, **QUIET)  # no store
    assert_same_sweep(stored, fresh)
    assert stored[2] == fresh[2]
    assert first[0]["final_val_accuracy"].tolist() == fresh[0]["final_val_accuracy"].tolist()


def test_points_trained_in_several_processes_are_the_points_trained_in_one(files, tmp_path):
    """processes=N (train_sweep given N cores when few jobs train): the points not kept in the store train in
    forked processes, each as one stack: the same points, best choice and best files as in one process, and
    each kept in the store as there."""
    sweep = sweep_of(files, [0.003, 0.01, 0.05, 0.1])  # four to train
    one = run_sweep(sweep, files["split"], files["scaler"], files["experiment"], 1, store_dir=tmp_path / "one",
                    **QUIET)
    logs = []
    two = run_sweep(sweep, files["split"], files["scaler"], files["experiment"], 1, store_dir=tmp_path / "two",
                    processes=2, log=logs.append)
    assert "4 points to train, in 2 processes" in logs
    assert_same_sweep(one, two)
    assert one[2] == two[2]
    kept = sorted(path.name for path in (tmp_path / "two").glob("*/*"))
    assert kept == sorted(path.name for path in (tmp_path / "one").glob("*/*")) and len(kept) >= 4
