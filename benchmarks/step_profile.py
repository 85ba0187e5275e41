"""Benchmark: where one training step of the stacked engine goes, by part, at K = 1, 10 and 30 stacked seeds.

    python benchmarks/step_profile.py                       # a few minutes on 2 cores
    python benchmarks/step_profile.py --experiments adam --k 10 --steps 200

For each experiment and stack size K, on one torch thread, batch 32, the lesson's data:
  - `step`: the wall time of one training step as the engine runs it (forward, loss, backward, optimizer),
    the mean over `--steps` steps of `train_epoch`'s loop;
  - `bare`: the same stack's batched products alone (forward baddbmm, backward bmm for the inputs' and the
    weights' gradients, an in-place update): the arithmetic a step cannot avoid, with no framework around it;
  - the step's time by part, from torch's profiler (self CPU time of each operator, grouped by its name: products,
    activations, BatchNorm, dropout, loss and the reductions over the batch, optimizer, copies and views,
    autograd's bookkeeping (none since the step is written by hand); operators several parts share, such as
    the elementwise products, fall under one of them); the
    profiler's own overhead inflates these, so read them as shares of the profiled step, not as wall times.
It prints a table per experiment and the ratio step / bare. Timings are machine facts: nothing is asserted.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import torch  # noqa: E402

from lessonbench.engine.data import fit_scaler, load_parts, split_frame  # noqa: E402
from lessonbench.engine.training import build_stack  # noqa: E402
from lessonbench.spec.config import resolve_experiments  # noqa: E402

PARTS = ["products", "activations", "batchnorm", "loss", "optimizer", "dropout and scaling", "copies and views",
         "autograd", "other"]
VIEWS = {"copy_", "contiguous", "clone", "view", "reshape", "_reshape_alias", "transpose", "expand", "slice", "select",
         "as_strided", "index", "t", "unsqueeze", "squeeze", "empty", "empty_like", "empty_strided", "zero_",
         "zeros_like", "fill_", "_unsafe_view", "unbind", "stack", "resize_", "detach", "alias", "ones_like"}


def part_of(name: str) -> str:
    """The part of a step a profiler event (an operator or an autograd node) belongs to."""
    op = name.removeprefix("aten::")
    if op in ("bmm", "baddbmm", "addmm", "mm", "matmul"):
        return "products"
    if any(s in op for s in ("sigmoid", "relu", "tanh", "threshold", "pad")):
        return "activations"
    if "batch_norm" in op or op in ("mean", "rsqrt_", "addcmul", "_foreach_mul_", "_foreach_add_"):
        return "batchnorm"  # the hand-written BatchNorm's own operations (mean and rsqrt appear nowhere else)
    if any(s in op for s in ("cross_entropy", "log_softmax", "nll_loss")) or op in ("amax", "exp", "sum", "div",
                                                                                   "div_", "sub_"):
        return "loss"  # and the reductions over the batch (biases' and BatchNorm's gradients)
    if op.startswith(("_foreach", "_fused")) or "Optimizer" in name:
        return "optimizer"
    if op in ("mul", "mul_"):
        return "dropout and scaling"
    if op in VIEWS:
        return "copies and views"
    if "Backward" in name or "AccumulateGrad" in name or "autograd" in name:
        return "autograd"
    return "other"


def batches(stack, x, y, batch_size, steps):
    """(xs, one-hot targets) of `steps` training batches, drawn as train_epoch draws them."""
    n = len(y)
    order = torch.stack([torch.randperm(n, generator=gen) for gen in stack.shuffle])
    xs, targets = x[order], torch.nn.functional.one_hot(y[order], stack.model.shape[1]).float()
    starts = [(i * batch_size) % (n - batch_size) for i in range(steps)]
    return [(xs[:, s:s + batch_size], targets[:, s:s + batch_size]) for s in starts]


def step_time(stack, data, spec, steps: int, profile: bool = False):
    """Mean seconds per training step over `steps` steps (and the profiler's table when asked)."""
    model, optimizer = stack.model, stack.optimizer
    model.train()
    noise = None
    if model.dropout > 0:
        from lessonbench.engine.stacked import dropout_noise

        noise = [dropout_noise(model.dropout, spec["batch_size"], w, stack.dropout) for w in model.hidden_widths]
    work = batches(stack, *data, spec["batch_size"], steps)

    def run():
        for xb, tb in work:
            model.gradients(xb, tb, noise)
            optimizer.step()

    run()  # warm up
    if not profile:
        started = time.perf_counter()
        run()
        return (time.perf_counter() - started) / steps, None
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        run()
    shares = defaultdict(float)
    for event in prof.key_averages():
        shares[part_of(event.key)] += event.self_cpu_time_total / 1e6 / steps
    return None, dict(shares)


def bare_time(model, batch_size: int, steps: int) -> float:
    """Seconds per step of the stack's batched products alone: forward, both backward products, the update."""
    weights = [w.detach().clone() for key, w in model.tensors().items() if key.startswith("weight")]
    biases = [b.detach().clone() for key, b in model.tensors().items() if key.startswith("bias")]
    k = model.k
    x0 = torch.randn(k, batch_size, weights[0].shape[1])
    acts = [torch.empty(k, batch_size, w.shape[2]) for w in weights]
    grads_w = [torch.empty_like(w) for w in weights]
    grads_x = [torch.empty(k, batch_size, w.shape[1]) for w in weights]
    grad_out = torch.randn(k, batch_size, weights[-1].shape[2])

    def one():
        x = x0
        for w, b, out in zip(weights, biases, acts):
            torch.baddbmm(b, x, w, out=out)
            x = out
        g = grad_out
        for i in reversed(range(len(weights))):
            inp = acts[i - 1] if i else x0
            torch.bmm(inp.transpose(1, 2), g, out=grads_w[i])
            torch.bmm(g, weights[i].transpose(1, 2), out=grads_x[i])
            g = grads_x[i]
        for w, gw in zip(weights, grads_w):
            w.sub_(gw, alpha=1e-3)

    for _ in range(10):
        one()
    started = time.perf_counter()
    for _ in range(steps):
        one()
    return (time.perf_counter() - started) / steps


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--experiments", nargs="+", default=["momentum", "adam", "batchnorm", "dropout"])
    p.add_argument("--k", nargs="+", type=int, default=[1, 10, 30])
    p.add_argument("--steps", type=int, default=300)
    args = p.parse_args()
    torch.set_num_threads(1)
    data_settings, specs = resolve_experiments([ROOT / "experiments" / "lesson.yaml"])
    frame = split_frame(data_settings)[0]
    data = load_parts(frame, fit_scaler(frame, data_settings["scaler_fit"]), ("train",))
    (x, y), shape = data["train"], data["shape"]
    for exp in args.experiments:
        spec = specs[exp]
        rows = []
        for k in args.k:
            stack = build_stack(spec, list(range(k)), torch.device("cpu"), shape)
            seconds, _ = step_time(stack, (x, y), spec, args.steps)
            _, shares = step_time(build_stack(spec, list(range(k)), torch.device("cpu"), shape), (x, y), spec,
                                  args.steps, profile=True)
            bare = bare_time(stack.model, spec["batch_size"], args.steps)
            rows.append((k, seconds, bare, shares))
        parts = PARTS
        print(f"\n{exp} ({spec['model']['activation']}, batchnorm {spec['model']['batchnorm']}, dropout "
              f"{spec['model']['dropout']}, {spec['optimizer']['name']}), one thread, batch {spec['batch_size']}")
        print("| K | step (ms) | per model-step (ms) | bare products (ms) | step / bare | "
              + " | ".join(f"{name} %" for name in parts) + " |")
        print("|---" * (5 + len(parts)) + "|")
        for k, seconds, bare, shares in rows:
            total = sum(shares.values()) or 1.0
            print(f"| {k} | {1e3 * seconds:.3f} | {1e3 * seconds / k:.3f} | {1e3 * bare:.3f} | {seconds / bare:.1f}x | "
                  + " | ".join(f"{100 * shares.get(name, 0.0) / total:.0f}" for name in parts) + " |")


if __name__ == "__main__":
    main()
