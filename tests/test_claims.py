"""The lesson's claims: the verdict rule on synthetic seeds, the factor check, censoring, bad claims files."""

from __future__ import annotations

import copy
import math

import numpy as np
import pandas as pd
import pytest

from lessonbench.analysis.claim_metrics import seed_metrics
from lessonbench.analysis.claims import CONTRADICTED, NO_EFFECT, OPEN, SUPPORTED, check_claims, decide
from lessonbench.analysis.factors import confounders
from lessonbench.spec.config import spec_diff, with_values
from lessonbench.spec.files import ConfigError
from lessonbench.spec.studies import resolve_claims, resolve_sweeps

from .conftest import ROOT, assert_names_field, probs_for

CLAIMS = ROOT / "experiments" / "claims.yaml"
SWEEPS = ROOT / "experiments" / "sweeps.yaml"


@pytest.fixture(scope="module")
def runs_specs(lesson):
    """Every experiment with runs: the lesson file's, `tuned`, and each sweep's best point (at its first value)."""
    specs = dict(lesson[1])
    specs["tuned"] = {**specs["lesson_best"], "optimizer": {**specs["lesson_best"]["optimizer"], "lr": 0.005}}
    for sweep in resolve_sweeps(SWEEPS, lesson[1]):
        specs[f"{sweep['id']}_best"] = with_values(sweep["spec"], {sweep["key"]: sweep["values"][0]})
    return specs


@pytest.fixture(scope="module")
def claims(runs_specs):
    return resolve_claims(CLAIMS, list(runs_specs))[0]


def synthetic(experiments: dict[str, float], seeds: int = 10, epochs: int = 5, noise: float = 0.003):
    """runs and history of experiments whose validation accuracy settles at the given level (+ seed noise).

    Each experiment's own noise is centred, so the mean paired difference is exactly the difference of levels.
    """
    rng = np.random.default_rng(0)
    seed_effect = rng.normal(0, 0.01, seeds)  # shared by all experiments: pairing removes it
    runs, history = [], []
    for exp, level in experiments.items():
        own = rng.normal(0, noise, seeds)
        own -= own.mean()
        for seed in range(seeds):
            final = level + seed_effect[seed] + own[seed]
            for epoch in range(1, epochs + 1):
                val = final - 0.2 / epoch
                history += [{"experiment": exp, "seed": seed, "epoch": epoch, "split": "val", "accuracy": val},
                            {"experiment": exp, "seed": seed, "epoch": epoch, "split": "train", "accuracy": val + 0.01}]
            runs.append({"experiment": exp, "seed": seed, "diverged_epoch": None, "final_test_accuracy": final})
    return pd.DataFrame(runs), pd.DataFrame(history)


def claim(treatment, control, expect="higher", metric="val_accuracy", min_effect=0.0, factor=("model.dropout",),
          margin=None, lead=None):
    claim_id = f"{treatment}_vs_{control}"
    return {"id": claim_id, "lesson_claim": lead or claim_id, "variant": "a variant" if lead else None, "design": "",
            "section": "s", "claim": "c", "factor": list(factor), "matched": [], "budget": None,
            "treatment": [treatment], "control": [control], "target": 0.9, "primary": metric,
            "metrics": [{"name": metric, "expect": expect, "min_effect": min_effect, "margin": margin, "reason": ""}]}


def check(claims, specs, runs, history, edges=None):
    return check_claims(claims, specs, runs, history, probs_for(runs), 0.1, edges)


def specs_for(names, lesson):
    base = lesson[1]["xavier"]
    return {name: {**copy.deepcopy(base), "epochs": 5, "model": {**base["model"], "dropout": 0.1 * i}}
            for i, name in enumerate(names)}


