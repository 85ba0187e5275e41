"""How a search's trials train: those that share their structure as one stack, scored on validation data only."""

from __future__ import annotations

import math

import pandas as pd
import torch

from lessonbench.engine.data import load_parts
from lessonbench.engine.training import build_stack, evaluate
from lessonbench.jobs.search_space import PER_ROW
from lessonbench.spec.config import with_values
from lessonbench.spec.files import canonical_json


def trial_spec(base: dict, values: dict, epochs: int) -> dict:
    """The base experiment with one trial's values, trained for the search's short epochs, one seed."""
    return with_values(base, values, epochs=epochs, seeds=1)


def train_group(spec: dict, rows: list[dict], data: dict, seed: int, device: torch.device) -> list[dict]:
    """Train trials that share their structure (all but PER_ROW values) as one stack; score on validation.

    Every trial uses the same training seed (same initial weights, batch order and dropout draws), so
    trials differ only in their hyperparameters (each its own learning rate, L2 and dropout: build_stack).
    """
    own = {"optimizer.lr": spec["optimizer"]["lr"],  # the base's value where a trial leaves one unset
           "optimizer.weight_decay": spec["optimizer"].get("weight_decay", 0.0),
           "model.dropout": spec["model"]["dropout"]}
    per_seed = {name: [row.get(path, own[path]) for row in rows] for path, name in PER_ROW.items()}
    stack = build_stack(spec, [seed] * len(rows), device, data["shape"], per_seed)
    x, y = (t.to(device) for t in data["train"])
    for _ in range(spec["epochs"]):
        stack.train_epoch(x, y, spec["batch_size"])
    scores = evaluate(stack.model, *(t.to(device) for t in data["val"]))
    return [{"val_accuracy": float(acc) if math.isfinite(loss) else 0.0, "val_loss": float(loss),
             "diverged": not math.isfinite(loss)} for acc, loss in zip(scores["accuracy"], scores["loss"])]


def train_trials(base: dict, trials: list[dict], data: dict, settings: dict, device, together: bool = True):
    """Scores of each trial; trials with the same structure train in one stack unless together=False."""
    groups: dict[str, list[int]] = {}
    for i, values in enumerate(trials):
        key = canonical_json({k: v for k, v in values.items() if k not in PER_ROW}) if together else str(i)
        groups.setdefault(key, []).append(i)
    scores: list[dict] = [{}] * len(trials)
    for members in groups.values():
        spec = trial_spec(base, {k: v for k, v in trials[members[0]].items() if k not in PER_ROW}, settings["epochs"])
        for i, score in zip(members, train_group(spec, [trials[i] for i in members], data,
                                                  settings["trial_seed"], device)):
            scores[i] = score
    return scores, len(groups)


def search_data(frame: pd.DataFrame, scaler: dict, classes: int | None = None) -> dict:
    """Training and validation tensors (a model of `classes` outputs: the dataset's); refuses test rows."""
    if (frame["split"] == "test").any():
        raise ValueError("the search was given test rows; it must read results/data/train_val.parquet only")
    return load_parts(frame, scaler, classes=classes)
