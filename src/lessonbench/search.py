"""The lesson's hyperparameter search, run: sample in ranges, train briefly, score on validation, narrow.

Each search (a strategy and a search seed) is one Optuna study driven through ask-and-tell:
a round's trials are asked together, trained together on the stacked engine, and told together.

- `random`: the lesson's procedure. Round 1 samples the whole space at random; after each round every
  range narrows to the span of the best `keep_top` trials so far (choices to those they used). The
  values are drawn by `sample` (seeded per round) and enqueued in the study, which records them.
- `tpe`: Optuna's TPE sampler over the whole space, same rounds and budget, for comparison.

The data this module receives holds the training and validation parts only (the search job reads
results/data/train_val.parquet, which prepare_data writes without the test rows): the search cannot
see test data, and `search_data` refuses a frame that has any.

Resuming: trials are told only when their whole round has trained, and each round's sampler is seeded
from (search seed, round) alone; a search killed part way restarts at its first unfinished round, marks
that round's leftover asked trials as failed, and asks the same trials again.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import time
from pathlib import Path

import numpy as np
import optuna
import pandas as pd
import torch

from lessonbench import fileio
from lessonbench.config import canonical_json
from lessonbench.data import load_part, read_scaler
from lessonbench.fileio import log
from lessonbench.registries import build_optimizer
from lessonbench.stacked import StackedMLP
from lessonbench.store import exclusive
from lessonbench.training import evaluate, generators, resolve_device, train_epoch

# Hyperparameters a trial may vary, as dotted paths into an experiment spec. The first three may
# differ between trials trained in one stack (per-seed learning rate, L2 and dropout); trials that
# differ in any other one train in separate stacks.
PER_ROW = ("optimizer.lr", "optimizer.weight_decay", "model.dropout")
KNOWN = PER_ROW + ("optimizer.momentum", "model.activation", "model.batchnorm", "batch_size")
STRATEGIES = ("random", "tpe")


def set_path(spec: dict, path: str, value) -> None:
    node = spec
    *parents, leaf = path.split(".")
    for key in parents:
        node = node[key]
    node[leaf] = value


def trial_spec(base: dict, values: dict, epochs: int) -> dict:
    """The base experiment with one trial's values, trained for the search's short epochs, one seed."""
    spec = copy.deepcopy(base)
    for path, value in values.items():
        set_path(spec, path, value)
    spec.update(epochs=epochs, seeds=1)
    return spec


def distributions(space: dict) -> dict[str, optuna.distributions.BaseDistribution]:
    """Optuna distributions for a (possibly narrowed) space, in the space's order."""
    out = {}
    for name, dim in space.items():
        if "choices" in dim:
            out[name] = optuna.distributions.CategoricalDistribution(list(dim["choices"]))
        else:
            out[name] = optuna.distributions.FloatDistribution(dim["low"], dim["high"], log=dim["scale"] == "log")
    return out


def narrow(space: dict, scored: list[dict], keep_top: int) -> dict:
    """Each range to the span of the best `keep_top` trials so far, each choice list to the choices they used.

    scored: dicts with "values" and "value" (validation accuracy); ties go to the earlier trial.
    """
    top = sorted(scored, key=lambda t: (-t["value"], t["trial"]))[:keep_top]
    out = {}
    for name, dim in space.items():
        used = [t["values"][name] for t in top]
        if "choices" in dim:
            out[name] = {"choices": [c for c in dim["choices"] if c in used]}
        else:
            out[name] = {**dim, "low": float(min(used)), "high": float(max(used))}
    return out


def sample(space: dict, rng: np.random.Generator) -> dict:
    """One trial's values drawn at random inside a (narrowed) space: log-uniform, uniform or a choice.

    Drawn in the names' sorted order, so the trials do not depend on the order the space was written in.
    """
    values = {}
    for name in sorted(space):
        dim = space[name]
        if "choices" in dim:
            values[name] = dim["choices"][int(rng.integers(len(dim["choices"])))]
        elif dim["scale"] == "log":
            values[name] = float(np.exp(rng.uniform(np.log(dim["low"]), np.log(dim["high"]))))
        else:
            values[name] = float(rng.uniform(dim["low"], dim["high"]))
    return values


