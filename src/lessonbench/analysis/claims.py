"""The lesson's claims, checked: per-seed metrics, paired differences, and one verdict per claim corrected for many.

For each claim (experiments/claims.yaml, resolved by config.resolve_claims) and each of its metrics:
1. every seed's metric in each experiment, curve metrics at a common epoch budget; epochs to a target are
   restricted: a seed that never gets there counts as budget + 1 (it ranks last, it is never dropped);
2. the paired per-seed difference treatment - control (for an interaction, (a - b) - (c - d));
3. its interval and p-value against the claim's threshold (stats.mean_test over seeds; test accuracy:
   stats.two_way over seeds and test samples, which carries the test set's own sampling error); with a
   `margin`, also the two one-sided tests of "no change larger than the margin" (TOST);
4. Holm's correction over the *primary* tests of the unconfounded claims (one metric per claim, declared in
   the file, with its margin of relevance: the directional test and the TOST; for a claim of no effect, the TOST
   and the test that the effect lies beyond the margin); the other metrics are secondary: shown, outside the
   correction, with no verdict;
5. one verdict per claim from its primary metric: supported, contradicted, no effect (equivalent within the
   margin), or open. A comparison that differs in more than the claimed factor (confounded), that rests
   on a sweep's best value at the edge of its grid, or whose treatment underfits (a gap claim) stays open,
   and says why.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from lessonbench import fileio
from lessonbench.analysis import stats
from lessonbench.analysis.claim_metrics import (
    METRICS,
    chance,
    correct_matrix,
    difference,
    lr_reach,
    seed_metrics,
    side_values,
    time_to_target,
)
from lessonbench.analysis.factors import claimed_diff, confounders, describe, matched_keys
from lessonbench.fileio import log

ALPHA = 0.05  # family-wise error rate over the claims' primary tests (Holm)
POWER = 0.8  # of the smallest effect the seeds could detect
SUPPORTED, CONTRADICTED, NO_EFFECT, OPEN = "supported", "contradicted", "no effect", "open"
VERDICTS = (SUPPORTED, CONTRADICTED, NO_EFFECT, OPEN)
RULE = (f"Each claim has one primary metric and a margin of relevance (the smallest effect worth teaching, with its "
        f"reason), declared in the claims file. Every variant's primary tests are corrected together (Holm's "
        f"step-down), which keeps the chance of any false verdict on this page at most {ALPHA:.0%}: for a claim of an "
        f"effect, the test against its threshold (0, or a non-inferiority bound) and the two one-sided tests of no "
        f"change larger than the margin (TOST); for a claim of no effect, the TOST and the test that the change lies "
        f"beyond the margin. The intervals shown are unadjusted; the verdicts use the Holm-adjusted p-values, so an "
        f"interval that clears 0 or a margin can still be open. A claim of an effect is supported when its test "
        f"rejects (Holm-adjusted p below {ALPHA}) with the effect on the claimed side, contradicted when it rejects "
        f"with the effect on the other side, no effect when the TOST rejects, and open otherwise. A claim of no effect "
        f"holds (no effect) when the TOST rejects and is contradicted when the change is shown to lie beyond the "
        f"margin. A lesson claim's verdict is its lead variant's (the design chosen to answer it); its other variants "
        f"are shown under it and not counted. Secondary metrics are shown for context, with unadjusted p-values and no "
        f"verdict. A comparison whose experiments differ in more than the claimed factor, that rests on a best value "
        f"at the edge of its sweep's grid, or whose treatment underfits, stays open.")


def run_test(diff, threshold: float, margin: float | None, equivalence: bool) -> tuple[dict, dict | None]:
    """(the test against `threshold`, the TOST within the margin or None). For a claim of no effect
    (`equivalence`) the first is the test against 0 for the interval, its p the test that the change lies beyond
    the margin. A seeds x samples frame gets the two-way bootstrap."""
    test = stats.two_way if isinstance(diff, pd.DataFrame) else stats.mean_test
    values = diff.to_numpy(dtype=float)
    res = test(values, 0.0 if equivalence else threshold)
    tost = stats.equivalence_test(values, margin, test=test) if margin else None
    if equivalence:
        res = {**res, "p": tost["p_outside"]}
    return res, tost


def test_metric(diff, expect: str, min_effect: float, margin: float | None) -> dict:
    """Effect, interval, p-values and seeds better of one claim metric's paired differences."""
    sign = {"higher": 1, "lower": -1, "equivalent": 0}[expect]
    threshold = sign * min_effect
    res, tost = run_test(diff, threshold, margin, expect == "equivalent")
    per_seed = (diff.mean(axis=1) if isinstance(diff, pd.DataFrame) else diff).to_numpy(dtype=float)
    per_seed = per_seed[~np.isnan(per_seed)]
    # seeds in which the treatment did better than the control in the claimed direction (within the margin, for a
    # claim of no effect); not 'beyond the threshold', which reads wrong for an at-least-as-good claim
    better = np.abs(per_seed) < margin if expect == "equivalent" else sign * per_seed > 0
    return {"n_pairs": len(per_seed), "effect": res["mean"], "ci_low": res["low"], "ci_high": res["high"],
            "ci_level": res.get("level", stats.LEVEL), "method": res["method"], "threshold": threshold,
            "p": res["p"], "p_floor": res["p_floor"], "sd": float(np.std(per_seed, ddof=1)) if len(per_seed) > 1
            else math.nan, "se": res["se"], "p_equivalence": tost["p"] if tost else math.nan,
            "equivalence_low": tost["low"] if tost else math.nan,
            "equivalence_high": tost["high"] if tost else math.nan, "seeds_better": int(better.sum())}


