"""K copies of the lesson's MLP as one model: every weight carries a leading seed dimension.

Seed k's slice of every tensor is seed k's model. A training step is batched matrix products over the
K seeds, so the per-step overhead (Python, dispatch, optimizer) is paid once for all K instead of K
times. Nothing mixes seeds:

- linear layers are `torch.baddbmm` over the seed dimension, their gradients `torch.bmm`;
- BatchNorm normalises each (seed, unit) over that seed's own batch and keeps one running estimate each;
- dropout multiplies by a mask drawn from seed k's own generator (`dropout_noise`);
- the loss is the sum over seeds of each seed's mean cross-entropy, so the gradient of
  seed k's weights is the gradient of seed k's loss alone;
- the optimizers update every element from that element's gradient and state alone, so a
  stacked parameter is K independent parameters to them, bit for bit (tests/test_stacked.py).

Training runs `StackedMLP.gradients`, a forward and backward pass written out by hand (no autograd graph,
every weight's gradient a product written straight into its part of the one flat gradient). The model's
`forward` is the same network for torch's autograd: evaluation uses it, and the tests differentiate it as
the hand-written pass's oracle (tests/test_backward.py).

Seed k's numbers are bit for bit the same whatever K is and wherever k sits in the stack
(tested), which takes three precautions: MKL pinned to one code path (lessonbench/__init__.py),
elementwise activations and their derivatives padded to whole SIMD blocks (`vectorised`), and no
fused multiply-add over a whole stack's elements (BatchNorm's running estimates; the optimizer's
flat parameter is padded to whole blocks).
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
        self._values: dict[str, torch.Tensor] = {}  # the same views outside autograd, for the hand-written step
        self._grads: dict[str, torch.Tensor] = {}
        offset = 0
        for (name, shape), size in zip(layout, sizes):
            self._values[name] = self.flat.detach()[offset:offset + size].view(shape)
            self._grads[name] = self.flat.grad[offset:offset + size].view(shape)
            leaf = self._values[name].view(shape).requires_grad_()  # another view: _values stays outside autograd
            leaf.grad = self._grads[name]  # autograd adds into it in place
            self._leaves[name] = leaf
            offset += size
        with torch.no_grad():
            for name, leaf in self._leaves.items():
                if name.startswith("bn_weight"):
                    leaf.fill_(1.0)
        self.activation = ACTIVATIONS[model_spec["activation"]]()
        self._activation_grad = activation_grad(self.activation)
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
        """Training (autograd's forward, the tests' oracle for `_batch_norm_train`): torch's F.batch_norm on a
        (1, K * width, batch) view, one channel per (seed, unit), each reduced over its own contiguous batch.

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

    def gradients(self, x: torch.Tensor, targets: torch.Tensor, noise: list[torch.Tensor] | None = None) -> None:
        """One training batch's forward and backward pass, by hand: flat.grad becomes the gradient of the sum over
        seeds of each seed's mean cross-entropy, which is what `forward` in training mode and autograd's backward
        of `seed_losses(...).sum()` compute (tests/test_backward.py: in float64, and in float32 to a derived bound).

        x (K, B, features); targets (K, B, classes), one-hot; noise as forward's. Every gradient is written over
        in place (no zeroing first), each product straight into its part of flat.grad. Seed k's numbers do not
        depend on K: the products are batched per seed, reductions run over each seed's own batch, and the
        activations and their derivatives see whole SIMD blocks only (`vectorised`).
        """
        w, g, n_hidden = self._values, self._grads, len(self.hidden_widths)
        norm, drop = self.spec["batchnorm"], self.dropout > 0
        if norm:
            self.num_batches_tracked.add_(1)
        inputs, saved, h = [x], [], x
        for i in range(n_hidden):  # forward, keeping what the backward pass needs
            z = torch.baddbmm(w[f"bias{i}"], h, w[f"weight{i}"])
            normalised = None
            if norm:
                z, normalised = self._batch_norm_train(z, i)
            a = vectorised(self.activation, z)
            saved.append((z, a, normalised))
            h = a * noise[i] if drop else a
            inputs.append(h)
        logits = torch.baddbmm(w[f"bias{n_hidden}"], h, w[f"weight{n_hidden}"])
        shifted, total, _ = softmax_parts(logits)
        d = shifted.div_(total).sub_(targets).div_(x.shape[1])  # d(mean cross-entropy) / d(logits): (p - y) / B
        for i in range(n_hidden, -1, -1):
            torch.bmm(inputs[i].transpose(1, 2), d, out=g[f"weight{i}"])
            torch.sum(d, 1, keepdim=True, out=g[f"bias{i}"])
            if i == 0:
                return
            d = torch.bmm(d, w[f"weight{i}"].transpose(1, 2))
            z, a, normalised = saved[i - 1]
            if drop:
                d.mul_(noise[i - 1])
            d = vectorised(self._activation_grad, d, z, a)
            if norm:
                d = self._batch_norm_grad(d, normalised, i - 1)

    def _batch_norm_train(self, z: torch.Tensor, i: int) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """BatchNorm1d's training formula over each (seed, unit)'s batch: its output, and (normalised input, 1 / std)
        for the backward pass;
        the running estimates move as torch's do (momentum 0.1, the unbiased variance)."""
        batch = z.shape[1]
        mean = z.mean(1, keepdim=True)
        centred = z - mean
        var = (centred * centred).mean(1, keepdim=True)  # biased, for normalising (torch.var_mean is 50x slower)
        invstd = (var + BN_EPS).rsqrt_()
        xhat = centred.mul_(invstd)
        out = torch.addcmul(self._values[f"bn_bias{i}"].unsqueeze(1), xhat, self._values[f"bn_weight{i}"].unsqueeze(1))
        # no add with alpha (a fused multiply-add in SIMD lanes, not in the scalar tail, whose place depends on K)
        running = [getattr(self, f"running_mean{i}"), getattr(self, f"running_var{i}")]
        torch._foreach_mul_(running, 1 - BN_MOMENTUM)
        torch._foreach_add_(running, [mean.view(-1) * BN_MOMENTUM,
                                      var.view(-1) * (BN_MOMENTUM * batch / (batch - 1))])
        return out, (xhat, invstd)

    def _batch_norm_grad(self, d: torch.Tensor, normalised: tuple, i: int) -> torch.Tensor:
        """The gradient through `_batch_norm_train`: its weight's and bias's into flat.grad, its input's returned:
        (d - mean(d) - xhat * mean(d * xhat)) * weight / std, the means over the batch."""
        xhat, invstd = normalised
        batch = d.shape[1]
        d_bias, d_weight = self._grads[f"bn_bias{i}"], self._grads[f"bn_weight{i}"]
        torch.sum(d, 1, out=d_bias)
        torch.sum(d * xhat, 1, out=d_weight)
        centre = torch.addcmul(d_bias.unsqueeze(1) / batch, xhat, d_weight.unsqueeze(1) / batch)
        return d.sub_(centre).mul_(self._values[f"bn_weight{i}"].unsqueeze(1) * invstd)

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


