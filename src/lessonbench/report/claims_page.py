"""The claims page: one line per claim (verdict, effect, margin, seeds better) and each claim's sentence."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from lessonbench.report.numbers import MISSING, is_missing, p_phrase, pvalue, records, signed

VERDICT_MARK = {"supported": "✔", "contradicted": "✘", "no effect": "=", "open": "–"}


def digits_of(row: dict) -> int:
    return 1  # points and epochs alike: a restricted mean of epochs is not a whole number


def effect_text(row: dict) -> str:
    """'+2.1 [+1.4, +2.8]' in the metric's unit (epochs with no decimals); a 90% interval says so."""
    d = digits_of(row)
    level = "" if abs(row["ci_level"] - 0.95) < 1e-9 else f" ({row['ci_level']:.0%})"
    return f"{signed(row['effect'], d)} [{signed(row['ci_low'], d)}, {signed(row['ci_high'], d)}]{level}"


def bound(row: dict) -> str:
    """For a time difference whose control (treatment) never reached the target, its true time is longer than
    counted, so the true difference lies below (above) the interval: said in words; '' otherwise."""
    if row["metric"] != "epochs_to_target" or row.get("reached_control") is None:
        return ""
    if row["reached_control"] == 0:
        return "a bound: the control never reached"
    return "a bound: the treatment never reached" if row["reached_treatment"] == 0 else ""


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
    if row["metric"] == "largest_lr":  # a mean of log10(lr): the geometric mean of the largest rates
        reached, n = int(row[f"reached_{role}"]), row["n_pairs"]
        return f"lr {10 ** mean:.2g}" + ("" if reached == n else f" (restricted; {reached}/{n} reached)")
    return f"{mean:.1f} points" if row["metric"] == "train_val_gap" else f"{mean:.1f}%"


def margin_text(row: dict) -> str:
    """'±1.0' (the margin of relevance), with '> −0.5' for a non-inferiority bound; '–' without one."""
    d = digits_of(row)
    parts = [f"±{row['margin']:.{d}f}"] if not is_missing(row["margin"]) else []
    if row["min_effect"]:
        parts.append(f"{'>' if row['expect'] == 'higher' else '<'} {signed(row['threshold'], d)}")
    return "; ".join(parts) or MISSING


def better_text(row: dict) -> str:
    """'9/10': paired seeds in which the treatment did better than the control in the claimed direction (within
    the margin, for a claim of no effect)."""
    return f"{row['seeds_better']}/{row['n_pairs']}"


def holm_text(row: dict) -> str:
    """The Holm-adjusted p-value of a primary row's test (of an effect, or of a change beyond the margin)."""
    at_floor = row["p"] is not None and row["p"] <= row["p_floor"] * (1 + 1e-9)
    return pvalue(row["p_holm"], at_floor)


def tost_text(row: dict) -> str:
    """The Holm-adjusted p-value of a primary row's TOST (no change larger than the margin), or '–'."""
    return pvalue(row["p_holm_equivalence"]) if row["p_holm_equivalence"] is not None else MISSING


def units(value: float, unit: str) -> str:
    """'1 point', '2.5 points', '10 epochs', '0.5 decades'."""
    if unit in ("epochs", "decades"):
        return f"{value:g} {unit[:-1] if value == 1 else unit}"
    return f"{value:g} point{'' if value == 1 else 's'}"


def verdict_text(row: dict) -> str:
    """The verdict in words: 'no effect' says its margin; 'open' the effect these seeds would find 80% of the time."""
    if row["verdict"] == "no effect":
        return f"no change larger than {units(row['margin'], row['unit'])}"
    if row["verdict"] == "contradicted" and row["expect"] == "equivalent":
        return f"contradicted: a change larger than {units(row['margin'], row['unit'])}"
    if row["verdict"] == "open" and row["detectable_effect"] is not None and not row["confounded"] \
            and not row["caveat"]:
        beyond = "" if not row["threshold"] else f" beyond {signed(row['threshold'], digits_of(row))}"
        return (f"open (an effect of {row['detectable_effect']:.{digits_of(row)}f} {row['unit']}{beyond} would be "
                f"found 80% of the time with these seeds)")
    return row["verdict"]


def claim_sentence(row: dict) -> str:
    """One generated sentence per claim metric: what was measured, and the verdict (or 'secondary') in words."""
    unit, d = row["unit"], digits_of(row)
    level = f"{row['ci_level']:.0%}"
    restricted = f" (restricted: a seed that never reaches it counts {row['budget'] + 1})" if unit == "epochs" else ""
    means = f": {side_text(row, 'treatment')} against {side_text(row, 'control')}" \
        if row["treatment_mean"] is not None else " (a difference of differences)"
    text = (f"{row['treatment']} minus {row['control']}, {row['metric_label']}{restricted}{means}; difference "
            f"{signed(row['effect'], d)} {unit} ({level} interval {signed(row['ci_low'], d)} to "
            f"{signed(row['ci_high'], d)}), better in {better_text(row)} paired seeds")
    if bound(row):
        text += (" (a bound: the " + ("control" if row["reached_control"] == 0 else "treatment") +
                 " never reached the target, so its true time, and the difference, is larger than counted)")
    if not row["primary"]:
        return text + f". Secondary metric: context, outside the correction (unadjusted {p_phrase(row['p'])})."
    if row["confounded"]:
        return (text + f". Open: besides {row['factor']}, the two runs differ in {row['confounders']}, so the "
                "comparison cannot isolate the claimed factor.")
    if row["caveat"]:
        return text + f". Open: {row['caveat']}."
    words = {"supported": "Supported",
             "contradicted": "Contradicted: the change lies beyond the margin" if row["expect"] == "equivalent"
             else "Contradicted: the effect lies on the other side",
             "no effect": f"No effect: {verdict_text(row)} (two one-sided tests)",
             "open": "Open"}[row["verdict"]]
    return (text + f". {words} (Holm-adjusted {p_phrase(row['p_holm'])}; no change larger than "
            f"{units(row['margin'], unit)}: {p_phrase(row['p_holm_equivalence'])}).")