def round_seed(search_seed: int, round_no: int) -> int:
    return int(np.random.SeedSequence([search_seed, round_no]).generate_state(1)[0])


def per_seed_vector(model: StackedMLP, values: list[float]) -> torch.Tensor:
    """A tensor shaped like model.flat holding values[k] at every element of seed k (0 in the padding)."""
    out = torch.zeros_like(model.flat)
    column = torch.tensor(values, dtype=out.dtype, device=out.device)
    for leaf in model.tensors().values():
        offset = leaf.storage_offset() - model.flat.storage_offset()
        view = out[offset:offset + leaf.numel()].view(leaf.shape)
        view.copy_(column.view(-1, *[1] * (leaf.dim() - 1)).expand(leaf.shape))
    return out


def train_group(spec: dict, rows: list[dict], data: dict, seed: int, device: torch.device) -> list[dict]:
    """Train trials that share their structure (all but PER_ROW values) as one stack; score on validation.

    Every trial uses the same training seed (same initial weights, batch order and dropout draws), so
    trials differ only in their hyperparameters. The optimizer steps with lr=1 and no weight decay;
    each trial's L2 term is added to its gradient and its step scaled by its own learning rate, which
    is the same update torch's SGD, Adagrad and Adam make with that lr and weight_decay.
    """
    k = len(rows)
    lrs = [r.get("optimizer.lr", spec["optimizer"]["lr"]) for r in rows]
    decays = [r.get("optimizer.weight_decay", spec["optimizer"].get("weight_decay", 0.0)) for r in rows]
    drops = [r.get("model.dropout", spec["model"]["dropout"]) for r in rows]
    model = StackedMLP({**spec["model"], "dropout": max(drops)}, k, device)
    model.initialise(generators([seed] * k, "init"))
    optimizer = build_optimizer([model.flat], {**spec["optimizer"], "lr": 1.0, "weight_decay": 0.0}, fused=True)
    lr, decay = per_seed_vector(model, lrs), per_seed_vector(model, decays)
    shuffle, dropout = generators([seed] * k, "shuffle"), generators([seed] * k, "dropout")

    @torch.no_grad()
    def step() -> None:  # each trial's L2 and learning rate, on top of the optimizer's step at lr=1
        model.flat.grad.add_(decay * model.flat)
        before = model.flat.detach().clone()
        optimizer.step()
        model.flat.sub_(before).mul_(lr).add_(before)

    x, y = (t.to(device) for t in data["train"])
    for _ in range(spec["epochs"]):
        train_epoch(model, optimizer, x, y, spec["batch_size"], shuffle, dropout, dropout_p=drops, step=step)
    scores = evaluate(model, *(t.to(device) for t in data["val"]))
    return [{"val_accuracy": float(acc) if math.isfinite(loss) else 0.0, "val_loss": float(loss),
             "diverged": not math.isfinite(loss)} for acc, loss in zip(scores["accuracy"], scores["loss"])]


def train_trials(base: dict, trials: list[dict], data: dict, settings: dict, device, together: bool = True):
    """Scores of each trial; trials with the same structure train in one stack unless together=False."""
    groups: dict[str, list[int]] = {}
    for i, values in enumerate(trials):
        key = canonical_json({k: v for k, v in values.items() if k not in PER_ROW}) if together else str(i)
        groups.setdefault(key, []).append(i)
    scores: list[dict] = [{}] * len(trials)
    for members in groups.values():
        spec = trial_spec(base, {k: v for k, v in trials[members[0]].items() if k not in PER_ROW}, settings["epochs"])
        for i, score in zip(members, train_group(spec, [trials[i] for i in members], data,
                                                  settings["trial_seed"], device)):
            scores[i] = score
    return scores, len(groups)


