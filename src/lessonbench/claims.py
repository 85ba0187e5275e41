"""The lesson's claims, checked: per-seed metrics, paired differences, and a verdict corrected for many claims.

For each claim (experiments/claims.yaml, resolved by config.resolve_claims) and each of its metrics:
1. every seed's metric in each experiment, curve metrics at a common epoch budget;
2. the paired per-seed difference treatment - control (for an interaction, (a - b) - (c - d));
3. its 95% interval and a p-value against the claim's threshold: the mean with a studentized bootstrap
   (stats.mean_test); for epochs to a target, where a seed that never gets there is censored, the
   median difference with a distribution-free interval and the exact sign test (stats.sign_test);
4. Holm's correction over every unconfounded test in the file; a verdict from the adjusted p-value
   and the side of the threshold the effect lies on;
5. which settings of the two specs differ: a comparison that differs in more than the claimed factor
   is labelled confounded and stays "not shown".
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from lessonbench import fileio, stats
from lessonbench.config import spec_diff, within
from lessonbench.fileio import log

ALPHA = 0.05  # family-wise error rate over all claims' tests (Holm)
CHANCE = 0.1  # accuracy of a diverged model: non-finite outputs predict one class of ten
SUPPORTED, CONTRADICTED, NOT_SHOWN = "supported", "contradicted", "not shown"
METRICS = {  # name -> label, unit, whether it is read off the curves at the budget epoch
    "test_accuracy": ("final test accuracy", "points", False),
    "val_accuracy": ("validation accuracy at epoch {budget}", "points", True),
    "best_val_accuracy": ("best validation accuracy up to epoch {budget}", "points", True),
    "val_accuracy_auc": ("mean validation accuracy over epochs 1-{budget}", "points", True),
    "train_val_gap": ("train - validation accuracy at epoch {budget}", "points", True),
    "epochs_to_target": ("epochs to {target:.0%} validation accuracy", "epochs", True),
}
RULE = (f"Each claim's metrics are tested together with every other claim's: Holm's step-down correction "
        f"keeps the chance of any false verdict in the whole table at {ALPHA:.0%}. A claim is supported when its "
        f"Holm-adjusted p-value is below {ALPHA} and the effect lies on the claimed side of its threshold (0, or "
        f"the smallest effect worth calling), contradicted when it is below {ALPHA} on the other side, and not "
        f"shown otherwise. A comparison whose experiments differ in more than the claimed factor is confounded: "
        f"it is left out of the correction and is never more than not shown.")


def seed_metrics(history: pd.DataFrame, runs: pd.DataFrame, experiment: str, budget: int,
                 target: float) -> pd.DataFrame:
    """Every metric of every seed of one experiment, curve metrics at epoch `budget`, in report units.

    Accuracies are in percent. A seed that diverged counts as a model at chance accuracy from its
    divergence on (its validation curve is extended with CHANCE) and its train-validation gap is
    missing; its time to target is censored (+inf) unless it got there first.
    """
    hist = history[(history["experiment"] == experiment) & (history["epoch"] <= budget)]
    wide = hist.pivot_table(index="seed", columns=["split", "epoch"], values="accuracy")
    rows = []
    for run in runs[runs["experiment"] == experiment].itertuples():
        val = np.full(budget, CHANCE)
        train = np.full(budget, np.nan)
        if run.seed in wide.index and "val" in wide.columns.get_level_values(0):
            series = wide.loc[run.seed, "val"].dropna()
            val[series.index.to_numpy(dtype=int) - 1] = series.to_numpy()
            series = wide.loc[run.seed, "train"].dropna()
            train[series.index.to_numpy(dtype=int) - 1] = series.to_numpy()
        reached = np.flatnonzero(val >= target)
        test = CHANCE if pd.notna(run.diverged_epoch) else run.final_test_accuracy
        rows.append({"experiment": experiment, "seed": int(run.seed), "budget": budget,
                     "test_accuracy": 100 * test, "val_accuracy": 100 * val[-1],
                     "best_val_accuracy": 100 * val.max(), "val_accuracy_auc": 100 * val.mean(),
                     "train_val_gap": 100 * (train[-1] - val[-1]),
                     "epochs_to_target": float(reached[0] + 1) if len(reached) else math.inf})
    return pd.DataFrame(rows)


def side_values(metrics: dict[str, pd.DataFrame], ids: list[str], metric: str) -> pd.Series:
    """Per-seed value of one side: an experiment's metric, or a - b for a pair."""
    values = [metrics[exp].set_index("seed")[metric] for exp in ids]
    if len(values) == 1:
        return values[0]
    return difference(values[0], values[1])


