"""K copies of the lesson's MLP as one model: every weight carries a leading seed dimension.

Seed k's slice of every tensor is seed k's model. A forward pass is a batched matrix
product over the K seeds, so the per-step overhead (Python, autograd, optimizer) is paid
once for all K instead of K times. Nothing mixes seeds:

- Linear layers are `torch.baddbmm` over the seed dimension;
- BatchNorm is torch's own `F.batch_norm` over a (batch, K * features) view, so each
  (seed, feature) column has its own batch statistics and running estimates;
- dropout multiplies by a mask drawn from seed k's own generator (`dropout_noise`);
- the loss is the sum over seeds of each seed's mean cross-entropy, so the gradient of
  seed k's weights is the gradient of seed k's loss alone;
- torch's optimizers (SGD with momentum and weight decay, Adagrad, Adam, AdamW, RMSprop,
  Adadelta) update every element from that element's gradient and state alone, so a
  stacked parameter is K independent parameters to them, bit for bit (tests/test_stacked.py).

Seed k's numbers are bit for bit the same whatever K is and wherever k sits in the stack
(tested), which takes three precautions: MKL pinned to one code path (lessonbench/__init__.py),
elementwise activations padded to whole SIMD blocks (`vectorised`), and BatchNorm kept on
torch's contiguous path in training and on its plain formula in evaluation.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from lessonbench.engine.models import build_model
from lessonbench.spec.registries import ACTIVATIONS, INITS, split_name

BN_MOMENTUM, BN_EPS = 0.1, 1e-5  # nn.BatchNorm1d's defaults


class StackedMLP(nn.Module):
    """`build_model(model_spec, shape)` K times over: every layer tensor is (K, ...), row k seed k's.

    The layer tensors are leaves of their own for autograd, but they and their gradients are
    views of one flat parameter and one flat gradient: the optimizer makes one fused update over
    all layers and seeds per step, and no gradient is copied to assemble it. The flat tensors are
    padded to whole SIMD blocks (BLOCK elements), so no element falls in the scalar tail of the
    fused kernel, which rounds differently: seed k's update does not depend on K.
    """

    BLOCK = 64

    def __init__(self, model_spec: dict, k: int, shape: tuple[int, int], device: torch.device | str = "cpu"):
        super().__init__()
        self.spec, self.k, self.shape = model_spec, k, tuple(shape)
        self.hidden_widths = list(model_spec["hidden"])
        widths = [self.shape[0], *self.hidden_widths, self.shape[1]]
        layout: list[tuple[str, tuple[int, ...]]] = []
        for i, (n_in, n_out) in enumerate(zip(widths, widths[1:])):
            # weights stored transposed, (in, out): x @ W^T is then a plain bmm
            layout += [(f"weight{i}", (k, n_in, n_out)), (f"bias{i}", (k, 1, n_out))]
            if model_spec["batchnorm"] and i < len(self.hidden_widths):
                layout += [(f"bn_weight{i}", (k, n_out)), (f"bn_bias{i}", (k, n_out))]
        sizes = [math.prod(shape) for _, shape in layout]
        total = sum(sizes) + (-sum(sizes) % self.BLOCK)
        self.flat = nn.Parameter(torch.zeros(total, device=device))
        self.flat.grad = torch.zeros_like(self.flat)
        self._leaves: dict[str, torch.Tensor] = {}
        offset = 0
        for (name, shape), size in zip(layout, sizes):
            leaf = self.flat.detach()[offset:offset + size].view(shape).requires_grad_()
            leaf.grad = self.flat.grad[offset:offset + size].view(shape)  # autograd adds into it in place
            self._leaves[name] = leaf
            offset += size
        with torch.no_grad():
            for name, leaf in self._leaves.items():
                if name.startswith("bn_weight"):
                    leaf.fill_(1.0)
        self.activation = ACTIVATIONS[model_spec["activation"]]()
        self.dropout = model_spec["dropout"]
        for i, n in enumerate(self.hidden_widths if model_spec["batchnorm"] else []):
            self.register_buffer(f"running_mean{i}", torch.zeros(k * n, device=device))
            self.register_buffer(f"running_var{i}", torch.ones(k * n, device=device))
        self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long, device=device))
        self.n_params = sum(sizes) // k

    def tensors(self) -> dict[str, torch.Tensor]:
        """Every layer's parameter, (K, ...), by name."""
        return self._leaves

    def per_seed(self, values: list[float]) -> torch.Tensor:
        """A tensor shaped like `flat` holding values[k] at every element of seed k (0 in the padding)."""
        out = torch.zeros_like(self.flat)
        column = torch.tensor(values, dtype=out.dtype, device=out.device)
        for leaf in self._leaves.values():
            offset = leaf.storage_offset() - self.flat.storage_offset()
            view = out[offset:offset + leaf.numel()].view(leaf.shape)
            view.copy_(column.view(-1, *[1] * (leaf.dim() - 1)).expand(leaf.shape))
        return out

    def zero_grad_(self) -> None:
        """Zero the flat gradient in place (optimizer.zero_grad would drop it and break the views)."""
        self.flat.grad.zero_()

    def _apply(self, fn, recurse=True):
        raise NotImplementedError("build StackedMLP on its device (device=...): moving it would break its views")

    def forward(self, x: torch.Tensor, noise: list[torch.Tensor] | None = None) -> torch.Tensor:
        """Logits (K, B, classes) of x (K, B, features), one batch per seed, or of x (B, features) shared by all.

        noise: in training mode with dropout, one (K, B, width) multiplier per hidden layer.
        """
        if x.dim() == 2:
            x = x.expand(self.k, *x.shape)
        t = self.tensors()
        n_hidden = len(self.hidden_widths)
        if self.training and self.spec["batchnorm"]:
            self.num_batches_tracked.add_(1)
        for i in range(n_hidden + 1):
            x = torch.baddbmm(t[f"bias{i}"], x, t[f"weight{i}"])
            if i == n_hidden:
                return x
            if self.spec["batchnorm"]:
                x = self._batch_norm(x, t[f"bn_weight{i}"], t[f"bn_bias{i}"], i)
            x = vectorised(self.activation, x)
            if self.dropout > 0 and self.training:
                x = x * noise[i]

    def _batch_norm(self, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, i: int) -> torch.Tensor:
        """Training: torch's F.batch_norm on a (1, K * width, batch) view, one channel per (seed, unit),
        each reduced over its own contiguous batch, so a seed's statistics do not depend on K.

        Evaluation: the running estimates applied elementwise, as BatchNorm1d's eval formula; torch's
        inference kernel rounds differently for different K.
        """
        k, batch, width = x.shape
        running_mean, running_var = getattr(self, f"running_mean{i}"), getattr(self, f"running_var{i}")
        if not self.training:
            scale = weight / (running_var.view(k, width) + BN_EPS).sqrt()
            return (x - running_mean.view(k, 1, width)) * scale.unsqueeze(1) + bias.unsqueeze(1)
        channels = x.transpose(1, 2).contiguous().view(1, k * width, batch)  # contiguous for every K
        out = F.batch_norm(channels, running_mean, running_var, weight.reshape(-1), bias.reshape(-1),
                           True, BN_MOMENTUM, BN_EPS)
        return _ContiguousGrad.apply(out).view(k, width, batch).transpose(1, 2)

    @torch.no_grad()
    def initialise(self, generators: list[torch.Generator]) -> None:
        """Seed k's weights from generators[k], layer by layer as `init_weights` does one model."""
        name, kwargs = split_name(self.spec["init"])
        weights = [t for key, t in self.tensors().items() if key.startswith("weight")]
        for weight in weights:
            for k, gen in enumerate(generators):
                drawn = torch.empty(weight.shape[2], weight.shape[1])  # (out, in), as nn.Linear draws it
                if name == "constant":
                    INITS[name](drawn, **kwargs)
                else:
                    INITS[name](drawn, **kwargs, generator=gen)
                weight[k].copy_(drawn.t())

    def _seed_views(self, k: int):
        """For each tensor of `build_model(spec, shape)`'s state_dict, in its order: its name, this stack's view of seed
        k's part of it, and whether the state_dict holds it transposed (weights are stored (in, out) here)."""
        t, index, n_hidden = self.tensors(), 0, len(self.hidden_widths)
        for i in range(n_hidden + 1):
            yield f"{index}.weight", t[f"weight{i}"][k], True
            yield f"{index}.bias", t[f"bias{i}"][k, 0], False
            index += 1
            if i == n_hidden:
                break
            if self.spec["batchnorm"]:
                width = self.hidden_widths[i]
                part = slice(k * width, (k + 1) * width)
                yield f"{index}.weight", t[f"bn_weight{i}"][k], False
                yield f"{index}.bias", t[f"bn_bias{i}"][k], False
                yield f"{index}.running_mean", getattr(self, f"running_mean{i}")[part], False
                yield f"{index}.running_var", getattr(self, f"running_var{i}")[part], False
                yield f"{index}.num_batches_tracked", self.num_batches_tracked, False
                index += 1
            index += 1 + (self.dropout > 0)  # activation, dropout: no state

    @torch.no_grad()
    def seed_state(self, k: int) -> dict[str, torch.Tensor]:
        """Seed k's weights as the state_dict of `build_model(spec, shape)` (an nn.Sequential)."""
        return {name: (view.t().contiguous() if transposed else view.clone()).cpu()
                for name, view, transposed in self._seed_views(k)}

    @torch.no_grad()
    def load_seed_state(self, k: int, state: dict[str, torch.Tensor]) -> None:
        """Set seed k's weights from a `seed_state` (its inverse): a seed trained in another stack, put in this one."""
        for name, view, transposed in self._seed_views(k):
            view.copy_(state[name].t() if transposed else state[name])

    def seed_model(self, k: int) -> nn.Sequential:
        """Seed k as the lesson's plain nn.Sequential, with its weights."""
        model = build_model(self.spec, self.shape)
        model.load_state_dict(self.seed_state(k))
        return model

    def parameters_per_seed(self) -> int:
        return self.n_params