def test_verdicts_on_known_effects(lesson):
    runs, history = synthetic({"ctrl": 0.95, "better": 0.97, "worse": 0.93, "same": 0.95})
    specs = specs_for(["ctrl", "better", "worse", "same"], lesson)
    table, per_seed = check([claim("better", "ctrl"), claim("worse", "ctrl"), claim("same", "ctrl")],
                            specs, runs, history)
    assert table["verdict"].tolist() == [SUPPORTED, CONTRADICTED, OPEN]
    assert table["effect"].iloc[0] == pytest.approx(2.0, abs=0.5)  # points
    assert table["seeds_better"].tolist()[:2] == [10, 0]
    assert table["detectable_effect"].iloc[2] > 0  # what these seeds could have shown
    assert len(per_seed) == 10 * 6
    # "lower" flips what counts as support
    table, _ = check([claim("worse", "ctrl", expect="lower")], specs, runs, history)
    assert table["verdict"].tolist() == [SUPPORTED]
    # a non-inferiority margin: 'same' is at least as good as ctrl within 1 point
    table, _ = check([claim("same", "ctrl", min_effect=-1.0)], specs, runs, history)
    assert table["verdict"].tolist() == [SUPPORTED]


def test_no_effect_is_a_verdict_when_the_margin_holds_it(lesson):
    runs, history = synthetic({"ctrl": 0.95, "same": 0.95, "better": 0.97})
    specs = specs_for(["ctrl", "same", "better"], lesson)
    claims = [claim("same", "ctrl", margin=1.0), claim("same", "ctrl", expect="equivalent", margin=1.0),
              claim("better", "ctrl", expect="equivalent", margin=1.0)]
    table, _ = check(claims[:1], specs, runs, history)
    assert table["verdict"].tolist() == [NO_EFFECT] and table["p_holm_equivalence"].iloc[0] < 0.05
    # a claim of no effect: shown for `same`; for `better`, 2 points off with a margin of 1, contradicted
    table, _ = check(claims[1:], specs, runs, history)
    assert table["verdict"].tolist() == [NO_EFFECT, CONTRADICTED]
    assert table["equivalence_low"].iloc[0] > -1 and table["equivalence_high"].iloc[0] < 1  # the TOST's interval
    assert table["ci_low"].iloc[1] > 1  # the 95% interval wholly beyond the margin
    assert table["family_size"].iloc[0] == 4  # each: the TOST and the test of a change beyond the margin


def test_a_claim_of_no_effect_stays_open_when_the_seeds_cannot_tell(lesson):
    runs, history = synthetic({"ctrl": 0.95, "near": 0.96}, noise=0.02)  # 1 point off, a margin of 1, noisy
    specs = specs_for(["ctrl", "near"], lesson)
    table, _ = check([claim("near", "ctrl", expect="equivalent", margin=1.0)], specs, runs, history)
    assert table["verdict"].tolist() == [OPEN]


def test_only_primary_metrics_are_corrected_and_get_a_verdict(lesson):
    runs, history = synthetic({"ctrl": 0.95, "better": 0.97})
    specs = specs_for(["ctrl", "better"], lesson)
    both = claim("better", "ctrl")
    both["metrics"].append({"name": "val_accuracy_auc", "expect": "higher", "min_effect": 0.0, "margin": None,
                            "reason": ""})
    table, _ = check([both], specs, runs, history)
    assert table["primary"].tolist() == [True, False] and table["verdict"].tolist() == [SUPPORTED, ""]
    assert table["family_size"].iloc[0] == 1 and math.isnan(table["p_holm"].iloc[1])


def test_a_claim_on_an_edge_best_or_an_underfitting_treatment_stays_open(lesson):
    runs, history = synthetic({"ctrl": 0.95, "better": 0.97})
    specs = specs_for(["ctrl", "better"], lesson)
    table, _ = check([claim("better", "ctrl")], specs, runs, history, edges={"better": "optimizer.lr 10"})
    assert table["verdict"].tolist() == [OPEN] and "edge" in table["caveat"].iloc[0]
    # a smaller gap because the treatment fits less: train 5 points lower, validation 4 lower
    runs, history = synthetic({"ctrl": 0.95, "weak": 0.91})
    history.loc[(history["experiment"] == "weak") & (history["split"] == "train"), "accuracy"] -= 0.01
    specs = specs_for(["ctrl", "weak"], lesson)
    table, _ = check([claim("weak", "ctrl", expect="lower", metric="train_val_gap", margin=1.0)], specs, runs,
                     history)
    assert table["verdict"].tolist() == [OPEN] and "underfits" in table["caveat"].iloc[0]


