"""Training every seed of one experiment at once on the stacked model; per-epoch metrics per seed."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from lessonbench.engine.optimizers import stack_optimizer
from lessonbench.engine.stacked import StackedMLP, dropout_noise, softmax_parts, vectorised

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


def generators(seeds: list[int], stream: str) -> list[torch.Generator]:
    """One CPU generator per seed for one stream: the same draws on every device."""
    return [torch.Generator().manual_seed(seed_streams(seed)[stream]) for seed in seeds]


def resolve_device(name: str) -> torch.device:
    """The torch device for the runtime setting `device`, or a clear error if it is not there."""
    if name == "cuda" and not torch.cuda.is_available():
        build = f"CUDA {torch.version.cuda}" if torch.version.cuda else "a CPU-only build"
        raise RuntimeError(f"config `device: cuda`, but torch {torch.__version__} ({build}) finds no CUDA GPU "
                           "on this machine; set `device: cpu` or run this job on a GPU node")
    return torch.device(name)


def seed_losses(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy per seed: logits (K, B, classes), labels (K, B) or (B,) -> (K,)."""
    k, batch, classes = logits.shape
    labels = y.expand(k, batch).reshape(-1)
    return F.cross_entropy(logits.reshape(-1, classes), labels, reduction="none").view(k, batch).mean(1)


EVAL_CHUNK = 128  # samples per evaluation pass: keeps a large stack's activations in cache


@torch.no_grad()
def evaluate(model: StackedMLP, x: torch.Tensor, y: torch.Tensor, probs: bool = False) -> dict:
    """Per-seed mean cross-entropy (K,), accuracy (K,, fraction) and, if asked, probabilities (K, N, 10).

    The means are taken per row in numpy (pairwise, in float64): torch's row reductions may group
    rows differently for different K, and a seed's numbers must not depend on K.
    """
    model.eval()
    losses, correct, probabilities = [], [], []
    for start in range(0, len(y), EVAL_CHUNK):
        part_x, part_y = x[start:start + EVAL_CHUNK], y[start:start + EVAL_CHUNK]
        logits = model(part_x)
        k, n = logits.shape[:2]
        shifted, total, top = softmax_parts(logits)
        # cross-entropy: log-sum-exp minus the true class's logit, the two large terms first (adding the small
        # log to the largest logit first would round it away when logits are large)
        true_logit = logits.gather(2, part_y.expand(k, n).unsqueeze(2))
        losses.append(((top - true_logit) + vectorised(torch.log, total)).view(k, n).cpu())
        correct.append((logits.argmax(2) == part_y).cpu())
        if probs:
            probabilities.append(shifted.div_(total).cpu())
    per_sample = torch.cat(losses, dim=1).numpy().astype(np.float64)
    return {"loss": torch.from_numpy(per_sample.mean(axis=1)),
            "accuracy": torch.from_numpy(torch.cat(correct, dim=1).numpy().sum(axis=1) / len(y)),
            "probs": torch.cat(probabilities, dim=1) if probs else None}


def train_epoch(model: StackedMLP, optimizer, x, y, batch_size: int, shuffle, dropout,
                dropout_p: float | list[float] | None = None, step=None) -> None:
    """One pass over (x, y) for every seed, each in its own shuffled order, as DataLoader(shuffle=True).

    dropout_p: one dropout probability per seed (default: the model's, for all); step: what to do
    after each backward pass (default: optimizer.step; the search scales each seed's step itself).
    """
    model.train()
    n = len(y)
    p = model.dropout if dropout_p is None else dropout_p
    order = torch.stack([torch.randperm(n, generator=gen) for gen in shuffle]).to(x.device)
    xs = x[order]  # (K, N, features): seed k's epoch in its own order; batches are slices
    targets = F.one_hot(y[order], model.shape[1]).to(x.dtype)  # (K, N, classes)
    noise = [dropout_noise(p, n, width, dropout).to(x.device)
             for width in model.hidden_widths] if model.dropout > 0 else None
    for start in range(0, n, batch_size):
        batch = slice(start, start + batch_size)
        # seed k's gradient is its own mean loss's gradient, written into the model's flat gradient
        model.gradients(xs[:, batch], targets[:, batch], noise and [m[:, batch] for m in noise])
        (step or optimizer.step)()


@dataclass
class Stack:
    """A stack of seeds ready to train: the model, its optimizer, each seed's generators, and the step."""

    model: StackedMLP
    optimizer: object  # FusedStep or a torch.optim.Optimizer: what stack_optimizer gives
    shuffle: list[torch.Generator]
    dropout: list[torch.Generator]
    dropout_p: list[float] | None = None  # one per seed, where the seeds' dropout differs
    step: Callable[[], None] | None = None  # default: optimizer.step

    def train_epoch(self, x: torch.Tensor, y: torch.Tensor, batch_size: int) -> None:
        train_epoch(self.model, self.optimizer, x, y, batch_size, self.shuffle, self.dropout, self.dropout_p,
                    self.step)


