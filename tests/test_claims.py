"""The lesson's claims: the verdict rule on synthetic seeds, the factor check, censoring, bad claims files."""

from __future__ import annotations

import copy
import math

import numpy as np
import pandas as pd
import pytest

from lessonbench.analysis.claim_metrics import seed_metrics
from lessonbench.analysis.claims import CONTRADICTED, NO_EFFECT, NOT_SHOWN, SUPPORTED, check_claims, decide
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
          margin=None):
    return {"id": f"{treatment}_vs_{control}", "section": "s", "claim": "c", "factor": list(factor), "budget": None,
            "treatment": [treatment], "control": [control], "target": 0.9, "primary": metric,
            "metrics": [{"name": metric, "expect": expect, "min_effect": min_effect, "margin": margin}]}


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
    assert table["verdict"].tolist() == [SUPPORTED, CONTRADICTED, NOT_SHOWN]
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
    table, _ = check(claims[1:], specs, runs, history)  # a claim of no effect: shown for `same`, not for `better`
    assert table["verdict"].tolist() == [NO_EFFECT, NOT_SHOWN] and table["ci_level"].iloc[0] == pytest.approx(0.9)
    assert table["family_size"].iloc[0] == 2


def test_only_primary_metrics_are_corrected_and_get_a_verdict(lesson):
    runs, history = synthetic({"ctrl": 0.95, "better": 0.97})
    specs = specs_for(["ctrl", "better"], lesson)
    both = claim("better", "ctrl")
    both["metrics"].append({"name": "val_accuracy_auc", "expect": "higher", "min_effect": 0.0, "margin": None})
    table, _ = check([both], specs, runs, history)
    assert table["primary"].tolist() == [True, False] and table["verdict"].tolist() == [SUPPORTED, ""]
    assert table["family_size"].iloc[0] == 1 and math.isnan(table["p_holm"].iloc[1])


def test_a_claim_on_an_edge_best_or_an_underfitting_treatment_is_not_shown(lesson):
    runs, history = synthetic({"ctrl": 0.95, "better": 0.97})
    specs = specs_for(["ctrl", "better"], lesson)
    table, _ = check([claim("better", "ctrl")], specs, runs, history, edges={"better": "optimizer.lr 10"})
    assert table["verdict"].tolist() == [NOT_SHOWN] and "edge" in table["caveat"].iloc[0]
    # a smaller gap because the treatment fits less: train 5 points lower, validation 4 lower
    runs, history = synthetic({"ctrl": 0.95, "weak": 0.91})
    history.loc[(history["experiment"] == "weak") & (history["split"] == "train"), "accuracy"] -= 0.01
    specs = specs_for(["ctrl", "weak"], lesson)
    table, _ = check([claim("weak", "ctrl", expect="lower", metric="train_val_gap", margin=1.0)], specs, runs,
                     history)
    assert table["verdict"].tolist() == [NOT_SHOWN] and "underfits" in table["caveat"].iloc[0]


def test_many_claims_turn_a_borderline_support_into_not_shown():
    row = {"effect": 0.4, "threshold": 0.0, "expect": "higher", "p": 0.02, "sd": 0.5, "se": 0.5 / 10 ** 0.5,
           "confounded": False,
           "primary": True, "p_equivalence": math.nan, "caveat": "", "n_pairs": 10}
    alone = decide(pd.DataFrame([row]))
    assert alone["verdict"].tolist() == [SUPPORTED]
    null = {**row, "effect": 0.05, "p": 0.6}
    many = decide(pd.DataFrame([row] + [null] * 9))
    assert many["verdict"].iloc[0] == NOT_SHOWN and many["p_holm"].iloc[0] == pytest.approx(0.2)
    assert many["detectable_effect"].iloc[0] > 0.4  # ten tests: the strictest level needs a larger effect


def test_a_confounded_comparison_is_never_more_than_not_shown(lesson):
    runs, history = synthetic({"ctrl": 0.95, "better": 0.99})
    specs = specs_for(["ctrl", "better"], lesson)
    specs["better"]["optimizer"] = {**specs["better"]["optimizer"], "lr": 0.5}  # a second factor changes
    table, _ = check([claim("better", "ctrl")], specs, runs, history)
    assert table["confounded"].tolist() == [True] and table["verdict"].tolist() == [NOT_SHOWN]
    assert "optimizer.lr" in table["confounders"].iloc[0]