def difference(a: pd.Series, b: pd.Series) -> pd.Series:
    """a - b per seed on the seeds both have; inf - inf (both censored) is a tie, 0."""
    a, b = a.align(b, join="inner")
    diff = a - b
    return diff.where(~(np.isinf(a) & np.isinf(b) & (np.sign(a) == np.sign(b))), 0.0)


def confounders(claim: dict, specs: dict, metric: str, budget: int) -> dict:
    """Settings that differ between the compared experiments beyond the claimed factor.

    Seeds never count (the comparison pairs the seeds both have); epochs do not count for a curve
    metric read at a budget both experiments reached. For an interaction, the cross pairs (a vs c,
    b vs d) must differ in the claimed factor only, and the two inner pairs (a vs b, c vs d) alike.
    """
    pairs = list(zip(claim["treatment"], claim["control"]))
    diffs = {}
    for t, c in pairs:
        for key, values in spec_diff(specs[t], specs[c]).items():
            if key == "seeds" or within(key, claim["factor"]):
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
    """The claimed factor's settings that differ between treatment and control (first pair)."""
    return {k: v for k, v in spec_diff(specs[claim["treatment"][0]], specs[claim["control"][0]]).items()
            if within(k, claim["factor"])}


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


def test_metric(diff: pd.Series, metric: str, expect: str, min_effect: float) -> dict:
    """Effect, 95% interval, raw p-value and P(improvement) of one claim's paired differences."""
    sign = 1 if expect == "higher" else -1
    threshold = sign * min_effect
    values = diff.to_numpy(dtype=float)
    if metric == "epochs_to_target":
        res = stats.sign_test(values, threshold)
        effect, sd = res["median"], math.nan
    else:
        res = stats.mean_test(values, threshold)
        effect, sd = res["mean"], res["sd"]
    finite = values[~np.isnan(values)]
    better = (np.sign(finite) == sign).sum() + 0.5 * (finite == 0).sum()
    return {"n_pairs": len(finite), "effect": effect, "ci_low": res["low"], "ci_high": res["high"],
            "threshold": threshold, "p": res["p"], "sd": sd,
            "p_improvement": better / len(finite) if len(finite) else math.nan}


def verdict(effect: float, threshold: float, expect: str, p_adjusted: float, confounded: bool) -> str:
    if confounded or not (p_adjusted < ALPHA) or effect == threshold:
        return NOT_SHOWN
    claimed_side = effect > threshold if expect == "higher" else effect < threshold
    return SUPPORTED if claimed_side else CONTRADICTED


def decide(table: pd.DataFrame) -> pd.DataFrame:
    """Holm over the unconfounded tests, then each row's verdict and, where not shown, seeds needed."""
    table = table.copy()
    testable = ~table["confounded"]
    table["p_holm"] = np.nan
    table.loc[testable, "p_holm"] = stats.holm(table.loc[testable, "p"])
    table["verdict"] = [verdict(r.effect, r.threshold, r.expect, r.p_holm, r.confounded)
                        for r in table.itertuples()]
    m = max(1, int(testable.sum()))
    table["seeds_needed"] = [stats.seeds_needed(r.effect - r.threshold, r.sd, ALPHA / m)
                             if r.verdict == NOT_SHOWN and not r.confounded else math.nan
                             for r in table.itertuples()]
    return table