def build_stack(spec: dict, seeds: list[int], device: torch.device, shape: tuple[int, int],
                per_seed: dict | None = None) -> Stack:
    """The stacked model of spec for these seeds, initialised, with its optimizer and generators; shape: the
    data's (features, classes).

    per_seed: each seed's own {"lr": [...], "weight_decay": [...], "dropout": [...]}, for stacks whose seeds
    differ in them (the search's trials). The optimizer then steps with lr=1 and no weight decay; each
    seed's L2 term is added to its gradient and its step scaled by its own learning rate, which is the
    same update torch's SGD, Adagrad and Adam make with that lr and weight_decay.
    """
    if per_seed is None:
        model = StackedMLP(spec["model"], len(seeds), shape, device)
        model.initialise(generators(seeds, "init"))
        optimizer = stack_optimizer(model.flat, spec["optimizer"])
        return Stack(model, optimizer, generators(seeds, "shuffle"), generators(seeds, "dropout"))
    model = StackedMLP({**spec["model"], "dropout": max(per_seed["dropout"])}, len(seeds), shape, device)
    model.initialise(generators(seeds, "init"))
    optimizer = stack_optimizer(model.flat, {**spec["optimizer"], "lr": 1.0, "weight_decay": 0.0})
    lr, decay = model.per_seed(per_seed["lr"]), model.per_seed(per_seed["weight_decay"])

    @torch.no_grad()
    def step() -> None:  # each seed's L2 and learning rate, on top of the optimizer's step at lr=1
        model.flat.grad.add_(decay * model.flat)
        before = model.flat.detach().clone()
        optimizer.step()
        model.flat.sub_(before).mul_(lr).add_(before)

    return Stack(model, optimizer, generators(seeds, "shuffle"), generators(seeds, "dropout"),
                 list(per_seed["dropout"]), step)


@dataclass
class StackRun:
    """What training a stack of seeds leaves behind."""

    seeds: list[int]
    model: StackedMLP
    history: list[dict] = field(default_factory=list)
    diverged_epoch: dict[int, int] = field(default_factory=dict)
    seconds: float = 0.0


def train_stack(spec: dict, seeds: list[int], data: dict, device: str = "cpu", log=print) -> StackRun:
    """Train the given seeds of spec together on data['train'], scoring train and val after every epoch (data:
    engine.data.load_parts's, with the model's `shape`).

    A seed whose loss becomes non-finite is recorded as diverged at that epoch and its curves stop
    there; the other seeds train on, unaffected.
    """
    started = time.perf_counter()
    n, batch_size = len(data["train"][1]), spec["batch_size"]
    if spec["model"]["batchnorm"] and (n % batch_size == 1 or batch_size == 1):
        raise ValueError(f"batch_size {batch_size} with {n} training samples leaves a batch of one sample, and "
                         "BatchNorm cannot normalise a single sample; choose another batch_size")
    dev = resolve_device(device)
    stack = build_stack(spec, seeds, dev, data["shape"])
    model = stack.model
    parts = {part: tuple(t.to(dev) for t in data[part]) for part in ("train", "val")}
    run = StackRun(seeds=list(seeds), model=model)
    live = list(range(len(seeds)))
    every = max(1, spec["epochs"] // 10)
    for epoch in range(1, spec["epochs"] + 1):
        stack.train_epoch(*parts["train"], spec["batch_size"])
        scores = {part: evaluate(model, *parts[part]) for part in parts}
        for k in list(live):
            if not all(math.isfinite(s["loss"][k]) for s in scores.values()):
                run.diverged_epoch[seeds[k]] = epoch
                live.remove(k)
                log(f"  seed {seeds[k]}: loss became non-finite at epoch {epoch}; its curves stop here")
                continue
            run.history.extend({"seed": seeds[k], "epoch": epoch, "split": part,
                                "loss": float(s["loss"][k]), "accuracy": float(s["accuracy"][k])}
                               for part, s in scores.items())
        if live and (epoch % every == 0 or epoch == spec["epochs"]):
            acc = {part: 100 * s["accuracy"][live] for part, s in scores.items()}
            log(f"  epoch {epoch}/{spec['epochs']} ({time.perf_counter() - started:.1f} s): "
                f"train loss {scores['train']['loss'][live].mean():.4f} acc {acc['train'].mean():.2f}%, "
                f"val acc {acc['val'].mean():.2f}% (seeds {acc['val'].min():.2f}-{acc['val'].max():.2f}%), "
                f"{len(live)}/{len(seeds)} seeds live")
    run.history.sort(key=lambda r: (r["seed"], r["epoch"], r["split"]))
    run.seconds = time.perf_counter() - started
    return run


def summarise_stack(run: StackRun, data: dict) -> tuple[list[dict], pd.DataFrame]:
    """Final train/val/test metrics and best-validation epoch of every seed, plus test probabilities.

    This is the only place that reads the test part, after training has finished.
    """
    dev = next(run.model.parameters()).device
    scores = {part: evaluate(run.model, *(t.to(dev) for t in data[part]), probs=part == "test")
              for part in ("train", "val", "test")}
    history = history_frame(run.history)
    rows, probs = [], []
    for k, seed in enumerate(run.seeds):
        val = history[(history["seed"] == seed) & (history["split"] == "val")]
        best = val.loc[val["accuracy"].idxmax()] if len(val) else None
        row = {"seed": seed, "epochs_run": int(val["epoch"].max()) if len(val) else 0,
               "diverged_epoch": run.diverged_epoch.get(seed),
               "best_val_accuracy": float(best["accuracy"]) if best is not None else math.nan,
               "best_val_epoch": int(best["epoch"]) if best is not None else 0,
               "n_params": run.model.parameters_per_seed()}
        for part, s in scores.items():
            diverged = seed in run.diverged_epoch
            row[f"final_{part}_loss"] = math.nan if diverged else float(s["loss"][k])
            row[f"final_{part}_accuracy"] = math.nan if diverged else float(s["accuracy"][k])
        rows.append(row)
        test_probs = scores["test"]["probs"][k]
        frame = pd.DataFrame(test_probs.numpy().astype(np.float64),
                             columns=[f"prob_{c}" for c in range(test_probs.shape[1])])
        frame.insert(0, "seed", seed)
        frame.insert(1, "sample", data["test_samples"])
        frame.insert(2, "label", data["test"][1].numpy())
        frame.insert(3, "pred", test_probs.argmax(1).numpy())
        probs.append(frame)
    return rows, pd.concat(probs, ignore_index=True)