def test_factor_diff_of_the_lesson_pairs(lesson, claims):
    specs = lesson[1]
    assert spec_diff(specs["momentum"], specs["sgd_uniform"]) == {"optimizer.lr": (0.1, 1.0),
                                                                  "optimizer.momentum": (0.9, None)}
    by_id = {c["id"]: c for c in claims}
    # the lesson's own Momentum pair changes the learning rate too; the twin does not
    assert list(confounders(by_id["momentum_vs_sgd_lesson"], specs, "val_accuracy_auc", 200)) == ["optimizer.lr"]
    assert confounders(by_id["momentum_vs_sgd"], specs, "val_accuracy_auc", 200) == {}
    # 100 vs 200 epochs: equal at a common budget for curve metrics, not for the final test accuracy
    assert confounders(by_id["xavier_vs_uniform"], specs, "val_accuracy", 100) == {}
    assert list(confounders(by_id["xavier_vs_uniform"], specs, "test_accuracy", 100)) == ["epochs"]
    # the interaction: BatchNorm is the only cross difference, init the same inner difference
    assert confounders(by_id["batchnorm_init_robust"], specs, "val_accuracy_auc", 100) == {}


def test_every_lesson_claim_is_one_factor_except_the_lessons_own_pair(runs_specs, claims):
    specs = runs_specs
    confounded = {c["id"] for c in claims for m in c["metrics"]
                  if confounders(c, specs, m["name"], min(specs[e]["epochs"] for e in c["treatment"] + c["control"]))}
    assert confounded == {"momentum_vs_sgd_lesson"}


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


@pytest.mark.parametrize("change, field", [
    (("    treatment: momentum\n    control: sgd_at_momentum_lr",
      "    treatment: momentun\n    control: sgd_at_momentum_lr"),
     "claims.momentum_vs_sgd.treatment"),  # no such experiment
    (("      epochs_to_target: lower\n      val_accuracy_auc: higher\n\n  momentum_vs_sgd_lesson",
      "      epochs_to_targt: lower\n      val_accuracy_auc: higher\n\n  momentum_vs_sgd_lesson"),
     "claims.momentum_vs_sgd.metrics"),  # unknown metric
    (("      train_val_gap: {expect: lower, margin: 1.0}\n\n  l2_overfitting",
      "      train_val_gap: {expect: smaller, margin: 1.0}\n\n  l2_overfitting"),
     "claims.batchnorm_overfitting.metrics.train_val_gap.expect"),  # direction other than higher/lower/equivalent
    (("      train_val_gap: {expect: lower, margin: 1.0}\n\n  l2_overfitting",
      "      train_val_gap: {expect: equivalent}\n\n  l2_overfitting"),
     "claims.batchnorm_overfitting.metrics.train_val_gap.margin"),  # no effect, but within what?
    (("    factor: [optimizer.momentum]\n    primary: epochs_to_target\n    metrics:\n      epochs_to_target: lower\n"
      "      val_accuracy_auc: higher\n\n  momentum_vs_sgd_lesson",
      "    factor: [optimizer.momentum]\n    metrics:\n      epochs_to_target: lower\n"
      "      val_accuracy_auc: higher\n\n  momentum_vs_sgd_lesson"),
     "claims.momentum_vs_sgd.primary"),  # several metrics and none named primary
    (("    treatment: adam\n    control: momentum", "    treatment: adam\n    control: adam"),
     "claims.adam_vs_momentum.control"),  # treatment equal to its control
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
    assert [c["id"] for c in left_out] == ["momentum_vs_sgd_at_best", "adam_vs_sgd_at_best",
                                           "search_at_least_as_good"]
    assert not {c["id"] for c in left_out} & {c["id"] for c in kept}


def test_time_to_target_is_apart_and_censored_seeds_have_none(lesson):
    from lessonbench.analysis.claim_metrics import time_to_target

    runs, history = synthetic({"fast": 0.97, "never": 0.85}, epochs=5)
    per_seed = pd.concat([seed_metrics(history, runs, e, 5, 0.9, 0.1).assign(claim="c") for e in ("fast", "never")])
    timings = pd.DataFrame({"experiment": ["fast", "never"], "seconds_per_seed_mean": [10.0, 20.0]})
    out = time_to_target(per_seed, timings, {"fast": {"epochs": 5}, "never": {"epochs": 5}})
    fast = out[out["experiment"] == "fast"]
    assert (fast["seconds_to_target"] == fast["epochs_to_target"] * 2.0).all()
    assert out[out["experiment"] == "never"]["seconds_to_target"].isna().all()
