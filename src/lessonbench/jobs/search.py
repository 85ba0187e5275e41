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

One round loop (`run_rounds`) serves one process and several workers alike: every trial carries its round
and index as user attributes; a round is done when the study holds a complete trial for each index. A
worker trains the indices nobody has taken yet, a batch at a time, and waits for the rest; one process
is the case of one worker. The space, its sampling and narrowing are in `search_space`.

Resuming: each round's sampler is seeded from (search seed, round) alone; a search killed part way
restarts at its first unfinished round, marks that round's leftover asked trials as failed (one
process only: with several workers, another's running trials are not stale), and trains the missing ones.
"""

from __future__ import annotations

import copy
import hashlib
import json
import time
from pathlib import Path

import numpy as np
import optuna
import pandas as pd
import torch

from lessonbench import fileio
from lessonbench.engine.data import read_scaler
from lessonbench.engine.training import resolve_device
from lessonbench.fileio import log
from lessonbench.jobs.search_space import distributions, narrow, round_seed, sample
from lessonbench.jobs.search_trials import search_data, train_trials, trial_spec  # noqa: F401 - the search's API
from lessonbench.spec.config import TUNED, training_spec, with_values
from lessonbench.spec.files import canonical_json
from lessonbench.store import exclusive

STRATEGIES = ("random", "tpe")
STATES = optuna.trial.TrialState


def study_name(strategy: str, search_seed: int, settings: dict, base: dict, code_version: str = "") -> str:
    """Named after everything that decides its trials, so a study is resumed only by the same search."""
    identity = canonical_json({"search": settings, "base": training_spec(base), "code": code_version})
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
    for trial in study.get_trials(deepcopy=False, states=(STATES.COMPLETE,)):
        if trial.user_attrs.get("round") == round_no:
            first.setdefault(trial.user_attrs["index"], trial)
    return [first[i] for i in sorted(first)]


def run_rounds(strategy: str, search_seed: int, settings: dict, base: dict, data: dict, storage: str,
               device: str = "cpu", log=print, code_version: str = "", worker: int = 0, workers: int = 1,
               poll: float = 0.5) -> tuple[list[dict], dict]:
    """Run (or resume) one search's rounds as worker `worker` of `workers`; return every trial's row and facts.

    Round by round, every worker derives the same trials (`random`: the same seed and the same narrowing
    from the complete rounds before; `tpe`, one worker only: the sampler seeded per round) and trains
    those not yet in the study, a batch at a time, starting at its own offset; then waits until the
    round is complete. Workers may start at any time; two that take the same trial at once train it
    twice, identically, and `completed` keeps one. The trials, and so the choice, are those of one worker.
    """
    if strategy not in STRATEGIES or (strategy == "tpe" and workers > 1):
        raise ValueError(f"strategy {strategy!r} with {workers} workers: expected random (any workers) or tpe (one)")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    name = study_name(strategy, search_seed, settings, base, code_version)
    study = open_study(storage, name)
    per_round = settings["trials_per_round"]
    space, rows, facts = dict(settings["space"]), [], {"study": name, "trials_trained": 0, "seconds_training": 0.0}
    train = {"base": base, "data": data, "settings": settings, "device": resolve_device(device), "worker": worker,
             "batch": -(-per_round // workers), "facts": facts, "log": log, "name": name}
    for round_no in range(1, settings["rounds"] + 1):
        if strategy == "random" and round_no > 1:
            space = narrow(space, rows, settings["keep_top"])
        if len(completed(study, round_no)) == per_round:
            log(f"{name}: round {round_no} already done, {per_round} trials read back from the study")
        else:
            if workers == 1:
                fail_stale(study)
            train_round(study, round_no, asker(strategy, study, space, search_seed, round_no, settings), **train)
        while len(done := completed(study, round_no)) < per_round:
            time.sleep(poll)  # another worker is still training part of this round
        rows += [row_of(t.user_attrs["index"], round_no, t.params, t.value, t.user_attrs, space) for t in done]
        best = max(rows, key=lambda r: (r["value"], -r["trial"]))
        log(f"{name}: round {round_no}: best validation accuracy so far {100 * best['value']:.2f}% "
            f"(trial {best['trial']})")
    return rows, facts


def fail_stale(study) -> None:
    """Fail the trials a killed run left: asked but not told, or enqueued but not asked."""
    for stale in study.get_trials(deepcopy=False, states=(STATES.RUNNING,)):
        study.tell(stale.number, state=STATES.FAIL)
    for _ in study.get_trials(deepcopy=False, states=(STATES.WAITING,)):
        study.tell(study.ask(), state=STATES.FAIL)


def asker(strategy: str, study, space: dict, search_seed: int, round_no: int, settings: dict):
    """`ask(i)`: trial i of the round (numbered across rounds), asked of the study with its round and index (None
    where another worker took it first).

    random: Optuna cannot narrow a categorical within one study, so the round's values are drawn here, in the
    narrowed space, and handed to the study as enqueued trials (asked and told like any other; the attributes
    travel with an enqueued trial, whichever worker asks for it). tpe: the study's sampler, seeded per round."""
    per_round, dists = settings["trials_per_round"], distributions(settings["space"])  # what the study records
    offset = (round_no - 1) * per_round
    if strategy == "random":
        rng = np.random.default_rng(round_seed(search_seed, round_no))
        values = [sample(space, rng) for _ in range(per_round)]

        def ask(i: int):
            study.enqueue_trial(values[i - offset], user_attrs={"round": round_no, "index": i}, skip_if_exists=False)
            while True:
                trial = study.ask(dists)
                if "index" in trial.user_attrs:  # an enqueued trial: ours, or another worker's (the same values)
                    return trial
                # Optuna found no enqueued trial free (workers asking at once) and sampled one of its own, which no
                # round wants: fail it; ask again while one waits, else another worker took ours and trains it
                study.tell(trial, state=STATES.FAIL)
                if not study.get_trials(deepcopy=False, states=(STATES.WAITING,)):
                    return None
    else:
        study.sampler = optuna.samplers.TPESampler(seed=round_seed(search_seed, round_no), n_startup_trials=per_round)

        def ask(i: int):
            trial = study.ask(dists)
            trial.set_user_attr("round", round_no)
            trial.set_user_attr("index", i)
            return trial
    return ask


