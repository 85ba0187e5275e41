"""The report's own logic: the template's filters, the leaderboard, and the context the template is given."""

from __future__ import annotations

import math

import pandas as pd

from lessonbench.analysis.tables import data_table, make_leaderboard, showcase_table
from lessonbench.report import claims_page, numbers, render

from .conftest import probs_for


def test_filters_format_numbers_signs_and_missing_values():
    assert numbers.pct(0.97314) == "97.3" and numbers.pct(None) == "–" and numbers.pct(float("nan"), 0) == "–"
    assert numbers.points(0.012) == "+1.2" and numbers.points(-0.0049) == "-0.5"
    assert numbers.num(1234.5) == "1,234.5" and numbers.num(7) == "7" and numbers.num(None) == "–"
    assert numbers.pvalue(0.0123) == "0.012" and numbers.pvalue(0.0004) == "<0.001" and numbers.pvalue(None) == "–"
    assert numbers.p_phrase(0.0004) == "p < 0.001" and numbers.p_phrase(0.2) == "p = 0.2"
    assert numbers.signed(-3.0) == "−3.0" and numbers.signed(math.inf) == "+∞" and numbers.signed(-math.inf) == "−∞"
    assert numbers.paired_diff({"diff_mean": 0.021, "diff_ci_low": 0.014, "diff_ci_high": 0.028}) == \
        "+2.1 [+1.4, +2.8]"
    assert numbers.paired_diff({"diff_mean": None}) == "–"
    row = {"unit": "epochs", "metric": "epochs_to_target", "effect": -6.0, "ci_low": -9.0, "ci_high": -1.0,
           "ci_level": 0.95, "reached_treatment": 10, "reached_control": 10}
    assert claims_page.effect_text(row) == "−6.0 [−9.0, −1.0]"
    assert claims_page.effect_text({**row, "ci_level": 0.9}) == "−6.0 [−9.0, −1.0] (90%)"  # a TOST interval says so
    # SGD never got there: the interval is as counted, and a note says the true difference lies below it
    assert claims_page.effect_text({**row, "reached_control": 0}) == "−6.0 [−9.0, −1.0]"
    assert claims_page.bound({**row, "reached_control": 0}) == "a bound: the control never reached"
    assert claims_page.bound(row) == ""
    assert numbers.pvalue(0.0046, at_floor=True) == "<0.0046"  # the resampling floor: at most that
    assert render.section_title("init", {"init": "Weight initialisation"}) == "Weight initialisation"
    assert render.section_title("my_part", {}) == "My part"


def runs(exp: str, accuracies: list[float], diverged=()) -> pd.DataFrame:
    return pd.DataFrame({
        "experiment": exp, "seed": range(len(accuracies)), "final_test_accuracy": accuracies,
        "diverged_epoch": [3 if s in diverged else None for s in range(len(accuracies))],
        "best_val_accuracy": accuracies, "best_val_epoch": 10, "final_val_accuracy": accuracies,
        "final_train_accuracy": [a + 0.01 for a in accuracies], "final_train_loss": 0.1, "n_params": 100})


def tables() -> dict:
    meta = pd.DataFrame({"experiment": ["base", "better", "broken"], "section": ["one", "one", "two"],
                         "title": ["Base", "Better", "Broken"], "epochs": 5, "origin": ["lesson", "twin", "added"]})
    all_runs = pd.concat([runs("base", [0.90, 0.91, 0.92]), runs("better", [0.95, 0.96, 0.97]),
                          runs("broken", [0.5, 0.1, 0.1], diverged=(1, 2))])
    board = make_leaderboard(all_runs, meta, probs_for(all_runs, samples=100))
    return {"leaderboard": board, "experiments": meta,
            "timings": pd.DataFrame({"experiment": ["base", "better", "broken"], "seconds_per_seed_mean": 1.5}),
            "comparisons": pd.DataFrame({"experiment": ["better", "broken"], "baseline": "base",
                                         "diff_mean": [0.05, -0.41], "diff_ci_low": [0.04, -0.5],
                                         "diff_ci_high": [0.06, -0.3]}),
            "claims": pd.DataFrame(), "claims_left_out": pd.DataFrame(), "sweep_summary": pd.DataFrame(),
            "showcase": pd.DataFrame([{"experiment": "better", "seed": 2, "n_test": 4, "n_errors": 1}]),
            "data": pd.DataFrame([{"samples": 10, "train": 6, "val": 2, "test": 2, "scaler_fit_on": "train",
                                   "scaler_samples": 6}])}


