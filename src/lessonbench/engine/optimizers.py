"""A stack's optimizer: torch's own fused update kernel, called directly on the stack's one flat parameter.

`torch.optim.SGD`, `Adagrad`, `Adam` and `AdamW` built with `fused=True` make their update with one kernel per
step (`torch._fused_sgd_`, `torch._fused_adagrad_`, `torch._fused_adam_`, `torch._fused_adamw_`). `FusedStep`
calls that kernel with the arguments and state torch.optim would give it, so the update is the same, bit for
bit (tests/test_optimizers.py steps both side by side), without torch.optim around it: its constructor imports
torch._dynamo (1.4 s of every training job's start, for a job that trains for less) and its step adds about
40 us of bookkeeping to each update. An optimizer or device torch has no fused kernel for (RMSprop, Adadelta;
Adagrad on CUDA) gets torch.optim's own class.
"""

from __future__ import annotations

import functools
import inspect

import torch

from lessonbench.spec.registries import OPTIMIZERS, build_optimizer, split_name

FUSED = {"sgd", "adagrad", "adam", "adamw"}  # torch has a one-kernel update for these, on some devices


def settings(name: str, kwargs: dict) -> dict:
    """The optimizer's settings: torch.optim's defaults for `name`, overridden by the experiment's own."""
    defaults = {key: p.default for key, p in inspect.signature(OPTIMIZERS[name]).parameters.items()
                if p.default is not inspect.Parameter.empty}
    return {**defaults, **kwargs}


class FusedStep:
    """One optimizer over one parameter, stepped by torch's fused kernel for it; `step()` as torch.optim's."""

    def __init__(self, param: torch.Tensor, spec: dict):
        self.name, kwargs = split_name(spec)
        if self.name not in FUSED:
            raise ValueError(f"torch has no fused update for {self.name!r}")
        self.param, self.h = param, settings(self.name, kwargs)
        zeros = functools.partial(torch.zeros_like, param, memory_format=torch.preserve_format)
        self.steps = torch.zeros((), dtype=torch.float32, device=param.device)  # as torch.optim's fused state
        self.buffer: torch.Tensor | None = None  # SGD's momentum buffer, made at its first step
        if self.name == "adagrad":
            self.sums = torch.full_like(param, self.h["initial_accumulator_value"],
                                        memory_format=torch.preserve_format)
        if self.name in ("adam", "adamw"):
            self.moments = (zeros(), zeros(), [zeros()] if self.h["amsgrad"] else [])

    @torch.no_grad()
    def step(self) -> None:
        param, grad, h = [self.param], [self.param.grad], self.h
        if self.name == "sgd":
            self._sgd(param, grad)
        elif self.name == "adagrad":
            self.steps.add_(1)
            torch._fused_adagrad_(param, grad, [self.sums], [self.steps], lr=h["lr"], lr_decay=h["lr_decay"],
                                  weight_decay=h["weight_decay"], eps=h["eps"], maximize=h["maximize"])
        else:
            self.steps.add_(1)
            first, second, largest = self.moments
            kernel = torch._fused_adam_ if self.name == "adam" else torch._fused_adamw_
            beta1, beta2 = h["betas"]
            kernel(param, grad, [first], [second], largest, [self.steps], amsgrad=h["amsgrad"], lr=h["lr"],
                   beta1=beta1, beta2=beta2, weight_decay=h["weight_decay"], eps=h["eps"], maximize=h["maximize"])

    def _sgd(self, param: list[torch.Tensor], grad: list[torch.Tensor]) -> None:
        h = self.h
        first = h["momentum"] != 0 and self.buffer is None
        if first:
            self.buffer = torch.empty_like(grad[0])  # the kernel fills it at the first step
        torch._fused_sgd_(param, grad, [self.buffer] if h["momentum"] != 0 else [],
                          weight_decay=h["weight_decay"], momentum=h["momentum"], lr=h["lr"],
                          dampening=h["dampening"], nesterov=h["nesterov"], maximize=h["maximize"],
                          is_first_step=first)


@functools.cache
def fuses_on(name: str, device_type: str) -> bool:
    """Whether torch has a fused update of optimizer `name` on this kind of device.

    Where it has none, the kernel fails only when called (Adagrad on CUDA in torch 2.11: a GPU run of the
    pipeline stopped at its first step), so one step on a one-element tensor finds out, and reads the step back
    (a device with no data, such as meta, runs kernels without making an update).
    """
    if name not in FUSED:
        return False
    weight = torch.zeros(1, device=device_type, requires_grad=True)
    weight.grad = torch.ones_like(weight)
    try:
        FusedStep(weight, {"name": name, "lr": 0.1}).step()
        return bool(weight.detach().lt(0).all())  # a gradient of 1 moved the weight down
    except (RuntimeError, NotImplementedError):
        return False


def stack_optimizer(param: torch.Tensor, spec: dict):
    """The optimizer of a stack's flat parameter: FusedStep where torch has the kernel, else torch.optim's."""
    name, _ = split_name(spec)
    if fuses_on(name, param.device.type):
        return FusedStep(param, spec)
    return build_optimizer([param], spec)