def test_many_claims_turn_a_borderline_support_into_open():
    row = {"effect": 0.4, "threshold": 0.0, "expect": "higher", "p": 0.02, "sd": 0.5, "se": 0.5 / 10 ** 0.5,
           "confounded": False,
           "primary": True, "p_equivalence": math.nan, "caveat": "", "n_pairs": 10}
    alone = decide(pd.DataFrame([row]))
    assert alone["verdict"].tolist() == [SUPPORTED]
    null = {**row, "effect": 0.05, "p": 0.6}
    many = decide(pd.DataFrame([row] + [null] * 9))
    assert many["verdict"].iloc[0] == OPEN and many["p_holm"].iloc[0] == pytest.approx(0.2)
    assert many["detectable_effect"].iloc[0] > 0.4  # ten tests: the strictest level needs a larger effect


def test_a_confounded_comparison_stays_open(lesson):
    runs, history = synthetic({"ctrl": 0.95, "better": 0.99})
    specs = specs_for(["ctrl", "better"], lesson)
    specs["better"]["optimizer"] = {**specs["better"]["optimizer"], "lr": 0.5}  # a second factor changes
    table, _ = check([claim("better", "ctrl")], specs, runs, history)
    assert table["confounded"].tolist() == [True] and table["verdict"].tolist() == [OPEN]
    assert "optimizer.lr" in table["confounders"].iloc[0]


def test_factor_diff_of_the_lesson_pairs(lesson, claims):
    specs = lesson[1]
    assert spec_diff(specs["momentum"], specs["sgd_uniform"]) == {"optimizer.lr": (0.1, 1.0),
                                                                  "optimizer.momentum": (0.9, None)}
    by_id = {c["id"]: c for c in claims}
    # the lesson's own Momentum pair changes the learning rate too, to keep the effective step lr / (1 - beta) at 1:
    # matched, it is one-factor; without `matched` the learning rate confounds it; the twin changes momentum alone
    assert confounders(by_id["momentum_vs_sgd"], specs, "val_accuracy_auc", 200) == {}
    unmatched = {**by_id["momentum_vs_sgd"], "matched": []}
    assert list(confounders(unmatched, specs, "val_accuracy_auc", 200)) == ["optimizer.lr"]
    assert confounders(by_id["momentum_vs_sgd_same_lr"], specs, "val_accuracy_auc", 200) == {}
    # a learning rate that does not keep the effective step is a confounder, matched or not
    other = {**specs, "sgd_uniform": {**specs["sgd_uniform"], "optimizer": {"name": "sgd", "lr": 0.5}}}
    assert list(confounders(by_id["momentum_vs_sgd"], other, "val_accuracy_auc", 200)) == ["optimizer.lr"]
    # 100 vs 200 epochs: equal at a common budget for curve metrics, not for the final test accuracy
    assert confounders(by_id["xavier_vs_uniform"], specs, "val_accuracy", 100) == {}
    assert list(confounders(by_id["xavier_vs_uniform"], specs, "test_accuracy", 100)) == ["epochs"]
    # the interaction: BatchNorm is the only cross difference, init the same inner difference
    assert confounders(by_id["batchnorm_init_robust"], specs, "val_accuracy_auc", 100) == {}


def test_every_lesson_claim_is_one_factor(runs_specs, claims):
    specs = runs_specs
    confounded = {c["id"] for c in claims for m in c["metrics"]
                  if confounders(c, specs, m["name"], min(specs[e]["epochs"] for e in c["treatment"] + c["control"]))}
    assert confounded == set()


