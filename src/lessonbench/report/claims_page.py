"""The claims page: one line per claim (verdict, effect, margin, seeds better) and each claim's sentence."""

from __future__ import annotations

import math

import pandas as pd

from lessonbench.report.numbers import MISSING, is_missing, p_phrase, pvalue, records, signed

VERDICT_MARK = {"supported": "✔", "contradicted": "✘", "no effect": "=", "not shown": "–"}


def digits_of(row: dict) -> int:
    return 1  # points and epochs alike: a restricted mean of epochs is not a whole number


def effect_text(row: dict) -> str:
    """'+2.1 [+1.4, +2.8]' in the metric's unit (epochs with no decimals); a 90% interval says so."""
    d = digits_of(row)
    level = "" if abs(row["ci_level"] - 0.95) < 1e-9 else f" ({row['ci_level']:.0%})"
    return f"{bound(row)}{signed(row['effect'], d)} [{signed(row['ci_low'], d)}, {signed(row['ci_high'], d)}]{level}"


def bound(row: dict) -> str:
    """'≤ ' for a time difference whose control never reached the target (its true time is longer than counted),
    '≥ ' when the treatment never did; '' otherwise."""
    if row["metric"] != "epochs_to_target" or row.get("reached_control") is None:
        return ""
    return "≤ " if row["reached_control"] == 0 else ("≥ " if row["reached_treatment"] == 0 else "")


def side_text(row: dict, role: str) -> str:
    """One side's value: '96.1%', '2.3 points', '46 epochs', or '> 200 epochs (0/10 reached)' for times."""
    mean = row[f"{role}_mean"]
    if is_missing(mean):
        return MISSING
    if row["metric"] == "epochs_to_target":
        reached, n = int(row[f"reached_{role}"]), row["n_pairs"]
        if reached == 0:
            return f"> {row['budget']} epochs (0/{n} reached)"
        return f"{mean:.1f} epochs" + ("" if reached == n else f" (restricted; {reached}/{n} reached)")
    return f"{mean:.1f} points" if row["metric"] == "train_val_gap" else f"{mean:.1f}%"


def margin_text(row: dict) -> str:
    """'±1.0' for an equivalence margin, '−0.5 (at least as good)' for a non-inferiority one, else '–'."""
    d = digits_of(row)
    if not is_missing(row["margin"]):
        return f"±{row['margin']:.{d}f}"
    if row["min_effect"]:
        return f"{'>' if row['expect'] == 'higher' else '<'} {signed(row['threshold'], d)}"
    return MISSING


def better_text(row: dict) -> str:
    """'9/10': seeds on the claimed side of the threshold (within the margin, for a claim of no effect)."""
    return f"{row['seeds_better']}/{row['n_pairs']}"


def holm_text(row: dict) -> str:
    """The Holm-adjusted p-value(s) of a primary row: the test's, and its TOST's where it has a margin."""
    at_floor = row["p"] is not None and row["p"] <= row["p_floor"] * (1 + 1e-9)
    text = pvalue(row["p_holm"], at_floor)
    if row["p_holm_equivalence"] is not None:
        text += f"; TOST {pvalue(row['p_holm_equivalence'])}"
    return text


def verdict_text(row: dict) -> str:
    """The verdict in words: 'no effect' says its margin, 'not shown' the smallest effect the seeds could detect."""
    if row["verdict"] == "no effect":
        return f"no change larger than {row['margin']:g} {row['unit'] if row['unit'] == 'epochs' else 'point'}" + \
            ("s" if row["margin"] != 1 or row["unit"] == "epochs" else "")
    if row["verdict"] == "not shown" and row["detectable_effect"] is not None and not row["confounded"]:
        beyond = "" if not row["threshold"] else f" beyond {signed(row['threshold'], digits_of(row))}"
        return (f"not shown (these seeds detect {row['detectable_effect']:.{digits_of(row)}f} {row['unit']}"
                f"{beyond} or more)")
    return row["verdict"]


