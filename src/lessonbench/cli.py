"""Command line for the workflow's jobs: `python -m lessonbench STEP JOB`.

JOB is one JSON object, or `@FILE` holding one: `{"input": {...}, "output": {...}, "params": {...}}`, each
`{name: path, value or list}`. The workflow writes it from the rule's own named inputs, outputs and params
(`step()` in common.smk), so a path is spelled once, in the rule. The step is the function `STEP_step(args)` in
the library module STEPS names, imported when that step runs; it reads each entry as `args.NAME`, the settings
files among the inputs (SETTINGS_INPUTS) already read.
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
    "train_experiment": "jobs.experiment",
    "train_chunk": "jobs.experiment",
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


# The inputs that are settings files (JSON the workflow writes, or a spec a job wrote): they reach the step read.
SETTINGS_INPUTS = {"data", "dataset", "spec", "specs", "settings", "base", "sweep", "claims", "models",
                   "section_titles", "words"}
# What a step reads when its job leaves it out: only what is optional by nature (a chunk's seeds, no ledger, ...);
# a value a rule must give (device, threads, store) has none, so a rule that forgets it fails naming it.
DEFAULTS = {"seeds": None, "processes": 1, "templates": "", "ledger": "", "section_titles": {}, "tuned_base": "",
            "sweep_points": [], "claim_figures": [], "sensitivity_figure": [], "verification": [], "code_version": ""}


class JobError(SystemExit):
    """A job a step cannot read: one line naming what is wrong."""


class NotInJob(AttributeError):
    """A name the step reads that its job does not give (getattr with a default still works)."""


def settings(path: str):
    """A settings file (JSON) read into Python values."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError) as err:
        raise JobError(f"lessonbench: {path}: not a readable JSON settings file ({err})") from None


class Job(argparse.Namespace):
    """A step's inputs, outputs and params as attributes; a name the job does not give is an error naming it."""

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        if name in DEFAULTS:
            return DEFAULTS[name]
        raise NotInJob(f"the job gives no {name!r}; it has {sorted(vars(self))}")


def read_job(text: str) -> Job:
    """The Job of a JSON job (`@FILE`: the JSON in FILE)."""
    try:
        job = json.loads(Path(text[1:]).read_text() if text.startswith("@") else text)
    except (OSError, ValueError) as err:
        raise JobError(f"lessonbench: not a JSON job ({err}): {text[:200]}") from None
    values = {}
    for block in ("input", "output", "params"):
        for name, value in job.get(block, {}).items():
            if name in values:
                raise JobError(f"lessonbench: the job gives {name!r} twice (an input, output or param each once)")
            if block == "input" and name in SETTINGS_INPUTS:
                value = [settings(v) for v in value] if isinstance(value, list) else settings(value)
            values[name] = value
    return Job(**values)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m lessonbench", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("step", choices=STEPS, help="the workflow step (the rule of the same name)")
    p.add_argument("job", help="the job as JSON, or @FILE")
    p.add_argument("values", nargs="*", metavar="NAME=VALUE",
                   help="params added to the job's, each value JSON (what Snakemake knows only as the job starts: "
                        "processes={threads})")
    return p


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    job = read_job(args.job)
    for item in args.values:
        name, _, value = item.partition("=")
        setattr(job, name, json.loads(value))
    try:
        getattr(importlib.import_module(f"lessonbench.{STEPS[args.step]}"), f"{args.step}_step")(job)
    except NotInJob as err:  # a rule and its step disagree: one line naming what is missing
        raise JobError(f"lessonbench {args.step}: {err}") from None
    return 0


if __name__ == "__main__":
    sys.exit(main())
