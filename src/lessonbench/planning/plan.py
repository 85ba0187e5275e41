"""The plan itself: the experiments, runs, settings files and outputs a runtime config asks for."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from lessonbench.engine.data import data_file
from lessonbench.spec.config import PROSE, TUNED, resolve_experiments, resolve_sections, resolve_words
from lessonbench.spec.files import ConfigError, canonical_json
from lessonbench.spec.studies import resolve_claims, resolve_illustrations, resolve_search, resolve_sweeps

# The files one training run writes (an experiment's, a seed chunk's, a sweep's best point), named once.
RUN_FILES = {"history": "history.parquet", "runs": "runs.parquet", "test_probs": "test_probs.parquet",
             "weights": "weights.pt", "timing": "timing.json"}
DETERMINISTIC_RUN_FILES = [name for name in RUN_FILES if name != "timing"]  # wall times are not
SETTINGS = "results/settings"
# The report's figures that draw_figures writes (the section curves and the rest are listed by the plan).
FIGURES = {"leaderboard": "results/figures/leaderboard.png", "small_multiples": "results/figures/curves_all.png",
           "confusion": "results/figures/confusion.png", "errors": "results/figures/errors.png"}
LABELLED_TABLES = ["experiments", "leaderboard"]
SEARCH_TABLES = ["search_trials", "search_rounds", "search_samplers", "search_choice", "search_timings"]
CLAIM_TABLES = ["claims", "claim_seeds", "claims_left_out", "claim_timings"]


def given(config: dict, key: str):
    """A config value, None where it is left out (`--config search_file=null` arrives as the text "null")."""
    value = config.get(key)
    return None if value in (None, "", "null", "none") else value


def without_words(spec: dict) -> dict:
    """A spec without its title and description: what every step that computes reads, so that a title edit
    reruns only the steps that print words (label_tables, the report)."""
    return {key: value for key, value in spec.items() if key not in PROSE}


def digest(text: str) -> str:
    """The short SHA-256 that names a settings file after its text."""
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def run_files(folder: str, names=tuple(RUN_FILES)) -> dict[str, str]:
    """{name: path} of a run's files in `folder` (a pattern like results/runs/{experiment})."""
    return {name: f"{folder}/{RUN_FILES[name]}" for name in names}


