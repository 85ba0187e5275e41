"""Training every seed of one experiment: seeded init, shuffling and dropout; per-epoch metrics."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from lessonbench.models import build_model, count_parameters, init_weights
from lessonbench.registries import build_optimizer

STREAMS = ("init", "shuffle", "dropout")
HISTORY_DTYPES = {"seed": "int64", "epoch": "int64", "split": "str", "loss": "float64", "accuracy": "float64"}


def history_frame(rows: list[dict]) -> pd.DataFrame:
    """Per-epoch rows as a frame with fixed columns and dtypes, also when a seed diverged at once."""
    return pd.DataFrame(rows, columns=list(HISTORY_DTYPES)).astype(HISTORY_DTYPES)


def seed_streams(seed: int) -> dict[str, int]:
    """Independent 63-bit seeds for the init, shuffle and dropout streams of one run.

    They depend on the seed alone, so seed k gives the same numbers whichever job
    trains it and however many other seeds are trained beside it.
    """
    children = np.random.SeedSequence(seed).spawn(len(STREAMS))
    return {name: int(child.generate_state(1, np.uint64)[0] >> np.uint64(1)) for name, child in zip(STREAMS, children)}


def generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@torch.no_grad()
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> dict:
    """Mean cross-entropy, accuracy (fraction) and class probabilities of model on (x, y), eval mode."""
    model.eval()
    logits = model(x)
    return {
        "loss": F.cross_entropy(logits, y).item(),
        "accuracy": (logits.argmax(1) == y).double().mean().item(),
        "probs": torch.softmax(logits, dim=1),
    }


def train_epoch(model, optimizer, x, y, batch_size: int, shuffle: torch.Generator) -> None:
    """One pass over (x, y) in shuffled mini-batches, as the lesson's DataLoader(shuffle=True)."""
    model.train()
    order = torch.randperm(len(y), generator=shuffle)
    for start in range(0, len(y), batch_size):
        batch = order[start:start + batch_size]
        loss = F.cross_entropy(model(x[batch]), y[batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


@dataclass
class SeedRun:
    """What one seed leaves behind."""

    seed: int
    history: list[dict] = field(default_factory=list)
    diverged_epoch: int | None = None
    model: nn.Module | None = None
    seconds: float = 0.0


def train_seed(spec: dict, seed: int, data: dict, log=print) -> SeedRun:
    """Train one seed on data['train'], scoring train and val after every epoch.

    Stops early, and records the epoch, when a loss becomes non-finite (divergence).
    """
    started = time.perf_counter()
    streams = seed_streams(seed)
    model = build_model(spec["model"])
    init_weights(model, spec["model"]["init"], generator(streams["init"]))
    optimizer = build_optimizer(model.parameters(), spec["optimizer"])
    shuffle = generator(streams["shuffle"])
    torch.manual_seed(streams["dropout"])  # nn.Dropout draws from the global generator only
    run = SeedRun(seed=seed, model=model)
    every = max(1, spec["epochs"] // 10)
    for epoch in range(1, spec["epochs"] + 1):
        train_epoch(model, optimizer, *data["train"], spec["batch_size"], shuffle)
        scores = {part: evaluate(model, *data[part]) for part in ("train", "val")}
        if not all(math.isfinite(s["loss"]) for s in scores.values()):
            run.diverged_epoch = epoch
            log(f"  seed {seed}: loss became non-finite at epoch {epoch}; stopping this seed")
            break
        for part, s in scores.items():
            run.history.append({"seed": seed, "epoch": epoch, "split": part,
                                "loss": s["loss"], "accuracy": s["accuracy"]})
        if epoch % every == 0 or epoch == spec["epochs"]:
            log(f"  seed {seed} epoch {epoch}/{spec['epochs']}: "
                f"train loss {scores['train']['loss']:.4f} acc {100 * scores['train']['accuracy']:.2f}%, "
                f"val loss {scores['val']['loss']:.4f} acc {100 * scores['val']['accuracy']:.2f}%")
    run.seconds = time.perf_counter() - started
    return run


def summarise_seed(run: SeedRun, data: dict) -> tuple[dict, pd.DataFrame]:
    """Final train/val/test metrics and best-validation epoch of a trained seed, plus test probabilities.

    This is the only place that reads the test part, after training has finished.
    """
    history = history_frame(run.history)
    val = history[history["split"] == "val"]
    best = val.loc[val["accuracy"].idxmax()] if len(val) else None
    row = {"seed": run.seed, "epochs_run": int(val["epoch"].max()) if len(val) else 0,
           "diverged_epoch": run.diverged_epoch,
           "best_val_accuracy": float(best["accuracy"]) if best is not None else math.nan,
           "best_val_epoch": int(best["epoch"]) if best is not None else 0,
           "n_params": count_parameters(run.model)}
    test_probs = None
    for part in ("train", "val", "test"):
        scores = evaluate(run.model, *data[part])
        row[f"final_{part}_loss"], row[f"final_{part}_accuracy"] = scores["loss"], scores["accuracy"]
        test_probs = scores["probs"]
    if run.diverged_epoch is not None:
        row.update({f"final_{p}_{m}": math.nan for p in ("train", "val", "test") for m in ("loss", "accuracy")})
    probs = pd.DataFrame(test_probs.numpy().astype(np.float64), columns=[f"prob_{c}" for c in range(10)])
    probs.insert(0, "seed", run.seed)
    probs.insert(1, "sample", data["test_samples"])
    probs.insert(2, "label", data["test"][1].numpy())
    probs.insert(3, "pred", test_probs.argmax(1).numpy())
    return row, probs