def train_round(study, round_no: int, ask, *, base: dict, data: dict, settings: dict, device, worker: int,
                batch: int, facts: dict, log, name: str) -> None:
    """Train the round's trials no live worker has taken, `batch` at a time from this worker's offset; tell the
    study each score."""
    per_round = settings["trials_per_round"]
    offset = (round_no - 1) * per_round
    order = [offset + (worker * batch + j) % per_round for j in range(per_round)]
    while todo := [i for i in order if i not in taken(study, round_no)][:batch]:
        asked = [trial for trial in map(ask, todo) if trial is not None]
        if not asked:
            continue  # another worker took them all
        started = time.perf_counter()
        scores, n_groups = train_trials(base, [dict(t.params) for t in asked], data, settings, device)
        facts["seconds_training"] += time.perf_counter() - started
        facts["trials_trained"] += len(asked)
        for trial, score in zip(asked, scores):
            trial.set_user_attr("worker", worker)
            for key, value in score.items():
                trial.set_user_attr(key, value)
            study.tell(trial, score["val_accuracy"])
        log(f"{name}: round {round_no}/{settings['rounds']}: worker {worker} trained trials "
            f"{sorted(t.user_attrs['index'] for t in asked)} in {n_groups} stacks, "
            f"{time.perf_counter() - started:.1f} s")


def taken(study, round_no: int) -> set[int]:
    """Indices of a round's trials that are complete, or asked or enqueued by a live worker."""
    live = study.get_trials(deepcopy=False, states=(STATES.COMPLETE, STATES.RUNNING, STATES.WAITING))
    return {t.user_attrs.get("index") for t in live if t.user_attrs.get("round") == round_no}


def run_search(strategy: str, search_seed: int, settings: dict, base: dict, data: dict, storage: str,
               device: str = "cpu", log=print, code_version: str = "") -> tuple[pd.DataFrame, dict]:
    """Run (or resume) one search in this process; return its trials table and timing facts."""
    rows, facts = run_rounds(strategy, search_seed, settings, base, data, storage, device, log, code_version)
    seconds, n_trained = facts["seconds_training"], facts["trials_trained"]
    timing = {"strategy": strategy, "search_seed": search_seed, "trials_trained": n_trained,
              "seconds_training": round(seconds, 3),
              "trials_per_second": round(n_trained / seconds, 3) if seconds else None}
    return trials_frame(rows, strategy, search_seed), timing


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
    return with_values(base, choice["values"], id=TUNED, section=tuned["section"], title=tuned["title"],
                       origin="search", description=tuned["description"].strip())


def search_worker_step(args) -> None:
    settings, base = args.settings, args.base
    torch.set_num_threads(args.threads)
    data = search_data(pd.read_parquet(args.train_val), read_scaler(args.scaler), len(args.dataset["classes"]))
    log(f"search worker {args.worker} of {args.workers} on {args.storage.split('@')[-1]}")
    _, facts = run_rounds("random", args.search_seed, settings, base, data, args.storage, args.device, log,
                          args.code_version, worker=args.worker, workers=args.workers)
    facts = {"worker": args.worker, "workers": args.workers, "study": facts["study"],
             "trials_trained": facts["trials_trained"]}
    fileio.write_json(facts, args.output)
    log(f"worker {args.worker}: {facts['trials_trained']} trials trained in study {facts['study']}")


def search_step(args) -> None:
    with exclusive({"trials": args.trials}, log):  # one writer: a second job for this search waits for the first
        search_job(args)


def search_job(args) -> None:
    settings, base = args.settings, args.base
    torch.set_num_threads(args.threads)
    frame = pd.read_parquet(args.train_val)
    data = search_data(frame, read_scaler(args.scaler), len(args.dataset["classes"]))
    storage = args.storage or f"sqlite:///{Path(args.database).resolve()}"
    Path(args.database).parent.mkdir(parents=True, exist_ok=True)
    log(f"search {args.strategy} seed {args.search_seed}: {settings['rounds']} rounds x "
        f"{settings['trials_per_round']} trials x {settings['epochs']} epochs on the base {base['id']!r}; "
        f"storage {storage.split('@')[-1]}")
    table, timing = run_search(args.strategy, args.search_seed, settings, base, data, storage, args.device, log,
                               args.code_version)
    fileio.write_table(table, Path(args.trials).with_suffix(""))
    choice = chosen(table, base, settings)
    spec = tuned_spec(base, choice, settings["tuned"])
    fileio.write_json({"strategy": args.strategy, "search_seed": args.search_seed, "base": base["id"], **choice,
                       "spec": spec}, args.best)
    fileio.write_json(spec, args.spec)  # the chosen experiment's spec: what training and the tables read
    fileio.write_json(timing, args.timing)
    log(f"chosen: {choice['values']} (trial {choice['trial']}, validation accuracy "
        f"{100 * choice['val_accuracy']:.2f}%); {timing['trials_per_second']} trials/s trained together")
