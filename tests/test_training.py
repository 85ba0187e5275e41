"""Training: every lesson experiment trains; seeds are independent; divergence is a result."""

from __future__ import annotations

import copy
import math

import pandas as pd
import pytest
import torch
import yaml

from lessonbench.engine.training import seed_streams, summarise_stack, train_stack

from .conftest import LESSON

QUIET = dict(log=lambda message: None)


def short(spec: dict, epochs: int = 1) -> dict:
    return {**copy.deepcopy(spec), "epochs": epochs}


@pytest.fixture(scope="module")
def lesson_specs(lesson):
    return lesson[1]


@pytest.mark.parametrize("exp_id", list(yaml.safe_load(LESSON.read_text())["experiments"]))
def test_contract_every_lesson_experiment_trains_one_epoch(exp_id, lesson_specs, small_data, tensors):
    spec = lesson_specs[exp_id]
    run = train_stack(short(spec), [0, 1], data=small_data, **QUIET)
    assert run.diverged_epoch == {}
    assert [(r["seed"], r["epoch"], r["split"]) for r in run.history] == [
        (0, 1, "train"), (0, 1, "val"), (1, 1, "train"), (1, 1, "val")]
    assert all(0 <= r["accuracy"] <= 1 and math.isfinite(r["loss"]) for r in run.history)
    rows, probs = summarise_stack(run, {**small_data, "test": tensors["test"], "test_samples": range(360)})
    assert probs.shape == (720, 14) and all(row["final_test_accuracy"] >= 0 for row in rows)
    torch.testing.assert_close(torch.tensor(probs.filter(like="prob_").sum(axis=1).to_numpy()),
                               torch.ones(720, dtype=torch.float64), atol=1e-5, rtol=0)


def test_same_seed_same_numbers_other_seed_other_numbers(lesson_specs, small_data):
    spec = short(lesson_specs["dropout"], epochs=2)  # dropout: exercises the dropout stream too
    a, b, c = (train_stack(spec, [seed], small_data, **QUIET) for seed in (3, 3, 4))
    assert a.history == b.history
    assert [r["loss"] for r in a.history] != [r["loss"] for r in c.history]


def test_a_seed_does_not_depend_on_what_ran_before(lesson_specs, small_data):
    spec = short(lesson_specs["lesson_best"], epochs=2)
    alone = train_stack(spec, [1], small_data, **QUIET)
    torch.manual_seed(12345)  # whatever state the previous run left behind
    train_stack(spec, [0], small_data, **QUIET)
    after_other = train_stack(spec, [1], small_data, **QUIET)
    assert alone.history == after_other.history


def test_streams_differ_per_seed_and_purpose():
    streams = [seed_streams(s) for s in range(3)]
    values = [v for s in streams for v in s.values()]
    assert len(set(values)) == len(values)
    assert seed_streams(2) == streams[2]


def test_divergence_is_recorded_not_raised(lesson_specs, small_data, tensors):
    spec = short(lesson_specs["sgd_uniform"], epochs=5)
    spec["optimizer"] = {"name": "sgd", "lr": 1e6}
    spec["model"] = {**spec["model"], "activation": "relu", "init": {"name": "kaiming_uniform"}}
    run = train_stack(spec, [0], small_data, **QUIET)
    assert 0 in run.diverged_epoch
    history = pd.DataFrame(run.history)
    assert history.empty or history["epoch"].max() < run.diverged_epoch[0]  # curves stop at divergence
    rows, _ = summarise_stack(run, {**small_data, "test": tensors["test"], "test_samples": range(360)})
    assert rows[0]["diverged_epoch"] == run.diverged_epoch[0] and math.isnan(rows[0]["final_test_accuracy"])

