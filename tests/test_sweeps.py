"""Sensitivity sweeps: a point is the experiment with that value, bit for bit; the best is chosen on validation."""

from __future__ import annotations

import copy

import pandas as pd
import pytest
import torch

from lessonbench.config import resolve_sweeps, with_values
from lessonbench.data import fit_scaler
from lessonbench.experiment import run_experiment, write_experiment
from lessonbench.fileio import write_json, write_parquet
from lessonbench.sweeps import run_sweep
from lessonbench.tables import summarise_points

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
            "scale": "log", "lesson_value": spec["optimizer"]["lr"], "spec": spec}


def test_a_point_is_the_experiment_with_that_value_bit_for_bit(files):
    sweep = sweep_of(files, [0.01, 0.05])  # 0.01 is adam's own: read back; 0.05 is trained
    points, best, chosen = run_sweep(sweep, files["split"], files["scaler"], files["experiment"], 1, **QUIET)
    alone = run_experiment("x", with_values(files["spec"], {"optimizer.lr": 0.05}), files["split"], files["scaler"],
                           threads=1, **QUIET)
    at_005 = points[points["value"] == 0.05].set_index("seed")["final_val_accuracy"]
    last = alone["history"][(alone["history"]["split"] == "val") & (alone["history"]["epoch"] == 2)]
    assert at_005.tolist() == last.set_index("seed")["accuracy"].tolist()  # equal floats, not close ones
    at_001 = points[points["value"] == 0.01].set_index("seed")["final_val_accuracy"]
    assert at_001.tolist() == pd.read_parquet(files["experiment"]["runs"])["final_val_accuracy"].tolist()
    # the best value by mean validation accuracy, and only its point carries test results
    means = points.groupby("value")["final_val_accuracy"].mean()
    assert chosen["value"] == means.idxmax() and chosen["spec"]["optimizer"]["lr"] == chosen["value"]
    assert set(best["runs"]["experiment"]) == {"adam_lr_best"} and len(best["runs"]) == 2
    # a sweep of that one value: its best point's weights and test results are the experiment's, bit for bit
    _, best, chosen = run_sweep(sweep_of(files, [0.05]), files["split"], files["scaler"], files["experiment"], 1,
                                **QUIET)
    assert chosen["value"] == 0.05
    for seed in (0, 1):
        for name, tensor in alone["weights"][seed].items():
            assert torch.equal(best["weights"][seed][name], tensor), name
    assert best["runs"]["final_test_accuracy"].tolist() == alone["runs"]["final_test_accuracy"].tolist()
    pd.testing.assert_frame_equal(best["history"].drop(columns="experiment"),
                                  alone["history"].drop(columns="experiment"))


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
    (("values: [0.003, 0.01, 0.03]", "values: []"), "sweeps.adam_lr.values"),  # empty
    (("values: [0.003, 0.01, 0.03]", "values: [0.001, 0.001]"), "sweeps.adam_lr.values"),  # duplicate
    (("values: [0.003, 0.01, 0.03]", "values: [0.001, -0.003]"), "sweeps.adam_lr.values.1"),  # lr <= 0
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
    assert [s["experiment"] for s in sweeps] == ["sgd_uniform", "momentum", "adagrad", "adam", "l2", "dropout"]
    for sweep in sweeps:  # each includes the experiment's own value, which is read back rather than trained
        assert sweep["lesson_value"] in sweep["values"] and sweep["seeds"] == 5


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
    sweep = sweep_of(files, [0.01, 0.05, 0.1])  # 0.01 is adam's own value: read back from its files
    first, _, _ = run_sweep(sweep, files["split"], files["scaler"], files["experiment"], 1, log=logs.append,
                            store_dir=store_dir)
    assert not any("from the store" in line for line in logs)
    # adam's lr edited to 0.02: 0.01 is now a point of its own, kept when it was read back from adam's files;
    # 0.05 and 0.1 were trained before
    edited = {**sweep, "lesson_value": 0.02, "spec": with_values(files["spec"], {"optimizer.lr": 0.02})}
    logs.clear()
    stored = run_sweep(edited, files["split"], files["scaler"], files["experiment"], 1, log=logs.append,
                       store_dir=store_dir)
    assert sum("read back from the store" in line for line in logs) == 3
    fresh = run_sweep(edited, files["split"], files["scaler"], files["experiment"], 1, **QUIET)  # no store
    assert_same_sweep(stored, fresh)
    assert stored[2] == fresh[2]  # whichever won, it came from the store
    same = first["value"] != 0.01  # the points both runs share, with the same numbers
    assert first[same]["final_val_accuracy"].tolist() == fresh[0][same]["final_val_accuracy"].tolist()


def test_the_experiments_own_point_kept_in_the_store_is_the_point_trained(files, tmp_path):
    """The read-back point, put in the store from the experiment's files, chosen later and scored on the test set
    from its stored state: bit for bit the point trained on its own."""
    store_dir, logs = tmp_path / "store", []
    sweep = sweep_of(files, [0.01, 5.0])  # 0.01: adam's own value, read back; 5.0: far worse
    run_sweep(sweep, files["split"], files["scaler"], files["experiment"], 1, log=logs.append, store_dir=store_dir)
    edited = {**sweep, "lesson_value": 0.02, "spec": with_values(files["spec"], {"optimizer.lr": 0.02})}
    logs.clear()
    stored = run_sweep(edited, files["split"], files["scaler"], files["experiment"], 1, log=logs.append,
                       store_dir=store_dir)
    assert sum("read back from the store" in line for line in logs) == 2 and stored[2]["value"] == 0.01
    fresh = run_sweep(edited, files["split"], files["scaler"], files["experiment"], 1, **QUIET)  # trains both
    assert_same_sweep(stored, fresh)


def test_points_trained_in_several_processes_are_the_points_trained_in_one(files, tmp_path):
    """--processes N (train_sweep given N cores when few jobs train): the points not kept in the store train in
    forked processes, each as one stack: the same points, best choice and best files as in one process, and
    each kept in the store as there."""
    sweep = sweep_of(files, [0.003, 0.01, 0.05, 0.1])  # 0.01: adam's own value, read back; three to train
    one = run_sweep(sweep, files["split"], files["scaler"], files["experiment"], 1, store_dir=tmp_path / "one",
                    **QUIET)
    logs = []
    two = run_sweep(sweep, files["split"], files["scaler"], files["experiment"], 1, store_dir=tmp_path / "two",
                    processes=2, log=logs.append)
    assert "3 points to train, in 2 processes" in logs
    assert_same_sweep(one, two)
    assert one[2] == two[2]
    kept = sorted(path.name for path in (tmp_path / "two").glob("*/*"))
    assert kept == sorted(path.name for path in (tmp_path / "one").glob("*/*")) and len(kept) == 4