def claim_row(row: dict) -> dict:
    """A claims-table row with its texts."""
    sides = f"{side_text(row, 'treatment')} vs {side_text(row, 'control')}" if row["treatment_mean"] is not None else ""
    tost = "" if row["equivalence_low"] is None else \
        f"90%: [{signed(row['equivalence_low'], digits_of(row))}, {signed(row['equivalence_high'], digits_of(row))}]"
    row.update(effect_text=effect_text(row), bound_note=bound(row), mark=VERDICT_MARK.get(row["verdict"], ""),
               sentence=claim_sentence(row),
               sides=sides, tost=tost, margin_text=margin_text(row),
               better=better_text(row), holm=holm_text(row) if row["primary"] else MISSING,
               holm_tost=tost_text(row) if row["primary"] else MISSING,
               verdict_text=verdict_text(row) if row["primary"] else "secondary")
    return row


def headline(lessons: list[dict], family: int) -> dict:
    """How many lesson claims hold, fail and stay open, each by its lead variant's verdict.

    A claim of an effect holds when supported and fails when contradicted or shown to have no effect; a claim of no
    effect holds when shown to have none and fails when contradicted. hold + fail + open = claims."""
    verdicts = [(g["primary"]["verdict"], g["primary"]["expect"] == "equivalent") for g in lessons]
    hold = sum(v == "supported" or (v == "no effect" and eq) for v, eq in verdicts)
    contradicted = sum(v == "contradicted" for v, _ in verdicts)
    no_effect = sum(v == "no effect" and not eq for v, eq in verdicts)
    return {"claims": len(lessons), "hold": hold, "fail": contradicted + no_effect, "contradicted": contradicted,
            "no_effect": no_effect, "equivalent": sum(v == "no effect" and eq for v, eq in verdicts),
            "open": sum(v == "open" for v, _ in verdicts),
            "confounded": sum(g["primary"]["confounded"] and g["primary"]["verdict"] == "open" for g in lessons),
            "variants": sum(len(g["variants"]) for g in lessons), "family": family,
            "designs": sum(1 + len(g["variants"]) for g in lessons)}


def claims_context(claims: pd.DataFrame, left_out: pd.DataFrame, figures: dict) -> dict | None:
    """The claims page (one block per lesson claim: its lead, then its variants; then the secondary metrics) and
    each section's lesson claims."""
    if claims.empty:
        return None
    designs = []
    for claim_id, rows in claims.groupby("claim_id", sort=False):
        rows = [claim_row(row) for row in records(rows)]
        primary = next(r for r in rows if r["primary"])
        designs.append({"id": claim_id, "claim": rows[0]["claim"], "section": rows[0]["section"], "primary": primary,
                        "lesson_claim": primary["lesson_claim"], "variant": primary["variant"],
                        "design": primary["design"],
                        "rows": [primary] + [r for r in rows if not r["primary"]], "figure": figures.get(claim_id)})
    lessons: dict[str, list[dict]] = {}
    for design in designs:
        lessons.setdefault(design["lesson_claim"], []).append(design)
    groups = []
    for lesson_claim, members in lessons.items():
        lead = next((d for d in members if d["id"] == lesson_claim), members[0])
        groups.append({**lead, "lead": lead, "variants": [d for d in members if d is not lead]})
    family = int(claims["family_size"].iloc[0])
    return {"groups": groups, "left_out": records(left_out), "headline": headline(groups, family),
            "secondary": [r for d in designs for r in d["rows"][1:]]}


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


def console_summary(path, report="results/report/report.pdf") -> str:
    """The headline and one line per lesson claim (its verdict, and its variants' after it), for the console at
    the end of a build, naming the report by its full path (a lesson folder builds in its own folder); '' where the
    run checked no claims (no claims table)."""
    if not Path(path).exists():
        return ""
    claims = pd.read_parquet(path)
    context = claims_context(claims, pd.DataFrame(), {})
    if context is None:
        return ""
    h = context["headline"]
    lines = [f"lessonbench: of the lesson's {h['claims']} claims, {h['hold']} hold, {h['fail']} fail and {h['open']} "
             f"stay open ({Path(report).resolve()}):"]
    for g in context["groups"]:
        lead = g["primary"]
        variants = "; ".join(f"{d['variant']}: {d['primary']['verdict']}" for d in g["variants"])
        lines.append(f"  {lead['mark']} {lead['verdict']:<12} {g['claim']}{f' ({variants})' if variants else ''}")
    return "\n".join(lines)