def test_variants_are_counted_once_by_their_lead(lesson):
    runs, history = synthetic({"ctrl": 0.95, "better": 0.97, "worse": 0.93})
    specs = specs_for(["ctrl", "better", "worse"], lesson)
    claims = [claim("better", "ctrl", margin=1.0), claim("worse", "ctrl", margin=1.0, lead="better_vs_ctrl")]
    table, _ = check(claims, specs, runs, history)
    assert table["verdict"].tolist() == [SUPPORTED, CONTRADICTED]
    from lessonbench.report.claims_page import claims_context

    lessons = claims_context(table, pd.DataFrame(), {})["groups"]
    assert [g["id"] for g in lessons] == ["better_vs_ctrl"] and [1 + len(g["variants"]) for g in lessons] == [2]
    assert [g["primary"]["verdict"] for g in lessons] == [SUPPORTED]


def test_censored_seeds_count_as_the_budget_plus_one(lesson):
    runs, history = synthetic({"fast": 0.97, "never": 0.85}, epochs=5)
    per_fast = seed_metrics(history, runs, "fast", 5, 0.9, 0.1)
    per_never = seed_metrics(history, runs, "never", 5, 0.9, 0.1)
    assert per_fast["reached_target"].all() and (per_fast["epochs_to_target"] <= 5).all()
    assert not per_never["reached_target"].any() and (per_never["epochs_to_target"] == 6).all()  # restricted, kept
    specs = specs_for(["fast", "never"], lesson)
    table, _ = check([claim("fast", "never", expect="lower", metric="epochs_to_target")], specs, runs, history)
    row = table.iloc[0]
    assert row["verdict"] == SUPPORTED and np.isfinite(row["effect"]) and row["effect"] < 0 and row["n_pairs"] == 10
    assert row["reached_treatment"] == 10 and row["reached_control"] == 0


def test_a_diverged_seed_counts_at_chance(lesson):
    runs, history = synthetic({"a": 0.95})
    runs.loc[0, "diverged_epoch"] = 3
    history = history[~((history["seed"] == 0) & (history["epoch"] >= 3))]
    per_seed = seed_metrics(history, runs, "a", 5, 0.9, 0.1)
    assert per_seed.loc[0, "val_accuracy"] == pytest.approx(10.0) and per_seed.loc[0, "test_accuracy"] == 10.0
    assert math.isnan(per_seed.loc[0, "train_val_gap"])


GAP = """      train_val_gap:
        expect: lower
        margin: 1.0
        reason: a change of the gap within one point (under 4 of the 360 validation digits) is no change worth teaching

  l2_overfitting:
"""


