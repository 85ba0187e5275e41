"""A stack's optimizer (engine.optimizers): torch's fused kernel called directly makes torch.optim's fused update,
bit for bit, for every setting an experiment may give; where torch has no fused kernel, torch.optim's class."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
from torch import nn

from lessonbench.engine.optimizers import FUSED, FusedStep, fuses_on, stack_optimizer
from lessonbench.spec.registries import OPTIMIZERS

SETTINGS = [
    {"name": "sgd", "lr": 0.1},
    {"name": "sgd", "lr": 0.1, "momentum": 0.9},
    {"name": "sgd", "lr": 0.05, "momentum": 0.8, "dampening": 0.1, "weight_decay": 0.01},
    {"name": "sgd", "lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.001},
    {"name": "adagrad", "lr": 0.1},
    {"name": "adagrad", "lr": 0.1, "lr_decay": 0.01, "weight_decay": 0.01, "initial_accumulator_value": 0.1,
     "eps": 1e-8},
    {"name": "adam", "lr": 0.01},
    {"name": "adam", "lr": 0.01, "betas": [0.8, 0.99], "eps": 1e-6, "weight_decay": 0.01, "amsgrad": True},
    {"name": "adamw", "lr": 0.01},
    {"name": "adamw", "lr": 0.01, "weight_decay": 0.1, "amsgrad": True},
]


@pytest.mark.parametrize("spec", SETTINGS, ids=lambda spec: "-".join(f"{k}={v}" for k, v in spec.items()))
def test_the_kernel_called_directly_is_torch_optims_fused_update(spec):
    gen = torch.Generator().manual_seed(1)
    start = torch.randn(4099, generator=gen)  # a SIMD body and a scalar tail
    ours, theirs = nn.Parameter(start.clone()), nn.Parameter(start.clone())
    step = FusedStep(ours, spec)
    kwargs = {key: tuple(value) if key == "betas" else value for key, value in spec.items() if key != "name"}
    reference = OPTIMIZERS[spec["name"]]([theirs], **kwargs, fused=True)
    for _ in range(6):
        grad = torch.randn(4099, generator=gen)
        ours.grad, theirs.grad = grad.clone(), grad.clone()
        step.step()
        reference.step()
        assert torch.equal(ours, theirs)


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_fused_where_torch_has_the_kernel_torch_optim_elsewhere(name):
    """Every optimizer with a fused kernel fuses on CPU; none on a device without kernels (meta), where the
    stack gets torch.optim's class (a GPU run once stopped at Adagrad's first step: CUDA has no fused Adagrad)."""
    for device, fuses in (("cpu", name in FUSED), ("meta", False)):
        weight = torch.zeros(3, device=device, requires_grad=True)
        weight.grad = torch.ones_like(weight)
        optimizer = stack_optimizer(weight, {"name": name, "lr": 0.1})
        assert fuses_on(name, device) == fuses == isinstance(optimizer, FusedStep)
        if device == "cpu":
            optimizer.step()
            assert weight.detach().lt(0).all()


def test_training_a_stack_imports_no_compiler():
    """torch.optim's constructor imports torch._dynamo (1.4 s); a stack of a fused optimizer never builds one."""
    code = ("import sys, torch\nfrom lessonbench.engine.training import build_stack\n"
            "spec = {'model': {'hidden': [4], 'activation': 'relu', 'batchnorm': False, 'dropout': 0.0,"
            " 'init': {'name': 'kaiming_uniform'}}, 'optimizer': {'name': 'adam', 'lr': 0.01}}\n"
            "stack = build_stack(spec, [0, 1], torch.device('cpu'), (3, 2))\n"
            "stack.model.flat.grad.fill_(1.0)\nstack.optimizer.step()\n"
            "print('torch._dynamo' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
