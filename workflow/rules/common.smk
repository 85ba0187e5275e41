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
    # Experiments with runs: the configured ones, and the search's choice when there is a search.
    RUNS = EXPERIMENTS + (["tuned"] if SEARCH else [])
    CLAIMS_FILE = config.get("claims_file")
    CLAIMS, CLAIMS_LEFT_OUT = (resolve_claims(CLAIMS_FILE, RUNS, later=("tuned",))
                               if CLAIMS_FILE not in (None, "", "null", "none") else ([], []))
except ConfigError as err:
    raise WorkflowError(f"invalid experiment file: {err}") from None

SEARCHES = [f"{strategy}-{seed}" for strategy in ("random", "tpe") for seed in SEARCH["search_seeds"]] if SEARCH else []
VERIFY = config.get("verify_experiment", EXPERIMENTS[-1])
if VERIFY not in SPECS:
    raise WorkflowError(f"config: verify_experiment: {VERIFY!r} is not an experiment; expected one of {EXPERIMENTS}")
SECTIONS = list(dict.fromkeys([spec["section"] for spec in SPECS.values()] + ([SEARCH["tuned"]["section"]] if SEARCH else [])))
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
    "tables": [LIB + f for f in ("cli.py", "fileio.py", "tables.py", "stats.py")],
    "claims": [LIB + f for f in ("cli.py", "fileio.py", "claims.py", "stats.py", "config.py")],
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


def get_final_output():
    return ["results/report/report.pdf", "results/report/report.html"]