def search_data(frame: pd.DataFrame, scaler: dict) -> dict:
    """Training and validation tensors; refuses a frame that holds test rows."""
    if (frame["split"] == "test").any():
        raise ValueError("the search was given test rows; it must read results/data/train_val.parquet only")
    return {part: load_part(frame, scaler, part) for part in ("train", "val")}


def study_name(strategy: str, search_seed: int, settings: dict, base: dict, code_version: str = "") -> str:
    """Named after everything that decides its trials, so a study is resumed only by the same search."""
    identity = canonical_json({"search": settings, "base": base, "code": code_version})
    digest = hashlib.sha256(identity.encode()).hexdigest()
    return f"{strategy}-{search_seed}-{digest[:12]}"


def open_study(storage: str, name: str, attempts: int = 5) -> optuna.Study:
    """Create or load the study. Workers starting together on an empty database race to create Optuna's
    tables; the loser gets a database error and tries again once the tables exist."""
    for attempt in range(attempts):
        try:
            return optuna.create_study(storage=storage, study_name=name, direction="maximize", load_if_exists=True)
        except Exception:  # sqlalchemy's IntegrityError/ProgrammingError, depending on the database
            if attempt == attempts - 1:
                raise
            time.sleep(0.5 * (attempt + 1))
    raise AssertionError("unreachable")


def completed(study, round_no: int) -> list:
    """The complete trials of a round, one per index (workers may have trained an index twice, identically)."""
    first: dict[int, optuna.trial.FrozenTrial] = {}
    for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)):
        if trial.user_attrs.get("round") == round_no:
            first.setdefault(trial.user_attrs["index"], trial)
    return [first[i] for i in sorted(first)]


