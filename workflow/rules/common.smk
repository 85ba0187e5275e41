# Shared state of the workflow: the resolved experiments (validated before any job),
# the library sources each step runs, and the final targets.
import functools
import importlib.metadata
import json
import shlex
import sys
from pathlib import Path

SRC = str(Path(workflow.basedir) / "src")  # the top-level Snakefile -> the checkout's src/
sys.path.insert(0, SRC)
# Jobs run this Python (the one running Snakemake, e.g. .venv's, even if not activated)
# and import the library from this checkout, whatever else is installed.
# With `--software-deployment-method conda`, jobs run the rule's conda environment's Python instead.
from snakemake.settings.types import DeploymentMethod

if DeploymentMethod.CONDA in workflow.deployment_settings.deployment_method:
    shell.prefix(f"export PYTHONPATH={SRC}:$PYTHONPATH; ")
else:
    shell.prefix(f"export PATH={Path(sys.executable).parent}:$PATH PYTHONPATH={SRC}:$PYTHONPATH; ")
from lessonbench.fileio import write_text
from lessonbench.cli import STEPS
from lessonbench import store
from lessonbench.imports import source_files
from lessonbench.spec.config import PROSE, TUNED, config_hash, resolve_experiments, resolve_sections, sweep_point_spec, training_spec
from lessonbench.spec.files import ConfigError, canonical_json
from lessonbench.spec.studies import resolve_claims, resolve_illustrations, resolve_search, resolve_sweeps

try:
    DATA, SPECS = resolve_experiments(config["experiment_files"])
    ILLUSTRATIONS = resolve_illustrations(config["illustrations_file"], SPECS)
    # `--config search_file=null` arrives as the text "null"
    SEARCH_FILE = config.get("search_file")
    SEARCH = resolve_search(SEARCH_FILE, SPECS) if SEARCH_FILE not in (None, "", "null", "none") else None
    if SEARCH and TUNED in SPECS:
        sys.exit(f"lessonbench: an experiment is called {TUNED!r}, the name the search gives its choice; rename it")
    EXPERIMENTS = list(SPECS)
    SWEEPS_FILE = config.get("sweeps_file")
    SWEEPS = resolve_sweeps(SWEEPS_FILE, SPECS) if SWEEPS_FILE not in (None, "", "null", "none") else []
    # Experiments with runs: the configured ones, the search's choice when there is a search, and each
    # sweep's best point (`<sweep>_best`).
    SWEEP_BEST = [f"{sweep['id']}_best" for sweep in SWEEPS]
    clash = set(SWEEP_BEST) & set(SPECS)
    if clash:
        sys.exit(f"lessonbench: experiment(s) {sorted(clash)} have the name a sweep gives its best point; rename them")
    TRAINED = EXPERIMENTS + ([TUNED] if SEARCH else [])  # what train_experiment trains
    RUNS = TRAINED + SWEEP_BEST
    CLAIMS_FILE = config.get("claims_file")
    CLAIMS, CLAIMS_LEFT_OUT = (
        resolve_claims(CLAIMS_FILE, RUNS, later=lambda exp: exp == TUNED or exp.endswith("_best"))
        if CLAIMS_FILE not in (None, "", "null", "none") else ([], []))
except ConfigError as err:  # one message on stderr, no traceback into the workflow's code
    sys.exit(f"lessonbench: invalid experiment file: {err}")

SEARCHES = [f"{strategy}-{seed}" for strategy in ("random", "tpe") for seed in SEARCH["search_seeds"]] if SEARCH else []
VERIFY = config.get("verify_experiment", EXPERIMENTS[-1])
if VERIFY not in SPECS:
    sys.exit(f"lessonbench: config: verify_experiment: {VERIFY!r} is not an experiment; expected one of {EXPERIMENTS}")
SECTIONS = list(dict.fromkeys([spec["section"] for spec in SPECS.values()] + ([SEARCH["tuned"]["section"]] if SEARCH else [])
                               + (["sensitivity"] if SWEEPS else [])))
