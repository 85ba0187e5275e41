"""The report: tables and figures through Jinja2 into one self-contained HTML file, then WeasyPrint to PDF."""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
from pathlib import Path

import jinja2
import pandas as pd

from lessonbench import fileio, ledger, provenance, stats
from lessonbench.config import TUNED
from lessonbench.fileio import log

# The workflow hands the render step its report_templates/ folder; the package's templates/ is that folder (a
# link in the checkout, copied into a wheel), so an installed package renders without it.
TEMPLATES = "templates"


MISSING = "–"


def is_missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def pct(value, digits: int = 1) -> str:
    """0.9731 -> '97.3' (percent, no sign); missing -> '–'."""
    return MISSING if is_missing(value) else f"{100 * value:.{digits}f}"


def points(value, digits: int = 1) -> str:
    """A difference of fractions as signed percentage points: 0.012 -> '+1.2'."""
    return MISSING if is_missing(value) else f"{100 * value:+.{digits}f}"


def paired_diff(row: dict) -> str:
    """'+2.1 [+1.4, +2.8]' from a leaderboard row's paired difference, or '–' when there is none."""
    if row["diff_mean"] is None:
        return MISSING
    return f"{points(row['diff_mean'])} [{points(row['diff_ci_low'])}, {points(row['diff_ci_high'])}]"


def num(value, digits: int = 1) -> str:
    if is_missing(value):
        return MISSING
    return f"{value:,.{digits}f}" if isinstance(value, float) else f"{value:,}"


def data_uri(path) -> str:
    """A PNG file as a data: URI, so the HTML file stands alone."""
    return "data:image/png;base64," + base64.b64encode(Path(path).read_bytes()).decode("ascii")


def environment(folder: str = "") -> jinja2.Environment:
    """Jinja2 over the templates in `folder` (the workflow's report_templates/), else the package's own copy."""
    loader = jinja2.FileSystemLoader(folder) if folder else jinja2.PackageLoader("lessonbench", TEMPLATES)
    env = jinja2.Environment(loader=loader, autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True,
                             lstrip_blocks=True)
    env.filters.update(pct=pct, points=points, num=num, paired_diff=paired_diff, data_uri=data_uri, pvalue=pvalue)
    return env


def section_title(section: str, titles: dict) -> str:
    """The title the experiment files give a section (`sections:`), else its name as words."""
    return titles.get(section) or section.replace("_", " ").capitalize()


def records(frame: pd.DataFrame) -> list[dict]:
    """DataFrame rows as dicts, missing values (NaN, NA) as None for the template."""
    return [{k: (None if not isinstance(v, str | list) and pd.isna(v) else v) for k, v in row.items()}
            for row in frame.to_dict("records")]


VERDICT_MARK = {"supported": "✔", "contradicted": "✘", "no effect": "=", "not shown": "–"}


def signed(value, digits: int = 1) -> str:
    """+1.2, −3.0, +∞: a signed number for an effect or an interval bound."""
    if is_missing(value):
        return MISSING
    if math.isinf(value):
        return "+∞" if value > 0 else "−∞"
    return f"{value:+.{digits}f}".replace("-", "−")


def pvalue(value, at_floor: bool = False) -> str:
    """0.0123 -> '0.012'; below 0.001 -> '<0.001'; at the method's resampling floor -> '< 0.0046' (the true
    value is at most that); missing -> '–'."""
    if is_missing(value):
        return MISSING
    if value < 0.001:
        return "<0.001"
    return f"<{value:.2g}" if at_floor else f"{value:.2g}"


