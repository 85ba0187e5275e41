"""The stacked engine: seed k in a stack is seed k alone, and K=1 is the lesson's plain model.

(a) seed k trained in a stack of K gives exactly (bit for bit) the history and weights it gets
    trained alone, wherever it sits in the stack; (c) adding seeds never changes existing ones;
(b) a stack of one matches the lesson's nn.Sequential trained with torch's default optimizer,
    the same initial weights, batch order and dropout masks, within a stated tolerance.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
import yaml
from torch import nn

from lessonbench.engine.models import build_model, init_weights
from lessonbench.engine.optimizers import FUSED, FusedStep, stack_optimizer
from lessonbench.engine.stacked import StackedMLP, dropout_noise
from lessonbench.engine.training import evaluate, generators, resolve_device, seed_losses, train_epoch, train_stack
from lessonbench.spec.registries import OPTIMIZERS, build_optimizer

from .conftest import DIGITS, LESSON

QUIET = dict(log=lambda message: None)
EXPERIMENTS = list(yaml.safe_load(LESSON.read_text())["experiments"])


def short(spec: dict, epochs: int) -> dict:
    return {**spec, "epochs": epochs}


def seed_history(run, seed):
    return [r for r in run.history if r["seed"] == seed]


def assert_same_seed(run_a, run_b, seed):
    assert seed_history(run_a, seed) == seed_history(run_b, seed)
    state_a = run_a.model.seed_state(run_a.seeds.index(seed))
    state_b = run_b.model.seed_state(run_b.seeds.index(seed))
    assert state_a.keys() == state_b.keys()
    for name in state_a:
        assert torch.equal(state_a[name], state_b[name]), name


@pytest.mark.parametrize("exp_id", EXPERIMENTS)
def test_a_seed_in_a_stack_is_the_seed_alone(exp_id, lesson, small_data):
    """(a) and (c), exactly: seeds 0..4 together; seed 3 alone, first of two, last of four."""
    spec = short(lesson[1][exp_id], epochs=2)
    stack = train_stack(spec, [0, 1, 2, 3, 4], small_data, **QUIET)
    for seeds in ([3], [3, 4], [0, 1, 2, 3]):
        smaller = train_stack(spec, seeds, small_data, **QUIET)
        for seed in seeds:
            assert_same_seed(stack, smaller, seed)


class FixedDropout(nn.Module):
    """nn.Dropout with its multiplier supplied from outside, to feed the reference the engine's masks."""

    def __init__(self):
        super().__init__()
        self.noise = None

    def forward(self, x):
        return x * self.noise if self.training else x