def verdict(row) -> str:
    """One claim's verdict from its primary row's Holm-adjusted p-values (see RULE)."""
    if row.caveat or row.confounded:
        return OPEN
    if row.expect == "equivalent":
        if row.p_holm_equivalence < ALPHA:
            return NO_EFFECT
        return CONTRADICTED if row.p_holm < ALPHA else OPEN
    if row.p_holm < ALPHA and row.effect != row.threshold:
        claimed_side = row.effect > row.threshold if row.expect == "higher" else row.effect < row.threshold
        return SUPPORTED if claimed_side else CONTRADICTED
    if row.p_holm_equivalence < ALPHA:
        return NO_EFFECT
    return OPEN


def decide(table: pd.DataFrame) -> pd.DataFrame:
    """Holm over the primary tests of unconfounded claims (each with its TOST), then each primary row's verdict
    and the smallest effect its seeds could detect; secondary rows get no verdict."""
    table = table.copy()
    family = table["primary"] & ~table["confounded"]
    pvalues = pd.concat([table.loc[family, "p"], table.loc[family, "p_equivalence"].dropna()], keys=["p", "eq"])
    adjusted = pd.Series(stats.holm(pvalues.to_numpy()), index=pvalues.index)
    table["p_holm"] = adjusted.get("p", pd.Series(dtype=float)).reindex(table.index)
    table["p_holm_equivalence"] = adjusted.get("eq", pd.Series(dtype=float)).reindex(table.index)
    table["family_size"] = len(pvalues)
    table["verdict"] = [verdict(r) if r.primary else "" for r in table.itertuples()]
    level = ALPHA / max(1, len(pvalues))  # the strictest step of Holm's
    # from the test's own standard error (the two-way bootstrap's is wider than the seeds' spread), as a distance
    # from the claim's threshold; a claim of no effect has none (its power is TOST's)
    table["detectable_effect"] = [stats.detectable_effect(r.n_pairs, r.se * math.sqrt(r.n_pairs), level, POWER)
                                  if r.primary and r.expect != "equivalent" else math.nan for r in table.itertuples()]
    return table


def side_summary(metrics: dict, ids: list[str], name: str) -> dict:
    """The mean of one side's metric (one experiment only) and, for times, how many seeds reached the target."""
    if len(ids) != 1:
        return {}
    frame = metrics[ids[0]]
    out = {"mean": float(frame[name].mean())}
    if name in ("epochs_to_target", "largest_lr"):
        out["reached"] = int(frame["reached_target"].sum())
    if name == "train_val_gap":
        out.update(train=float(frame["train_accuracy"].mean()), val=float(frame["val_accuracy"].mean()))
    return out


def caveats(claim: dict, name: str, sides: dict, edges: dict, margin: float | None) -> str:
    """Why a claim's comparison cannot carry a verdict, in words, or ''."""
    words = []
    for exp in dict.fromkeys(claim["treatment"] + claim["control"]):
        if exp in edges:
            words.append(f"{exp}'s value ({edges[exp]}) is at the edge of its sweep's grid: the best may lie beyond")
    t, c = sides["treatment"], sides["control"]
    if name == "train_val_gap" and t and c:
        drop = margin or 1.0
        if t["train"] < c["train"] - drop and t["val"] < c["val"] - drop:
            words.append(f"{claim['treatment'][0]} underfits: it fits the training data less (train "
                         f"{t['train']:.1f}% vs {c['train']:.1f}%) and validates worse ({t['val']:.1f}% vs "
                         f"{c['val']:.1f}%), so a smaller gap is not less overfitting")
    return "; ".join(words)