def claim_sentence(row: dict) -> str:
    """One generated sentence per claim metric: what was measured, and the verdict (or 'secondary') in words."""
    unit, d = row["unit"], digits_of(row)
    level = f"{row['ci_level']:.0%}"
    restricted = f" (restricted: a seed that never reaches it counts {row['budget'] + 1})" if unit == "epochs" else ""
    text = (f"{row['treatment']} minus {row['control']}, {row['metric_label']}{restricted}: "
            f"{side_text(row, 'treatment')} against {side_text(row, 'control')}; difference "
            f"{signed(row['effect'], d)} {unit} ({level} interval {signed(row['ci_low'], d)} to "
            f"{signed(row['ci_high'], d)}), better in {better_text(row)} paired seeds")
    if not row["primary"]:
        return text + f". Secondary metric: context, outside the correction (unadjusted {p_phrase(row['p'])})."
    if row["confounded"]:
        return (text + f". Not shown: besides {row['factor']}, the two runs differ in {row['confounders']}, so the "
                "comparison cannot isolate the claimed factor.")
    if row["caveat"]:
        return text + f". Not shown: {row['caveat']}."
    words = {"supported": "Supported", "contradicted": "Contradicted: the effect lies on the other side",
             "no effect": f"No effect: {verdict_text(row)} (two one-sided tests)",
             "not shown": "Not shown"}[row["verdict"]]
    holm = holm_text(row)
    return text + f". {words} (Holm-adjusted {'p ' + holm if holm.startswith('<') else 'p = ' + holm})."


def claim_row(row: dict) -> dict:
    """A claims-table row with its texts."""
    sides = f"{side_text(row, 'treatment')} vs {side_text(row, 'control')}" if row["treatment_mean"] is not None else ""
    tost = "" if row["equivalence_low"] is None else \
        f"90%: [{signed(row['equivalence_low'], digits_of(row))}, {signed(row['equivalence_high'], digits_of(row))}]"
    row.update(effect_text=effect_text(row), mark=VERDICT_MARK.get(row["verdict"], ""), sentence=claim_sentence(row),
               sides=sides, tost=tost, margin_text=margin_text(row),
               better=better_text(row), holm=holm_text(row) if row["primary"] else MISSING,
               verdict_text=verdict_text(row) if row["primary"] else "secondary")
    return row


def headline(primary: pd.DataFrame) -> dict:
    """How many claims hold, fail and stay open, from each claim's primary verdict."""
    counts = primary["verdict"].value_counts()
    n = {v: int(counts.get(v, 0)) for v in VERDICT_MARK}
    # "no effect" is what a claim of no effect (expect: equivalent) claims: it holds; any other claim it fails
    equivalent = int(((primary["verdict"] == "no effect") & (primary["expect"] == "equivalent")).sum())
    return {"claims": len(primary), "hold": n["supported"] + equivalent,
            "fail": n["contradicted"] + n["no effect"] - equivalent,
            "contradicted": n["contradicted"], "no_effect": n["no effect"] - equivalent, "equivalent": equivalent,
            "open": n["not shown"],
            "confounded": int(primary["confounded"].sum()), "family": int(primary["family_size"].iloc[0])}


def claims_context(claims: pd.DataFrame, left_out: pd.DataFrame, figures: dict) -> dict | None:
    """The claims page (one line per claim, then the secondary metrics) and each section's claims."""
    if claims.empty:
        return None
    groups = []
    for claim_id, rows in claims.groupby("claim_id", sort=False):
        rows = [claim_row(row) for row in records(rows)]
        primary = next(r for r in rows if r["primary"])
        groups.append({"id": claim_id, "claim": rows[0]["claim"], "section": rows[0]["section"], "primary": primary,
                       "rows": [primary] + [r for r in rows if not r["primary"]], "figure": figures.get(claim_id)})
    return {"groups": groups, "left_out": records(left_out), "headline": headline(claims[claims["primary"]]),
            "secondary": [r for g in groups for r in g["rows"][1:]]}


def split_text(data: dict, board: pd.DataFrame) -> str:
    """What the seeds vary and what they do not: the one fixed split, and the test set's own sampling error."""
    accuracy = float(board["test_accuracy_mean"].median())
    se = 100 * math.sqrt(accuracy * (1 - accuracy) / data["test"])
    return (f"Every run uses one fixed split of the data, the lesson's: {data['train']:,} training, {data['val']:,} "
            f"validation and {data['test']:,} test samples. The seeds vary the initial weights, the order of the "
            f"batches and the dropout masks, not the split, so a verdict on validation metrics holds for these "
            f"{data['val']:,} validation samples. A test accuracy near {100 * accuracy:.0f}% on "
            f"{data['test']:,} samples has a sampling error of about {se:.1f} points on its own; test-accuracy "
            f"intervals and verdicts here include it (a bootstrap over seeds and test samples together).")


def claims_rule() -> str:
    from lessonbench.analysis.claims import RULE  # the rule as the claims step applies it

    return RULE