def train_reference(spec: dict, seed: int, data: dict) -> list[dict]:
    """The lesson's way: one nn.Sequential, torch's default (unfused) optimizer, one batch at a time.

    Initial weights, batch order and dropout masks are the engine's for this seed.
    """
    stack = StackedMLP(spec["model"], 1, DIGITS)
    stack.initialise(generators([seed], "init"))
    model = stack.seed_model(0)
    droppers = []
    for i, module in enumerate(model):
        if isinstance(module, nn.Dropout):
            model[i] = FixedDropout()
            droppers.append(model[i])
    optimizer = build_optimizer(model.parameters(), spec["optimizer"])
    (shuffle,), (dropout,) = generators([seed], "shuffle"), generators([seed], "dropout")
    x, y = data["train"]
    history = []
    for epoch in range(1, spec["epochs"] + 1):
        model.train()
        order = torch.randperm(len(y), generator=shuffle)
        noise = [dropout_noise(spec["model"]["dropout"], len(y), width, [dropout])[0]
                 for width in spec["model"]["hidden"]] if droppers else []
        for start in range(0, len(y), spec["batch_size"]):
            batch = order[start:start + spec["batch_size"]]
            for dropper, mask in zip(droppers, noise):
                dropper.noise = mask[start:start + spec["batch_size"]]
            loss = F.cross_entropy(model(x[batch]), y[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            for part in ("train", "val"):
                px, py = data[part]
                logits = model(px)
                history.append({"seed": seed, "epoch": epoch, "split": part,
                                "loss": F.cross_entropy(logits, py).item(),
                                "accuracy": (logits.argmax(1) == py).double().mean().item()})
    return history


# Tolerance of (b), in float64 (the mathematics, not one CPU's float32 rounding): products batched as bmm, the fused
# optimizer update and BatchNorm's eval formula round differently from addmm, torch's per-operation update and
# torch's kernel. The amplification is the mathematics' (sgd_uniform, lr=1 on saturated sigmoids, is chaotic: ~100x a
# difference an epoch), the same on every CPU; a CPU changes only the order of float64 sums, moving their rounding by
# at most the sum's length (<= ~100 terms): 6.4e-12 on one CPU (sgd_uniform, 3 epochs) is at most ~1e-9 on any, the
# tolerance; accuracies equal. A wrong update or formula is off by far more.
LOSS_RTOL64 = 1e-9


@pytest.mark.parametrize("exp_id", EXPERIMENTS)
def test_a_stack_of_one_is_the_lessons_plain_model(exp_id, lesson, small_data64):
    """(b): every lesson experiment, K=1 stacked engine vs nn.Sequential, same weights, order, masks, in float64."""
    spec = short(lesson[1][exp_id], epochs=3)
    engine = train_stack(spec, [7], small_data64, **QUIET).history
    reference = train_reference(spec, 7, small_data64)
    assert [(r["epoch"], r["split"]) for r in engine] == [(r["epoch"], r["split"]) for r in reference]
    for ours, theirs in zip(engine, reference):
        assert ours["loss"] == pytest.approx(theirs["loss"], rel=LOSS_RTOL64), (ours, theirs)
        assert ours["accuracy"] == theirs["accuracy"], (ours, theirs)


@pytest.mark.parametrize("name, fused", [(name, False) for name in sorted(OPTIMIZERS)] +
                         [(name, True) for name in sorted(FUSED)])
def test_optimizers_update_each_element_on_its_own(name, fused):
    """A stacked parameter is K independent parameters to torch's optimizers: stepping rows 0 and 1 of one
    (2, n) tensor gives bit for bit what stepping each row as its own tensor gives, torch.optim's or the fused
    kernel's (FusedStep), in the SIMD body and in the scalar tail alike."""
    spec = {"name": name, "lr": 0.05, **({"weight_decay": 0.01} if name != "adadelta" else {})}
    if name == "sgd":
        spec["momentum"] = 0.9
    n = 4099  # not a multiple of any vector width
    gen = torch.Generator().manual_seed(0)
    start = torch.randn(2, n, generator=gen)
    grads = [torch.randn(2, n, generator=gen) for _ in range(5)]
    stacked = nn.Parameter(start.clone())
    rows = [nn.Parameter(start[k].clone()) for k in range(2)]
    build = (lambda param: FusedStep(param, spec)) if fused else (lambda param: build_optimizer([param], spec))
    opt_stacked = build(stacked)
    opt_rows = [build(row) for row in rows]
    for grad in grads:
        stacked.grad = grad.clone()
        opt_stacked.step()
        for k, (row, opt) in enumerate(zip(rows, opt_rows)):
            row.grad = grad[k].clone()
            opt.step()
    for k in range(2):
        assert torch.equal(stacked[k], rows[k])


def test_a_diverging_seed_leaves_its_neighbours_alone(lesson, small_data):
    spec = short(lesson[1]["adam"], epochs=1)

    def one_epoch(k, poison):
        model = StackedMLP(spec["model"], k, DIGITS)
        model.initialise(generators(list(range(k)), "init"))
        if poison:
            with torch.no_grad():
                model.tensors()["weight2"][1].fill_(1e38)  # seed 1's logits overflow at once
        optimizer = stack_optimizer(model.flat, spec["optimizer"])
        train_epoch(model, optimizer, *small_data["train"], 32, generators(list(range(k)), "shuffle"), [])
        return model, evaluate(model, *small_data["val"])

    alone, alone_scores = one_epoch(1, poison=False)
    pair, pair_scores = one_epoch(2, poison=True)
    assert not torch.isfinite(pair_scores["loss"][1])
    assert pair_scores["loss"][0] == alone_scores["loss"][0]
    assert all(torch.equal(t, pair.seed_state(0)[name]) for name, t in alone.seed_state(0).items())


def test_seed_losses_are_each_seeds_own_mean():
    logits = torch.randn(3, 5, 10, generator=torch.Generator().manual_seed(1))
    labels = torch.tensor([[1, 2, 3, 4, 5], [0, 0, 0, 0, 0], [9, 8, 7, 6, 5]])
    expected = torch.stack([F.cross_entropy(logits[k], labels[k]) for k in range(3)])
    torch.testing.assert_close(seed_losses(logits, labels), expected)


def test_seed_model_is_the_lessons_sequential(lesson, float64):
    spec = lesson[1]["lesson_best"]["model"]
    stack = StackedMLP(spec, 3, DIGITS)
    stack.initialise(generators([0, 1, 2], "init"))
    x = torch.randn(16, 64, generator=torch.Generator().manual_seed(2))
    stack.eval()
    plain = stack.seed_model(2).eval()
    torch.testing.assert_close(stack(x)[2], plain(x), rtol=1e-12, atol=1e-12)  # float64: 3 layers of sums
    assert stack.parameters_per_seed() == sum(p.numel() for p in plain.parameters())


@pytest.mark.parametrize("exp_id", ["momentum", "lesson_best"])  # plain; batchnorm and dropout
def test_seeds_put_back_into_a_stack_are_the_stack_those_seeds_train(exp_id, lesson, small_data):
    """load_seed_state inverts seed_state: seeds 2 and 0 of a stack of three, put into a stack of two, are
    bit for bit the stack that trains seeds [2, 0] (every parameter, padding and buffer of its state_dict)."""
    spec = short(lesson[1][exp_id], 2)
    three = train_stack(spec, [0, 1, 2], small_data, **QUIET)
    two = train_stack(spec, [2, 0], small_data, **QUIET)
    assembled = StackedMLP(spec["model"], 2, DIGITS)
    for k, seed in enumerate([2, 0]):
        assembled.load_seed_state(k, three.model.seed_state(seed))
    expected, got = two.model.state_dict(), assembled.state_dict()
    assert expected.keys() == got.keys()
    for name in expected:
        assert torch.equal(expected[name], got[name]), name


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_asking_for_an_absent_gpu_is_a_clear_error():
    with pytest.raises(RuntimeError, match="device: cuda.*finds no CUDA GPU"):
        resolve_device("cuda")


@pytest.mark.parametrize("exp_id", ["sgd_uniform", "xavier", "he_relu", "lesson_best"])
def test_stacked_init_draws_what_init_weights_draws(exp_id, lesson):
    """Seed k's initial weights are those `init_weights` gives one nn.Sequential from seed k's init stream."""
    spec = lesson[1][exp_id]["model"]
    stack = StackedMLP(spec, 2, DIGITS)
    stack.initialise(generators([4, 9], "init"))
    for k, seed in enumerate([4, 9]):
        plain = build_model(spec, DIGITS)
        init_weights(plain, spec["init"], generators([seed], "init")[0])
        for name, tensor in plain.state_dict().items():
            assert torch.equal(stack.seed_state(k)[name], tensor), name
