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

STEPS = {
    "prepare-data": "lessonbench.data:prepare_data_step",
    "train": "lessonbench.experiment:train_step",
    "combine-chunks": "lessonbench.experiment:combine_step",
    "collect": "lessonbench.tables:collect_step",
    "claims": "lessonbench.claims:claims_step",
    "sweep": "lessonbench.sweeps:sweep_step",
    "sensitivity-figure": "lessonbench.figures_claims:sensitivity_figure_step",
    "claim-figures": "lessonbench.figures_claims:claim_figures_step",
    "figures": "lessonbench.figures:figures_step",
    "report": "lessonbench.report:report_step",
    "verify": "lessonbench.verify:verify_step",
    "check-verification": "lessonbench.verify:check_step",
    "optimizer-paths": "lessonbench.figures_lesson:optimizer_paths_step",
    "activations": "lessonbench.figures_lesson:activations_step",
    "symmetry": "lessonbench.figures_lesson:symmetry_step",
    "model-summaries": "lessonbench.figures_lesson:summaries_step",
    "search": "lessonbench.search:search_step",
    "search-worker": "lessonbench.search:worker_step",
    "summarise-search": "lessonbench.figures_search:summarise_search_step",
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

    s = sub.add_parser("prepare-data", help="split digits, fit the scaler")
    s.add_argument("--data", required=True, type=settings, help="data settings file")
    s.add_argument("--split", required=True)
    s.add_argument("--scaler", required=True)
    s.add_argument("--train-val", required=True, help="the split without its test rows, for the search")

    s = sub.add_parser("train", help="train every seed of one experiment")
    s.add_argument("--experiment", required=True)
    spec = s.add_mutually_exclusive_group(required=True)
    spec.add_argument("--spec", type=settings, help="training spec file")
    spec.add_argument("--spec-file", help="a JSON file whose `spec` is the training spec (the search's choice)")
    s.add_argument("--threads", type=int, default=1, help="torch threads (fixed, for bit-identical results)")
    s.add_argument("--device", default="cpu", choices=("cpu", "cuda"), help="where the stacked model trains")
    s.add_argument("--seeds", type=int, nargs="+", help="train these seeds only (a chunk); default all")
    s.add_argument("--store", default="", help="folder of results kept by content (empty: none)")
    for name in ("split", "scaler", "history", "runs", "test-probs", "weights", "timing"):
        s.add_argument(f"--{name}", required=True)

    s = sub.add_parser("combine-chunks", help="an experiment's files from its seed chunks")
    for name in ("history", "runs", "test-probs", "weights", "timing"):
        s.add_argument(f"--{name}", nargs="+", required=True)
        s.add_argument(f"--out-{name}", required=True)

    s = sub.add_parser("verify", help="retrain one experiment in scratch space, compare its files byte for byte")
    s.add_argument("--experiment", required=True)
    s.add_argument("--spec", required=True, type=settings, help="training spec file")
    s.add_argument("--threads", type=int, default=1)
    s.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    for name in ("split", "scaler", "history", "runs", "test-probs", "weights", "output"):
        s.add_argument(f"--{name}", required=True)

    s = sub.add_parser("check-verification", help="fail unless a verification record passed")
    s.add_argument("record")

    s = sub.add_parser("optimizer-paths", help="paths of torch optimizers on f(x, y) = x^2/20 + y^2")
    s.add_argument("--settings", required=True, type=settings, help="optimizer_paths settings file")
    for name in ("table", "figure"):
        s.add_argument(f"--{name}", required=True)

    s = sub.add_parser("activations", help="activation histograms at initialisation")
    s.add_argument("--settings", required=True, type=settings, help="activations settings file")
    for name in ("split", "scaler", "table", "deep-figure", "lesson-figure"):
        s.add_argument(f"--{name}", required=True)

    s = sub.add_parser("symmetry", help="distinct hidden units of trained models")
    s.add_argument("--tolerance", type=float, required=True)
    s.add_argument("--experiments", nargs="+", required=True)
    s.add_argument("--weights", nargs="+", required=True)
    s.add_argument("--table", required=True)

    s = sub.add_parser("model-summaries", help="torchinfo layer tables")
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
    for name in ("train-val", "scaler", "database", "trials", "best", "timing"):
        s.add_argument(f"--{name}", required=True)

    s = sub.add_parser("search-worker", help="one of several workers sharing the lesson's search in a database")
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

    s = sub.add_parser("summarise-search", help="tables and figures of every search")
    s.add_argument("--settings", required=True, type=settings, help="the search settings file")
    s.add_argument("--trials", nargs="+", required=True)
    s.add_argument("--best", nargs="+", required=True)
    s.add_argument("--timing", nargs="+", required=True)
    for name in ("outdir", "values-figure", "samplers-figure"):
        s.add_argument(f"--{name}", required=True)

    s = sub.add_parser("collect", help="tidy tables from every experiment's runs")
    s.add_argument("--specs", nargs="+", required=True, type=settings, help="each experiment's spec file, in order")
    s.add_argument("--spec-files", nargs="*", default=[], help="JSON files whose `spec` is one more experiment")
    s.add_argument("--sweep-points", nargs="*", default=[], help="every sweep's points table")
    s.add_argument("--outdir", required=True)
    for name in ("runs", "history", "test-probs", "timing"):
        s.add_argument(f"--{name}", nargs="+", required=True)

    s = sub.add_parser("claims", help="the lesson's claims checked against the tables")
    s.add_argument("--claims", required=True, type=settings,
                   help="settings file: the resolved claims and those left out (a step they need is off)")
    s.add_argument("--tables", required=True, help="the tables directory (runs, history, specs.json)")
    s.add_argument("--outdir", required=True)

    s = sub.add_parser("sweep", help="one sensitivity sweep: every value x seed, the best chosen on validation")
    s.add_argument("--sweep", required=True, type=settings, help="the resolved sweep's settings file")
    s.add_argument("--store", default="", help="folder of results kept by content (empty: none)")
    s.add_argument("--experiment-files", nargs="+", required=True, metavar="NAME=PATH",
                   help="the swept experiment's files (history, runs, test_probs, weights, timing), read back")
    s.add_argument("--threads", type=int, default=1)
    s.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    for name in ("split", "scaler", "points", "best", "history", "runs", "test-probs", "weights", "timing"):
        s.add_argument(f"--{name}", required=True)

    s = sub.add_parser("sensitivity-figure", help="validation accuracy against each swept value")
    s.add_argument("--tables", required=True)
    s.add_argument("--figure", required=True)

    s = sub.add_parser("claim-figures", help="each claim's pair of experiments drawn together")
    s.add_argument("--tables", required=True)
    s.add_argument("--figures", nargs="*", default=[], help="one PNG per claim, named after the claim's id")

    for step in ("figures", "report"):
        s = sub.add_parser(step)
        for name in ("tables", "leaderboard", "small-multiples", "confusion", "errors", "showcase"):
            s.add_argument(f"--{name}", required=True)
        s.add_argument("--sections", nargs="+", required=True)
        s.add_argument("--section-figures", nargs="+", required=True)
    sub.choices["figures"].add_argument("--split", required=True)
    for name in ("scaler", "config-hash", "html", "pdf"):
        sub.choices["report"].add_argument(f"--{name}", required=True)
    sub.choices["report"].add_argument("--threads", type=int, default=1)
    sub.choices["report"].add_argument("--section-titles", type=settings, default={},
                                       help="settings file: {section: title} from the experiment files")
    sub.choices["report"].add_argument("--ledger", default="", help="CSV of earlier builds, read and appended to")
    sub.choices["report"].add_argument("--claim-figures", nargs="*", default=[], help="CLAIM_ID.png per claim")
    sub.choices["report"].add_argument("--sensitivity-figure", nargs="*", default=[], help="if there are sweeps")
    sub.choices["report"].add_argument("--verification", nargs="*", default=[], help="verification record, if any")
    sub.choices["report"].add_argument("--search", nargs="*", default=[], metavar="NAME=PATH",
                                       help="the search's figures (values_figure, samplers_figure), if it ran")
    sub.choices["report"].add_argument("--illustrations", nargs="+", required=True, metavar="NAME=PATH",
                                       help="the illustration jobs' tables and figures")
    return p


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    module, func = STEPS[args.step].split(":")
    getattr(importlib.import_module(module), func)(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