# Training and search ask the scheduler for a GPU when config says `device: cuda`.
GPUS = 1 if config["device"] == "cuda" else 0
# Every rule's software: the project's own environment (`--software-deployment-method conda`); in step with
# pyproject.toml (a test checks), but never built here, where conda's channels cannot be reached.
CONDA_ENV = str(Path(workflow.basedir) / "environment.yml")
# Results kept by content (store.py): training and sweep jobs reuse them when the same job comes back.
# `--config store=null` arrives as the text "null": no store, as for the other optional files
STORE = "" if config.get("store") in (None, "", "null", "none") else config["store"]
LIB = "src/lessonbench/"
# Each step's code inputs: the module that holds its command (cli.STEPS, keyed by the step's one name: the rule's
# and the command's) and everything it imports from the package, transitively (imports.py reads them with ast):
# a real edit reruns the steps that import the edited module and only those (checksummed: a touch reruns nothing).
CODE = {step: source_files(LIB, [module]) for step, module in STEPS.items()}
# The report's Jinja2 template and stylesheet (config `report_templates`): an edit reruns the render only.
TEMPLATES = config.get("report_templates") or "report_templates"
TEMPLATE_FILES = [f"{TEMPLATES}/report.html.j2", f"{TEMPLATES}/report.css"]


def get_templates_dir(wildcards, input):
    """The folder of the render step's template files, as the render command's --templates."""
    return str(Path(input.templates[0]).parent)


def files_hash(paths) -> str:
    """Short SHA-256 of the files' contents: names a search study after the code that fills it."""
    import hashlib

    digest = hashlib.sha256()
    for path in paths:
        digest.update(Path(path).read_bytes())
    return digest.hexdigest()[:12]


# Each job's settings reach it as a small JSON file under results/settings/, written here whenever its
# content changes (and only then): an input, so an edit reruns the jobs that read it, a reordered YAML
# (same canonical JSON) reruns nothing, and `snakemake -n` names the file that changed instead of
# printing the whole settings twice as a params change. Never an output: no job writes them.
SETTINGS = Path("results/settings")


def settings_file(kind: str, name: str, value) -> str:
    """Write `value` as canonical JSON to results/settings/KIND/NAME.json if it differs; return the path."""
    path = SETTINGS / kind / f"{name}.json"
    text = canonical_json(value) + "\n"
    if not path.exists() or path.read_text() != text:
        write_text(text, path)  # atomic
    return str(path)


DATA_SETTINGS = settings_file("data", "split", DATA)
# the full spec (titles too) feeds the tables; the training part alone feeds training, so a title edit retrains nothing
SPEC_FILES = {exp: settings_file("specs", exp, spec) for exp, spec in SPECS.items()}
TRAINING_FILES = {exp: settings_file("training", exp, training_spec(spec)) for exp, spec in SPECS.items()}


# The search's choice and each sweep's best point have spec files too, written by those steps; training
# reads the search's (train_experiment trains `tuned`), the tables read all of them.
CHOSEN_SPEC_FILES = ({TUNED: f"results/search/random-{SEARCH['search_seeds'][0]}/spec.json"} if SEARCH else {}) | {
    f"{sweep['id']}_best": f"results/sweeps/{sweep['id']}/spec.json" for sweep in SWEEPS}
TRAINING_FILES |= {exp: path for exp, path in CHOSEN_SPEC_FILES.items() if exp == TUNED}
RUN_SPEC_FILES = SPEC_FILES | CHOSEN_SPEC_FILES
# the same without titles and descriptions, for the steps that compute (collect_tables, check_claims): a title
# edit reruns label_tables and the report only (the search's and sweeps' files hold no prose a user writes)
NUMBER_SPEC_FILES = {exp: settings_file("numbers", exp, {k: v for k, v in spec.items() if k not in PROSE})
                     for exp, spec in SPECS.items()} | CHOSEN_SPEC_FILES


def get_training_spec(wildcards):
    """The settings file of the part of one experiment that changes its numbers (the search's choice: its spec)."""
    return TRAINING_FILES[wildcards.experiment]


