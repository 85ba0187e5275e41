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


def build_optimizer(params, optimizer_spec: dict) -> optim.Optimizer:
    """The torch.optim class named in the spec over params, with the spec's keyword arguments (a stack's
    training steps with torch's fused kernel where it has one: lessonbench.engine.optimizers)."""
    name, kwargs = split_name(optimizer_spec)
    if "betas" in kwargs:
        kwargs["betas"] = tuple(kwargs["betas"])
    return OPTIMIZERS[name](list(params), **kwargs)


def split_name(block: dict) -> tuple[str, dict]:
    """Split a `{name: ..., **kwargs}` block into the name and the keyword arguments."""
    kwargs = dict(block)
    return kwargs.pop("name"), kwargs
