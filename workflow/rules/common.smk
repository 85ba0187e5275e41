# The workflow's adapter to its plan (src/lessonbench/planning/, plain Python, tested there): the plan is built
# once, validated before any job; the rules read their files and settings from it. Each rule hands its step one JSON
# job made of the rule's own named inputs, outputs and params (`step()`), so a path is spelled once, in the rule.
import functools
import inspect
import os
import sys
from pathlib import Path

SRC = str(Path(workflow.basedir) / "src")  # the top-level Snakefile -> the checkout's src/
sys.path.insert(0, SRC)
# Jobs run this Python (the one running Snakemake, e.g. .venv's, even if not activated) and import the library
# from this checkout. With `--software-deployment-method conda`, jobs run the rule's conda environment's Python.
from snakemake.io import apply_wildcards
from snakemake.settings.types import DeploymentMethod

if DeploymentMethod.CONDA in workflow.deployment_settings.deployment_method:
    shell.prefix(f"export PYTHONPATH={SRC}:$PYTHONPATH; ")
else:
    shell.prefix(f"export PATH={Path(sys.executable).parent}:$PATH PYTHONPATH={SRC}:$PYTHONPATH; ")
from lessonbench import planning
from lessonbench.cli import STEPS
from lessonbench.imports import source_files
from lessonbench.planning import FIGURES, PlannedJob, run_files, tables
from lessonbench.spec.config import config_hash
from lessonbench.spec.files import ConfigError

try:
    PLAN = planning.Plan(config)
except ConfigError as err:  # one message on stderr, no traceback into the workflow's code
    sys.exit(f"lessonbench: invalid experiment file: {err}")
SEARCH, SWEEPS, STORE = PLAN.search, PLAN.sweeps, PLAN.store
# Training and search ask the scheduler for a GPU when config says `device: cuda`.
GPUS = 1 if config["device"] == "cuda" else 0
# Every rule's software: the project's own environment (`--software-deployment-method conda`); in step with
# pyproject.toml (a test checks), but never built here, where conda's channels cannot be reached.
CONDA_ENV = str(Path(workflow.basedir) / "environment.yml")
# Each step's code inputs: the module that holds its command (cli.STEPS) and everything it imports from the
# package, transitively: a real edit reruns the steps that import the edited module and only those (checksummed).
# Paths into the checkout are relative to the working directory, another lesson's folder where one is built.
HOME = Path(os.path.relpath(workflow.basedir))
CODE = {name: source_files(HOME / "src/lessonbench", [module]) for name, module in STEPS.items()}
# The report's Jinja2 template and stylesheet (config `report_templates`): an edit reruns the render only.
TEMPLATES = os.path.relpath(Path(workflow.basedir) / (config.get("report_templates") or "report_templates"))
STEP = "python -m lessonbench {params.step} {params.job:q} > {log:q} 2>&1"
# A training step trains in as many processes as its job has threads, known once Snakemake knows what reruns.
TRAINING_STEP = "python -m lessonbench {params.step} {params.job:q} processes={threads} > {log:q} 2>&1"


def step(name, **values):
    """A rule's params: the step it runs (`name`: the rule's own, a test checks), `values` as Snakemake params
    (a changed one reruns the job; a function of `input` or `output` is derived from them and never compared) and
    `job`, the JSON the step reads (cli.read_job)."""

    def job(wildcards, input, output):
        return planning.job_json(dict(input.items()), dict(output.items()), {
            key: call(value, wildcards, input=input, output=output) if callable(value)
            else apply_wildcards(value, wildcards) if isinstance(value, str) else value  # as Snakemake's own
            for key, value in values.items()})

    return {"step": name} | values | {"job": job}


def call(function, wildcards, **named):
    """A param function called as Snakemake calls it: wildcards first, `input`/`output` by name if it asks."""
    asked = list(inspect.signature(function).parameters)
    first = [wildcards] if asked and asked[0] not in named else []
    return function(*first, **{arg: named[arg] for arg in asked if arg in named})


def folder(name):
    """A param: the folder of the named input's (or output's) first file."""
    return lambda wildcards, input, output: str(Path(({**dict(input.items()), **dict(output.items())})[name][0]).parent)


def settings(name):
    """The path of a settings file (rules.write_settings writes it from the plan)."""
    return PLAN.settings_file(name)


def train_threads(wildcards):
    """How many processes a training job trains in on this machine (planning.train_threads): asked once Snakemake
    knows which jobs must run; one on a cluster, without --cores, or on a GPU."""
    try:
        cores, needrun = int(workflow.cores), list(workflow.dag.needrun_jobs())
    except (WorkflowError, AttributeError, TypeError):  # no --cores (a cluster executor with --jobs); no DAG yet
        return 1
    if not workflow.local_exec or config["device"] != "cpu":
        return 1
    jobs = [PlannedJob(job.rule.name, dict(job.wildcards.items())) for job in needrun]
    me = PlannedJob("train_experiment" if "experiment" in wildcards.keys() else "train_sweep", dict(wildcards.items()))
    return planning.train_threads(PLAN, me, jobs, cores, points_kept=points_kept)


@functools.cache
def points_kept(sweep, new_data):
    """Whether the store keeps every point of the sweep (planning.sweep_points_kept), asked once a run."""
    return planning.sweep_points_kept(PLAN, sweep, new_data)


def get_final_output():
    return ["results/report/report.pdf", "results/report/report.html"]