# The files one training run writes (an experiment's, a seed chunk's, a sweep's best point), named once.
RUN_FILES = {"history": "history.parquet", "runs": "runs.parquet", "test_probs": "test_probs.parquet",
             "weights": "weights.pt", "timing": "timing.json"}
DETERMINISTIC_RUN_FILES = [name for name in RUN_FILES if name != "timing"]  # wall times are not


def run_files(folder, names=tuple(RUN_FILES)):
    """{name: path} of a run's files in `folder` (a pattern like results/runs/{experiment})."""
    return {name: f"{folder}/{RUN_FILES[name]}" for name in names}


def run_options(block="output", names=tuple(RUN_FILES), prefix=""):
    """A run's files as a step's options: '--history {output.history:q} --runs {output.runs:q} ...'."""
    return " ".join(f"--{prefix}{name.replace('_', '-')} {{{block}.{name}:q}}" for name in names)


def all_runs(name):
    """One of the run files of every experiment with runs, in order."""
    return [run_files(f"results/runs/{exp}")[name] for exp in RUNS]


# The one train command: train_experiment runs it for an experiment, train_chunk for some of its seeds.
TRAIN_COMMAND = ("python -m lessonbench train_experiment --experiment {wildcards.experiment} --spec {input.spec:q}"
                 " --threads {params.threads} --device {params.device} --store={params.store:q}"
                 f" --split {{input.split:q}} --scaler {{input.scaler:q}} {run_options()}")


CLAIMS_SETTINGS = settings_file("claims", "claims", {"claims": CLAIMS, "left_out": CLAIMS_LEFT_OUT})


def get_search_figures(wildcards, input):
    """The report's --search argument: the search's figures, when there is a search."""
    return f"values_figure={input.search_values} samplers_figure={input.search_samplers}" if SEARCH else ""


def get_verification(wildcards):
    """The determinism record, once `snakemake verify` has written one, so the report can cite it."""
    path = f"results/verify/{VERIFY}.json"
    return [path] if Path(path).exists() else []


SWEEP_BY_ID = {sweep["id"]: sweep for sweep in SWEEPS}
def numbers_only(spec: dict) -> dict:
    """A spec without its title, description, section and origin: what a sweep or search job needs of its
    experiment, so a title edit reruns neither."""
    return {**training_spec(spec), "id": spec["id"]}


SWEEP_FILES = {sweep["id"]: settings_file("sweeps", sweep["id"], {**sweep, "spec": numbers_only(sweep["spec"])})
               for sweep in SWEEPS}


def get_sweep(wildcards):
    """One sweep's settings file (an edit reruns that sweep only)."""
    return SWEEP_FILES[wildcards.sweep]


def sweep_reads_experiment(sweep_id):
    """Whether the sweep's grid holds the experiment's own value: should it win, the best value's run is the
    experiment's own, read back from its run files."""
    sweep = SWEEP_BY_ID[sweep_id]
    return sweep["lesson_value"] in sweep["values"]


def get_sweep_experiment_files(wildcards):
    """The swept experiment's run files when the sweep may read them back (its grid holds the experiment's value);
    none otherwise, and the sweep runs beside the experiment instead of after it (an lr edit off the grid)."""
    if not sweep_reads_experiment(wildcards.sweep):
        return {}
    return run_files(f"results/runs/{SWEEP_BY_ID[wildcards.sweep]['experiment']}")


def get_sweep_experiment_option(wildcards, input):
    """--experiment-files NAME=PATH ... for the files get_sweep_experiment_files gave, or nothing."""
    names = [name for name in RUN_FILES if name in input.keys()]
    return " ".join(["--experiment-files", *(f"{name}={shlex.quote(input[name])}" for name in names)]) if names else ""


def get_final_output():
    return ["results/report/report.pdf", "results/report/report.html"]


# Seed chunks (train.smk): with `seed_chunk: N`, an experiment's seeds train N at a time.
SEED_CHUNK = config.get("seed_chunk")


