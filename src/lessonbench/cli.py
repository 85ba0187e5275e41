"""Command line for the workflow's jobs: `python -m lessonbench STEP --option path ...`.

Only argument parsing lives here; each step is a `*_step(args)` function in the library
module it belongs to, imported when that step runs. Paths come from the rules' input/output blocks.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path

# Each step's one name: the rule's, the command's (`python -m lessonbench NAME`) and, as NAME_step, the
# library function's; the value is the module that holds it (and whose imports are the step's code inputs).
STEPS = {
    "prepare_data": "engine.data",
    "train_experiment": "jobs.experiment",  # also train_chunk's command (a chunk is --seeds)
    "combine_chunks": "jobs.experiment",
    "collect_tables": "analysis.tables",
    "label_tables": "analysis.tables",
    "check_claims": "analysis.claims",
    "train_sweep": "jobs.sweeps",
    "draw_sensitivity": "report.figures_claims",
    "draw_claims": "report.figures_claims",
    "draw_figures": "report.figures",
    "render_report": "report.render",
    "verify_determinism": "jobs.verify",
    "verify": "jobs.verify",
    "draw_optimizer_paths": "report.figures_lesson",
    "draw_activations": "report.figures_lesson",
    "measure_symmetry": "report.figures_lesson",
    "summarise_models": "report.figures_lesson",
    "search": "jobs.search",
    "search_worker": "jobs.search",
    "summarise_search": "report.figures_search",
}


def settings(path: str):
    """A settings file (JSON, written by the workflow under results/settings/) read into Python values."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError) as err:
        raise argparse.ArgumentTypeError(f"{path}: not a readable JSON settings file ({err})") from None


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m lessonbench", description=__doc__)
    sub = p.add_subparsers(dest="step", required=True)

    s = sub.add_parser("prepare_data", help="split digits, fit the scaler")
    s.add_argument("--data", required=True, type=settings, help="data settings file")
    s.add_argument("--split", required=True)
    s.add_argument("--scaler", required=True)
    s.add_argument("--train-val", required=True, help="the split without its test rows, for the search")

    s = sub.add_parser("train_experiment", help="train every seed of one experiment")
    s.add_argument("--experiment", required=True)
    s.add_argument("--spec", required=True, type=settings, help="training spec file")
    s.add_argument("--threads", type=int, default=1, help="torch threads (fixed, for bit-identical results)")
    s.add_argument("--device", default="cpu", choices=("cpu", "cuda"), help="where the stacked model trains")
    s.add_argument("--seeds", type=int, nargs="+", help="train these seeds only (a chunk); default all")
    s.add_argument("--processes", type=int, default=1,
                   help="split the seeds over this many processes (CPU; the same files, in less wall time)")
    s.add_argument("--store", default="", help="folder of results kept by content (empty: none)")
    for name in ("split", "scaler", "history", "runs", "test-probs", "weights", "timing"):
        s.add_argument(f"--{name}", required=True)

    s = sub.add_parser("combine_chunks", help="an experiment's files from its seed chunks")
    for name in ("history", "runs", "test-probs", "weights", "timing"):
        s.add_argument(f"--{name}", nargs="+", required=True)
        s.add_argument(f"--out-{name}", required=True)

    s = sub.add_parser("verify_determinism",
                       help="retrain one experiment in scratch space, compare its files byte for byte")
    s.add_argument("--experiment", required=True)
    s.add_argument("--spec", required=True, type=settings, help="training spec file")
    s.add_argument("--threads", type=int, default=1)
    s.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    for name in ("split", "scaler", "history", "runs", "test-probs", "weights", "output"):
        s.add_argument(f"--{name}", required=True)

    s = sub.add_parser("verify", help="fail unless a verification record passed")
    s.add_argument("record")

    s = sub.add_parser("draw_optimizer_paths", help="paths of torch optimizers on f(x, y) = x^2/20 + y^2")
    s.add_argument("--settings", required=True, type=settings, help="optimizer_paths settings file")
    for name in ("table", "figure"):
        s.add_argument(f"--{name}", required=True)

    s = sub.add_parser("draw_activations", help="activation histograms at initialisation")
    s.add_argument("--settings", required=True, type=settings, help="activations settings file")
    for name in ("split", "scaler", "table", "deep-figure", "lesson-figure"):
        s.add_argument(f"--{name}", required=True)

    s = sub.add_parser("measure_symmetry", help="distinct hidden units of trained models")
    s.add_argument("--tolerance", type=float, required=True)
    s.add_argument("--experiments", nargs="+", required=True)
    s.add_argument("--weights", nargs="+", required=True)
    s.add_argument("--table", required=True)

    s = sub.add_parser("summarise_models", help="torchinfo layer tables")
    s.add_argument("--models", required=True, type=settings, help="{experiment: model block} file")
    s.add_argument("--output", required=True)

    s = sub.add_parser("search", help="one hyperparameter search (a strategy and a search seed)")
    s.add_argument("--strategy", required=True, choices=("random", "tpe"))
    s.add_argument("--search-seed", type=int, required=True)
    s.add_argument("--settings", required=True, type=settings, help="the search settings file")
    s.add_argument("--base", required=True, type=settings, help="the base experiment's resolved spec file")
    s.add_argument("--threads", type=int, default=1)
    s.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    s.add_argument("--storage", default="", help="Optuna storage URL; empty: SQLite at --database")
    s.add_argument("--code-version", default="", help="part of the study name: new code, new study")
    for name in ("train-val", "scaler", "database", "trials", "best", "spec", "timing"):
        s.add_argument(f"--{name}", required=True)

    s = sub.add_parser("search_worker", help="one of several workers sharing the lesson's search in a database")
    s.add_argument("--search-seed", type=int, required=True)
    s.add_argument("--worker", type=int, required=True)
    s.add_argument("--workers", type=int, required=True)
    s.add_argument("--settings", required=True, type=settings, help="the search settings file")
    s.add_argument("--base", required=True, type=settings, help="the base experiment's resolved spec file")
    s.add_argument("--storage", required=True, help="Optuna storage URL shared by the workers")
    s.add_argument("--code-version", default="")
    s.add_argument("--threads", type=int, default=1)
    s.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    for name in ("train-val", "scaler", "output"):
        s.add_argument(f"--{name}", required=True)

    s = sub.add_parser("summarise_search", help="tables and figures of every search")
    s.add_argument("--settings", required=True, type=settings, help="the search settings file")
    s.add_argument("--trials", nargs="+", required=True)
    s.add_argument("--best", nargs="+", required=True)
    s.add_argument("--timing", nargs="+", required=True)
    for name in ("outdir", "values-figure", "samplers-figure"):
        s.add_argument(f"--{name}", required=True)

    s = sub.add_parser("collect_tables", help="tidy tables from every experiment's runs")
    s.add_argument("--specs", nargs="+", required=True, type=settings, help="each experiment's spec file, in order")
    s.add_argument("--tuned-base", default="", help="the search's base experiment, if there is a search")
    s.add_argument("--split", required=True, help="the data split (the data table's counts)")
    s.add_argument("--scaler", required=True, help="the fitted scaler (what it was fitted on)")
    s.add_argument("--sweep-points", nargs="*", default=[], help="every sweep's points table")
    s.add_argument("--outdir", required=True)
    for name in ("runs", "history", "test-probs", "timing"):
        s.add_argument(f"--{name}", nargs="+", required=True)

    s = sub.add_parser("label_tables", help="the tables with the experiments' titles: experiments, leaderboard")
    s.add_argument("--specs", nargs="+", required=True, type=settings, help="each experiment's spec file, in order")
    s.add_argument("--scores", required=True, help="the score board collect_tables wrote")
    s.add_argument("--outdir", required=True)

    s = sub.add_parser("check_claims", help="the lesson's claims checked against the tables")
    s.add_argument("--claims", required=True, type=settings,
                   help="settings file: the resolved claims and those left out (a step they need is off)")
    s.add_argument("--specs", nargs="+", required=True, type=settings, help="each experiment's spec file")
    s.add_argument("--tables", required=True, help="the tables directory (runs, history, timings)")
    s.add_argument("--outdir", required=True)

    s = sub.add_parser("train_sweep", help="one sensitivity sweep: every value x seed, the best chosen on validation")
    s.add_argument("--sweep", required=True, type=settings, help="the resolved sweep's settings file")
    s.add_argument("--store", default="", help="folder of results kept by content (empty: none)")
    s.add_argument("--experiment-files", nargs="+", default=[], metavar="NAME=PATH",
                   help="the swept experiment's files (history, runs, test_probs, weights, timing), read back; "
                        "needed only when the grid holds the experiment's own value")
    s.add_argument("--threads", type=int, default=1)
    s.add_argument("--processes", type=int, default=1,
                   help="train the points in this many processes (CPU; the same files, in less wall time)")
    s.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    for name in ("split", "scaler", "points", "best", "spec", "history", "runs", "test-probs", "weights", "timing"):
        s.add_argument(f"--{name}", required=True)

    s = sub.add_parser("draw_sensitivity", help="validation accuracy against each swept value")
    s.add_argument("--tables", required=True)
    s.add_argument("--figure", required=True)

    s = sub.add_parser("draw_claims", help="each claim's pair of experiments drawn together")
    s.add_argument("--tables", required=True)
    s.add_argument("--figures", nargs="*", default=[], help="one PNG per claim, named after the claim's id")

    for step in ("draw_figures", "render_report"):
        s = sub.add_parser(step)
        for name in ("tables", "leaderboard", "small-multiples", "confusion", "errors"):
            s.add_argument(f"--{name}", required=True)
        s.add_argument("--sections", nargs="+", required=True)
        s.add_argument("--section-figures", nargs="+", required=True)
    draw, report = sub.choices["draw_figures"], sub.choices["render_report"]
    draw.add_argument("--split", required=True)
    for name in ("config-hash", "html", "pdf"):
        report.add_argument(f"--{name}", required=True)
    report.add_argument("--threads", type=int, default=1)
    report.add_argument("--templates", default="",
                        help="folder with report.html.j2 and report.css (default: the package's own copy)")
    report.add_argument("--section-titles", type=settings, default={},
                        help="settings file: {section: title} from the experiment files")
    report.add_argument("--ledger", default="", help="CSV of earlier builds, read and appended to")
    report.add_argument("--claim-figures", nargs="*", default=[], help="CLAIM_ID.png per claim")
    report.add_argument("--sensitivity-figure", nargs="*", default=[], help="if there are sweeps")
    report.add_argument("--verification", nargs="*", default=[], help="verification record, if any")
    report.add_argument("--search", nargs="*", default=[], metavar="NAME=PATH",
                        help="the search's figures (values_figure, samplers_figure), if it ran")
    report.add_argument("--illustrations", nargs="+", required=True, metavar="NAME=PATH",
                        help="the illustration jobs' tables and figures")
    return p


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    getattr(importlib.import_module(f"lessonbench.{STEPS[args.step]}"), f"{args.step}_step")(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
