"""Experiment files to resolved specs: defaults merged, the split checked, a spec's numbers apart from its words."""

from __future__ import annotations

import copy
import hashlib
from pathlib import Path

from lessonbench.engine.data import DataError, check_split, class_counts, data_file
from lessonbench.spec.files import ConfigError, canonical_json, load_schema, read_yaml, validate

DATA_DEFAULTS = {"scaler_fit": "train", "test_size": 0.2, "val_size": 360, "split_seed": 42}
# `preprocess` (an experiment's own scaling and training-set size) is there only where an experiment sets it, so a
# lesson that sets none keeps the specs, and the stored results, it had
TRAINING_KEYS = ("seeds", "epochs", "batch_size", "model", "optimizer", "preprocess")
PROSE = ("title", "description")  # an experiment's words: only label_tables and the report read them


def merge(default: dict, override: dict) -> dict:
    """Deep-merge override into default; a block with a `name` replaces the default block whole."""
    out = copy.deepcopy(default)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict) and "name" not in value:
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def resolve_data(path, doc: dict) -> tuple[dict, dict]:
    """(data settings, the split's sizes) of an experiment file's data block: its source checked before any job
    runs (a file read: its label column, numeric and finite features, two classes at least, each large enough for
    the split), a file source made relative to the working directory."""
    data = {**DATA_DEFAULTS, **doc.get("data", {})}
    if data_file(data):
        data["source"] = str(Path(path).parent / data["source"])
    try:
        counts, where, features = class_counts(data)
        shape = data.get("image_shape")
        if shape and shape[0] * shape[1] != features:
            raise DataError(f"{where}: image_shape {shape} holds {shape[0] * shape[1]} values, but the data has "
                            f"{features} features", "data.image_shape")
        return data, check_split(data, counts, where)
    except DataError as err:
        raise ConfigError(path, err.field, str(err)) from None


def resolve_file(path, schema: dict | None = None) -> tuple[dict, dict]:
    """Validate one experiment file; return (data settings, {id: resolved spec})."""
    schema = schema or load_schema()
    doc = read_yaml(path)
    validate(doc, path, schema)
    data, sizes = resolve_data(path, doc)
    specs = {}
    for exp_id, entry in doc["experiments"].items():
        body = {"section": "other", "title": exp_id, "description": "", "origin": "added",
                **merge(doc.get("defaults", {}), entry)}
        validate(body, path, schema, ref="resolved_experiment", prefix=f"experiments.{exp_id}")
        spec = canonical_preprocess({"id": exp_id, **body})
        train = spec.get("preprocess", {}).get("train_size", sizes["train"])
        if train > sizes["train"]:
            raise ConfigError(path, f"experiments.{exp_id}.preprocess.train_size",
                              f"{train} is more than the {sizes['train']} training samples of the split")
        if spec["batch_size"] > train:
            raise ConfigError(
                path, f"experiments.{exp_id}.batch_size",
                f"{spec['batch_size']} is larger than the {train} training samples",
            )
        specs[exp_id] = spec
    return data, specs


PREPROCESS_DEFAULTS = {"scaling": "standardise"}  # the lesson's own: what an experiment without `preprocess` gets


def canonical_preprocess(spec: dict) -> dict:
    """The spec with its `preprocess` block without the settings that equal the lesson's own (and without the block
    when nothing is left), so that writing the default changes neither the spec, its stored results, nor a claim's
    one-factor check."""
    block = {k: v for k, v in spec.get("preprocess", {}).items() if PREPROCESS_DEFAULTS.get(k) != v}
    spec = {k: v for k, v in spec.items() if k != "preprocess"}
    return {**spec, "preprocess": block} if block else spec


def resolve_sections(paths) -> dict[str, str]:
    """Section titles from the experiment files' `sections` blocks ({name: title}); a later file may override."""
    titles: dict[str, str] = {}
    for path in paths:
        titles.update(read_yaml(path).get("sections", {}))
    return titles


WORDS = {"title": "Training tricks, measured", "samples": "samples", "departures": []}


def resolve_words(paths) -> dict:
    """The lesson's own words for its report, from the experiment files (a later file may override): its title,
    what its samples are called, and where the runs depart from the lesson's code."""
    words = dict(WORDS)
    for path in paths:
        doc = read_yaml(path)
        words.update({key: doc[key] for key in WORDS if key in doc})
    return words


def resolve_experiments(paths) -> tuple[dict, dict]:
    """Resolve several experiment files into (data settings, {id: spec}); ids must be unique."""
    schema = load_schema()
    data, specs, origin = None, {}, {}
    for path in paths:
        file_data, file_specs = resolve_file(path, schema)
        if data is not None and file_data != data:
            raise ConfigError(path, "data", f"differs from {paths[0]}; all files must share one data split")
        data = file_data
        for exp_id, spec in file_specs.items():
            if exp_id in specs:
                raise ConfigError(path, f"experiments.{exp_id}", f"id already defined in {origin[exp_id]}")
            specs[exp_id], origin[exp_id] = spec, path
    if data is None:
        raise ConfigError("config", "experiment_files", "expected at least one experiment file")
    return data, specs


TUNED = "tuned"  # the experiment the search's choice becomes


def training_spec(spec: dict) -> dict:
    """The part of a spec that changes trained numbers (not titles or descriptions)."""
    return {key: spec[key] for key in TRAINING_KEYS if key in spec}


def sweep_point_spec(sweep: dict, value) -> dict:
    """The spec of one point of a resolved sweep: its experiment's spec with the swept setting at value (what the
    sweep job trains, and what the workflow asks the store about before it runs)."""
    return with_values(sweep["spec"], {sweep["key"]: value})


def with_values(base: dict, values: dict, **updates) -> dict:
    """A copy of the spec `base` with each dotted setting in `values` set (`optimizer.lr`), then the top-level
    `updates`: a search trial, the search's choice and a sweep's point are all made by it."""
    spec = copy.deepcopy(base)
    for path, value in values.items():
        node = spec
        *parents, leaf = path.split(".")
        for key in parents:
            node = node[key]
        node[leaf] = value
    spec.update(updates)
    return spec


def config_hash(data: dict, specs: dict) -> str:
    """Short SHA-256 of the resolved configuration, for provenance."""
    return hashlib.sha256(canonical_json({"data": data, "experiments": specs}).encode()).hexdigest()[:16]


def flatten(spec: dict, prefix: str = "") -> dict:
    """{'optimizer.lr': 0.1, 'model.init.name': 'xavier_uniform', ...} of a training spec."""
    out = {}
    for key, value in spec.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, name + "."))
        else:
            out[name] = value
    return out


def spec_diff(a: dict, b: dict) -> dict:
    """Settings in which two training specs differ: {dotted name: (a's value, b's value)}, None if absent."""
    fa, fb = flatten(training_spec(a)), flatten(training_spec(b))
    return {key: (fa.get(key), fb.get(key)) for key in sorted(set(fa) | set(fb)) if fa.get(key) != fb.get(key)}


def within(key: str, factors) -> bool:
    """Whether dotted setting `key` belongs to one of the claimed factors (a factor names a key or a block)."""
    return any(key == f or key.startswith(f + ".") for f in factors)


