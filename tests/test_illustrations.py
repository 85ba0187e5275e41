"""The lesson's illustrations: paths from torch optimizers, activation claims, symmetry, summaries."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import yaml

from lessonbench.engine.models import build_model, count_parameters
from lessonbench.engine.training import train_stack
from lessonbench.jobs.illustrations import (
    activation_stats,
    deep_activations,
    distinct_units,
    hidden_layers,
    model_summary,
    optimizer_path,
)
from lessonbench.spec.studies import resolve_illustrations

from .conftest import DIGITS, ROOT, assert_names_field

SETTINGS = yaml.safe_load((ROOT / "experiments" / "illustrations.yaml").read_text())


def test_sgd_path_matches_the_update_rule_by_hand():
    lr, steps = 0.95, 30
    path = optimizer_path({"name": "sgd", "lr": lr}, [-7.0, 2.0], steps)
    # gradient of x^2/20 + y^2 is (x/10, 2y): each step scales x by (1 - lr/10) and y by (1 - 2 lr)
    expected = np.array([[-7.0 * (1 - lr / 10) ** t, 2.0 * (1 - 2 * lr) ** t] for t in range(steps + 1)])
    np.testing.assert_allclose(path, expected, rtol=1e-12, atol=1e-12)


def test_adaptive_optimizers_beat_plain_sgd_on_the_bowl():
    paths = {label: optimizer_path(spec, SETTINGS["optimizer_paths"]["start"], 30)
             for label, spec in SETTINGS["optimizer_paths"]["optimizers"].items()}
    distance = {label: float(np.hypot(*path[-1])) for label, path in paths.items()}
    assert distance["AdaGrad"] < distance["SGD"]
    assert all(d < 1.0 for d in distance.values())  # every classic setting ends near the minimum


def stats(case: str) -> list[dict]:
    acts = SETTINGS["activations"]
    spec = acts["cases"][case]
    return activation_stats(deep_activations(spec, acts["deep"], acts["seed"]), spec["activation"], acts["saturation"])


def test_the_lesson_activation_claims_hold():
    wide, narrow, xavier = stats("sigmoid_std_1"), stats("sigmoid_std_0.01"), stats("sigmoid_xavier")
    assert min(r["saturated_share"] for r in wide) > 0.5  # N(0, 1): piled up at 0 and 1
    assert max(r["std"] for r in narrow) < 0.03  # N(0, 0.01^2): every unit about 0.5
    assert max(r["saturated_share"] for r in xavier) < 0.05 and min(r["std"] for r in xavier) > 0.05

    # seeded by the settings alone: torch's global generator does not change it, another seed does
    torch.manual_seed(1)
    first = stats("relu_he")
    torch.manual_seed(2)
    assert stats("relu_he") == first
    acts = SETTINGS["activations"]
    spec = acts["cases"]["relu_he"]
    assert activation_stats(deep_activations(spec, acts["deep"], acts["seed"] + 1), spec["activation"],
                            acts["saturation"]) != first


def test_distinct_units_counts_copies():
    weight = torch.tensor([[1.0, 2.0], [1.0, 2.0], [1.0, 2.5], [1.0, 2.0 + 1e-9]])
    assert distinct_units(weight, torch.zeros(4), tolerance=1e-6) == 2
    assert distinct_units(weight, torch.tensor([0.0, 1.0, 0.0, 0.0]), tolerance=1e-6) == 3


def test_all_equal_weights_stay_symmetric_in_training(lesson, small_data):
    spec = {**lesson[1]["constant_init"], "epochs": 2}
    run = train_stack(spec, [0], small_data, log=lambda message: None)
    layers = hidden_layers(run.model.seed_state(0))
    assert [distinct_units(w, b, 1e-6) for w, b in layers] == [1, 1]
    xavier = train_stack({**lesson[1]["xavier"], "epochs": 2}, [0], small_data, log=lambda message: None)
    assert [distinct_units(w, b, 1e-6) for w, b in hidden_layers(xavier.model.seed_state(0))] == [100, 50]


def test_model_summary_counts_parameters(lesson):
    spec = lesson[1]["lesson_best"]["model"]
    text = model_summary(spec, DIGITS)
    assert "BatchNorm1d" in text and f"Total params: {count_parameters(build_model(spec, DIGITS)):,}" in text


@pytest.mark.parametrize("change, field", [
    (("AdaGrad: {name: adagrad, lr: 1.5}", "AdaGrad: {name: adagrad, lr: 1.5, momentum: 0.9}"),
     "optimizer_paths.optimizers.AdaGrad"),
    (("activation: sigmoid\n      init: {name: normal, std: 1.0}", "activation: swish\n      init: {name: normal}"),
     "activations.cases.sigmoid_std_1.activation"),
    (("reference: xavier", "reference: xavir"), "symmetry.reference"),
])
def test_bad_illustration_settings(tmp_path, lesson, change, field):
    assert_names_field(ROOT / "experiments" / "illustrations.yaml", change,
                       lambda path: resolve_illustrations(path, lesson[1]), field, tmp_path)
