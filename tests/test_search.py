"""The hyperparameter search: bad input, narrowing, validation data only, stacks, determinism, resuming."""

from __future__ import annotations

import copy

import pytest

from lessonbench.engine.training import train_stack
from lessonbench.jobs import search
from lessonbench.jobs.search import run_search, search_data, train_trials, trial_spec
from lessonbench.jobs.search_space import narrow
from lessonbench.spec.studies import resolve_search

from .conftest import ROOT, assert_names_field

SEARCH_FILE = ROOT / "experiments" / "search.yaml"
QUIET = dict(log=lambda message: None)


@pytest.fixture(scope="module")
def settings(lesson):
    resolved = resolve_search(SEARCH_FILE, lesson[1])
    base = resolved.pop("base_spec")
    small = {**resolved, "rounds": 2, "trials_per_round": 4, "epochs": 2, "keep_top": 2,
             "space": {**resolved["space"], "model.activation": {"choices": ["relu"]}}}
    return small, base


@pytest.mark.parametrize("change, field", [
    (("optimizer.lr: {low: 1.0e-4, high: 1.0e-1", "optimizer.lr: {low: 1.0e-1, high: 1.0e-4"),
     "search.space.optimizer.lr"),  # inverted
    (("model.dropout: {low: 0.0, high: 0.5}", "model.dropout: {low: 0.5, high: 0.5}"),
     "search.space.model.dropout"),  # empty
    (("optimizer.weight_decay: {low: 1.0e-6", "optimizer.weight_decay: {low: 0.0"),
     "search.space.optimizer.weight_decay.low"),  # log scale through zero
    (("model.dropout: {low", "model.droput: {low"), "search.space.model.droput"),  # unknown name
    (("base: lesson_best", "base: lesson_bets"), "search.base"),  # no such experiment
    (("model.dropout: {low: 0.0, high: 0.5}", "optimizer.momentum: {low: 0.5, high: 0.9}"),
     "search.space.optimizer.momentum"),  # Adam takes no momentum
    (("choices: [relu, sigmoid]", "choices: [relu, swish]"), "search.space.model.activation"),
    (("model.dropout: {low: 0.0, high: 0.5}", "model.dropout: {low: 0.0, high: 1.5}"), "search.space.model.dropout"),
    (("rounds: 4", "rounds: 0"), "search.rounds"),
    (("keep_top: 5", "keep_top: 500"), "search.keep_top"),
])
def test_bad_search_settings_name_the_field(tmp_path, lesson, change, field):
    assert_names_field(SEARCH_FILE, change, lambda path: resolve_search(path, lesson[1]), field, tmp_path)


def test_narrowing_keeps_the_span_of_the_best():
    space = {"optimizer.lr": {"low": 1e-4, "high": 1e-1, "scale": "log"},
             "model.batchnorm": {"choices": [True, False]}}
    scored = [{"trial": i, "value": v, "values": {"optimizer.lr": lr, "model.batchnorm": bn}}
              for i, (v, lr, bn) in enumerate([(0.9, 1e-3, True), (0.95, 1e-2, True), (0.5, 5e-2, False),
                                                (0.93, 3e-3, True)])]
    narrowed = narrow(space, scored, keep_top=2)
    assert narrowed["optimizer.lr"] == {"low": 3e-3, "high": 1e-2, "scale": "log"}
    assert narrowed["model.batchnorm"] == {"choices": [True]}


def test_the_search_gets_no_test_rows(split_frame, lesson):
    from lessonbench.engine.data import fit_scaler

    scaler = fit_scaler(split_frame, "train")
    with pytest.raises(ValueError, match="test rows"):
        search_data(split_frame, scaler)
    data = search_data(split_frame[split_frame["split"] != "test"], scaler)
    assert set(data) == {"train", "val", "shape"} and data["shape"] == (64, 10)


def small_search_data(tensors):
    return {"train": tuple(t[:300] for t in tensors["train"]), "val": tensors["val"], "shape": tensors["shape"]}


def test_trials_trained_together_are_the_trials_trained_alone(settings, tensors):
    small, base = settings
    trials = [{"optimizer.lr": lr, "optimizer.weight_decay": wd, "model.dropout": p, "model.batchnorm": bn}
              for lr, wd, p, bn in [(1e-3, 1e-5, 0.1, True), (1e-2, 0.0, 0.4, True), (3e-3, 1e-3, 0.0, False),
                                    (5e-3, 1e-4, 0.2, True)]]
    data = small_search_data(tensors)
    together, groups = train_trials(base, trials, data, small, "cpu")
    alone, singles = train_trials(base, trials, data, small, "cpu", together=False)
    assert (groups, singles) == (2, 4)
    assert together == alone  # bit for bit: seed k of a stack is seed k alone, per-trial lr and all


