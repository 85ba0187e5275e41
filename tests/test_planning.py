"""The workflow's plan as plain Python: what runs, the settings files and their texts, the cores a training job
gets, and the JSON job a step reads (no Snakemake here; the workflow tests check Snakemake acts on it)."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from lessonbench.cli import NotInJob, main, read_job
from lessonbench.planning import Plan, PlannedJob, digest, job_json, train_threads
from lessonbench.spec.files import ConfigError

from .conftest import ROOT


def lesson_config(**changes) -> dict:
    """The default runtime config, its files named by absolute path."""
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    for key in ("search_file", "claims_file", "sweeps_file", "illustrations_file"):
        config[key] = str(ROOT / config[key])
    config["experiment_files"] = [str(ROOT / path) for path in config["experiment_files"]]
    return config | changes


@pytest.fixture(scope="module")
def plan() -> Plan:
    return Plan(lesson_config())


def test_the_plan_names_every_run_once(plan):
    assert plan.trained == plan.experiments + ["tuned"]
    assert plan.runs == plan.trained + [f"{sweep['id']}_best" for sweep in plan.sweeps]
    assert len(set(plan.runs)) == len(plan.runs)
    assert plan.sections[-2:] == ["tuned", "sensitivity"] and plan.verify == "lesson_best"
    assert plan.searches == ["random-0", "random-1", "random-2", "tpe-0", "tpe-1", "tpe-2"][:len(plan.searches)]
    assert plan.numbers_file("tuned") == "results/search/random-0/spec.json"
    assert re.fullmatch(r"results/settings/numbers/adam\.[0-9a-f]{12}\.json", plan.numbers_file("adam"))


def test_words_reach_only_the_full_specs(tmp_path):
    """A title edit changes specs/<exp>.json (label_tables, the report) and no file a computing step reads."""
    before = Plan(lesson_config())
    text = (ROOT / "experiments" / "lesson.yaml").read_text()
    edited = tmp_path / "lesson.yaml"
    edited.write_text(text.replace("title: SGD with momentum", "title: Momentum, renamed"))
    after = Plan(lesson_config(experiment_files=[str(edited)]))
    assert set(before.settings) ^ set(after.settings) == {before.settings_file("specs/momentum"),
                                                          after.settings_file("specs/momentum")}
    numbers = json.loads(after.settings[after.settings_file("numbers/momentum")])
    assert "title" not in numbers and "description" not in numbers and numbers["section"] == "optimizers"


def test_reordered_yaml_gives_the_same_settings(tmp_path):
    doc = yaml.safe_load((ROOT / "experiments" / "lesson.yaml").read_text())
    doc["defaults"] = dict(reversed(list(doc["defaults"].items())))
    doc["experiments"] = {exp: dict(reversed(list(entry.items()))) for exp, entry in doc["experiments"].items()}
    reordered = tmp_path / "lesson.yaml"
    reordered.write_text(yaml.safe_dump(doc, sort_keys=False))
    assert Plan(lesson_config(experiment_files=[str(reordered)])).settings == Plan(lesson_config()).settings


def test_a_settings_file_is_named_after_its_text(plan):
    for path, text in plan.settings.items():
        kind_name, file_digest = path.removeprefix("results/settings/").rsplit(".", 2)[:2]
        assert file_digest == digest(text) and plan.settings_file(kind_name) == path


@pytest.mark.parametrize("changes, field", [
    ({"verify_experiment": "nope"}, "verify_experiment"),
    ({"search_workers": 2}, "search_workers"),
])
def test_a_bad_runtime_setting_names_its_field(changes, field):
    with pytest.raises(ConfigError, match=f": {field}:"):
        Plan(lesson_config(**changes))


def test_left_out_files_leave_out_their_steps():
    plan = Plan(lesson_config(search_file="null", sweeps_file=None, claims_file=""))
    assert plan.trained == plan.runs == plan.experiments and not plan.searches and not plan.claims
    assert not any("search/" in path for path in plan.settings) and "tuned_vs_base" not in plan.tables


def test_a_lone_retraining_experiment_gets_the_spare_cores(tmp_path):
    """adam's lr edited to 0.02, off adam_lr's grid: the sweep reads nothing of adam's and runs beside it."""
    edited = tmp_path / "lesson.yaml"
    text = (ROOT / "experiments" / "lesson.yaml").read_text()
    edited.write_text(text.replace("optimizer: {name: adam, lr: 0.01}", "optimizer: {name: adam, lr: 0.02}"))
    plan = Plan(lesson_config(experiment_files=[str(edited)]))
    assert not plan.sweep_reads_experiment("adam_lr")
    adam = PlannedJob("train_experiment", {"experiment": "adam"})
    sweep = PlannedJob("train_sweep", {"sweep": "adam_lr"})
    needrun = [adam, sweep, PlannedJob("collect_tables", {})]
    kept = lambda sweep, new_data: True  # noqa: E731 - the store keeps every point: the sweep trains nothing
    assert train_threads(plan, adam, needrun, 2, kept) == 2
    assert train_threads(plan, adam, needrun, 16, kept) == 10  # never more processes than seeds
    assert train_threads(plan, sweep, needrun, 2, kept) == 1  # counts for none
    # nothing kept: the sweep trains its points beside adam and they share the cores
    assert [train_threads(plan, j, needrun, 2) for j in (adam, sweep)] == [1, 1]
    assert [train_threads(plan, j, needrun, 4) for j in (adam, sweep)] == [2, 2]


