"""Experiment files: load YAML safely, validate against the JSON Schema, merge defaults."""

from __future__ import annotations

import copy
import difflib
import hashlib
import json
import math
from importlib import resources
from pathlib import Path

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

# The schemas are package data (importlib.resources): found the same in a checkout and in an installed wheel.
SCHEMAS = resources.files("lessonbench") / "schemas"
SCHEMA_PATH = SCHEMAS / "experiments.schema.yaml"
N_DIGITS = 1797  # samples in sklearn.datasets.load_digits
DATA_DEFAULTS = {"scaler_fit": "train", "test_size": 0.2, "val_size": 360, "split_seed": 42}
TRAINING_KEYS = ("seeds", "epochs", "batch_size", "model", "optimizer")
PROSE = ("title", "description")  # an experiment's words: only label_tables and the report read them


class ConfigError(ValueError):
    """A problem in an experiment file: says which file, which field, what was expected."""

    def __init__(self, path, field: str, problem: str):
        self.path, self.field, self.problem = str(path), field, problem
        super().__init__(f"{path}: {field or '(top level)'}: {problem}")


# libyaml's parser where PyYAML has it (the same documents, parsed ~10x faster: every Snakemake start reads them)
_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _load(text: str):
    return yaml.load(text, Loader=_SafeLoader)  # noqa: S506 (a safe loader)


class _UniqueKeyLoader(_SafeLoader):
    """A safe loader that refuses a key given twice in one mapping."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} appears twice", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def load_schema() -> dict:
    """The experiment-file JSON Schema, parsed."""
    return _load(SCHEMA_PATH.read_text())


def read_yaml(path) -> dict:
    """Parse one experiment file; syntax errors and duplicate keys become ConfigError."""
    path = Path(path)
    try:
        with open(path) as stream:
            doc = yaml.load(stream, Loader=_UniqueKeyLoader)  # noqa: S506 (a SafeLoader subclass)
    except FileNotFoundError:
        raise ConfigError(path, "", "file not found") from None
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = " ".join(filter(None, [err.context, err.problem]))
        raise ConfigError(path, where, f"not valid YAML: {problem}") from None
    except yaml.YAMLError as err:
        raise ConfigError(path, "", f"not valid YAML: {err}") from None
    if not isinstance(doc, dict):
        raise ConfigError(path, "", f"expected a mapping with an 'experiments' key, got {type(doc).__name__}")
    return doc


def _field(error) -> str:
    return ".".join(str(p) for p in error.absolute_path)


def _explain(error) -> str:
    """jsonschema's message plus what was expected, in words a YAML author can act on."""
    msg = error.message
    if error.validator == "additionalProperties":
        allowed = list(error.schema.get("properties", {}))
        unknown = [key for key in error.instance if key not in allowed]
        msg = unknown_key(unknown[0], allowed) if unknown else msg
    elif error.validator == "type" and error.validator_value in ("number", "integer") and isinstance(
            error.instance, str):
        try:
            float(error.instance)
            msg += " (YAML 1.1 reads '1e-2' as text: write 1.0e-2 or 0.01)"
        except ValueError:
            pass
    elif "propertyNames" in error.schema_path:
        msg = (unknown_key(error.instance, error.validator_value) if error.validator == "enum" else
               f"key {error.instance!r} is not accepted here; expected lower-case snake_case matching "
               f"{error.validator_value}")
    return msg


def unknown_key(key, allowed) -> str:
    """"key 'momentun' is not accepted here (did you mean 'momentum'?); expected one of: ..." - one wording for a
    key that is not allowed, at every level of every file."""
    close = difflib.get_close_matches(str(key), [str(a) for a in allowed], n=1, cutoff=0.6)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"key {key!r} is not accepted here{hint}; expected one of: {', '.join(map(str, allowed))}"


def validate(doc: dict, path, schema: dict | None = None, ref: str | None = None, prefix: str = "") -> None:
    """Raise ConfigError for the most relevant schema violation in doc (or in its `ref` definition)."""
    schema = schema or load_schema()
    if ref:
        schema = {"$defs": schema["$defs"], "$ref": f"#/$defs/{ref}"}
    error = best_match(Draft202012Validator(schema).iter_errors(doc))
    if error is not None:
        raise ConfigError(path, ".".join(filter(None, [prefix, _field(error)])), _explain(error))


def check_runtime_config(config: dict, schema_path) -> None:
    """ConfigError for the runtime config (config/config.yaml and --config) against its schema, worded as for the
    experiment files."""
    validate(config, "config (config/config.yaml and --config)", _load(Path(schema_path).read_text()))