def run_worker(search_seed: int, worker: int, workers: int, settings: dict, base: dict, data: dict, storage: str,
               device: str = "cpu", log=print, code_version: str = "", poll: float = 0.5) -> dict:
    """One of several workers sharing the lesson's (random) search through one study in a database.

    Round by round, every worker derives the same trials (same seed, same narrowing from the complete
    rounds before) and trains those not yet in the study, a batch at a time, starting at its own
    offset; then waits until the round is complete. A worker alone does everything, so workers may
    start at any time; two that take the same trial at once train it twice, identically, and
    `completed` keeps one. The trials, and so the choice, are those of a single-worker search.
    Returns how many trials this worker trained.
    """
    dev = resolve_device(device)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    name = study_name("random", search_seed, settings, base, code_version)
    study = open_study(storage, name)
    per_round, dists, space, rows = settings["trials_per_round"], distributions(settings["space"]), dict(
        settings["space"]), []
    batch = -(-per_round // workers)
    trained = 0
    for round_no in range(1, settings["rounds"] + 1):
        if round_no > 1:
            space = narrow(space, rows, settings["keep_top"])
        rng = np.random.default_rng(round_seed(search_seed, round_no))
        values = [sample(space, rng) for _ in range(per_round)]
        offset = (round_no - 1) * per_round  # trials are numbered across rounds, as run_search numbers them
        order = [offset + (worker * batch + j) % per_round for j in range(per_round)]
        while True:
            present = {t.user_attrs.get("index") for t in study.get_trials(deepcopy=False, states=(
                optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.RUNNING, optuna.trial.TrialState.WAITING))
                if t.user_attrs.get("round") == round_no}
            todo = [i for i in order if i not in present][:batch]
            if not todo:
                break
            asked = []
            for i in todo:
                study.enqueue_trial(values[i - offset], user_attrs={"round": round_no, "index": i},
                                    skip_if_exists=False)
                asked.append(study.ask(dists))
            scores, _ = train_trials(base, [dict(t.params) for t in asked], data, settings, dev)
            for trial, score in zip(asked, scores):
                trial.set_user_attr("worker", worker)
                for key, value in score.items():
                    trial.set_user_attr(key, value)
                study.tell(trial, score["val_accuracy"])
            trained += len(asked)
            log(f"worker {worker}: round {round_no}: trained trials "
                f"{sorted(t.user_attrs['index'] for t in asked)}")
        while len(done := completed(study, round_no)) < per_round:
            time.sleep(poll)  # another worker is still training part of this round
        rows += [row_of(t.user_attrs["index"], round_no, t.params, t.value, t.user_attrs, space) for t in done]
    return {"worker": worker, "workers": workers, "study": name, "trials_trained": trained}


def run_search(strategy: str, search_seed: int, settings: dict, base: dict, data: dict, storage: str,
               device: str = "cpu", log=print, code_version: str = "") -> tuple[pd.DataFrame, dict]:
    """Run (or resume) one search; return its trials table and timing facts."""
    dev = resolve_device(device)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    name = study_name(strategy, search_seed, settings, base, code_version)
    study = open_study(storage, name)
    space, rows, seconds, n_trained = dict(settings["space"]), [], 0.0, 0
    per_round = settings["trials_per_round"]
    for round_no in range(1, settings["rounds"] + 1):
        done = completed(study, round_no)
        if strategy == "random" and round_no > 1:
            space = narrow(space, rows, settings["keep_top"])
        dists = distributions(settings["space"])  # what the study records; `random` samples the narrowed space
        if len(done) == per_round:  # finished before: reuse, do not retrain
            done.sort(key=lambda t: t.user_attrs["index"])
            rows += [row_of(t.user_attrs["index"], round_no, t.params, t.value, t.user_attrs, space)
                     for t in done]
            log(f"{name}: round {round_no} already done, {per_round} trials read back from the study")
            continue
        # left by a run that was killed: asked but not told (RUNNING), or enqueued but not asked (WAITING)
        for stale in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
            study.tell(stale.number, state=optuna.trial.TrialState.FAIL)
        for _ in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.WAITING,)):
            study.tell(study.ask(), state=optuna.trial.TrialState.FAIL)
        seed = round_seed(search_seed, round_no)
        if strategy == "random":
            # Optuna cannot narrow a categorical within one study, so the values are drawn here, in the
            # narrowed space, and handed to the study as enqueued trials: asked and told like any other.
            rng = np.random.default_rng(seed)
            for _ in range(per_round):
                study.enqueue_trial(sample(space, rng), skip_if_exists=False)
        else:
            study.sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=per_round)
        asked = [study.ask(dists) for _ in range(per_round)]
        values = [dict(trial.params) for trial in asked]
        started = time.perf_counter()
        scores, n_groups = train_trials(base, values, data, settings, dev)
        seconds += time.perf_counter() - started
        n_trained += per_round
        for i, (trial, score) in enumerate(zip(asked, scores)):
            index = (round_no - 1) * per_round + i
            trial.set_user_attr("round", round_no)
            trial.set_user_attr("index", index)
            for key, value in score.items():
                trial.set_user_attr(key, value)
            study.tell(trial, score["val_accuracy"])
            rows.append(row_of(index, round_no, values[i], score["val_accuracy"], score, space))
        best = max(rows, key=lambda r: (r["value"], -r["trial"]))
        log(f"{name}: round {round_no}/{settings['rounds']}: {per_round} trials in {n_groups} stacks, "
            f"{time.perf_counter() - started:.1f} s; best validation accuracy so far "
            f"{100 * best['value']:.2f}% (trial {best['trial']})")
    table = trials_frame(rows, strategy, search_seed)
    timing = {"strategy": strategy, "search_seed": search_seed, "trials_trained": n_trained,
              "seconds_training": round(seconds, 3),
              "trials_per_second": round(n_trained / seconds, 3) if seconds else None}
    return table, timing


def row_of(index: int, round_no: int, values: dict, value: float, score: dict, space: dict) -> dict:
    """A trial as the tables hold it; values in sorted name order, however the study returned them."""
    return {"trial": index, "round": round_no, "values": {name: values[name] for name in sorted(space)},
            "value": float(value),
            "val_loss": score.get("val_loss"), "diverged": bool(score.get("diverged", False)),
            "space": copy.deepcopy(space)}


