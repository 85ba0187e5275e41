"""Name -> torch thing lookups for experiment files: optimizers, initialisers, activations."""

import functools

import torch
from torch import nn, optim

OPTIMIZERS = {
    "sgd": optim.SGD,
    "adagrad": optim.Adagrad,
    "adam": optim.Adam,
    "adamw": optim.AdamW,
    "rmsprop": optim.RMSprop,
    "adadelta": optim.Adadelta,
}

INITS = {
    "uniform": nn.init.uniform_,
    "normal": nn.init.normal_,
    "xavier_uniform": nn.init.xavier_uniform_,
    "xavier_normal": nn.init.xavier_normal_,
    "kaiming_uniform": nn.init.kaiming_uniform_,
    "kaiming_normal": nn.init.kaiming_normal_,
    "orthogonal": nn.init.orthogonal_,
    "constant": nn.init.constant_,
}

ACTIVATIONS = {
    "sigmoid": nn.Sigmoid,
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "leaky_relu": nn.LeakyReLU,
    "elu": nn.ELU,
    "gelu": nn.GELU,
}


FUSED = {"sgd", "adagrad", "adam", "adamw"}  # torch has a one-kernel (fused) update for these, on some devices


@functools.cache
def fuses_on(name: str, device_type: str) -> bool:
    """Whether this torch has a fused update of optimizer `name` on this kind of device.

    Asked to fuse where it has none, torch fails only at the first step (Adagrad on CUDA in torch 2.11:
    a GPU run of the pipeline stopped there), so one step on a one-element tensor finds out.
    """
    if name not in FUSED:
        return False
    weight = torch.zeros(1, device=device_type, requires_grad=True)
    weight.grad = torch.zeros_like(weight)
    try:
        OPTIMIZERS[name]([weight], lr=0.1, fused=True).step()
    except (RuntimeError, NotImplementedError):
        return False
    return True


def build_optimizer(params, optimizer_spec: dict, fused: bool = False) -> optim.Optimizer:
    """The torch.optim class named in the spec over params, with the spec's keyword arguments.

    fused: use torch's one-pass update where it has one for the params' device (same per-element
    arithmetic, one sweep over memory instead of one per operation; what makes large stacks cheap).
    """
    name, kwargs = split_name(optimizer_spec)
    params = list(params)
    if "betas" in kwargs:
        kwargs["betas"] = tuple(kwargs["betas"])
    if fused and all(fuses_on(name, device) for device in {p.device.type for p in params}):
        kwargs["fused"] = True
    return OPTIMIZERS[name](params, **kwargs)


def split_name(block: dict) -> tuple[str, dict]:
    """Split a `{name: ..., **kwargs}` block into the name and the keyword arguments."""
    kwargs = dict(block)
    return kwargs.pop("name"), kwargs