def p_phrase(value, at_floor: bool = False) -> str:
    """'p = 0.012' or 'p < 0.001'."""
    text = pvalue(value, at_floor)
    return f"p < {text[1:]}" if text.startswith("<") else f"p = {text}"


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
    return {"claims": len(primary), "hold": n["supported"], "fail": n["contradicted"] + n["no effect"],
            "contradicted": n["contradicted"], "no_effect": n["no effect"], "open": n["not shown"],
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


def value_text(value) -> str:
    return MISSING if is_missing(value) else f"{value:g}"


def sensitivity_context(summary: pd.DataFrame, board: pd.DataFrame, figure: str | None) -> dict | None:
    """The sensitivity section: per sweep its best value, the range within 1 point, the best point's test result."""
    if summary.empty or not figure:
        return None
    rows = []
    for sweep, group in summary.groupby("sweep", sort=False):
        best, lesson = group[group["best"]].iloc[0], group[group["lesson_value"]]
        near = group[group["within_1_point"]]["value"]
        test = board[board["experiment"] == f"{sweep}_best"]
        test = records(test)[0] if len(test) else {}
        rows.append({"sweep": sweep, "experiment": best["experiment"], "key": best["key"], "n_values": len(group),
                     "seeds": int(best["seeds"]), "best_value": value_text(best["value"]),
                     "best_val": best["val_accuracy_mean"], "best_low": best["val_accuracy_ci_low"],
                     "best_high": best["val_accuracy_ci_high"],
                     "lesson_value": value_text(lesson["value"].iloc[0]) if len(lesson) else MISSING,
                     "lesson_val": lesson["val_accuracy_mean"].iloc[0] if len(lesson) else None,
                     "near": f"{near.min():g}–{near.max():g}" if len(near) > 1 else f"only {near.iloc[0]:g}",
                     "near_count": len(near), "at_edge": bool(best["at_edge"]), "test": test.get("test_accuracy_mean"),
                     "test_low": test.get("test_accuracy_ci_low"), "test_high": test.get("test_accuracy_ci_high")})
    lr = [r for r in rows if r["key"] == "optimizer.lr"]
    winner = max(lr, key=lambda r: r["best_val"]) if lr else None
    return {"rows": rows, "winner": winner, "figure": figure, "n_lr": len(lr)}


def build_context(tables: dict, figures: dict, info: dict) -> dict:
    """Everything the template shows, computed here so the template holds no logic."""
    timings = tables["timings"]
    if info["reproducible"]:  # a byte-stable report leaves out wall times, which differ run to run
        timings = timings.assign(seconds_per_seed_mean=float("nan"))
    board = tables["leaderboard"].merge(timings, on="experiment", how="left")
    board = board.merge(tables["comparisons"][["experiment", "diff_mean", "diff_ci_low", "diff_ci_high"]],
                        on="experiment", how="left")
    meta = tables["experiments"].merge(tables["leaderboard"][["experiment", "n_params"]], on="experiment")
    claims = claims_context(tables["claims"], tables["claims_left_out"], figures["claims"])
    if claims:
        claims["split_text"] = split_text(records(tables["data"])[0], board)
    sections = [{"name": s, "title": section_title(s, info.get("section_titles", {})),
                 "experiments": records(meta[meta["section"] == s]), "figure": figures["sections"][s],
                 "claims": [g for g in claims["groups"] if g["section"] == s] if claims else []}
                for s in meta["section"].unique()]
    ranked = board.dropna(subset=["test_accuracy_mean"]).sort_values("test_accuracy_mean", ascending=False)
    return {
        "leaderboard": records(board), "best": records(ranked.head(1))[0], "worst": records(ranked.tail(1))[0],
        "baseline": tables["comparisons"]["baseline"].iloc[0] if len(tables["comparisons"]) else None,
        "diverged": records(board[board["n_diverged"] > 0]),
        "sections": sections, "figures": figures,
        "showcase": records(tables["showcase"])[0], "data": records(tables["data"])[0],
        "experiments": records(meta), "info": info, "n_seeds": int(board["n_seeds"].max()),
        "claims": claims, "claims_rule": claims_rule(), "interval_method": stats.METHOD,
        "sensitivity": sensitivity_context(tables["sweep_summary"], tables["leaderboard"], figures.get("sensitivity")),
        "origins": {origin: int((meta["origin"] == origin).sum())
                    for origin in ("lesson", "twin", "added", "search", "sweep")},
    }


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
    from lessonbench.claims import RULE  # the rule as the claims step applies it

    return RULE


def activation_summary(acts: pd.DataFrame) -> pd.DataFrame:
    """One row per network and case: sd and saturated share of each layer, as 'a / b / c' strings."""
    rows = []
    for network, case in acts[["network", "case"]].drop_duplicates().itertuples(index=False):
        group = acts[(acts["network"] == network) & (acts["case"] == case)]
        rows.append({"network": network, "title": group["title"].iloc[0],
                     "std": " / ".join(num(v, 3) for v in group["std"]),
                     "saturated": " / ".join(pct(v, 0) for v in group["saturated_share"])})
    return pd.DataFrame(rows)


def illustrations_context(paths: dict, board: pd.DataFrame, order: list[str]) -> dict:
    """Numbers behind the lesson's illustrations, shaped for the template."""
    paths_table = pd.read_parquet(paths["optimizer_paths"])
    opt = paths_table[paths_table["step"] == paths_table["step"].max()].copy()  # in config order
    opt["distance"] = (opt["x"] ** 2 + opt["y"] ** 2) ** 0.5
    acts = pd.read_parquet(paths["activations"])
    sym = pd.read_parquet(paths["symmetry"]).groupby(["experiment", "layer"], sort=False).agg(
        units=("units", "first"), distinct_mean=("distinct_units", "mean"),
        distinct_min=("distinct_units", "min"), distinct_max=("distinct_units", "max")).reset_index()
    sym = sym.merge(board[["experiment", "test_accuracy_mean"]], on="experiment", how="left")
    return {
        "optimizer_paths": records(opt), "start": records(paths_table.head(1))[0],
        "optimizer_paths_figure": paths["optimizer_paths_figure"],
        "activations": records(activation_summary(acts)),
        "saturation": json.loads(Path(paths["activations_settings"]).read_text())["saturation"],
        "activations_deep": paths["activations_deep"], "activations_lesson": paths["activations_lesson"],
        "symmetry": records(sym),
        "model_summaries": group_summaries(json.loads(Path(paths["model_summaries"]).read_text()), order),
    }


def group_summaries(summaries: dict[str, str], order: list[str]) -> list[dict]:
    """Experiments that share a model share one summary: [{experiments: [...], text: ...}] in report order.

    The search's `tuned` has none (its model is known only after the search); its settings are in the
    search section.
    """
    groups: dict[str, list[str]] = {}
    for exp in order:
        if exp in summaries:
            groups.setdefault(summaries[exp], []).append(exp)
    return [{"experiments": exps, "text": text} for text, exps in groups.items()]


def render_html(context: dict, templates: str = "") -> str:
    return environment(templates).get_template("report.html.j2").render(**context)


def render_pdf(html: str, path) -> None:
    """WeasyPrint PDF; its dates come from the HTML's dcterms meta (SOURCE_DATE_EPOCH when set)."""
    import weasyprint  # imported here: slow, and only this step needs it
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    # The HTML file carries its figures inline (data: URIs, 3.6 MB of base64), which WeasyPrint's HTML parser
    # reads slowly (half a second); it is handed the same HTML with each figure's URI replaced by a short name
    # for the same bytes, which it fetches from here.
    figures = {}

    def by_name(match) -> str:
        data = base64.b64decode(match.group(1))
        name = f"{FIGURE_SCHEME}:{hashlib.sha256(data).hexdigest()}"
        figures[name] = data
        return f'src="{name}"'

    class Figures(URLFetcher):
        def fetch(self, url, headers=None):
            if url in figures:
                return URLFetcherResponse(url, figures[url], {"Content-Type": "image/png"})
            return super().fetch(url, headers)

    short = INLINE_FIGURE.sub(by_name, html)
    pdf = weasyprint.HTML(string=short, url_fetcher=Figures()).write_pdf()  # self-contained: inline CSS
    fileio.write_bytes(pdf, path)


FIGURE_SCHEME = "lessonbench-figure"
# an <img> whose source data_uri wrote (a title cannot make one: the template escapes its quotes)
INLINE_FIGURE = re.compile(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"')


def search_context(paths: dict, tables_dir: Path, board: pd.DataFrame, reproducible: bool) -> dict | None:
    """The search section: choice, ranges per round, tuned against its base, the samplers compared."""
    if not paths:
        return None
    read = {name: pd.read_parquet(tables_dir / f"{name}.parquet")
            for name in ("search_rounds", "search_samplers", "search_choice", "search_timings", "tuned_vs_base")}
    samplers = read["search_samplers"]
    summary = []
    for strategy, group in samplers.groupby("strategy", sort=False):
        summary.append({"strategy": strategy, "searches": len(group), "mean": group["best_val_accuracy"].mean(),
                        "low": group["best_val_accuracy"].min(), "high": group["best_val_accuracy"].max(),
                        "found_at": group["found_at_trial"].median()})
    wide = samplers.pivot(index="search_seed", columns="strategy", values="best_val_accuracy")
    versus = None
    if {"random", "tpe"} <= set(wide.columns):
        versus = {"random_better": int((wide["random"] > wide["tpe"]).sum()),
                  "tpe_better": int((wide["tpe"] > wide["random"]).sum()),
                  "ties": int((wide["tpe"] == wide["random"]).sum()), "searches": len(wide)}
    comparison = records(read["tuned_vs_base"])[0] if len(read["tuned_vs_base"]) else None
    base = comparison["baseline"] if comparison else None
    pair = records(board[board["experiment"].isin([base, TUNED])])
    rounds = read["search_rounds"]
    names = [c for c in rounds.columns if c not in ("round", "trials", "best_val_accuracy_round",
                                                       "best_val_accuracy_so_far")]
    timings = read["search_timings"]
    return {"choice": records(read["search_choice"]), "rounds": records(rounds), "names": names,
            "summary": summary, "versus": versus, "comparison": comparison, "pair": pair, "base": base, "tuned": TUNED,
            "trials_per_second": None if reproducible else float(timings["trials_per_second"].mean()),
            "values_figure": paths["values_figure"], "samplers_figure": paths["samplers_figure"],
            "trials": int(rounds["trials"].sum()), "rounds_n": len(rounds)}


def run_info(config_hash: str, threads: int) -> dict:
    info = provenance.collect()
    info["date_iso"] = info["date"].strftime("%Y-%m-%dT%H:%M:%SZ")
    info["date_text"] = info["date"].strftime("%d %B %Y, %H:%M UTC")
    return {**info, "config_hash": config_hash, "torch_threads": threads}


def render_report_step(args) -> None:
    tables_dir = Path(args.tables)
    names = ("leaderboard", "timings", "comparisons", "experiments", "showcase", "data")
    tables = {name: pd.read_parquet(tables_dir / f"{name}.parquet") for name in names}
    for name in ("claims", "claims_left_out", "sweep_summary"):  # absent when their steps are off
        path = tables_dir / f"{name}.parquet"
        tables[name] = pd.read_parquet(path) if path.exists() else pd.DataFrame()
    figs = {"leaderboard": args.leaderboard, "small_multiples": args.small_multiples,
            "confusion": args.confusion, "errors": args.errors,
            "sections": dict(zip(args.sections, args.section_figures)),
            "claims": {Path(path).stem: path for path in args.claim_figures},  # CLAIM_ID.png
            "sensitivity": args.sensitivity_figure[0] if args.sensitivity_figure else None}
    info = run_info(args.config_hash, args.threads)
    info["section_titles"] = args.section_titles
    info["verification"] = json.loads(Path(args.verification[0]).read_text()) if args.verification else None
    context = build_context(tables, figs, info)
    context["search"] = search_context(dict(item.split("=", 1) for item in args.search), tables_dir,
                                       tables["leaderboard"], info["reproducible"])
    context["lesson"] = illustrations_context(dict(item.split("=", 1) for item in args.illustrations),
                                              tables["leaderboard"], list(tables["experiments"]["experiment"]))
    history, now = None, None
    context["changes"] = None
    if args.ledger:  # what changed since the previous report, from the ledger of earlier builds
        history = ledger.read(args.ledger)
        build = int(history["build"].max()) + 1 if not history.empty else 1
        specs = json.loads((tables_dir / "specs.json").read_text())
        order = [exp for exp in tables["experiments"]["experiment"] if exp in specs]
        now = ledger.entries({exp: specs[exp] for exp in order}, pd.read_parquet(tables_dir / "runs.parquet"),
                             tables["leaderboard"], build, info["date_iso"])
        context["changes"] = {**ledger.changes(ledger.previous(history), now), "ledger": args.ledger}
    html = render_html(context, args.templates)
    fileio.write_text(html, args.html)
    render_pdf(html, args.pdf)
    if args.ledger:  # only after the report is written: a failed build records nothing
        ledger.append(args.ledger, history, now)
        log(f"ledger: build {int(now['build'].iloc[0])} recorded in {args.ledger}")
    log(f"report written: {args.html}, {args.pdf}")
