"""The hand-written training step (StackedMLP.gradients) against autograd, its oracle.

Autograd differentiates the stacked model's own training-mode `forward` (torch's F.batch_norm, the activation
modules, the dropout product, F.cross_entropy); the hand-written pass must give the same gradients and the same
BatchNorm running estimates, for every activation the registry offers, with and without BatchNorm and dropout,
and an epoch of every lesson experiment (its init and optimizer) must leave the same weights as an epoch stepped
from autograd's gradients.

These tests check the mathematics, not one CPU's float32 rounding: both passes run in float64 (the engine is
dtype-generic; the `float64` fixture), where they agree to ~1e-15 of the gradients' scale and ~1e-11 of the
weights after an epoch on any CPU, so a tight tolerance is meaningful, and a wrong formula is off by O(1). The one
float32 check (the gradients) holds the hand-written pass to a bound derived on the machine that runs it: its
error against the float64 truth at most twice autograd's own float32 error there, plus a few float32 epsilons
(docs/design.md, "Across machines").
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
import yaml

from lessonbench.engine.stacked import StackedMLP, activation_grad, dropout_noise
from lessonbench.engine.training import build_stack, generators, seed_losses, train_epoch
from lessonbench.spec.registries import ACTIVATIONS

from .conftest import DIGITS, LESSON

EXPERIMENTS = list(yaml.safe_load(LESSON.read_text())["experiments"])
U32 = torch.finfo(torch.float32).eps
# float64, derived: each gradient element is a chain of sums of at most ~10^3 rounded terms (a batch of 21, widths up
# to 100, three layers and BatchNorm's means), so the two passes differ by at most ~10^3 x 1.1e-16 ~ 1e-13 of the
# gradients' scale on any IEEE-754 CPU; 1e-12 is ten times that and ten orders below what a wrong formula gives
GRAD_RTOL64 = 1e-12


def model_of(activation: str, batchnorm: bool, dropout: float, k: int = 3) -> StackedMLP:
    spec = {"hidden": [100, 50], "activation": activation, "batchnorm": batchnorm, "dropout": dropout,
            "init": {"name": "kaiming_normal"}}
    model = StackedMLP(spec, k, DIGITS)
    model.initialise(generators(list(range(k)), "init"))
    with torch.no_grad():  # BatchNorm's scale and shift away from 1 and 0, so their gradients are exercised
        for name, tensor in model.tensors().items():
            if name.startswith("bn_"):
                tensor.add_(0.1 * torch.randn(tensor.shape, generator=torch.Generator().manual_seed(len(name))))
    return model


def autograd_gradients(model: StackedMLP, x, y, noise) -> torch.Tensor:
    model.zero_grad_()
    seed_losses(model(x, noise), y).sum().backward()
    return model.flat.grad.clone()


def one_batch(activation: str, batchnorm: bool, dropout: float, dtype: torch.dtype, start: dict | None = None):
    """(autograd's gradient, hand-written gradient, autograd's state after, hand-written state after) of one batch
    of 21 in dtype; start: the state to begin from (another dtype's, cast), else model_of's."""
    model = model_of(activation, batchnorm, dropout)
    if start is not None:
        model.load_state_dict(start)
    model.train()
    gen = torch.Generator().manual_seed(1)
    batch = 21  # K * batch * width is no whole number of SIMD blocks: the padded path too
    x = torch.randn(3, batch, 64, generator=gen, dtype=torch.float32).to(dtype)  # the same inputs in either dtype
    y = torch.randint(0, 10, (3, batch), generator=gen)
    noise = [dropout_noise(dropout, batch, w, generators([0, 1, 2], "dropout")) for w in model.hidden_widths] \
        if dropout else None  # float32 masks in either dtype
    first = {name: t.clone() for name, t in model.state_dict().items()}
    expected = autograd_gradients(model, x, y, noise)
    expected_state = {name: t.clone() for name, t in model.state_dict().items()}
    model.load_state_dict(first)
    for grad in model._grads.values():  # every gradient must be written, none left over
        grad.fill_(float("nan"))
    model.gradients(x, F.one_hot(y, 10).to(dtype), noise)
    assert torch.isfinite(model.flat.grad).all()
    cancelled = {f"bias{i}" for i in range(len(model.hidden_widths))} if batchnorm else set()
    for name, grad in model._grads.items():  # no gradient trivially zero (a bias before BatchNorm's is, exactly)
        if name not in cancelled:
            assert grad.abs().sum() > 0, name
    return expected, model.flat.grad.clone(), expected_state, dict(model.state_dict()), first


@pytest.mark.parametrize("batchnorm, dropout", [(False, 0.0), (True, 0.0), (False, 0.3), (True, 0.2)])
@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_hand_written_gradients_are_autograds(activation, batchnorm, dropout, float64):
    """float64: the gradients within GRAD_RTOL64 of their scale; running estimates, batches tracked and the weights
    the same to float64 rounding."""
    expected, got, expected_state, state, _ = one_batch(activation, batchnorm, dropout, torch.float64)
    scale = expected.abs().max()
    assert scale > 0
    assert (got - expected).abs().max() <= GRAD_RTOL64 * scale
    for name, value in expected_state.items():
        torch.testing.assert_close(state[name], value, rtol=GRAD_RTOL64, atol=GRAD_RTOL64, msg=name)


@pytest.mark.parametrize("batchnorm, dropout", [(False, 0.0), (True, 0.2)])
@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_hand_written_float32_gradients_are_as_accurate_as_autograds(activation, batchnorm, dropout):
    """float32, the engine's precision: from the same float32 weights, inputs and masks, the hand-written gradient's
    error against the float64 truth is at most twice autograd's own float32 error on this machine, plus 8 float32
    epsilons of the scale. Derived, not measured: both passes sum the same terms in other orders, so whatever the
    CPU's rounding their errors are of one size, measured against each other on the machine that runs the test."""
    torch.set_default_dtype(torch.float32)
    start32 = model_of(activation, batchnorm, dropout).state_dict()
    autograd32, ours32, *_ = one_batch(activation, batchnorm, dropout, torch.float32, start32)
    torch.set_default_dtype(torch.float64)
    try:
        truth, *_ = one_batch(activation, batchnorm, dropout, torch.float64, start32)
    finally:
        torch.set_default_dtype(torch.float32)
    scale = truth.abs().max()
    ours, theirs = ((g.double() - truth).abs().max() for g in (ours32, autograd32))
    assert ours <= 2 * theirs + 8 * U32 * scale, (float(ours / scale / U32), float(theirs / scale / U32))


def test_every_registered_activation_has_a_gradient():
    for name, module in ACTIVATIONS.items():
        assert callable(activation_grad(module())), name


def autograd_epoch(stack, x, y, batch_size) -> None:
    """train_epoch as it was before the hand-written step: autograd's backward of the summed seed losses."""
    model, n = stack.model, len(y)
    model.train()
    order = torch.stack([torch.randperm(n, generator=gen) for gen in stack.shuffle])
    xs, ys = x[order], y[order]
    noise = [dropout_noise(model.dropout, n, width, stack.dropout) for width in model.hidden_widths] \
        if model.dropout > 0 else None
    for start in range(0, n, batch_size):
        batch = slice(start, start + batch_size)
        model.zero_grad_()
        seed_losses(model(xs[:, batch], noise and [m[:, batch] for m in noise]), ys[:, batch]).sum().backward()
        stack.optimizer.step()


# float64, an epoch: rounding is amplified by the mathematics, the same on every CPU, most by Adam on a weight whose
# exact gradient is zero (a bias before BatchNorm), whose rounding noise it divides by eps = 1e-8; the running means
# carry that into the logits. What a CPU changes is only the order of the float64 sums, which moves their rounding by
# at most the sum's length (<= ~100 terms), so the 1.1e-11 of the largest move this gives on one CPU (lesson_best) is
# at most ~1e-9 on any: the tolerance. A wrong gradient moves a weight by O(lr) a step (1e-3 and more).
EPOCH_RTOL64 = 1e-9


@pytest.mark.parametrize("exp_id", EXPERIMENTS)
def test_an_epoch_leaves_the_weights_autograd_would(exp_id, lesson, small_data64):
    """Every lesson experiment (its activation, init, BatchNorm, dropout and optimizer), one epoch on 200 samples in
    float64: every weight the same (BatchNorm's cancelled ones too), the same validation logits and predictions."""
    spec = lesson[1][exp_id]
    x, y = small_data64["train"]
    ours, theirs = (build_stack(spec, [0, 1], torch.device("cpu"), DIGITS) for _ in range(2))
    assert ours.model.flat.dtype == torch.float64 and torch.equal(ours.model.flat, theirs.model.flat)
    start = ours.model.flat.detach().clone()
    train_epoch(ours.model, ours.optimizer, x, y, spec["batch_size"], ours.shuffle, ours.dropout)
    autograd_epoch(theirs, x, y, spec["batch_size"])
    moved = (theirs.model.flat - start).abs().max()
    assert moved > 0
    for name, a in ours.model.tensors().items():
        assert (a - theirs.model.tensors()[name]).abs().max() <= EPOCH_RTOL64 * max(moved, 1.0), (exp_id, name)
    vx, vy = small_data64["val"]
    with torch.no_grad():
        ours_logits, their_logits = (stack.model.eval()(vx) for stack in (ours, theirs))
    assert (ours_logits - their_logits).abs().max() <= EPOCH_RTOL64 * their_logits.abs().max()
    assert torch.equal(ours_logits.argmax(2), their_logits.argmax(2))


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_a_seeds_gradients_do_not_depend_on_the_stack(activation):
    """Every activation's hand-written pass (with BatchNorm and dropout, a batch of 21: the padded path): seed 3's
    gradients and running estimates are bit for bit the same alone, first of two and fourth of five."""
    gen = torch.Generator().manual_seed(2)
    x, y = torch.randn(5, 21, 64, generator=gen), torch.randint(0, 10, (5, 21), generator=gen)
    noise = dropout_noise(0.3, 21, 100, generators(list(range(5)), "dropout")), \
        dropout_noise(0.3, 21, 50, generators(list(range(5)), "dropout"))
    seen = []
    for seeds in ([3], [3, 4], [0, 1, 2, 3, 4]):
        spec = {"hidden": [100, 50], "activation": activation, "batchnorm": True, "dropout": 0.3,
                "init": {"name": "kaiming_normal"}}
        model = StackedMLP(spec, len(seeds), DIGITS)
        model.initialise(generators(seeds, "init"))
        model.train()
        model.gradients(x[seeds], F.one_hot(y[seeds], 10).float(), [m[seeds] for m in noise])
        k = seeds.index(3)
        width = {0: 100, 1: 50}
        state = [grad[k].clone() for grad in model._grads.values()]
        state += [getattr(model, f"running_{kind}{i}")[k * width[i]:(k + 1) * width[i]].clone()
                  for kind in ("mean", "var") for i in range(2)]
        seen.append(state)
    for other in seen[1:]:
        assert all(torch.equal(a, b) for a, b in zip(seen[0], other))