def vectorised(fn, x: torch.Tensor, *more: torch.Tensor, block: int = 64) -> torch.Tensor:
    """fn(x, *more) for an elementwise fn of tensors shaped like x, computed so that every element takes torch's
    vectorised path.

    torch runs an elementwise op in SIMD blocks and the last numel % 16 elements through a scalar
    loop, whose sigmoid rounds differently; which elements are last depends on K. Feeding fn whole
    blocks only (the tail zero-padded to one block) sends every element down the same path, so
    seed k's activations (and their derivatives) do not depend on how many seeds share the stack.
    """
    n = x.numel()
    if n % block == 0:
        return fn(x, *more)
    if torch.is_grad_enabled() or more:
        return fn(*(F.pad(t.reshape(-1), (0, -n % block)) for t in (x, *more)))[:n].view(x.shape)
    flat, head = x.reshape(-1), n - n % block  # evaluation: no copy of the whole tensor
    out = torch.empty_like(flat)
    out[:head] = fn(flat[:head])
    out[head:] = fn(F.pad(flat[head:], (0, -n % block)))[:n - head]
    return out.view(x.shape)


def softmax_parts(logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(exp(logits - m), its sum over classes, m) of logits (..., classes), m each row's largest logit.

    The softmax is the first over the second, the log-sum-exp log(second) + m. Written out because torch's
    softmax over a last dimension of ten classes takes 3-4x as long as these four operations; exp sees whole
    SIMD blocks (`vectorised`), and the row reductions run along each row alone, so no seed depends on K.
    """
    top = logits.amax(-1, keepdim=True)
    shifted = vectorised(torch.exp, logits - top)
    return shifted, shifted.sum(-1, keepdim=True), top


def activation_grad(module: nn.Module):
    """fn(grad, z, a) -> the gradient through `module` (an activation of ACTIVATIONS) at input z, output a: the
    kernel autograd's own backward of that activation calls, with the module's settings."""
    aten = torch.ops.aten
    if isinstance(module, nn.Sigmoid):
        return lambda grad, z, a: aten.sigmoid_backward(grad, a)
    if isinstance(module, nn.Tanh):
        return lambda grad, z, a: aten.tanh_backward(grad, a)
    if isinstance(module, nn.ReLU):
        return lambda grad, z, a: aten.threshold_backward(grad, a, 0)
    if isinstance(module, nn.LeakyReLU):
        return lambda grad, z, a: aten.leaky_relu_backward(grad, z, module.negative_slope, False)
    if isinstance(module, nn.ELU):
        return lambda grad, z, a: aten.elu_backward(grad, module.alpha, 1, 1, False, z)
    if isinstance(module, nn.GELU):
        return lambda grad, z, a: aten.gelu_backward(grad, z, approximate=module.approximate)
    raise ValueError(f"no hand-written gradient for the activation {type(module).__name__}")


def dropout_noise(p: float | list[float], rows: int, width: int, generators: list[torch.Generator]) -> torch.Tensor:
    """(K, rows, width) dropout multipliers, 0 or 1/(1-p), seed k's drawn from generators[k].

    As F.dropout: keep with probability 1-p, scale what is kept by 1/(1-p). p may be one value for
    all seeds or one per seed (the search trains trials with different dropout in one stack).
    """
    # float32 draws whatever torch's default dtype is: a seed's masks are the same in a float64 oracle test
    uniform = torch.stack([torch.rand(rows, width, generator=gen, dtype=torch.float32) for gen in generators])
    if isinstance(p, list):
        keep = 1 - torch.tensor(p, dtype=torch.float32).view(-1, 1, 1)
        return (uniform < keep).to(torch.float32).div_(keep)
    return (uniform < 1 - p).to(torch.float32).div_(1 - p)
