"""The report: tables and figures through Jinja2 into one self-contained HTML file, then WeasyPrint to PDF."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from pathlib import Path

import jinja2
import markupsafe
import pandas as pd

from lessonbench import fileio
from lessonbench.analysis import ledger, stats
from lessonbench.fileio import log
from lessonbench.report import provenance
from lessonbench.report.claims_page import claims_context, claims_rule, split_text
from lessonbench.report.numbers import MISSING, num, paired_diff, pct, points, pvalue, records, value_text
from lessonbench.spec.config import TUNED

# The workflow hands the render step its report_templates/ folder; the package's report/templates/ is that folder
# (a link in the checkout, copied into a wheel), so an installed package renders without it.
TEMPLATES = "templates"


def data_uri(path) -> str:
    """A PNG file as a data: URI, so the HTML file stands alone."""
    return "data:image/png;base64," + base64.b64encode(Path(path).read_bytes()).decode("ascii")


def backticks(text: str) -> markupsafe.Markup:
    """Plain text from a lesson file, escaped, with `spans in backticks` set as code."""
    parts = str(markupsafe.escape(text)).split("`")
    return markupsafe.Markup("".join(f"<code>{part}</code>" if i % 2 else part for i, part in enumerate(parts)))


def environment(folder: str = "") -> jinja2.Environment:
    """Jinja2 over the templates in `folder` (the workflow's report_templates/), else the package's own copy."""
    loader = jinja2.FileSystemLoader(folder) if folder else jinja2.PackageLoader("lessonbench.report", TEMPLATES)
    env = jinja2.Environment(loader=loader, autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True,
                             lstrip_blocks=True)
    env.filters.update(pct=pct, points=points, num=num, paired_diff=paired_diff, data_uri=data_uri, pvalue=pvalue,
                       backticks=backticks)
    return env


def section_title(section: str, titles: dict) -> str:
    """The title the experiment files give a section (`sections:`), else its name as words."""
    return titles.get(section) or section.replace("_", " ").capitalize()


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
        "learned_nothing": records(board[board["n_learned_nothing"] > 0]),
        "sections": sections, "figures": figures,
        "showcase": records(tables["showcase"])[0], "data": records(tables["data"])[0],
        "experiments": records(meta), "info": info, "n_seeds": int(board["n_seeds"].max()), "words": info["words"],
        "claims": claims, "claims_rule": claims_rule(), "interval_method": stats.METHOD,
        "sensitivity": sensitivity_context(tables["sweep_summary"], tables["leaderboard"], figures.get("sensitivity")),
        "origins": {origin: int((meta["origin"] == origin).sum())
                    for origin in ("lesson", "twin", "added", "search", "sweep")},
    }


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


# The illustration jobs' tables and figures the report reads (the render rule's inputs of these names).
ILLUSTRATIONS = ("optimizer_paths", "optimizer_paths_figure", "activations", "activations_settings", "activations_deep",
                 "activations_lesson", "symmetry", "model_summaries")


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
    info["words"] = args.words  # the lesson's title, what its samples are called, its departures
    info["verification"] = json.loads(Path(args.verification[0]).read_text()) if args.verification else None
    context = build_context(tables, figs, info)
    context["dataset"] = args.dataset  # classes, features, image shape
    search = {name: path for name in ("values_figure", "samplers_figure") if (path := getattr(args, name, None))}
    context["search"] = search_context(search, tables_dir,
                                       tables["leaderboard"], info["reproducible"])
    context["lesson"] = illustrations_context({name: getattr(args, name) for name in ILLUSTRATIONS},
                                              tables["leaderboard"], list(tables["experiments"]["experiment"])) \
        if getattr(args, "optimizer_paths", None) else None  # a lesson without illustrations
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