def claim_rows(claim: dict, specs: dict, metrics: dict, matrices: dict, budget: int, edges: dict) -> list[dict]:
    """One row per metric of one claim: the test, the sides' means and what limits the verdict."""
    rows = []
    for m in claim["metrics"]:
        name = m["name"]
        source = matrices if name == "test_accuracy" else metrics
        diff = difference(side_values(source, claim["treatment"], name), side_values(source, claim["control"], name))
        extra = confounders(claim, specs, name, budget)
        sides = {role: side_summary(metrics, claim[role], name) for role in ("treatment", "control")}
        label, unit, _ = METRICS[name]
        row = {"claim_id": claim["id"], "lesson_claim": claim["lesson_claim"], "variant": claim["variant"] or "",
               "design": claim["design"], "section": claim["section"], "claim": claim["claim"],
               "treatment": " - ".join(claim["treatment"]), "control": " - ".join(claim["control"]),
               "factor": ", ".join(claim["factor"]), "differs_in": describe(claimed_diff(claim, specs)),
               "matched": "; ".join(matched_keys(claim, specs).values()),
               "confounded": bool(extra), "confounders": describe(extra), "metric": name,
               "primary": name == claim["primary"], "metric_label": label.format(budget=budget, target=claim["target"]),
               "unit": unit, "budget": budget, "target": claim["target"], "expect": m["expect"],
               "min_effect": m["min_effect"], "margin": m["margin"] if m["margin"] is not None else math.nan,
               "margin_reason": m["reason"],
               "caveat": caveats(claim, name, sides, edges, m["margin"]),
               **test_metric(diff, m["expect"], m["min_effect"], m["margin"])}
        for role, side in sides.items():
            row[f"{role}_mean"] = side.get("mean", math.nan)
            row[f"reached_{role}"] = side.get("reached", math.nan)
        rows.append(row)
    return rows


def check_claims(claims: list[dict], specs: dict, runs: pd.DataFrame, history: pd.DataFrame,
                 probs: pd.DataFrame, at_chance: float, edges: dict | None = None,
                 points: pd.DataFrame | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(one row per claim and metric, the primary ones with their verdict; the per-seed metrics behind them).

    `at_chance`: a diverged model's accuracy (claim_metrics.chance); `edges`: {experiment: value} of the sweeps'
    best points that lie at an edge of their grid; `points`: the sweeps' points (sweep_points), which a claim on
    largest_lr reads instead of the runs."""
    rows, seeds = [], []
    for claim in claims:
        involved = list(dict.fromkeys(claim["treatment"] + claim["control"]))
        budget = claim["budget"] or min(specs[e]["epochs"] for e in involved)
        if claim["primary"] == "largest_lr":
            metrics = {e: lr_reach(points, e, claim["target"]).assign(budget=budget) for e in involved}
        else:
            metrics = {e: seed_metrics(history, runs, e, budget, claim["target"], at_chance) for e in involved}
        matrices = {e: correct_matrix(probs, runs, e, at_chance) for e in involved} if any(
            m["name"] == "test_accuracy" for m in claim["metrics"]) else {}
        seeds.extend(frame.assign(claim=claim["id"]) for frame in metrics.values())
        rows += claim_rows(claim, specs, metrics, matrices, budget, edges or {})
    table = decide(pd.DataFrame(rows)) if rows else pd.DataFrame()
    columns = ["claim", "experiment", "seed", "budget", *METRICS, "reached_target", "train_accuracy"]
    per_seed = pd.concat(seeds, ignore_index=True).reindex(columns=columns) if seeds else pd.DataFrame(columns=columns)
    return table, per_seed


def grid_edges(tables: Path) -> dict:
    """{<sweep>_best: its value} for each sweep whose best value is at an edge of its grid (none without sweeps)."""
    path = tables / "sweep_summary.parquet"
    if not path.exists():
        return {}
    summary = pd.read_parquet(path)
    return {f"{r.sweep}_best": f"{r.key} {r.value:g}" for r in summary[summary["at_edge"]].itertuples()}


def check_claims_step(args) -> None:
    tables = Path(args.tables)
    claims = args.claims["claims"]
    specs = {spec["id"]: spec for spec in args.specs}
    runs, history, probs = (pd.read_parquet(tables / f"{name}.parquet") for name in ("runs", "history", "test_probs"))
    points = tables / "sweep_points.parquet"
    table, per_seed = check_claims(claims, specs, runs, history, probs, chance(probs), grid_edges(tables),
                                   pd.read_parquet(points) if points.exists() else None)
    left_out = pd.DataFrame([{"claim_id": c["id"], "claim": c["claim"], "reason": c["reason"]}
                             for c in args.claims["left_out"]], columns=["claim_id", "claim", "reason"])
    fileio.write_table(table, Path(args.outdir) / "claims")
    fileio.write_table(per_seed, Path(args.outdir) / "claim_seeds")
    fileio.write_table(left_out, Path(args.outdir) / "claims_left_out")
    timings = pd.read_parquet(tables / "timings.parquet")
    fileio.write_table(time_to_target(per_seed, timings, specs), Path(args.outdir) / "claim_timings")
    for r in table.itertuples():
        log(f"{r.claim_id} [{r.metric}{'' if r.primary else ', secondary'}]: {r.effect:+.2f} {r.unit} "
            f"[{r.ci_low:+.2f}, {r.ci_high:+.2f}], p_holm {r.p_holm:.3g}: {r.verdict or '-'}"
            f"{' (' + r.caveat + ')' if r.caveat else ''}"
            f"{' (confounded: ' + r.confounders + ')' if r.confounded else ''}")
