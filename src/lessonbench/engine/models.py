"""The lesson's MLP built from a model block, and its seeded initialisation."""

from __future__ import annotations

import torch
from torch import nn

from lessonbench.spec.registries import ACTIVATIONS, INITS, split_name


def build_model(model_spec: dict, shape: tuple[int, int]) -> nn.Sequential:
    """Linear -> [BatchNorm1d] -> activation -> [Dropout] per hidden layer, then Linear to one logit per class.

    shape: (features, classes) of the data (engine.data.load_parts): the lesson's digits give (64, 10).
    """
    layers: list[nn.Module] = []
    width, n_classes = shape
    for hidden in model_spec["hidden"]:
        layers.append(nn.Linear(width, hidden))
        if model_spec["batchnorm"]:
            layers.append(nn.BatchNorm1d(hidden))
        layers.append(ACTIVATIONS[model_spec["activation"]]())
        if model_spec["dropout"] > 0:
            layers.append(nn.Dropout(model_spec["dropout"]))
        width = hidden
    layers.append(nn.Linear(width, n_classes))
    return nn.Sequential(*layers)


@torch.no_grad()
def init_weights(model: nn.Module, init_spec: dict, generator: torch.Generator) -> None:
    """Initialise every Linear weight from init_spec using generator; biases to zero."""
    name, kwargs = split_name(init_spec)
    for module in model.modules():
        if isinstance(module, nn.Linear):
            if name == "constant":
                INITS[name](module.weight, **kwargs)
            else:
                INITS[name](module.weight, **kwargs, generator=generator)
            nn.init.zeros_(module.bias)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
