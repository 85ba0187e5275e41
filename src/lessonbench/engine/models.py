"""The lesson's MLP built from a model block, and its seeded initialisation."""

from __future__ import annotations

import torch
from torch import nn

from lessonbench.spec.registries import ACTIVATIONS, INITS, split_name

N_FEATURES = 64  # 8x8 pixels
N_CLASSES = 10


def build_model(model_spec: dict) -> nn.Sequential:
    """Linear -> [BatchNorm1d] -> activation -> [Dropout] per hidden layer, then Linear to 10 logits."""
    layers: list[nn.Module] = []
    width = N_FEATURES
    for hidden in model_spec["hidden"]:
        layers.append(nn.Linear(width, hidden))
        if model_spec["batchnorm"]:
            layers.append(nn.BatchNorm1d(hidden))
        layers.append(ACTIVATIONS[model_spec["activation"]]())
        if model_spec["dropout"] > 0:
            layers.append(nn.Dropout(model_spec["dropout"]))
        width = hidden
    layers.append(nn.Linear(width, N_CLASSES))
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
