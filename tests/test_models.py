"""Model construction and seeded initialisation against torch and torchinfo."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torchinfo import summary

from lessonbench.engine.models import build_model, count_parameters, init_weights

from .conftest import DIGITS

LESSON_MODEL = {"hidden": [100, 50], "activation": "sigmoid", "batchnorm": False, "dropout": 0.0,
                "init": {"name": "uniform", "a": 0.0, "b": 1.0}}


def test_lesson_model_shape_and_parameters():
    model = build_model(LESSON_MODEL, DIGITS)
    assert model(torch.zeros(7, 64)).shape == (7, 10)
    assert count_parameters(model) == 64 * 100 + 100 + 100 * 50 + 50 + 50 * 10 + 10  # 12,060 as the lesson prints
    assert count_parameters(model) == summary(model, input_size=(1, 64), verbose=0).trainable_params


def test_layer_order_matches_lesson_best():
    model = build_model({**LESSON_MODEL, "activation": "relu", "batchnorm": True, "dropout": 0.2}, DIGITS)
    kinds = [type(m) for m in model]
    assert kinds == [nn.Linear, nn.BatchNorm1d, nn.ReLU, nn.Dropout] * 2 + [nn.Linear]
    assert model[3].p == 0.2


def test_uniform_init_is_seeded_and_biases_zero():
    a, b, c = (build_model(LESSON_MODEL, DIGITS) for _ in range(3))
    init_weights(a, LESSON_MODEL["init"], torch.Generator().manual_seed(1))
    init_weights(b, LESSON_MODEL["init"], torch.Generator().manual_seed(1))
    init_weights(c, LESSON_MODEL["init"], torch.Generator().manual_seed(2))
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert not torch.equal(a[0].weight, c[0].weight)
    assert 0 <= a[0].weight.min() and a[0].weight.max() <= 1 and torch.count_nonzero(a[0].bias) == 0


@pytest.mark.parametrize("init, std", [("xavier_uniform", (2 / (64 + 100)) ** 0.5),
                                       ("kaiming_uniform", (2 / 64) ** 0.5)])
def test_init_scale_matches_formula(init, std):
    model = build_model({**LESSON_MODEL, "init": {"name": init}}, DIGITS)
    init_weights(model, {"name": init}, torch.Generator().manual_seed(0))
    assert model[0].weight.std().item() == pytest.approx(std, rel=0.05)
