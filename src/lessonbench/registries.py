"""Name -> torch thing lookups for experiment files: optimizers, initialisers, activations."""

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


FUSED = {"sgd", "adagrad", "adam", "adamw"}  # torch has a one-kernel (fused) update for these


def build_optimizer(params, optimizer_spec: dict, fused: bool = False) -> optim.Optimizer:
    """The torch.optim class named in the spec over params, with the spec's keyword arguments.

    fused: use torch's one-pass update where it has one (same per-element arithmetic, one sweep
    over memory instead of one per operation; what makes large stacks cheap).
    """
    name, kwargs = split_name(optimizer_spec)
    if "betas" in kwargs:
        kwargs["betas"] = tuple(kwargs["betas"])
    if fused and name in FUSED:
        kwargs["fused"] = True
    return OPTIMIZERS[name](params, **kwargs)


def split_name(block: dict) -> tuple[str, dict]:
    """Split a `{name: ..., **kwargs}` block into the name and the keyword arguments."""
    kwargs = dict(block)
    return kwargs.pop("name"), kwargs