def check_claims(claims: list[dict], specs: dict, runs: pd.DataFrame, history: pd.DataFrame) -> tuple[
        pd.DataFrame, pd.DataFrame]:
    """(one row per claim and metric with its verdict, the per-seed metrics behind it)."""
    rows, seeds = [], []
    for claim in claims:
        involved = list(dict.fromkeys(claim["treatment"] + claim["control"]))
        budget = claim["budget"] or min(specs[e]["epochs"] for e in involved)
        metrics = {e: seed_metrics(history, runs, e, budget, claim["target"]) for e in involved}
        seeds.extend(frame.assign(claim=claim["id"]) for frame in metrics.values())
        for m in claim["metrics"]:
            name = m["name"]
            diff = difference(side_values(metrics, claim["treatment"], name),
                              side_values(metrics, claim["control"], name))
            extra = confounders(claim, specs, name, budget)
            label, unit, _ = METRICS[name]
            row = {"claim_id": claim["id"], "section": claim["section"], "claim": claim["claim"],
                   "treatment": " - ".join(claim["treatment"]), "control": " - ".join(claim["control"]),
                   "factor": ", ".join(claim["factor"]), "differs_in": describe(claimed_diff(claim, specs)),
                   "confounded": bool(extra), "confounders": describe(extra), "metric": name,
                   "metric_label": label.format(budget=budget, target=claim["target"]), "unit": unit,
                   "budget": budget, "target": claim["target"], "expect": m["expect"],
                   "min_effect": m["min_effect"], **test_metric(diff, name, m["expect"], m["min_effect"])}
            if name == "epochs_to_target":
                t, c = (metrics[s[0]]["epochs_to_target"] for s in (claim["treatment"], claim["control"]))
                row.update(reached_treatment=int(np.isfinite(t).sum()), reached_control=int(np.isfinite(c).sum()))
            rows.append(row)
    table = decide(pd.DataFrame(rows)) if rows else pd.DataFrame()
    columns = ["claim", "experiment", "seed", "budget", *METRICS]
    per_seed = pd.concat(seeds, ignore_index=True)[columns] if seeds else pd.DataFrame(columns=columns)
    return table, per_seed


def time_to_target(per_seed: pd.DataFrame, timings: pd.DataFrame, specs: dict) -> pd.DataFrame:
    """Wall-clock seconds to the target per claim, experiment and seed: not deterministic, kept apart.

    The seeds of an experiment train together, so a seed's epoch costs the stack's time per seed over the
    epochs run; a seed that never reached the target has no time (NaN).
    """
    columns = ["claim", "experiment", "seed", "epochs_to_target", "seconds_to_target"]
    if per_seed.empty or timings.empty:
        return pd.DataFrame(columns=columns)
    per_epoch = {row.experiment: row.seconds_per_seed_mean / specs[row.experiment]["epochs"]
                 for row in timings.itertuples() if row.experiment in specs}
    out = per_seed[columns[:4]].copy()
    seconds = out["epochs_to_target"] * out["experiment"].map(per_epoch)
    out["seconds_to_target"] = seconds.where(np.isfinite(seconds))
    return out


def check_claims_step(args) -> None:
    tables = Path(args.tables)
    claims = args.claims["claims"]
    specs = {spec["id"]: spec for spec in args.specs}
    runs, history = (pd.read_parquet(tables / f"{name}.parquet") for name in ("runs", "history"))
    table, per_seed = check_claims(claims, specs, runs, history)
    left_out = pd.DataFrame([{"claim_id": c["id"], "claim": c["claim"], "reason": c["reason"]}
                             for c in args.claims["left_out"]], columns=["claim_id", "claim", "reason"])
    fileio.write_table(table, Path(args.outdir) / "claims")
    fileio.write_table(per_seed, Path(args.outdir) / "claim_seeds")
    fileio.write_table(left_out, Path(args.outdir) / "claims_left_out")
    timings = pd.read_parquet(tables / "timings.parquet")
    fileio.write_table(time_to_target(per_seed, timings, specs), Path(args.outdir) / "claim_timings")
    for r in table.itertuples():
        log(f"{r.claim_id} [{r.metric}]: {r.effect:+.2f} {r.unit} [{r.ci_low:+.2f}, {r.ci_high:+.2f}], "
            f"p_holm {r.p_holm:.3g}: {r.verdict}{' (confounded: ' + r.confounders + ')' if r.confounded else ''}")