def test_a_trial_is_the_experiment_with_those_values(settings, tensors, float64):
    """The search's per-trial learning rate, L2 and dropout give what torch's own lr and weight_decay and the model's
    dropout give, in float64 (the mathematics: lr * step and the L2 term round differently from torch's fused update).

    Without BatchNorm: a bias before BatchNorm has zero gradient in exact arithmetic, so its gradient is rounding
    noise plus the L2 term, which Adam's division by eps turns into steps of any size, even in float64; the running
    means carry that to the validation loss. Without it, 1e-9 is float64 rounding with room to spare. The function
    the rest of the suite checks with BatchNorm is the same per-row step
    (test_trials_trained_together_are_the_trials_trained_alone).
    """
    small, base = settings
    values = {"optimizer.lr": 0.004, "optimizer.weight_decay": 1e-4, "model.dropout": 0.3, "model.batchnorm": False}
    data = {part: (value[0].double(), value[1]) if part != "shape" else value
            for part, value in small_search_data(tensors).items()}
    (score,), _ = train_trials(base, [values], data, small, "cpu")
    spec = trial_spec(base, values, small["epochs"])
    run = train_stack(spec, [small["trial_seed"]], data, **QUIET)
    val = [r for r in run.history if r["split"] == "val"][-1]
    assert score["val_loss"] == pytest.approx(val["loss"], rel=1e-9), (score["val_loss"], val["loss"])
    assert score["val_accuracy"] == val["accuracy"]


def test_search_is_deterministic_and_resumes_without_retraining(settings, tensors, tmp_path, monkeypatch):
    small, base = settings
    data = small_search_data(tensors)
    clean, _ = run_search("random", 0, small, base, data, f"sqlite:///{tmp_path}/clean.db", **QUIET)
    again, _ = run_search("random", 0, small, base, data, f"sqlite:///{tmp_path}/again.db", **QUIET)
    assert clean.equals(again)
    assert clean["round"].tolist() == [1] * 4 + [2] * 4

    calls = []
    real = search.train_trials

    def dies_in_round_two(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt("killed")
        return real(*args, **kwargs)

    storage = f"sqlite:///{tmp_path}/killed.db"
    monkeypatch.setattr(search, "train_trials", dies_in_round_two)
    with pytest.raises(KeyboardInterrupt):
        run_search("random", 0, small, base, data, storage, **QUIET)
    monkeypatch.setattr(search, "train_trials", lambda *a, **k: (calls.append(1), real(*a, **k))[1])
    resumed, timing = run_search("random", 0, small, base, data, storage, **QUIET)
    assert len(calls) == 3 and timing["trials_trained"] == 4  # only round 2 trained again
    assert resumed.equals(clean)


def test_other_search_seed_other_trials(settings, tensors, tmp_path):
    small, base = settings
    data = small_search_data(tensors)
    a, _ = run_search("random", 0, small, base, data, f"sqlite:///{tmp_path}/a.db", **QUIET)
    b, _ = run_search("random", 1, small, base, data, f"sqlite:///{tmp_path}/b.db", **QUIET)
    assert a["hp:optimizer.lr"].tolist() != b["hp:optimizer.lr"].tolist()
    t, _ = run_search("tpe", 0, copy.deepcopy(small), base, data, f"sqlite:///{tmp_path}/t.db", **QUIET)
    assert len(t) == len(a) and t["val_accuracy"].between(0, 1).all()


def test_a_trial_another_worker_took_is_not_trained_twice_nor_replaced(settings):
    """Workers share a study: between one worker's enqueueing of trial i and its ask, another may ask first and take
    trial i. Optuna then samples a trial of its own for the first worker, which no round wants: it is failed, and
    the first worker moves on (the other trains trial i)."""
    import optuna

    small, _ = settings
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize")
    ask = search.asker("random", study, dict(small["space"]), 0, 1, small)
    real_ask, taken_by_other = study.ask, []

    def ask_after_the_other_worker(*args, **kwargs):
        if not taken_by_other:  # the other worker's ask comes first and takes the enqueued trial
            taken_by_other.append(real_ask(*args, **kwargs))
        return real_ask(*args, **kwargs)

    study.ask = ask_after_the_other_worker
    assert ask(0) is None
    assert taken_by_other[0].user_attrs == {"round": 1, "index": 0}
    states = {t.number: t.state for t in study.get_trials(deepcopy=False)}
    assert states == {0: optuna.trial.TrialState.RUNNING, 1: optuna.trial.TrialState.FAIL}
    study.ask = real_ask
    assert ask(1).user_attrs == {"round": 1, "index": 1}  # undisturbed, its own enqueued trial
