"""The lesson's other files resolved against its experiments: illustrations, search, claims, sweeps."""

from __future__ import annotations

import copy

from lessonbench.spec.files import SCHEMAS, ConfigError, load_schema, parse_yaml, read_yaml, validate

ILLUSTRATIONS_SCHEMA_PATH = SCHEMAS / "illustrations.schema.yaml"
SEARCH_SCHEMA_PATH = SCHEMAS / "search.schema.yaml"


def resolve_illustrations(path, specs: dict) -> dict:
    """Validate the illustrations file; optimizer and init blocks follow the experiment schema."""
    doc = read_yaml(path)
    validate(doc, path, parse_yaml(ILLUSTRATIONS_SCHEMA_PATH.read_text()))
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
    validate(doc, path, parse_yaml(SEARCH_SCHEMA_PATH.read_text()))
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


CLAIMS_SCHEMA_PATH = SCHEMAS / "claims.schema.yaml"


CLAIM_TARGET = 0.95  # default validation-accuracy target of epochs_to_target


def _side(value) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


SWEPT_METRICS = {"largest_lr": "optimizer.lr"}  # claim metrics read off a sweep of this key, not off the runs


def resolve_claims(path, experiments, later=(), swept=None) -> tuple[list[dict], list[dict]]:
    """Validate the claims file against its schema and the experiments; return (claims, left out).

    `experiments` are the ids that will have runs; `later` names experiments a switched-off step would
    have made (the search's `tuned`), or is a test of such names (a sweep's `<sweep>_best`): a claim
    naming one is left out, with the reason, not refused.
    Each claim comes back canonical: id, lesson_claim (its lead's id, or its own), variant (None for a lead),
    design, section, claim (a variant's default to its lead's), treatment and control as lists (one id, or
    [a, b] for a - b), factor, matched, budget (None: the shorter experiment's epochs), target, metrics as
    [{name, expect, min_effect, margin, reason}] in file order, and the primary metric's name (the one metric
    of a claim with one), which has a margin of relevance and its reason. `swept`: {experiment: [keys its sweeps
    vary]}; a claim on a metric read off a sweep (largest_lr) whose experiments have no such sweep is left out.
    """
    doc = read_yaml(path)
    validate(doc, path, parse_yaml(CLAIMS_SCHEMA_PATH.read_text()))
    known = list(experiments)
    target = doc.get("settings", {}).get("target", CLAIM_TARGET)
    claims, left_out = [], []
    for claim_id, entry in doc["claims"].items():
        sides, missing = _sides(path, claim_id, entry, known, later)
        metrics = [_claim_metric(path, f"claims.{claim_id}.metrics.{name}", name, m)
                   for name, m in entry["metrics"].items()]
        if any(m["name"] in SWEPT_METRICS for m in metrics) and len(metrics) > 1:
            raise ConfigError(path, f"claims.{claim_id}.metrics",
                              "largest_lr is read off the experiments' learning-rate sweeps, not their runs: it is a "
                              "claim's only metric")
        primary = entry.get("primary", metrics[0]["name"] if len(metrics) == 1 else None)
        if primary not in entry["metrics"]:
            raise ConfigError(path, f"claims.{claim_id}.primary",
                              f"{primary!r} is not one of the claim's metrics; expected one of {list(entry['metrics'])}"
                              if primary else "a claim with several metrics names its primary one; expected one of "
                                              f"{list(entry['metrics'])}")
        if next(m for m in metrics if m["name"] == primary)["margin"] is None:
            raise ConfigError(path, f"claims.{claim_id}.metrics.{primary}.margin",
                              "the primary metric needs a margin of relevance (the smallest effect worth teaching, "
                              "in the metric's unit) and its reason, e.g. "
                              "{expect: higher, margin: 1.0, reason: 'one point is ...'}")
        for i, factor in enumerate(entry["factor"]):
            if factor == "data" or factor.startswith("data."):
                raise ConfigError(path, f"claims.{claim_id}.factor.{i}",
                                  f"{factor!r} is one setting for the whole lesson, so no two experiments can differ "
                                  "in it; an experiment's own preprocessing is preprocess.scaling (standardise, "
                                  "minmax, none) or preprocess.train_size")
        lead = _lead(path, claim_id, entry, doc["claims"])
        claim = {"id": claim_id, "lesson_claim": lead, "variant": entry.get("variant"),
                 "design": entry.get("design", ""),
                 "section": entry.get("section", doc["claims"][lead].get("section")),
                 "claim": entry.get("claim", doc["claims"][lead].get("claim")), **sides,
                 "factor": list(entry["factor"]), "matched": list(entry.get("matched", [])),
                 "budget": entry.get("budget"),
                 "target": float(entry.get("target", target)), "metrics": metrics, "primary": primary}
        unswept = [exp for m in metrics if m["name"] in SWEPT_METRICS for exp in sides["treatment"] + sides["control"]
                   if SWEPT_METRICS[m["name"]] not in (swept or {}).get(exp, [])]
        if missing:
            left_out.append({**claim, "reason": f"{missing!r} is made by a step that is switched off"})
        elif unswept:
            left_out.append({**claim, "reason": f"it reads a sweep of {SWEPT_METRICS[primary]} of {unswept[0]!r}, and "
                                                "the sweeps file has none (or is switched off)"})
        else:
            claims.append(claim)
    return claims, left_out


