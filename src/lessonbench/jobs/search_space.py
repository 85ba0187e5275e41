"""The search's space: what a trial may vary, how values are drawn in it, how it narrows, how values apply.

A space maps dotted paths into an experiment spec (`optimizer.lr`) to a range (`low`, `high`, `scale`
linear or log) or a list of `choices`.
"""

from __future__ import annotations

import numpy as np
import optuna

# Hyperparameters that may differ between trials trained in one stack (each seed's own learning rate,
# L2 and dropout: training.build_stack's per_seed); trials that differ in anything else train apart.
PER_ROW = {"optimizer.lr": "lr", "optimizer.weight_decay": "weight_decay", "model.dropout": "dropout"}


def distributions(space: dict) -> dict[str, optuna.distributions.BaseDistribution]:
    """Optuna distributions for a (possibly narrowed) space, in the space's order."""
    out = {}
    for name, dim in space.items():
        if "choices" in dim:
            out[name] = optuna.distributions.CategoricalDistribution(list(dim["choices"]))
        else:
            out[name] = optuna.distributions.FloatDistribution(dim["low"], dim["high"], log=dim["scale"] == "log")
    return out


def narrow(space: dict, scored: list[dict], keep_top: int) -> dict:
    """Each range to the span of the best `keep_top` trials so far, each choice list to the choices they used.

    scored: dicts with "values" and "value" (validation accuracy); ties go to the earlier trial.
    """
    top = sorted(scored, key=lambda t: (-t["value"], t["trial"]))[:keep_top]
    out = {}
    for name, dim in space.items():
        used = [t["values"][name] for t in top]
        if "choices" in dim:
            out[name] = {"choices": [c for c in dim["choices"] if c in used]}
        else:
            out[name] = {**dim, "low": float(min(used)), "high": float(max(used))}
    return out


def sample(space: dict, rng: np.random.Generator) -> dict:
    """One trial's values drawn at random inside a (narrowed) space: log-uniform, uniform or a choice.

    Drawn in the names' sorted order, so the trials do not depend on the order the space was written in.
    """
    values = {}
    for name in sorted(space):
        dim = space[name]
        if "choices" in dim:
            values[name] = dim["choices"][int(rng.integers(len(dim["choices"])))]
        elif dim["scale"] == "log":
            values[name] = float(np.exp(rng.uniform(np.log(dim["low"]), np.log(dim["high"]))))
        else:
            values[name] = float(rng.uniform(dim["low"], dim["high"]))
    return values


def round_seed(search_seed: int, round_no: int) -> int:
    """The seed of one round's sampler: from the search seed and the round alone (a resumed round draws the same)."""
    return int(np.random.SeedSequence([search_seed, round_no]).generate_state(1)[0])
