"""Seed chunks: an experiment trained in chunks of seeds, combined, is byte-identical to one job."""

from __future__ import annotations

import json

import pytest

from lessonbench.cli import main
from lessonbench.engine.data import fit_scaler
from lessonbench.fileio import write_json, write_parquet
from lessonbench.jobs.experiment import seed_chunks
from lessonbench.spec.config import training_spec
from lessonbench.spec.files import canonical_json

FILES = ("history.parquet", "runs.parquet", "test_probs.parquet", "weights.pt")


def run_files(folder, prefix="") -> dict:
    """{name: path} of a run's files in folder, as a rule names them (history, runs, ..., timing)."""
    return {prefix + name.split(".")[0]: str(folder / name) for name in (*FILES, "timing.json")}


def train_job(exp_id, spec, data, out, **params) -> str:
    """The JSON job train_experiment gets from its rule."""
    return json.dumps({"input": {"spec": str(spec), "split": str(data / "split.parquet"),
                                 "scaler": str(data / "scaler.json")},
                       "output": run_files(out),
                       "params": {"experiment": exp_id, "threads": 1, "device": "cpu", "store": "", **params}})


def combine_job(chunks, out) -> str:
    """The JSON job combine_chunks gets: each run file of every chunk, and the combined files."""
    inputs = {name.split(".")[0]: [str(chunk / name) for chunk in chunks] for name in (*FILES, "timing.json")}
    return json.dumps({"input": inputs, "output": run_files(out, "out_")})


@pytest.mark.parametrize("exp_id", ["dropout", "lesson_best"])  # dropout masks, BatchNorm statistics
def test_chunks_combine_to_the_unchunked_files(exp_id, lesson, split_frame, tmp_path):
    write_parquet(split_frame, tmp_path / "split.parquet")
    write_json(fit_scaler(split_frame, "train"), tmp_path / "scaler.json")
    spec = tmp_path / "spec.json"
    spec.write_text(canonical_json({**training_spec(lesson[1][exp_id]), "epochs": 2, "seeds": 5}))

    def train(out, seeds=None):
        out.mkdir()
        main(["train_chunk", train_job(exp_id, spec, tmp_path, out, seeds=seeds)] if seeds else
             ["train_experiment", train_job(exp_id, spec, tmp_path, out)])

    train(tmp_path / "whole")
    chunks = [[0, 1], [2, 3], [4]]
    for i, seeds in enumerate(chunks):
        train(tmp_path / f"chunk{i}", seeds)
    combined = tmp_path / "combined"
    main(["combine_chunks", combine_job([tmp_path / f"chunk{i}" for i in range(len(chunks))], combined)])
    for name in FILES:
        assert (combined / name).read_bytes() == (tmp_path / "whole" / name).read_bytes(), name
    timing = json.loads((combined / "timing.json").read_text())
    assert timing["seeds"] == 5 and len(timing["chunks"]) == 3


def test_overlapping_chunks_are_refused(lesson, split_frame, tmp_path):
    write_parquet(split_frame, tmp_path / "split.parquet")
    write_json(fit_scaler(split_frame, "train"), tmp_path / "scaler.json")
    spec = tmp_path / "spec.json"
    spec.write_text(canonical_json({**training_spec(lesson[1]["adam"]), "epochs": 1, "seeds": 2}))
    for i in range(2):
        out = tmp_path / f"c{i}"
        main(["train_chunk", train_job("adam", spec, tmp_path, out, seeds=[0, 1])])
    with pytest.raises(ValueError, match="overlap"):
        main(["combine_chunks", combine_job([tmp_path / "c0", tmp_path / "c1"], tmp_path / "out")])
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


@pytest.mark.parametrize("exp_id", ["dropout", "lesson_best"])
def test_seeds_split_over_processes_give_the_one_process_files(exp_id, lesson, split_frame, tmp_path):
    """processes=N (train_experiment given N cores when few experiments retrain): forked processes train
    chunks of the seeds, combined in the job: the files of one process, byte for byte."""
    write_parquet(split_frame, tmp_path / "split.parquet")
    write_json(fit_scaler(split_frame, "train"), tmp_path / "scaler.json")
    spec = tmp_path / "spec.json"
    spec.write_text(canonical_json({**training_spec(lesson[1][exp_id]), "epochs": 2, "seeds": 5}))

    def train(out, processes):
        main(["train_experiment", train_job(exp_id, spec, tmp_path, out, processes=processes)])

    train(tmp_path / "one", 1)
    train(tmp_path / "two", 2)
    for name in FILES:
        assert (tmp_path / "two" / name).read_bytes() == (tmp_path / "one" / name).read_bytes(), name
    timing = json.loads((tmp_path / "two" / "timing.json").read_text())
    assert timing["seeds"] == 5 and [c["seeds"] for c in timing["chunks"]] == [3, 2]


def test_seed_chunks_are_contiguous_and_near_equal():
    assert seed_chunks(list(range(10)), 2) == [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9]]
    assert seed_chunks(list(range(5)), 2) == [[0, 1, 2], [3, 4]]
    assert seed_chunks([3, 4], 4) == [[3], [4]]
    assert seed_chunks(list(range(7)), 1) == [list(range(7))]