@pytest.mark.parametrize("change, field", [
    (("    treatment: momentum\n    control: sgd_at_momentum_lr",
      "    treatment: momentun\n    control: sgd_at_momentum_lr"),
     "claims.momentum_vs_sgd_same_lr.treatment"),  # no such experiment
    (("      val_accuracy_auc: higher\n\n  momentum_vs_sgd_same_lr",
      "      val_accuracy_auk: higher\n\n  momentum_vs_sgd_same_lr"),
     "claims.momentum_vs_sgd.metrics"),  # unknown metric
    ((GAP, GAP.replace("expect: lower", "expect: smaller")),
     "claims.batchnorm_overfitting_full.metrics.train_val_gap.expect"),  # direction other than higher/lower/equivalent
    ((GAP, GAP.replace("expect: lower\n        margin: 1.0\n", "expect: equivalent\n")),
     "claims.batchnorm_overfitting_full.metrics.train_val_gap.margin"),  # no effect, but within what?
    ((GAP, GAP.replace("        margin: 1.0\n", "")),
     "claims.batchnorm_overfitting_full.metrics.train_val_gap.margin"),  # every primary metric a margin of relevance
    ((GAP, GAP.replace("        reason: a change of the gap within one point (under 4 of the 360 validation digits) "
                       "is no change worth teaching\n", "")),
     "claims.batchnorm_overfitting_full.metrics.train_val_gap.reason"),  # and its reason
    (("    matched: [effective_lr]    # the learning rate differs only to keep the effective step equal\n    primary: "
      "epochs_to_target\n", "    matched: [effective_lr]    # the learning rate differs only to keep the effective "
      "step equal\n"),
     "claims.momentum_vs_sgd.primary"),  # several metrics and none named primary
    (("    treatment: adam\n    control: momentum", "    treatment: adam\n    control: adam"),
     "claims.adam_vs_momentum.control"),  # treatment equal to its control
    (("    variant_of: momentum_vs_sgd\n    variant: at the same learning rate",
      "    variant_of: momentum_vs_sdg\n    variant: at the same learning rate"),
     "claims.momentum_vs_sgd_same_lr.variant_of"),  # a variant of no claim
    (("    variant_of: momentum_vs_sgd\n    variant: at the same learning rate\n", "    variant_of: momentum_vs_sgd\n"),
     "claims.momentum_vs_sgd_same_lr.variant"),  # a variant says what sets it apart
    (("    variant_of: momentum_vs_sgd\n    variant: each at its best", "    variant_of: momentum_vs_sgd_same_lr\n"
      "    variant: each at its best"),
     "claims.momentum_vs_sgd_at_best.variant_of"),  # a variant of a variant
    (("  adam_vs_momentum:\n    section: optimizers\n", "  adam_vs_momentum:\n"),
     "claims.adam_vs_momentum.section"),  # a lesson claim needs its section
    (("    matched: [effective_lr]", "    matched: [effective_step]"), "claims.momentum_vs_sgd.matched.0"),
    (("      largest_lr:\n", "      val_accuracy: higher\n      largest_lr:\n"),
     "claims.batchnorm_large_lr.metrics"),  # a metric off the sweeps, alone
])
def test_bad_claims_name_the_field(runs_specs, change, field, tmp_path):
    assert_names_field(CLAIMS, change, lambda p: resolve_claims(p, list(runs_specs)), field, tmp_path)


def test_duplicate_claim_id_says_so(runs_specs, tmp_path):
    path = tmp_path / "claims.yaml"
    path.write_text(CLAIMS.read_text().replace("  adam_vs_adagrad:", "  adam_vs_momentum:"))
    with pytest.raises(ConfigError, match="'adam_vs_momentum' appears twice"):
        resolve_claims(path, list(runs_specs))


def test_claims_on_switched_off_steps_are_left_out(lesson):
    kept, left_out = resolve_claims(CLAIMS, list(lesson[1]), later=lambda e: e == "tuned" or e.endswith("_best"))
    assert [c["id"] for c in left_out] == ["momentum_vs_sgd_at_best", "adam_vs_sgd_at_best", "batchnorm_large_lr",
                                           "l2_overfitting_tuned", "search_at_least_as_good"]
    assert not {c["id"] for c in left_out} & {c["id"] for c in kept}
    assert "sweep of optimizer.lr of 'batchnorm'" in left_out[2]["reason"]  # no learning-rate sweeps: said why
    swept = {"batchnorm": ["optimizer.lr"], "xavier": ["optimizer.lr"]}
    kept, _ = resolve_claims(CLAIMS, list(lesson[1]) + ["tuned"], later=lambda e: e.endswith("_best"), swept=swept)
    assert "batchnorm_large_lr" in {c["id"] for c in kept}