SEEDS = {exp: spec["seeds"] for exp, spec in SPECS.items()} | ({TUNED: SEARCH["base_spec"]["seeds"]} if SEARCH else {})


def chunk_seeds(experiment):
    """{chunk index: seeds} of one experiment."""
    seeds = list(range(SEEDS[experiment]))
    return {i: seeds[start:start + SEED_CHUNK] for i, start in enumerate(range(0, len(seeds), SEED_CHUNK))}


# The steps that train: with cores to spare, the experiments among them share the cores (get_train_threads).
TRAINING_STEPS = {"train_experiment", "train_chunk", "train_sweep", "search", "search_worker"}


def get_train_threads(wildcards):
    """The cores of a job that trains several stacks (an experiment's seeds, a sweep's points): more than one
    only when few of them run (one experiment edited, say) and the jobs run on this machine. The experiments
    about to retrain and the sweeps that train beside them share the cores the searches leave; a sweep that
    reads back an experiment about to retrain runs after it, and the sweeps that wait so share the cores then.
    A sweep whose every point the store keeps trains nothing: it takes one core and counts for none
    (sweep_points_kept). Each job trains in that many processes, on cores that would otherwise idle; the
    files are the same (a seed's numbers do not depend on which seeds share its stack; a point is one stack).
    When many retrain (a clean run), each trains in one process, where a stack of ten seeds is most efficient.

    Snakemake asks once it knows which jobs need to run (the DAG); a job on a cluster keeps one core. Only the
    wall time depends on the answer."""
    try:
        cores = workflow.cores
        needrun = list(workflow.dag.needrun_jobs())
    except (WorkflowError, AttributeError):  # no --cores (a cluster executor with --jobs); no DAG yet
        return 1
    jobs = [job for job in needrun if job.rule.name in TRAINING_STEPS]
    if not workflow.local_exec or config["device"] != "cpu" or not jobs:
        return 1
    experiments = [job for job in jobs if job.rule.name == "train_experiment"]
    retraining = {job.wildcards.experiment for job in experiments}
    sweeps = [job.wildcards.sweep for job in jobs if job.rule.name == "train_sweep"]
    waiting = [sweep for sweep in sweeps if sweep_reads_experiment(sweep)
               and SWEEP_BY_ID[sweep]["experiment"] in retraining]
    new_data = any(job.rule.name == "prepare_data" for job in needrun)
    beside = [sweep for sweep in sweeps if sweep not in waiting and not sweep_points_kept(sweep, new_data)]
    fixed = len(jobs) - len(experiments) - len(sweeps)  # searches, seed chunks: one core each
    if "experiment" in wildcards.keys():
        units, peers = SEEDS[wildcards.experiment], len(experiments) + len(beside)
    elif wildcards.sweep in waiting + beside:
        units = len(SWEEP_BY_ID[wildcards.sweep]["values"])
        peers = len(waiting) if wildcards.sweep in waiting else len(experiments) + len(beside)
    else:
        return 1
    return max(1, min((int(cores) - fixed) // peers, units))


@functools.cache
def sweep_points_kept(sweep_id, new_data):
    """Whether the store holds every point of the sweep (its tuning seeds at each value), under the keys
    the sweep job will ask for (store.sweep_point_key, with its settings file, data files and code). Only the
    cores the experiments get depend on the answer, never a file."""
    split, scaler = "results/data/split.parquet", "results/data/scaler.json"
    if not STORE or new_data or not (Path(split).exists() and Path(scaler).exists()):
        return False
    sweep = json.loads(Path(SWEEP_FILES[sweep_id]).read_text())  # what the job reads
    seeds, version = sweep["tuning_seeds"], importlib.metadata.version("torch")
    return all(
        store.has(STORE, store.sweep_point_key(training_spec(sweep_point_spec(sweep, value)),
                                               seeds, config["device"], {"split": split, "scaler": scaler},
                                               config["torch_threads"], torch_version=version))
        for value in sweep["values"])


def get_chunk_seeds(wildcards):
    """The seeds of one chunk, as the train command's --seeds."""
    return " ".join(map(str, chunk_seeds(wildcards.experiment)[int(wildcards.chunk)]))


def get_chunk_files(wildcards):
    """Each run file of every chunk of one experiment: {name: [path per chunk]}."""
    chunks = [run_files(f"results/runs/{wildcards.experiment}/chunks/{i}") for i in chunk_seeds(wildcards.experiment)]
    return {name: [chunk[name] for chunk in chunks] for name in RUN_FILES}


# The search (search.smk): its settings and base experiment as settings files; several workers can share
# the lesson's (random) search through a database (search_storage): on a cluster they run as separate
# jobs at once; the `search` job then reads the finished study.
SEARCH_WORKERS = config.get("search_workers") or 1
if SEARCH:
    SEARCH_SETTINGS_FILE = settings_file("search", "settings",
                                         {key: value for key, value in SEARCH.items() if key != "base_spec"})
    SEARCH_BASE_FILE = settings_file("search", "base", numbers_only(SEARCH["base_spec"]))
    if SEARCH_WORKERS > 1 and not config.get("search_storage"):
        raise WorkflowError("config: search_workers > 1 needs search_storage, a database URL the workers share "
                            "(e.g. postgresql://user:password@host/database); SQLite is for one worker")


def worker_outputs(wildcards):
    if wildcards.strategy != "random" or SEARCH_WORKERS == 1:
        return []
    return [f"results/search/random-{wildcards.seed}/worker-{w}.json" for w in range(SEARCH_WORKERS)]


def get_output_dir(wildcards, output):
    """The folder of a step's first output (the tables folder for the table steps)."""
    return str(Path(output[0]).parent)


def get_tables_dir(wildcards, input):
    """The folder of the tables a step reads."""
    return str(Path(input.tables[0]).parent)


# The lesson's illustrations (illustrations.smk): each picture's settings in a file of its own, so changing
# one setting redraws only that picture and the report.
SYMMETRY = ILLUSTRATIONS["symmetry"]


def ordered_settings(block: str, ordered: str) -> dict:
    """A settings block with the entries of `ordered` kept in file order as [name, value] pairs."""
    settings = dict(ILLUSTRATIONS[block])
    settings[ordered] = [[name, value] for name, value in settings[ordered].items()]
    return settings


ILLUSTRATION_FILES = {
    "optimizer_paths": settings_file("illustrations", "optimizer_paths",
                                     ordered_settings("optimizer_paths", "optimizers")),
    "activations": settings_file("illustrations", "activations", ordered_settings("activations", "cases")),
    "models": settings_file("illustrations", "models", {exp: spec["model"] for exp, spec in SPECS.items()}),
}


# Section titles from the experiment files' `sections:` blocks (the report's headings).
SECTION_TITLES = resolve_sections(config["experiment_files"])
SECTION_TITLES_FILE = settings_file("report", "section_titles", {s: SECTION_TITLES.get(s) for s in SECTIONS})


# What the table, figure and claim steps write, named once for the rules that write and read them.
CLAIM_FIGURES = [f"results/figures/claims/{claim['id']}.png" for claim in CLAIMS]
FIGURES = {
    "leaderboard": "results/figures/leaderboard.png",
    "small_multiples": "results/figures/curves_all.png",
    "confusion": "results/figures/confusion.png",
    "errors": "results/figures/errors.png",
}
SECTION_FIGURES = [f"results/figures/curves_{section}.png" for section in SECTIONS]
SENSITIVITY_FIGURE = ["results/figures/sensitivity.png"] if SWEEPS else []
# collect_tables writes the numbers (no experiment's title or description in them); label_tables adds the words
TABLES = ["history", "runs", "test_probs", "scores", "comparisons", "timings", "showcase", "data"]
TABLES += ["tuned_vs_base"] if SEARCH else []
TABLES += ["sweep_points", "sweep_summary"] if SWEEPS else []
LABELLED_TABLES = ["experiments", "leaderboard"]
SEARCH_TABLES = ["search_trials", "search_rounds", "search_samplers", "search_choice", "search_timings"]
