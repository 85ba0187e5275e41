"""Experiment files: resolution of defaults, canonical params, and clear errors for bad input."""

from __future__ import annotations

import textwrap

import pytest

from lessonbench.spec.config import resolve_experiments, spec_diff, training_spec
from lessonbench.spec.files import ConfigError, canonical_json

from .conftest import LESSON

# DESIGN.md's table: id -> (section, activation, init, optimizer block, epochs, batchnorm, dropout)
DESIGN = {
    "sgd_uniform": ("optimizers", "sigmoid", "uniform", {"name": "sgd", "lr": 1.0}, 200, False, 0.0),
    "momentum": ("optimizers", "sigmoid", "uniform", {"name": "sgd", "lr": 0.1, "momentum": 0.9}, 200, False, 0.0),
    "adagrad": ("optimizers", "sigmoid", "uniform", {"name": "adagrad", "lr": 0.05}, 200, False, 0.0),
    "adam": ("optimizers", "sigmoid", "uniform", {"name": "adam", "lr": 0.01}, 100, False, 0.0),
    "xavier": ("init", "sigmoid", "xavier_uniform", {"name": "sgd", "lr": 0.1, "momentum": 0.9}, 100, False, 0.0),
    "he_relu": ("init", "relu", "kaiming_uniform", {"name": "sgd", "lr": 0.001, "momentum": 0.9}, 200, False, 0.0),
    "batchnorm": ("regularisation", "sigmoid", "xavier_uniform", {"name": "sgd", "lr": 0.1, "momentum": 0.9},
                  100, True, 0.0),
    "l2": ("regularisation", "sigmoid", "xavier_uniform",
           {"name": "sgd", "lr": 0.1, "momentum": 0.9, "weight_decay": 0.01}, 100, False, 0.0),
    "dropout": ("regularisation", "sigmoid", "xavier_uniform", {"name": "sgd", "lr": 0.1, "momentum": 0.9},
                100, False, 0.5),
    "lesson_best": ("tuned", "relu", "kaiming_uniform", {"name": "adam", "lr": 0.001}, 100, True, 0.2),
}


def test_lesson_file_matches_design_table(lesson):
    data, specs = lesson
    # DESIGN.md's ten, plus the all-equal-weights experiment that the symmetry illustration measures and the
    # twins that make the claims one-factor comparisons (each marked, none of them in the lesson)
    twins = [exp for exp, spec in specs.items() if spec["origin"] == "twin"]
    assert twins == ["sgd_at_momentum_lr", "xavier_relu", "batchnorm_lr1", "xavier_lr1", "batchnorm_uniform",
                     "xavier_small", "batchnorm_small", "l2_small", "dropout_small", "momentum_raw"]
    assert [exp for exp in specs if exp != "constant_init" and exp not in twins] == list(DESIGN)
    assert [exp for exp, spec in specs.items() if spec["origin"] == "lesson"] == [
        exp for exp in specs if exp not in twins]  # the ten and constant_init; nothing counted as added
    assert specs["constant_init"]["model"]["init"] == {"name": "constant", "val": 0.0}
    for exp_id, (section, act, init, opt, epochs, bn, dropout) in DESIGN.items():
        spec = specs[exp_id]
        assert (spec["section"], spec["model"]["activation"], spec["model"]["init"]["name"]) == (section, act, init)
        assert spec["optimizer"] == opt, exp_id
        assert (spec["epochs"], spec["model"]["batchnorm"], spec["model"]["dropout"]) == (epochs, bn, dropout)
        assert spec["model"]["hidden"] == [100, 50] and spec["batch_size"] == 32 and spec["seeds"] == 10
    assert specs["sgd_uniform"]["model"]["init"] == {"name": "uniform", "a": 0.0, "b": 1.0}
    assert data == {"scaler_fit": "train", "test_size": 0.2, "val_size": 360, "split_seed": 42}