def merge(default: dict, override: dict) -> dict:
    """Deep-merge override into default; a block with a `name` replaces the default block whole."""
    out = copy.deepcopy(default)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict) and "name" not in value:
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def split_sizes(data: dict) -> dict:
    """Sample counts of the train/val/test parts, as sklearn's train_test_split makes them."""
    n_test = math.ceil(data["test_size"] * N_DIGITS)
    n_val = data["val_size"]
    return {"train": N_DIGITS - n_test - n_val, "val": n_val, "test": n_test}


def resolve_file(path, schema: dict | None = None) -> tuple[dict, dict]:
    """Validate one experiment file; return (data settings, {id: resolved spec})."""
    schema = schema or load_schema()
    doc = read_yaml(path)
    validate(doc, path, schema)
    data = {**DATA_DEFAULTS, **doc.get("data", {})}
    sizes = split_sizes(data)
    if sizes["train"] < 1:
        raise ConfigError(path, "data.val_size", f"leaves {sizes['train']} training samples; expected at least 1")
    specs = {}
    for exp_id, entry in doc["experiments"].items():
        body = {"section": "other", "title": exp_id, "description": "", "origin": "added",
                **merge(doc.get("defaults", {}), entry)}
        validate(body, path, schema, ref="resolved_experiment", prefix=f"experiments.{exp_id}")
        spec = {"id": exp_id, **body}
        if spec["batch_size"] > sizes["train"]:
            raise ConfigError(
                path, f"experiments.{exp_id}.batch_size",
                f"{spec['batch_size']} is larger than the {sizes['train']} training samples",
            )
        specs[exp_id] = spec
    return data, specs


def resolve_sections(paths) -> dict[str, str]:
    """Section titles from the experiment files' `sections` blocks ({name: title}); a later file may override."""
    titles: dict[str, str] = {}
    for path in paths:
        titles.update(read_yaml(path).get("sections", {}))
    return titles


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


ILLUSTRATIONS_SCHEMA_PATH = SCHEMAS / "illustrations.schema.yaml"
SEARCH_SCHEMA_PATH = SCHEMAS / "search.schema.yaml"


def resolve_illustrations(path, specs: dict) -> dict:
    """Validate the illustrations file; optimizer and init blocks follow the experiment schema."""
    doc = read_yaml(path)
    validate(doc, path, _load(ILLUSTRATIONS_SCHEMA_PATH.read_text()))
    schema = load_schema()
    for label, block in doc["optimizer_paths"]["optimizers"].items():
        validate(block, path, schema, ref="optimizer", prefix=f"optimizer_paths.optimizers.{label}")
    for case, spec in doc["activations"]["cases"].items():
        model = {"activation": spec["activation"], "init": spec["init"]}
        validate(model, path, schema, ref="model", prefix=f"activations.cases.{case}")
    for role in ("constant", "reference"):
        if doc["symmetry"][role] not in specs:
            raise ConfigError(path, f"symmetry.{role}",
                              f"{doc['symmetry'][role]!r} is not an experiment; expected one of {list(specs)}")
    return doc


TUNED = "tuned"  # the experiment the search's choice becomes
SEARCHABLE = {  # dotted name -> what a value must be
    "optimizer.lr": "a learning rate > 0",
    "optimizer.weight_decay": "a weight decay >= 0",
    "optimizer.momentum": "a momentum in [0, 1)",
    "model.dropout": "a dropout probability in [0, 1)",
    "model.activation": "an activation name",
    "model.batchnorm": "true or false",
    "batch_size": "a batch size >= 1",
}