def test_the_largest_learning_rate_is_read_off_the_sweeps_tuning_seeds(lesson):
    """Per tuning seed, log10 of the largest swept rate that reaches the target; a seed that reaches it nowhere
    counts half a decade below the grid (restricted, never dropped); BatchNorm training two steps further is +1
    decade, supported on five seeds."""
    from lessonbench.analysis.claim_metrics import lr_reach

    grid = [0.1, 0.3, 1.0, 3.0, 10.0]
    reach = {"batchnorm": 3.0, "xavier": 0.3}  # each seed trains up to this rate (seed 14 of xavier at no rate)
    points = pd.DataFrame([{"sweep": f"{exp}_lr", "experiment": exp, "key": "optimizer.lr", "value": v, "seed": seed,
                            "final_val_accuracy": 0.95 if v <= top and not (exp == "xavier" and seed == 14) else 0.1}
                           for exp, top in reach.items() for v in grid for seed in range(10, 15)])
    xavier = lr_reach(points, "xavier", 0.9).set_index("seed")
    assert xavier.loc[10, "largest_lr"] == pytest.approx(np.log10(0.3)) and xavier.loc[10, "reached_target"]
    assert xavier.loc[14, "largest_lr"] == pytest.approx(-1.5) and not xavier.loc[14, "reached_target"]
    specs = specs_for(["xavier", "batchnorm"], lesson)
    table, per_seed = check_claims([claim("batchnorm", "xavier", metric="largest_lr", margin=0.5)], specs,
                                   pd.DataFrame(), pd.DataFrame(), pd.DataFrame(), 0.1, None, points)
    row = table.iloc[0]
    assert row["n_pairs"] == 5 and row["reached_control"] == 4 and row["treatment_mean"] == pytest.approx(np.log10(3))
    assert row["effect"] == pytest.approx((4 * 1.0 + (np.log10(3) + 1.5)) / 5)
    assert row["verdict"] == SUPPORTED and set(per_seed["seed"]) == set(range(10, 15))


def test_time_to_target_is_apart_and_censored_seeds_have_none(lesson):
    from lessonbench.analysis.claim_metrics import time_to_target

    runs, history = synthetic({"fast": 0.97, "never": 0.85}, epochs=5)
    per_seed = pd.concat([seed_metrics(history, runs, e, 5, 0.9, 0.1).assign(claim="c") for e in ("fast", "never")])
    timings = pd.DataFrame({"experiment": ["fast", "never"], "seconds_per_seed_mean": [10.0, 20.0]})
    out = time_to_target(per_seed, timings, {"fast": {"epochs": 5}, "never": {"epochs": 5}})
    fast = out[out["experiment"] == "fast"]
    assert (fast["seconds_to_target"] == fast["epochs_to_target"] * 2.0).all()
    assert out[out["experiment"] == "never"]["seconds_to_target"].isna().all()


def test_the_readmes_claims_file_is_a_valid_claims_file(lesson, tmp_path):
    """The whole claims.yaml the README shows resolves against the lesson's experiments: a lead, a variant of it
    (taking its lead's sentence and section), a claim of no effect."""
    import re

    text = (ROOT / "README.md").read_text()
    block = next(b for b in re.findall(r"```yaml\n(.*?)```", text, re.S) if b.startswith("settings:"))
    path = tmp_path / "claims.yaml"
    path.write_text(block)
    claims, _ = resolve_claims(path, list(lesson[1]))
    by_id = {c["id"]: c for c in claims}
    assert by_id["momentum_vs_sgd_same_lr"]["lesson_claim"] == "momentum_vs_sgd"
    assert by_id["momentum_vs_sgd_same_lr"]["claim"] == by_id["momentum_vs_sgd"]["claim"]
    assert by_id["he_equals_xavier"]["metrics"][0]["expect"] == "equivalent"


def test_a_lesson_wide_setting_cannot_be_a_claims_factor(runs_specs, tmp_path):
    """The data block is one setting per lesson: no two experiments can differ in it, so a claim about it is refused
    (naming preprocess, the setting an experiment can change)."""
    change = ("    factor: [preprocess.scaling]", "    factor: [data.scaler_fit]")
    assert_names_field(CLAIMS, change, lambda p: resolve_claims(p, list(runs_specs)),
                       "claims.standardise_inputs.factor.0", tmp_path)