class _ContiguousGrad(torch.autograd.Function):
    """Identity whose backward hands on a contiguous gradient.

    For K = 1 the gradient of `_batch_norm`'s output arrives as a transposed view (for K > 1 the
    reshape copies it), and torch's batch-norm backward takes another, differently rounding,
    path for strided input; this keeps every K on the contiguous path.
    """

    @staticmethod
    def forward(ctx, x):
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        return grad.contiguous()


def vectorised(fn, x: torch.Tensor, block: int = 64) -> torch.Tensor:
    """fn(x) for an elementwise fn, computed so that every element takes torch's vectorised path.

    torch runs an elementwise op in SIMD blocks and the last numel % 16 elements through a scalar
    loop, whose sigmoid rounds differently; which elements are last depends on K. Feeding fn whole
    blocks only (the tail zero-padded to one block) sends every element down the same path, so
    seed k's activations do not depend on how many seeds share the stack.
    """
    n = x.numel()
    if n % block == 0:
        return fn(x)
    if torch.is_grad_enabled():
        return fn(F.pad(x.reshape(-1), (0, -n % block)))[:n].view(x.shape)
    flat, head = x.reshape(-1), n - n % block  # evaluation: no copy of the whole tensor
    out = torch.empty_like(flat)
    out[:head] = fn(flat[:head])
    out[head:] = fn(F.pad(flat[head:], (0, -n % block)))[:n - head]
    return out.view(x.shape)


def dropout_noise(p: float | list[float], rows: int, width: int, generators: list[torch.Generator]) -> torch.Tensor:
    """(K, rows, width) dropout multipliers, 0 or 1/(1-p), seed k's drawn from generators[k].

    As F.dropout: keep with probability 1-p, scale what is kept by 1/(1-p). p may be one value for
    all seeds or one per seed (the search trains trials with different dropout in one stack).
    """
    uniform = torch.stack([torch.rand(rows, width, generator=gen) for gen in generators])
    if isinstance(p, list):
        keep = 1 - torch.tensor(p, dtype=torch.float32).view(-1, 1, 1)
        return (uniform < keep).to(torch.float32).div_(keep)
    return (uniform < 1 - p).to(torch.float32).div_(1 - p)