def resolve_search(path, specs: dict) -> dict:
    """Validate the search file against its schema and the experiments; fill defaults (scale: linear).

    Every problem names the field: an empty or inverted range, a log scale with a bound <= 0, an
    unknown hyperparameter, one the base experiment's optimizer does not take, a value the
    experiment schema would refuse, a base that is not an experiment.
    """
    doc = read_yaml(path)
    validate(doc, path, _load(SEARCH_SCHEMA_PATH.read_text()))
    search = doc["search"]
    if search["base"] not in specs:
        raise ConfigError(path, "search.base",
                          f"{search['base']!r} is not an experiment; expected one of {list(specs)}")
    base, schema = specs[search["base"]], load_schema()
    if search["trial_seed"] < base["seeds"]:
        raise ConfigError(path, "search.trial_seed",
                          f"{search['trial_seed']} is one of the seeds (0-{base['seeds'] - 1}) the chosen model is "
                          f"retrained and scored with; tuning must not grade itself: expected {base['seeds']} or more")
    for name, dim in search["space"].items():
        field = f"search.space.{name}"
        if name not in SEARCHABLE:
            raise ConfigError(path, field, f"unknown hyperparameter; expected one of {sorted(SEARCHABLE)}")
        if "choices" in dim:
            values = dim["choices"]
        else:
            dim.setdefault("scale", "linear")
            low, high = dim["low"], dim["high"]
            if low >= high:
                raise ConfigError(path, field, f"empty or inverted range: low {low} must be below high {high}")
            if dim["scale"] == "log" and low <= 0:
                raise ConfigError(path, f"{field}.low", f"a log scale needs bounds > 0, got {low}")
            values = [low, high]
        for value in values:
            if not _allowed(name, value):
                raise ConfigError(path, field, f"{value!r} is not {SEARCHABLE[name]}")
            block, _, key = name.partition(".")
            if key:  # the base experiment with this value must still be a valid experiment block
                candidate = copy.deepcopy(base[block])
                candidate[key] = value
                try:
                    validate(candidate, path, schema, ref=block)
                except ConfigError as err:
                    raise ConfigError(path, field, f"{value!r} does not fit the base experiment "
                                                   f"{search['base']!r}: {err.field}: {err.problem}") from None
    if search["keep_top"] > search["trials_per_round"] * search["rounds"]:
        raise ConfigError(path, "search.keep_top", "exceeds the number of trials in the whole search")
    return {**search, "tuned": doc["tuned"], "base_spec": base}


def _allowed(name: str, value) -> bool:
    """Whether value is the kind of thing hyperparameter `name` takes (the schema checks the rest)."""
    if name == "model.activation":
        return isinstance(value, str)
    if name == "model.batchnorm":
        return isinstance(value, bool)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return {"optimizer.lr": value > 0, "optimizer.weight_decay": value >= 0, "optimizer.momentum": 0 <= value < 1,
            "model.dropout": 0 <= value < 1, "batch_size": value >= 1 and float(value).is_integer()}[name]


def training_spec(spec: dict) -> dict:
    """The part of a spec that changes trained numbers (not titles or descriptions)."""
    return {key: spec[key] for key in TRAINING_KEYS}


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


