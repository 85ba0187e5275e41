# Shared state of the workflow: the resolved experiments (validated before any job),
# the library sources each step runs, and the final targets.
import sys
from pathlib import Path

SRC = str(Path(workflow.basedir).parent / "src")  # workflow/Snakefile -> the checkout's src/
sys.path.insert(0, SRC)
# Jobs run this Python (the one running Snakemake, e.g. .venv's, even if not activated)
# and import the library from this checkout, whatever else is installed.
shell.prefix(f"export PATH={Path(sys.executable).parent}:$PATH PYTHONPATH={SRC}:$PYTHONPATH; ")
from lessonbench.config import (
    ConfigError,
    canonical_json,
    config_hash,
    resolve_experiments,
    resolve_claims,
    resolve_illustrations,
    resolve_search,
    resolve_sweeps,
    training_spec,
)

try:
    DATA, SPECS = resolve_experiments(config["experiment_files"])
    ILLUSTRATIONS = resolve_illustrations(config["illustrations_file"], SPECS)
    # `--config search_file=null` arrives as the text "null"
    SEARCH_FILE = config.get("search_file")
    SEARCH = resolve_search(SEARCH_FILE, SPECS) if SEARCH_FILE not in (None, "", "null", "none") else None
    if SEARCH and "tuned" in SPECS:
        raise WorkflowError("an experiment is called 'tuned', the name the search gives its choice; rename it")
    EXPERIMENTS = list(SPECS)
    SWEEPS_FILE = config.get("sweeps_file")
    SWEEPS = resolve_sweeps(SWEEPS_FILE, SPECS) if SWEEPS_FILE not in (None, "", "null", "none") else []
    # Experiments with runs: the configured ones, the search's choice when there is a search, and each
    # sweep's best point (`<sweep>_best`).
    SWEEP_BEST = [f"{sweep['id']}_best" for sweep in SWEEPS]
    clash = set(SWEEP_BEST) & set(SPECS)
    if clash:
        raise WorkflowError(f"experiment(s) {sorted(clash)} have the name a sweep gives its best point; rename them")
    RUNS = EXPERIMENTS + (["tuned"] if SEARCH else []) + SWEEP_BEST
    CLAIMS_FILE = config.get("claims_file")
    CLAIMS, CLAIMS_LEFT_OUT = (
        resolve_claims(CLAIMS_FILE, RUNS, later=lambda exp: exp == "tuned" or exp.endswith("_best"))
        if CLAIMS_FILE not in (None, "", "null", "none") else ([], []))
except ConfigError as err:
    raise WorkflowError(f"invalid experiment file: {err}") from None

SEARCHES = [f"{strategy}-{seed}" for strategy in ("random", "tpe") for seed in SEARCH["search_seeds"]] if SEARCH else []
VERIFY = config.get("verify_experiment", EXPERIMENTS[-1])
if VERIFY not in SPECS:
    raise WorkflowError(f"config: verify_experiment: {VERIFY!r} is not an experiment; expected one of {EXPERIMENTS}")
SECTIONS = list(dict.fromkeys([spec["section"] for spec in SPECS.values()] + ([SEARCH["tuned"]["section"]] if SEARCH else [])
                               + (["sensitivity"] if SWEEPS else [])))
# Training and search ask the scheduler for a GPU when config says `device: cuda`.
GPUS = 1 if config["device"] == "cuda" else 0
LIB = "src/lessonbench/"
# Source files each step runs: inputs, so a real edit reruns the step (checksummed, a touch does not).
CODE = {
    "data": [LIB + f for f in ("cli.py", "data.py", "fileio.py")],
    "train": [LIB + f for f in ("__init__.py", "cli.py", "data.py", "fileio.py", "experiment.py", "training.py",
                                "stacked.py", "models.py", "registries.py")],
    "search": [LIB + f for f in ("__init__.py", "cli.py", "data.py", "fileio.py", "search.py", "training.py",
                                 "stacked.py", "models.py", "registries.py", "config.py")],
    "search_summary": [LIB + f for f in ("cli.py", "fileio.py", "figures_search.py", "figures.py", "data.py")],
    "tables": [LIB + f for f in ("cli.py", "fileio.py", "tables.py", "stats.py", "sweeps.py")],
    "claims": [LIB + f for f in ("cli.py", "fileio.py", "claims.py", "stats.py", "config.py")],
    "sweep": [LIB + f for f in ("__init__.py", "cli.py", "data.py", "fileio.py", "sweeps.py", "experiment.py",
                                "training.py", "stacked.py", "models.py", "registries.py")],
    "claim_figures": [LIB + f for f in ("cli.py", "fileio.py", "figures_claims.py", "figures.py", "stats.py",
                                        "data.py")],
    "figures": [LIB + f for f in ("cli.py", "fileio.py", "figures.py", "data.py", "stats.py")],
    "illustrations": [LIB + f for f in ("cli.py", "fileio.py", "illustrations.py", "figures_lesson.py",
                                        "figures.py", "models.py", "registries.py", "data.py")],
    "verify": [LIB + f for f in ("cli.py", "fileio.py", "verify.py", "provenance.py")],
    "report": [LIB + f for f in ("cli.py", "fileio.py", "report.py", "provenance.py", "stats.py", "claims.py",
                                 "config.py")]
    + ["report_templates/report.html.j2", "report_templates/report.css"],
}


def files_hash(paths) -> str:
    """Short SHA-256 of the files' contents: names a search study after the code that fills it."""
    import hashlib

    digest = hashlib.sha256()
    for path in paths:
        digest.update(Path(path).read_bytes())
    return digest.hexdigest()[:12]


def get_training_spec(wildcards):
    """The part of one experiment that changes its numbers, in canonical JSON (key order ignored)."""
    return canonical_json(training_spec(SPECS[wildcards.experiment]))


def get_verification(wildcards):
    """The determinism record, once `snakemake verify` has written one, so the report can cite it."""
    path = f"results/verify/{VERIFY}.json"
    return [path] if Path(path).exists() else []


SWEEP_BY_ID = {sweep["id"]: sweep for sweep in SWEEPS}


def get_sweep(wildcards):
    """One sweep's resolved settings in canonical JSON (its params: an edit reruns that sweep only)."""
    return canonical_json(SWEEP_BY_ID[wildcards.sweep])


def get_sweep_experiment_files(wildcards):
    """The swept experiment's run files: the point at its own value is read back from them."""
    exp = SWEEP_BY_ID[wildcards.sweep]["experiment"]
    return {name: f"results/runs/{exp}/{name}.{ext}" for name, ext in
            (("history", "parquet"), ("runs", "parquet"), ("test_probs", "parquet"), ("weights", "pt"),
             ("timing", "json"))}


def get_final_output():
    return ["results/report/report.pdf", "results/report/report.html"]