def _lead(path, claim_id: str, entry: dict, entries: dict) -> str:
    """The id of the lesson claim an entry belongs to: its `variant_of`, checked, or its own id (a lead needs
    its section and sentence)."""
    lead = entry.get("variant_of")
    if lead is None:
        for key in ("section", "claim"):
            if key not in entry:
                raise ConfigError(path, f"claims.{claim_id}.{key}",
                                  f"a lesson claim needs its {key} (only a variant, with variant_of, takes its lead's)")
        return claim_id
    if lead not in entries or lead == claim_id:
        raise ConfigError(path, f"claims.{claim_id}.variant_of",
                          f"{lead!r} is not another claim; expected one of {[c for c in entries if c != claim_id]}")
    if "variant_of" in entries[lead]:
        raise ConfigError(path, f"claims.{claim_id}.variant_of",
                          f"{lead!r} is itself a variant (of {entries[lead]['variant_of']!r}); name the lesson claim")
    if "variant" not in entry:
        raise ConfigError(path, f"claims.{claim_id}.variant",
                          "a variant says what sets its design apart, e.g. variant: at the same learning rate")
    return lead


def _sides(path, claim_id: str, entry: dict, known: list[str], later) -> tuple[dict, str | None]:
    """A claim's treatment and control as lists of ids, checked; and an id a switched-off step would make (the
    claim is then left out), or None."""
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
    return sides, missing


def _claim_metric(path, field: str, name: str, entry) -> dict:
    """{name, expect, min_effect, margin, reason} of one claim metric (`higher` is short for {expect: higher})."""
    entry = {"expect": entry} if isinstance(entry, str) else entry
    margin = entry.get("margin")
    if entry["expect"] == "equivalent" and margin is None:
        raise ConfigError(path, f"{field}.margin", "a claim of no effect needs the margin within which a change "
                                                   "counts as none (in the metric's unit), e.g. margin: 1.0")
    if entry["expect"] == "equivalent" and "min_effect" in entry:
        raise ConfigError(path, f"{field}.min_effect", "a claim of no effect has a margin, not a min_effect")
    if margin is not None and "reason" not in entry:
        raise ConfigError(path, f"{field}.reason", "a margin says why it is that size (the smallest effect worth "
                                                   "teaching), e.g. reason: one point is 4 of 360 digits")
    return {"name": name, "expect": entry["expect"], "min_effect": float(entry.get("min_effect", 0.0)),
            "margin": None if margin is None else float(margin), "reason": entry.get("reason", "")}


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
    validate(doc, path, parse_yaml(SWEEPS_SCHEMA_PATH.read_text()))
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