def test_the_showcase_is_chosen_on_validation_data_and_counts_its_mistakes():
    all_runs = pd.concat([runs("base", [0.90, 0.91, 0.92]), runs("better", [0.95, 0.97, 0.96])])
    all_runs["final_test_accuracy"] = 1 - all_runs["final_val_accuracy"]  # test says the opposite: not read
    board = make_leaderboard(all_runs, tables()["experiments"], probs_for(all_runs, samples=100))
    probs = pd.DataFrame({"experiment": "better", "seed": [1, 1, 1, 0], "label": [3, 4, 5, 3], "pred": [3, 9, 5, 3]})
    assert showcase_table(board, all_runs, probs).to_dict("records") == [
        {"experiment": "better", "seed": 1, "n_test": 3, "n_errors": 1}]


def test_the_data_table_counts_the_parts_and_names_the_scaler_fit():
    split = pd.DataFrame({"split": ["train"] * 5 + ["val"] * 2 + ["test"] * 3})
    row = data_table(split, {"fit_on": "all", "n_samples": 10}).iloc[0].to_dict()
    assert row == {"samples": 10, "train": 5, "val": 2, "test": 3, "scaler_fit_on": "all", "scaler_samples": 10}


def test_leaderboard_ranks_by_mean_over_the_seeds_that_did_not_diverge():
    board = tables()["leaderboard"].set_index("experiment")
    assert list(board["rank"]) == [2, 1, 3]  # broken: 50% over its one seed that did not diverge
    assert board.loc["broken", "n_diverged"] == 2 and board.loc["broken", "test_accuracy_mean"] == 0.5
    assert board.loc["base", "test_accuracy_ci_low"] < 0.91 < board.loc["base", "test_accuracy_ci_high"]


def test_context_gives_the_template_titles_counts_and_no_wall_times_when_reproducible():
    figures = {"sections": {"one": "one.png", "two": "two.png"}, "claims": {}, "sensitivity": None}
    words = {"title": "Tricks, measured", "samples": "wines", "departures": []}
    info = {"reproducible": True, "section_titles": {"one": "Section one, from the file"}, "words": words}
    context = render.build_context(tables(), figures, info)
    assert context["words"] == words
    assert context["best"]["experiment"] == "better" and context["baseline"] == "base"
    assert [s["title"] for s in context["sections"]] == ["Section one, from the file", "Two"]
    assert [e["experiment"] for e in context["sections"][0]["experiments"]] == ["base", "better"]
    assert [r["experiment"] for r in context["diverged"]] == ["broken"]
    assert context["origins"] == {"lesson": 1, "twin": 1, "added": 1, "search": 0, "sweep": 0}
    assert all(r["seconds_per_seed_mean"] is None for r in context["leaderboard"])  # left out: not reproducible
    assert context["claims"] is None and context["sensitivity"] is None and context["n_seeds"] == 3
    context = render.build_context(tables(), figures, {**info, "reproducible": False})
    assert {r["seconds_per_seed_mean"] for r in context["leaderboard"]} == {1.5}


def test_a_lessons_own_words_are_escaped_and_code_spans_set():
    assert str(render.backticks("set `data.scaler_fit: all` <b>now</b>")) == \
        "set <code>data.scaler_fit: all</code> &lt;b&gt;now&lt;/b&gt;"


def test_the_words_of_a_lesson_come_from_its_files(tmp_path):
    from lessonbench.spec.config import resolve_words

    first, second = tmp_path / "a.yaml", tmp_path / "b.yaml"
    first.write_text("title: First\nsamples: wines\nexperiments: {}\n")
    second.write_text("title: Second\nexperiments: {}\n")
    assert resolve_words([first, second]) == {"title": "Second", "samples": "wines", "departures": []}
    assert resolve_words([tmp_path / "b.yaml"])["samples"] == "samples"


def test_a_claim_of_no_effect_found_holds_and_any_other_claim_it_fails():
    from lessonbench.report.claims_page import headline

    verdicts = [("supported", "higher"), ("no effect", "equivalent"), ("no effect", "higher"),
                ("contradicted", "lower"), ("open", "higher"), ("contradicted", "equivalent")]
    lessons = [{"primary": {"verdict": v, "expect": e, "confounded": False}, "variants": [{}] * (i == 0)}
               for i, (v, e) in enumerate(verdicts)]
    h = headline(lessons, family=14)
    assert (h["hold"], h["equivalent"], h["fail"], h["no_effect"], h["contradicted"], h["open"]) == (2, 1, 3, 1, 2, 1)
    assert h["hold"] + h["fail"] + h["open"] == h["claims"] == 6 and (h["variants"], h["designs"]) == (1, 7)