@dataclass
class Plan:
    """What the workflow runs, resolved from the runtime config and the files it names (validated first)."""

    config: dict
    data: dict = field(init=False)
    specs: dict = field(init=False)
    illustrations: dict | None = field(init=False)
    search: dict | None = field(init=False)
    sweeps: list = field(init=False)
    claims: list = field(init=False)
    claims_left_out: list = field(init=False)
    section_titles: dict = field(init=False)
    words: dict = field(init=False)

    def __post_init__(self):
        config = self.config
        self.data, self.specs = resolve_experiments(config["experiment_files"])
        illustrations_file = given(config, "illustrations_file")
        self.illustrations = resolve_illustrations(illustrations_file, self.specs) if illustrations_file else None
        search_file, sweeps_file, claims_file = (given(config, k) for k in ("search_file", "sweeps_file",
                                                                            "claims_file"))
        self.search = resolve_search(search_file, self.specs) if search_file else None
        if self.search and TUNED in self.specs:
            raise ConfigError("config", "experiment_files",
                              f"an experiment is called {TUNED!r}, the name the search gives its choice; rename it")
        self.sweeps = resolve_sweeps(sweeps_file, self.specs) if sweeps_file else []
        clash = set(self.sweep_best) & set(self.specs)
        if clash:
            raise ConfigError("config", "experiment_files", f"experiment(s) {sorted(clash)} have the name a sweep "
                              "gives its best point; rename them")
        self.claims, self.claims_left_out = (
            resolve_claims(claims_file, self.runs, later=lambda exp: exp == TUNED or exp.endswith("_best"),
                           swept=self.swept)
            if claims_file else ([], []))
        if self.verify not in self.specs:
            raise ConfigError("config", "verify_experiment",
                              f"{self.verify!r} is not an experiment; expected one of {self.experiments}")
        if self.search and self.search_workers > 1 and not given(config, "search_storage"):
            raise ConfigError("config", "search_workers", "more than 1 needs search_storage, a database URL the "
                              "workers share (e.g. postgresql://user:password@host/database); SQLite is for one")
        self.section_titles = resolve_sections(config["experiment_files"])
        self.words = resolve_words(config["experiment_files"])

    # --- what runs ---------------------------------------------------------------------------------------
    @property
    def experiments(self) -> list[str]:
        return list(self.specs)

    @property
    def swept(self) -> dict[str, list[str]]:
        """{experiment: the keys its sweeps vary}."""
        out: dict[str, list[str]] = {}
        for sweep in self.sweeps:
            out.setdefault(sweep["experiment"], []).append(sweep["key"])
        return out

    @property
    def sweep_best(self) -> list[str]:
        """Each sweep's best point, an experiment with runs of its own."""
        return [f"{sweep['id']}_best" for sweep in self.sweeps]

    @property
    def trained(self) -> list[str]:
        """What train_experiment trains: the configured experiments and the search's choice."""
        return self.experiments + ([TUNED] if self.search else [])

    @property
    def runs(self) -> list[str]:
        """Every experiment with runs, in report order."""
        return self.trained + self.sweep_best

    @property
    def searches(self) -> list[str]:
        return [f"{s}-{seed}" for s in ("random", "tpe") for seed in self.search["search_seeds"]] if self.search else []

    @property
    def verify(self) -> str:
        return self.config.get("verify_experiment") or self.experiments[-1]

    @property
    def sections(self) -> list[str]:
        return list(dict.fromkeys([spec["section"] for spec in self.specs.values()]
                                  + ([self.search["tuned"]["section"]] if self.search else [])
                                  + (["sensitivity"] if self.sweeps else [])))

    @property
    def data_files(self) -> list[str]:
        """The lesson's data file, where its data is a file (a bundled dataset has none): prepare_data's input."""
        return [source] if (source := data_file(self.data)) else []

    @property
    def store(self) -> str:
        """The content store's folder ('' for none)."""
        return given(self.config, "store") or ""

    @property
    def search_workers(self) -> int:
        return self.config.get("search_workers") or 1

    @property
    def seed_chunk(self) -> int | None:
        return given(self.config, "seed_chunk")

    def seeds(self, experiment: str) -> int:
        return self.search["base_spec"]["seeds"] if experiment == TUNED else self.specs[experiment]["seeds"]

    def chunk_seeds(self, experiment: str) -> dict[int, list[int]]:
        """{chunk index: seeds} of one experiment, `seed_chunk` seeds a chunk."""
        seeds, size = list(range(self.seeds(experiment))), self.seed_chunk
        return {i: seeds[start:start + size] for i, start in enumerate(range(0, len(seeds), size))}

    def chunk_files(self, experiment: str) -> dict[str, list[str]]:
        """Each run file of every chunk of one experiment: {name: [path per chunk]}."""
        chunks = [run_files(f"results/runs/{experiment}/chunks/{i}") for i in self.chunk_seeds(experiment)]
        return {name: [chunk[name] for chunk in chunks] for name in RUN_FILES}

    def all_runs(self, name: str) -> list[str]:
        """One of the run files of every experiment with runs, in order."""
        return [run_files(f"results/runs/{exp}")[name] for exp in self.runs]

    # --- settings files ----------------------------------------------------------------------------------
    @cached_property
    def settings(self) -> dict[str, str]:
        """{path: text} of every settings file the jobs read: canonical JSON (a reordered YAML changes nothing),
        named after its text's digest, `KIND/NAME.DIGEST.json`: a changed text is a file no job has made yet, so the
        jobs that read it rerun whatever Snakemake's records hold (a tree from before, `.snakemake` deleted)."""
        files = {"data/split": self.data, "claims/claims": {"claims": self.claims, "left_out": self.claims_left_out},
                 "report/section_titles": {s: self.section_titles.get(s) for s in self.sections},
                 "report/words": self.words}
        files |= {f"specs/{exp}": spec for exp, spec in self.specs.items()}
        files |= {f"numbers/{exp}": without_words(spec) for exp, spec in self.specs.items()}
        files |= {f"sweeps/{s['id']}": {**s, "spec": without_words(s["spec"])} for s in self.sweeps}
        if self.search:
            files["search/settings"] = {k: v for k, v in self.search.items() if k != "base_spec"}
            files["search/base"] = without_words(self.search["base_spec"])
        files |= {f"illustrations/{name}": value for name, value in self.illustration_settings().items()}
        texts = {name: canonical_json(value) + "\n" for name, value in files.items()}
        return {f"{SETTINGS}/{name}.{digest(text)}.json": text for name, text in texts.items()}

    @cached_property
    def _paths(self) -> dict[str, str]:
        return {path.removeprefix(f"{SETTINGS}/").rsplit(".", 2)[0]: path for path in self.settings}

    def settings_file(self, name: str) -> str:
        """The path of the settings file `KIND/NAME` (its digest in the name)."""
        return self._paths[name]

    def illustration_settings(self) -> dict[str, dict]:
        if not self.illustrations:
            return {}

        def ordered(block: str, key: str) -> dict:  # entries kept in file order, as [name, value] pairs
            settings = dict(self.illustrations[block])
            settings[key] = [[name, value] for name, value in settings[key].items()]
            return settings

        return {"optimizer_paths": ordered("optimizer_paths", "optimizers"),
                "activations": ordered("activations", "cases"),
                "models": {exp: spec["model"] for exp, spec in self.specs.items()}}

    @property
    def chosen_spec_files(self) -> dict[str, str]:
        """The spec files of the search's choice and each sweep's best point, written by those jobs."""
        search = {TUNED: f"results/search/random-{self.search['search_seeds'][0]}/spec.json"} if self.search else {}
        return search | {f"{s['id']}_best": f"results/sweeps/{s['id']}/spec.json" for s in self.sweeps}

    def numbers_file(self, experiment: str) -> str:
        """The spec without words that a computing step reads (the search's choice: the spec the search wrote)."""
        return self.chosen_spec_files[experiment] if experiment in self.chosen_spec_files \
            else self.settings_file(f"numbers/{experiment}")

    @property
    def number_spec_files(self) -> list[str]:
        return [self.settings_file(f"numbers/{exp}") for exp in self.specs] + list(self.chosen_spec_files.values())

    @property
    def full_spec_files(self) -> list[str]:
        return [self.settings_file(f"specs/{exp}") for exp in self.specs] + list(self.chosen_spec_files.values())

    def worker_outputs(self, strategy: str, seed) -> list[str]:
        """The files of the workers sharing a random search (none with one worker: the search job trains)."""
        if strategy != "random" or self.search_workers == 1:
            return []
        return [f"results/search/random-{seed}/worker-{w}.json" for w in range(self.search_workers)]

    # --- sweeps ------------------------------------------------------------------------------------------
    def sweep(self, sweep_id: str) -> dict:
        return next(sweep for sweep in self.sweeps if sweep["id"] == sweep_id)

    def sweep_reads_experiment(self, sweep_id: str) -> bool:
        """Whether the sweep's grid holds its experiment's own value: should it win, the best value's run is the
        experiment's own, read back from its run files (so the sweep runs after the experiment)."""
        sweep = self.sweep(sweep_id)
        return sweep["lesson_value"] in sweep["values"]

    def sweep_experiment_files(self, sweep_id: str) -> dict[str, str]:
        """The swept experiment's run files when the sweep may read them back; none otherwise."""
        if not self.sweep_reads_experiment(sweep_id):
            return {}
        return {f"experiment_{name}": path
                for name, path in run_files(f"results/runs/{self.sweep(sweep_id)['experiment']}").items()}

    # --- what the table, figure and claim steps write ------------------------------------------------------
    @property
    def tables(self) -> list[str]:
        """What collect_tables writes (the numbers; label_tables adds the words)."""
        return (["history", "runs", "test_probs", "scores", "comparisons", "timings", "showcase", "data"]
                + (["tuned_vs_base"] if self.search else [])
                + (["sweep_points", "sweep_summary"] if self.sweeps else []))

    @property
    def claim_figures(self) -> list[str]:
        return [f"results/figures/claims/{claim['id']}.png" for claim in self.claims]

    @property
    def section_figures(self) -> list[str]:
        return [f"results/figures/curves_{section}.png" for section in self.sections]

    @property
    def sensitivity_figure(self) -> list[str]:
        return ["results/figures/sensitivity.png"] if self.sweeps else []

    @property
    def symmetry_weights(self) -> list[str]:
        symmetry = self.illustrations["symmetry"]
        return [f"results/runs/{symmetry[role]}/weights.pt" for role in ("constant", "reference")]


def tables(names, folder: str = "results/tables") -> list[str]:
    """Each table's two files (Parquet for the steps, CSV for people)."""
    return [f"{folder}/{name}.{ext}" for name in names for ext in ("parquet", "csv")]


def verification(plan: Plan) -> list[str]:
    """The determinism record, once `snakemake verify` has written one, so the report can cite it."""
    path = f"results/verify/{plan.verify}.json"
    return [path] if Path(path).exists() else []