def trials_frame(rows: list[dict], strategy: str, search_seed: int) -> pd.DataFrame:
    """One row per trial: strategy, search seed, round, trial, val accuracy/loss, one column per hyperparameter,
    and the round's range of every numeric hyperparameter (low/high) for the report."""
    records = []
    for r in rows:
        record = {"strategy": strategy, "search_seed": search_seed, "round": r["round"], "trial": r["trial"],
                  "val_accuracy": r["value"], "val_loss": r["val_loss"], "diverged": r["diverged"]}
        for name, value in r["values"].items():
            record[f"hp:{name}"] = json.dumps(value) if isinstance(value, bool) else value
        for name, dim in sorted(r["space"].items()):
            record[f"range:{name}"] = (", ".join(json.dumps(c) if isinstance(c, bool) else str(c)
                                                 for c in dim["choices"]) if "choices" in dim
                                       else f"{dim['low']:.3g} – {dim['high']:.3g}")
        records.append(record)
    return pd.DataFrame(records)


def chosen(table: pd.DataFrame, base: dict, settings: dict) -> dict:
    """The best trial's hyperparameters (highest validation accuracy; ties to the earlier trial)."""
    best = table.sort_values(["val_accuracy", "trial"], ascending=[False, True]).iloc[0]
    values = {}
    for name in settings["space"]:
        value = best[f"hp:{name}"]
        values[name] = fileio.decode_value(value)
        if isinstance(values[name], np.generic):
            values[name] = values[name].item()
    return {"trial": int(best["trial"]), "round": int(best["round"]), "val_accuracy": float(best["val_accuracy"]),
            "values": values}


def tuned_spec(base: dict, choice: dict, tuned: dict) -> dict:
    """The `tuned` experiment: the base experiment with the chosen values, full epochs and seeds."""
    spec = copy.deepcopy(base)
    for path, value in choice["values"].items():
        set_path(spec, path, value)
    spec.update(id="tuned", section=tuned["section"], title=tuned["title"], origin="search",
                description=tuned["description"].strip())
    return spec


def worker_step(args) -> None:
    settings, base = args.settings, args.base
    torch.set_num_threads(args.threads)
    data = search_data(pd.read_parquet(args.train_val), read_scaler(args.scaler))
    log(f"search worker {args.worker} of {args.workers} on {args.storage.split('@')[-1]}")
    facts = run_worker(args.search_seed, args.worker, args.workers, settings, base, data, args.storage,
                       args.device, log, args.code_version)
    fileio.write_json(facts, args.output)
    log(f"worker {args.worker}: {facts['trials_trained']} trials trained in study {facts['study']}")


def search_step(args) -> None:
    with exclusive({"trials": args.trials}, log):  # one writer: a second job for this search waits for the first
        run_search_step(args)


def run_search_step(args) -> None:
    settings, base = args.settings, args.base
    torch.set_num_threads(args.threads)
    frame = pd.read_parquet(args.train_val)
    data = search_data(frame, read_scaler(args.scaler))
    storage = args.storage or f"sqlite:///{Path(args.database).resolve()}"
    Path(args.database).parent.mkdir(parents=True, exist_ok=True)
    log(f"search {args.strategy} seed {args.search_seed}: {settings['rounds']} rounds x "
        f"{settings['trials_per_round']} trials x {settings['epochs']} epochs on the base {base['id']!r}; "
        f"storage {storage.split('@')[-1]}")
    table, timing = run_search(args.strategy, args.search_seed, settings, base, data, storage, args.device, log,
                               args.code_version)
    fileio.write_table(table, Path(args.trials).with_suffix(""))
    choice = chosen(table, base, settings)
    fileio.write_json({"strategy": args.strategy, "search_seed": args.search_seed, "base": base["id"], **choice,
                       "spec": tuned_spec(base, choice, settings["tuned"])}, args.best)
    fileio.write_json(timing, args.timing)
    log(f"chosen: {choice['values']} (trial {choice['trial']}, validation accuracy "
        f"{100 * choice['val_accuracy']:.2f}%); {timing['trials_per_second']} trials/s trained together")