def canonical_json(obj) -> str:
    """A JSON text that is the same for equal values whatever the key order."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))


def config_hash(data: dict, specs: dict) -> str:
    """Short SHA-256 of the resolved configuration, for provenance."""
    return hashlib.sha256(canonical_json({"data": data, "experiments": specs}).encode()).hexdigest()[:16]


CLAIMS_SCHEMA_PATH = SCHEMAS / "claims.schema.yaml"
CLAIM_TARGET = 0.95  # default validation-accuracy target of epochs_to_target


def _side(value) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def resolve_claims(path, experiments, later=()) -> tuple[list[dict], list[dict]]:
    """Validate the claims file against its schema and the experiments; return (claims, left out).

    `experiments` are the ids that will have runs; `later` names experiments a switched-off step would
    have made (the search's `tuned`), or is a test of such names (a sweep's `<sweep>_best`): a claim
    naming one is left out, with the reason, not refused.
    Each claim comes back canonical: id, section, claim, treatment and control as lists (one id, or
    [a, b] for a - b), factor, budget (None: the shorter experiment's epochs), target, metrics as
    [{name, expect, min_effect, margin}] in file order, and the primary metric's name (the one metric of a
    claim with one).
    """
    doc = read_yaml(path)
    validate(doc, path, _load(CLAIMS_SCHEMA_PATH.read_text()))
    known = list(experiments)
    target = doc.get("settings", {}).get("target", CLAIM_TARGET)
    claims, left_out = [], []
    for claim_id, entry in doc["claims"].items():
        sides = {role: _side(entry[role]) for role in ("treatment", "control")}
        missing = None
        for role, ids in sides.items():
            for exp in ids:
                made_later = later(exp) if callable(later) else exp in later
                if made_later and exp not in known:
                    missing = exp
                elif exp not in known:
                    raise ConfigError(path, f"claims.{claim_id}.{role}",
                                      f"{exp!r} is not an experiment; expected one of {known}")
            if len(ids) == 2 and ids[0] == ids[1]:
                raise ConfigError(path, f"claims.{claim_id}.{role}", f"a difference of {ids[0]!r} with itself")
        if len(sides["treatment"]) != len(sides["control"]):
            raise ConfigError(path, f"claims.{claim_id}.control",
                              "treatment and control must both be one experiment or both a pair [a, b]")
        if sides["treatment"] == sides["control"]:
            raise ConfigError(path, f"claims.{claim_id}.control",
                              f"equals the treatment {entry['treatment']!r}; a claim compares two different things")
        metrics = [_claim_metric(path, f"claims.{claim_id}.metrics.{name}", name, m)
                   for name, m in entry["metrics"].items()]
        primary = entry.get("primary", metrics[0]["name"] if len(metrics) == 1 else None)
        if primary not in entry["metrics"]:
            raise ConfigError(path, f"claims.{claim_id}.primary",
                              f"{primary!r} is not one of the claim's metrics; expected one of {list(entry['metrics'])}"
                              if primary else "a claim with several metrics names its primary one; expected one of "
                                              f"{list(entry['metrics'])}")
        claim = {"id": claim_id, "section": entry["section"], "claim": entry["claim"], **sides,
                 "factor": list(entry["factor"]), "budget": entry.get("budget"),
                 "target": float(entry.get("target", target)), "metrics": metrics, "primary": primary}
        if missing:
            left_out.append({**claim, "reason": f"{missing!r} is made by a step that is switched off"})
        else:
            claims.append(claim)
    return claims, left_out


def _claim_metric(path, field: str, name: str, entry) -> dict:
    """{name, expect, min_effect, margin} of one claim metric (`higher` is short for {expect: higher})."""
    entry = {"expect": entry} if isinstance(entry, str) else entry
    margin = entry.get("margin")
    if entry["expect"] == "equivalent" and margin is None:
        raise ConfigError(path, f"{field}.margin", "a claim of no effect needs the margin within which a change "
                                                   "counts as none (in the metric's unit), e.g. margin: 1.0")
    if entry["expect"] == "equivalent" and "min_effect" in entry:
        raise ConfigError(path, f"{field}.min_effect", "a claim of no effect has a margin, not a min_effect")
    return {"name": name, "expect": entry["expect"], "min_effect": float(entry.get("min_effect", 0.0)),
            "margin": None if margin is None else float(margin)}


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


SWEEPS_SCHEMA_PATH = SCHEMAS / "sweeps.schema.yaml"
SWEEPABLE = {key: SEARCHABLE[key] for key in ("optimizer.lr", "optimizer.weight_decay", "model.dropout")}


def resolve_sweeps(path, specs: dict) -> list[dict]:
    """Validate the sweeps file against its schema and the experiments.

    Returns [{id, experiment, key, values, seeds, tuning_seeds, scale, lesson_value, spec}] in file order, where
    spec is the experiment's resolved spec and tuning_seeds the `seeds` seeds numbered after the experiment's own
    (disjoint from the seeds the best value is retrained with). Every problem names the field: an empty list
    or a repeated value (schema), a value the key cannot take (a learning rate <= 0, say), a key that is
    not sweepable or that the experiment's optimizer does not take, an experiment that does not exist.
    """
    doc = read_yaml(path)
    validate(doc, path, _load(SWEEPS_SCHEMA_PATH.read_text()))
    schema, default_seeds = load_schema(), doc.get("settings", {}).get("seeds")
    sweeps = []
    for sweep_id, entry in doc["sweeps"].items():
        field = f"sweeps.{sweep_id}"
        if entry["experiment"] not in specs:
            raise ConfigError(path, f"{field}.experiment",
                              f"{entry['experiment']!r} is not an experiment; expected one of {list(specs)}")
        key, spec = entry["key"], specs[entry["experiment"]]
        if key not in SWEEPABLE:
            raise ConfigError(path, f"{field}.key", f"{key!r} is not sweepable; expected one of {sorted(SWEEPABLE)} "
                                                    "(structural settings such as the activation are experiments)")
        block, _, name = key.partition(".")
        for i, value in enumerate(entry["values"]):
            if not _allowed(key, value):
                raise ConfigError(path, f"{field}.values.{i}", f"{value!r} is not {SWEEPABLE[key]}")
            candidate = {**spec[block], name: value}
            try:
                validate(candidate, path, schema, ref=block)
            except ConfigError as err:
                raise ConfigError(path, f"{field}.key", f"{key} = {value!r} does not fit {entry['experiment']!r}: "
                                                        f"{err.field}: {err.problem}") from None
        seeds = entry.get("seeds", default_seeds) or spec["seeds"]
        sweeps.append({"id": sweep_id, "experiment": entry["experiment"], "key": key,
                       "values": [float(v) for v in entry["values"]], "seeds": seeds,
                       "tuning_seeds": list(range(spec["seeds"], spec["seeds"] + seeds)),
                       "scale": entry.get("scale", "log"), "lesson_value": spec[block].get(name), "spec": spec})
    return sweeps
