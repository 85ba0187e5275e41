"""The lesson's pictures, recomputed: optimizer paths, activation distributions, weight symmetry, summaries."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from scipy.cluster.hierarchy import fcluster, linkage
from torch import nn
from torchinfo import summary

from lessonbench.engine.models import build_model, init_weights
from lessonbench.spec.registries import ACTIVATIONS, INITS, build_optimizer, split_name


def bowl(p: torch.Tensor) -> torch.Tensor:
    """f(x, y) = x^2 / 20 + y^2, the lesson's elongated bowl; minimum 0 at (0, 0)."""
    return p[0] ** 2 / 20 + p[1] ** 2


def optimizer_path(optimizer_spec: dict, start, steps: int) -> np.ndarray:
    """Points visited by a torch.optim optimizer minimising bowl() from start: (steps + 1, 2)."""
    point = torch.tensor(start, dtype=torch.float64, requires_grad=True)
    optimizer = build_optimizer([point], optimizer_spec)
    path = [point.detach().clone()]
    for _ in range(steps):
        optimizer.zero_grad()
        bowl(point).backward()
        optimizer.step()
        path.append(point.detach().clone())
    return torch.stack(path).numpy()


def optimizer_paths(settings: dict) -> pd.DataFrame:
    """Tidy table of every optimizer's path: optimizer, step, x, y, f (optimizers: [label, block] pairs)."""
    frames = []
    for label, spec in settings["optimizers"]:
        path = optimizer_path(spec, settings["start"], settings["steps"])
        f = path[:, 0] ** 2 / 20 + path[:, 1] ** 2
        frames.append(pd.DataFrame({"optimizer": label, "step": np.arange(len(path)),
                                    "x": path[:, 0], "y": path[:, 1], "f": f}))
    return pd.concat(frames, ignore_index=True)


def deep_activations(case: dict, deep: dict, seed: int) -> list[torch.Tensor]:
    """Each layer's activations in a stack of `layers` x `width` units fed N(0, 1) inputs, at initialisation."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(deep["samples"], deep["width"], generator=gen)
    name, kwargs = split_name(case["init"])
    activation = ACTIVATIONS[case["activation"]]()
    out = []
    with torch.no_grad():
        for _ in range(deep["layers"]):
            weight = INITS[name](torch.empty(deep["width"], deep["width"]), **kwargs, generator=gen)
            x = activation(x @ weight.T)
            out.append(x)
    return out


def lesson_activations(case: dict, x: torch.Tensor, seed: int, classes: int) -> list[torch.Tensor]:
    """Hidden activations of the lesson's network (features-100-50-classes) at initialisation, fed x."""
    model = build_model({"hidden": [100, 50], "activation": case["activation"], "batchnorm": False, "dropout": 0.0},
                        (x.shape[1], classes))
    init_weights(model, case["init"], torch.Generator().manual_seed(seed))
    out = []
    with torch.no_grad():
        for layer in model:
            x = layer(x)
            if isinstance(layer, tuple(ACTIVATIONS.values())):
                out.append(x)
    return out


def activation_stats(layers: list[torch.Tensor], activation: str, saturation: dict) -> list[dict]:
    """Per layer: mean, standard deviation and the share of units with a near-zero gradient.

    For sigmoid that share is outputs below `low` or above `high`; for ReLU, outputs equal to 0.
    """
    rows = []
    for i, a in enumerate(layers, start=1):
        dead = (a == 0) if activation == "relu" else (a < saturation["low"]) | (a > saturation["high"])
        rows.append({"layer": i, "mean": a.mean().item(), "std": a.std().item(),
                     "saturated_share": dead.double().mean().item()})
    return rows


def distinct_units(weight: torch.Tensor, bias: torch.Tensor, tolerance: float) -> int:
    """Number of hidden units whose incoming weights and bias differ by more than tolerance (max-abs)."""
    rows = torch.cat([weight, bias[:, None]], dim=1).double().numpy()
    if len(rows) < 2:
        return len(rows)
    return int(fcluster(linkage(rows, method="single", metric="chebyshev"), t=tolerance, criterion="distance").max())


def hidden_layers(state: dict) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(weight, bias) of each hidden Linear layer in a saved nn.Sequential state dict (all but the output)."""
    names = [k[: -len(".weight")] for k, v in state.items() if k.endswith(".weight") and v.dim() == 2]
    return [(state[f"{n}.weight"], state[f"{n}.bias"]) for n in names[:-1]]


def symmetry_table(weights: dict[str, dict], tolerance: float) -> pd.DataFrame:
    """experiment, seed, layer, units, distinct_units for every saved model in weights[experiment][seed]."""
    rows = []
    for exp, seeds in weights.items():
        for seed, state in seeds.items():
            for layer, (w, b) in enumerate(hidden_layers(state), start=1):
                rows.append({"experiment": exp, "seed": int(seed), "layer": layer, "units": w.shape[0],
                             "distinct_units": distinct_units(w, b, tolerance)})
    return pd.DataFrame(rows)


def model_summary(model_spec: dict, shape: tuple[int, int]) -> str:
    """torchinfo's layer table of one experiment's model for one sample's input, as the lesson prints it."""
    model: nn.Module = build_model(model_spec, shape)
    stats = summary(model, input_size=(1, shape[0]), verbose=0, mode="eval",
                    col_names=("output_size", "num_params"), row_settings=("var_names",))
    return str(stats)


def load_weights(path) -> dict:
    """Saved weights of every seed, loaded without unpickling arbitrary objects."""
    return torch.load(path, weights_only=True)