def test_a_clean_run_trains_one_process_a_job(plan):
    needrun = [PlannedJob("train_experiment", {"experiment": exp}) for exp in plan.trained]
    needrun += [PlannedJob("search", {"strategy": "random", "seed": "0"}), PlannedJob("prepare_data", {})]
    assert {train_threads(plan, job, needrun, 4) for job in needrun} == {1}
    assert train_threads(plan, needrun[0], [], 4) == 1  # the DAG not known yet


def test_a_sweep_waiting_for_its_experiment_shares_the_cores_after_it(plan):
    """momentum_lr's grid holds momentum's own value: it reads momentum back, so it waits and then trains."""
    assert plan.sweep_reads_experiment("momentum_lr")
    needrun = [PlannedJob("train_experiment", {"experiment": "momentum"}),
               PlannedJob("train_sweep", {"sweep": "momentum_lr"})]
    assert train_threads(plan, needrun[0], needrun, 2) == 2
    assert train_threads(plan, needrun[1], needrun, 2) == 2


def test_a_step_reads_the_rules_names_once():
    text = job_json({"code": ["src/x.py"], "spec": "s.json", "specs": ["a.json"]}, {"figure": "f.png"},
                    {"threads": 1, "sections": ["a"]})
    assert json.loads(text) == {"input": {"spec": "s.json", "specs": ["a.json"]}, "output": {"figure": "f.png"},
                                "params": {"threads": 1, "sections": ["a"]}}


def test_a_job_reads_its_settings_and_names_what_it_lacks(tmp_path):
    spec = tmp_path / "spec.json"
    spec.write_text('{"seeds": 2}')
    job = read_job(job_json({"spec": str(spec), "specs": [str(spec)]}, {"runs": "r.parquet"}, {"threads": 2}))
    assert job.spec == {"seeds": 2} and job.specs == [{"seeds": 2}] and job.runs == "r.parquet" and job.threads == 2
    assert job.processes == 1  # a default
    with pytest.raises(NotInJob, match="the job gives no 'weights'"):
        getattr(job, "weights")  # noqa: B009 - the attribute access is what is tested
    with pytest.raises(SystemExit, match="'runs' twice"):
        read_job(json.dumps({"input": {"runs": "a"}, "output": {"runs": "b"}}))
    with pytest.raises(SystemExit, match="not a readable JSON settings file"):
        read_job(json.dumps({"input": {"spec": str(tmp_path / "missing.json")}}))
    with pytest.raises(SystemExit, match="lessonbench collect_tables: the job gives no 'specs'"):
        main(["collect_tables", "{}"])  # a rule and its step that disagree: one line, no traceback