def write(tmp_path, text: str, name="exp.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


BASE = """
defaults:
  seeds: 2
  epochs: 3
  batch_size: 32
  model: {hidden: [8], activation: relu, batchnorm: false, dropout: 0.0, init: {name: xavier_uniform}}
  optimizer: {name: sgd, lr: 0.1, momentum: 0.9}
experiments:
"""


def test_named_block_replaces_default(tmp_path):
    path = write(tmp_path, BASE + "  a: {optimizer: {name: adam, lr: 0.01}}\n  b: {model: {dropout: 0.5}}\n")
    _, specs = resolve_experiments([path])
    assert specs["a"]["optimizer"] == {"name": "adam", "lr": 0.01}  # no momentum leaking into Adam
    assert specs["b"]["model"]["dropout"] == 0.5 and specs["b"]["model"]["hidden"] == [8]  # merged key by key
    assert specs["a"]["title"] == "a" and specs["a"]["section"] == "other"


def test_canonical_params_ignore_key_order_and_titles(tmp_path):
    one = write(tmp_path, BASE + "  a: {title: One, optimizer: {name: adam, lr: 0.01}}\n", "one.yaml")
    two = write(tmp_path, BASE.replace("seeds: 2\n  epochs: 3", "epochs: 3\n  seeds: 2")
                + "  a: {optimizer: {lr: 0.01, name: adam}, title: Two}\n", "two.yaml")
    spec_one, spec_two = resolve_experiments([one])[1]["a"], resolve_experiments([two])[1]["a"]
    assert canonical_json(training_spec(spec_one)) == canonical_json(training_spec(spec_two))
    assert spec_one["title"] != spec_two["title"]


def test_preprocess_is_in_a_spec_only_where_it_differs_from_the_lesson(tmp_path):
    """Writing the lesson's own scaling changes nothing (the spec, its stored results, a claim's factor check);
    another scaling or a training-set size is a setting of its own."""
    path = write(tmp_path, BASE + "  a: {}\n  b: {preprocess: {scaling: standardise}}\n"
                 "  c: {preprocess: {scaling: none, train_size: 100}}\n")
    specs = resolve_experiments([path])[1]
    assert canonical_json(training_spec(specs["a"])) == canonical_json(training_spec(specs["b"]))
    assert "preprocess" not in specs["b"] and specs["c"]["preprocess"] == {"scaling": "none", "train_size": 100}
    assert spec_diff(specs["a"], specs["c"]) == {"preprocess.scaling": (None, "none"),
                                                  "preprocess.train_size": (None, 100)}


BAD = {
    "typo in a key": ("  a: {optimizer: {name: sgd, lr: 0.1, momentun: 0.9}}\n",
                      "experiments.a.optimizer", "momentun"),
    "unknown optimizer": ("  a: {optimizer: {name: adamx, lr: 0.1}}\n", "experiments.a.optimizer.name", "adamx"),
    "negative learning rate": ("  a: {optimizer: {name: sgd, lr: -0.1}}\n", "experiments.a.optimizer.lr", "-0.1"),
    "1e-2 read as text": ("  a: {optimizer: {name: sgd, lr: 1e-2}}\n", "experiments.a.optimizer.lr", "0.01"),
    "zero epochs": ("  a: {epochs: 0}\n", "experiments.a.epochs", "minimum"),
    "momentum for adam": ("  a: {optimizer: {name: adam, lr: 0.1, momentum: 0.9}}\n",
                          "experiments.a.optimizer", "momentum"),
    "dropout of 1": ("  a: {model: {dropout: 1.0}}\n", "experiments.a.model.dropout", "1.0"),
    "unknown activation": ("  a: {model: {activation: swish}}\n", "experiments.a.model.activation", "swish"),
    "ill-formed id": ("  Bad-Id: {epochs: 1}\n", "experiments", "Bad-Id"),
    "batch larger than training set": ("  a: {batch_size: 5000}\n", "experiments.a.batch_size", "1077"),
    "unknown key in an init block": ("  a: {model: {init: {name: uniform, std: 0.1}}}\n",
                                     "experiments.a.model.init", "'std'"),
    "wrong type": ("  a: {model: {hidden: '100'}}\n", "experiments.a.model.hidden", "array"),
    "zero seeds": ("  a: {seeds: 0}\n", "experiments.a.seeds", "minimum"),
    "unknown key in an entry": ("  a: {epoch: 3}\n", "experiments.a", "'epoch'"),
    "unknown scaling": ("  a: {preprocess: {scaling: robust}}\n", "experiments.a.preprocess.scaling", "'minmax'"),
    "more training samples than the split has": ("  a: {preprocess: {train_size: 2000}}\n",
                                                 "experiments.a.preprocess.train_size", "1077"),
    "a batch larger than the experiment's training set": ("  a: {preprocess: {train_size: 20}}\n",
                                                          "experiments.a.batch_size", "20 training samples"),
}

@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_names_file_field_and_expectation(tmp_path, case):
    entry, field, words = BAD[case]
    path = write(tmp_path, BASE + entry)
    with pytest.raises(ConfigError) as err:
        resolve_experiments([path])
    message = str(err.value)
    assert str(path) in message and f": {field}:" in message and words in message, message


ENTRY = "  a: {epochs: 1}\n"
TOP_LEVEL = {
    "unknown top-level key": (BASE + ENTRY + "experimentz: {}\n", "(top level)", "experimentz"),
    "unknown data key": ("data: {scaler: all}\n" + BASE + ENTRY, "data", "scaler"),
    "bad scaler choice": ("data: {scaler_fit: test}\n" + BASE + ENTRY, "data.scaler_fit", "'train', 'all'"),
}


@pytest.mark.parametrize("case", list(TOP_LEVEL))
def test_bad_top_level_blocks(tmp_path, case):
    text, field, words = TOP_LEVEL[case]
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        resolve_experiments([path])
    message = str(err.value)
    assert str(path) in message and f": {field}:" in message and words in message, message


@pytest.mark.parametrize("text, words", [
    ("", "expected a mapping"),
    ("experiments: {a: {epochs: 1}\n", "not valid YAML"),
    (BASE + "  a: {epochs: 1}\n  a: {epochs: 2}\n", "appears twice"),
])
def test_unreadable_files(tmp_path, text, words):
    with pytest.raises(ConfigError, match=words):
        resolve_experiments([write(tmp_path, text)])


def test_duplicate_id_across_files(tmp_path):
    with pytest.raises(ConfigError, match="already defined"):
        resolve_experiments([LESSON, write(tmp_path, BASE + "  adam: {epochs: 1}\n")])
