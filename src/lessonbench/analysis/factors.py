"""Which settings two experiments differ in, beyond the claimed factor, said in words."""

from __future__ import annotations

import math

from lessonbench.analysis.claim_metrics import METRICS
from lessonbench.spec.config import spec_diff, within


def effective_lr(spec: dict) -> float | None:
    """SGD's effective step lr / (1 - momentum) (the step a constant gradient settles at), None for an optimizer
    without momentum's meaning (Adam, AdaGrad)."""
    optimizer = spec["optimizer"]
    if optimizer["name"] != "sgd":
        return None
    return optimizer["lr"] / (1 - optimizer.get("momentum", 0.0))


MATCHED = {"effective_lr": (effective_lr, "optimizer.lr", "effective step lr / (1 - momentum)")}


def matched_keys(claim: dict, specs: dict) -> dict:
    """{setting: why} for the settings a claim's `matched` quantities explain: they differ only so that the quantity
    is the same on both sides (momentum at the same effective step changes the learning rate with it)."""
    out = {}
    for name in claim.get("matched", []):
        quantity, key, words = MATCHED[name]
        values = [(quantity(specs[t]), quantity(specs[c])) for t, c in zip(claim["treatment"], claim["control"])]
        if all(a is not None and b is not None and math.isclose(a, b, rel_tol=1e-9) for a, b in values):
            out[key] = f"{words} {values[0][0]:g} in both"
    return out


def confounders(claim: dict, specs: dict, metric: str, budget: int) -> dict:
    """Settings that differ between the compared experiments beyond the claimed factor.

    Seeds never count (the comparison pairs the seeds both have); epochs do not count for a curve
    metric read at a budget both experiments reached; nor does a setting that differs only to hold one of the
    claim's `matched` quantities fixed (matched_keys). For an interaction, the cross pairs (a vs c,
    b vs d) must differ in the claimed factor only, and the two inner pairs (a vs b, c vs d) alike.
    """
    pairs = list(zip(claim["treatment"], claim["control"]))
    explained = matched_keys(claim, specs)
    diffs = {}
    for t, c in pairs:
        for key, values in spec_diff(specs[t], specs[c]).items():
            if key == "seeds" or within(key, claim["factor"]) or key in explained:
                continue
            if key == "epochs" and METRICS[metric][2] and min(values) >= budget:
                continue
            diffs[f"{key} ({t} vs {c})" if len(pairs) > 1 else key] = values
    if len(claim["treatment"]) == 2:
        inner = [{k: v for k, v in spec_diff(specs[a], specs[b]).items() if k not in ("seeds", "epochs")}
                 for a, b in (claim["treatment"], claim["control"])]
        if inner[0] != inner[1]:
            diffs["the two pairs vary different settings"] = (sorted(inner[0]), sorted(inner[1]))
    return diffs


def claimed_diff(claim: dict, specs: dict) -> dict:
    """The claimed factor's settings that differ between treatment and control (first pair), and those that
    differ to hold a matched quantity fixed."""
    explained = matched_keys(claim, specs)
    return {k: v for k, v in spec_diff(specs[claim["treatment"][0]], specs[claim["control"][0]]).items()
            if within(k, claim["factor"]) or k in explained}


def compact(diff: dict) -> dict:
    """A block whose `name` differs (another optimizer or initialiser) shown whole: 'model.init' -> two calls."""
    out = dict(diff)
    for key in [k for k in diff if k.endswith(".name")]:
        block = key[: -len(".name")]
        parts = {k: v for k, v in out.items() if k.startswith(block + ".")}
        calls = []
        for side in (0, 1):
            args = ", ".join(f"{k[len(block) + 1:]}={show(v[side])}" for k, v in parts.items()
                             if k != key and v[side] is not None)
            calls.append(f"{parts[key][side]}({args})")
        for k in parts:
            del out[k]
        out[block] = tuple(calls)
    return out


def show(value) -> str:
    return "–" if value is None else (f"{value:.3g}" if isinstance(value, float) else str(value))


def describe(diff: dict) -> str:
    """"optimizer.momentum 0.9 vs –; model.init xavier_uniform() vs uniform(a=0.0, b=1.0)"."""
    return "; ".join(f"{k}: {a} vs {b}" if isinstance(a, list) else f"{k} {show(a)} vs {show(b)}"
                     for k, (a, b) in compact(diff).items())
