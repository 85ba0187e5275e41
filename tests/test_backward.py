"""The hand-written training step (StackedMLP.gradients) against autograd, its oracle.

Autograd differentiates the stacked model's own training-mode `forward` (torch's F.batch_norm, the activation
modules, the dropout product, F.cross_entropy); the hand-written pass must give the same gradients and the same
BatchNorm running estimates to float32 rounding, for every activation the registry offers, with and without
BatchNorm and dropout, and an epoch of every lesson experiment (its init and optimizer) must leave the same
weights as an epoch stepped from autograd's gradients.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
import yaml

from lessonbench.engine.stacked import StackedMLP, activation_grad, dropout_noise
from lessonbench.engine.training import build_stack, generators, seed_losses, train_epoch
from lessonbench.spec.registries import ACTIVATIONS, split_name

from .conftest import DIGITS, LESSON

EXPERIMENTS = list(yaml.safe_load(LESSON.read_text())["experiments"])


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


@pytest.mark.parametrize("batchnorm, dropout", [(False, 0.0), (True, 0.0), (False, 0.3), (True, 0.2)])
@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_hand_written_gradients_are_autograds(activation, batchnorm, dropout):
    model = model_of(activation, batchnorm, dropout)
    model.train()
    gen = torch.Generator().manual_seed(1)
    batch = 21  # K * batch * width is no whole number of SIMD blocks: the padded path too
    x, y = torch.randn(3, batch, 64, generator=gen), torch.randint(0, 10, (3, batch), generator=gen)
    noise = [dropout_noise(dropout, batch, w, generators([0, 1, 2], "dropout")) for w in model.hidden_widths] \
        if dropout else None
    start = {name: t.clone() for name, t in model.state_dict().items()}
    expected = autograd_gradients(model, x, y, noise)
    expected_state = {name: t.clone() for name, t in model.state_dict().items()}
    model.load_state_dict(start)
    for grad in model._grads.values():  # every gradient must be written, none left over
        grad.fill_(float("nan"))
    model.gradients(x, F.one_hot(y, 10).float(), noise)
    got = model.flat.grad
    assert torch.isfinite(got).all()
    scale = expected.abs().max()
    assert scale > 0
    assert (got - expected).abs().max() <= 2e-6 * scale
    cancelled = {f"bias{i}" for i in range(len(model.hidden_widths))} if batchnorm else set()
    for name, grad in model._grads.items():  # no gradient trivially zero (a bias before BatchNorm's is, exactly)
        if name not in cancelled:
            assert grad.abs().sum() > 0, name
    for name, value in expected_state.items():  # running estimates, batches tracked, and the weights untouched
        assert torch.allclose(model.state_dict()[name].double(), value.double(), rtol=1e-5, atol=1e-6), name


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


@pytest.mark.parametrize("exp_id", EXPERIMENTS)
def test_an_epoch_leaves_the_weights_autograd_would(exp_id, lesson, small_data):
    """Every lesson experiment (its activation, init, BatchNorm, dropout and optimizer), one epoch on 200 samples:
    the same weights, and the same validation loss and predictions.

    With BatchNorm, a weight whose every batch's gradient is zero in exact arithmetic (a bias before BatchNorm, an
    input weight of a pixel constant within the batch) gets rounding noise from either pass, which Adam and
    Adagrad turn into steps of full size (measured for lesson_best: up to 4e-3 on those, 3e-6 on the others);
    the model's function does not depend on them (BatchNorm removes them), so with an adaptive optimizer the
    check there is the model's outputs. With SGD every weight is compared (measured: within 3e-7).
    """
    spec = lesson[1][exp_id]
    x, y = small_data["train"]
    ours, theirs = (build_stack(spec, [0, 1], torch.device("cpu"), DIGITS) for _ in range(2))
    assert torch.equal(ours.model.flat, theirs.model.flat)
    start = ours.model.flat.detach().clone()
    train_epoch(ours.model, ours.optimizer, x, y, spec["batch_size"], ours.shuffle, ours.dropout)
    autograd_epoch(theirs, x, y, spec["batch_size"])
    moved = (theirs.model.flat - start).abs().max()
    assert moved > 0
    adaptive = split_name(spec["optimizer"])[0] not in ("sgd",)
    cancelled = {"weight0", "bias0", "bias1"} if spec["model"]["batchnorm"] and adaptive else set()
    for name, a in ours.model.tensors().items():
        if name not in cancelled:  # float32 rounding grows over the epoch's steps; lr 1 on sigmoids the most
            assert (a - theirs.model.tensors()[name]).abs().max() <= 1e-4 * max(moved, 1.0), (exp_id, name)
    vx, vy = small_data["val"]
    with torch.no_grad():
        ours_logits, their_logits = (stack.model.eval()(vx) for stack in (ours, theirs))
    # with BatchNorm, the cancelled weights' noise reaches evaluation through the running means (measured: 3e-4 of
    # the logits' scale for lesson_best)
    tol = 1e-3 if spec["model"]["batchnorm"] else 1e-4
    assert (ours_logits - their_logits).abs().max() <= tol * their_logits.abs().max()
    assert (ours_logits.argmax(2) != their_logits.argmax(2)).sum(1).max() <= 1  # a near tie may flip


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
