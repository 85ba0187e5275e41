"""A lesson's data, split and scaled: made once by prepare_data, read by every training job.

The data block of a lesson file names its source: one of scikit-learn's bundled datasets (`digits`, the default,
`iris`, `wine`, `breast_cancer`; nothing is downloaded), or a CSV or Parquet file with a `label` column (numbers or
strings) and numeric features. The split frame has one row per sample: `sample` (its row in the source), `split`
(train/val/test), `label` (the class's index in the dataset's sorted classes) and the features.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from lessonbench.fileio import log, write_json, write_parquet

if TYPE_CHECKING:
    import torch

PIXELS = [f"pixel_{i}" for i in range(64)]  # digits' feature names: the 8x8 image row by row
BUNDLED = {"digits": "load_digits", "iris": "load_iris", "wine": "load_wine", "breast_cancer": "load_breast_cancer"}
IMAGE_SHAPES = {"digits": [8, 8]}
# samples per class of each bundled dataset (scikit-learn 1.x), for checking a split before any job runs
BUNDLED_COUNTS = {"digits": [178, 182, 177, 183, 181, 182, 181, 179, 174, 180], "iris": [50, 50, 50],
                  "wine": [59, 71, 48], "breast_cancer": [357, 212]}  # classes in sorted order
META = ("sample", "split", "label")
# columns the split frame and the test probabilities already have: a feature may not take their names
RESERVED = {*META, "experiment", "seed", "pred"}
BUNDLED_FEATURES = {"digits": 64, "iris": 4, "wine": 13, "breast_cancer": 30}


class DataError(ValueError):
    """Data a lesson cannot use: the message names the file (or dataset) and the column; `field` the lesson file's
    setting it comes from."""

    def __init__(self, message: str, field: str = "data.source"):
        super().__init__(message)
        self.field = field


def source_of(data: dict) -> str:
    return data.get("source", "digits")


def data_file(data: dict) -> str | None:
    """The data block's file (a .csv or .parquet source), or None for a bundled dataset or an unknown name."""
    source = source_of(data)
    return source if Path(source).suffix in (".csv", ".parquet") else None


def counts_of(codes: np.ndarray, classes: list[str]) -> dict[str, int]:
    """{class: samples} of the label codes."""
    return dict(zip(classes, np.bincount(codes, minlength=len(classes)).tolist()))


def load_source(data: dict, root: Path = Path(".")) -> tuple[pd.DataFrame, np.ndarray, list[str]]:
    """(features, label index per row, class names) of the data block's source, checked (DataError if unusable)."""
    source = source_of(data)
    if source in BUNDLED:
        import sklearn.datasets

        bunch = getattr(sklearn.datasets, BUNDLED[source])()
        names = PIXELS if source == "digits" else [_column_name(n) for n in bunch.feature_names]
        features = pd.DataFrame(bunch.data, columns=names)
        labels = pd.Series(np.asarray(bunch.target_names)[bunch.target] if source != "digits" else bunch.target)
        where = f"scikit-learn's {source} dataset"
    else:
        path = root / source
        if data_file(data) is None:
            raise DataError(f"{source!r} is neither a bundled dataset ({', '.join(BUNDLED)}) nor a .csv or .parquet "
                            "file")
        if not path.is_file():
            raise DataError(f"{path} does not exist")
        try:
            table = pd.read_csv(path) if path.suffix == ".csv" else pd.read_parquet(path)
        except Exception as err:  # pandas and pyarrow raise many kinds: each is an unreadable file here
            raise DataError(f"{path}: not a readable {path.suffix[1:].upper()} file ({err})") from None
        column = data.get("label", "label")
        if column not in table.columns:
            raise DataError(f"{path}: no label column {column!r}; the columns are {list(table.columns)}", "data.label")
        if table.empty:
            raise DataError(f"{path}: no rows of data")
        labels, features, where = table[column].rename(column), table.drop(columns=[column]), str(path)
    codes, classes = _encode(labels, where)
    _check_features(features, where)
    return features, codes, classes


def _column_name(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in str(name)).strip("_").lower()


def _encode(labels: pd.Series, where: str) -> tuple[np.ndarray, list[str]]:
    """Each row's class index in the sorted classes, and the classes' names."""
    name = f"the label column {labels.name!r}" if labels.name is not None else "the labels"
    if labels.isna().any():
        raise DataError(f"{where}: {name} has {int(labels.isna().sum())} empty values (first at row "
                        f"{int(np.flatnonzero(labels.isna())[0])})", "data.label")
    classes = sorted(labels.unique().tolist())
    if len(classes) < 2:
        raise DataError(f"{where}: {name} has a single class ({classes[0]!r}); a classifier needs two", "data.label")
    index = {c: i for i, c in enumerate(classes)}
    return labels.map(index).to_numpy(dtype=np.int64), [str(c) for c in classes]


def _check_features(features: pd.DataFrame, where: str) -> None:
    for name in features.columns:
        column = features[name]
        if name in RESERVED or str(name).startswith("prob_"):
            raise DataError(f"{where}: feature column {name!r} has a name lessonbench's tables use; rename it")
        if not pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
            words = np.flatnonzero(pd.to_numeric(column, errors="coerce").isna() & column.notna())
            row = int(words[0]) if len(words) else 0
            raise DataError(f"{where}: feature column {name!r} is not numeric ({column.iloc[row]!r} at row {row}); "
                            "every column but the label must be a number")
        bad = ~np.isfinite(column.to_numpy(dtype=float))
        if bad.any():
            raise DataError(f"{where}: feature column {name!r} has {int(bad.sum())} NaN or infinite values "
                            f"(first at row {int(np.flatnonzero(bad)[0])})")


def class_counts(data: dict, root: Path = Path(".")) -> tuple[dict[str, int], str, int]:
    """({class: samples}, where, features) of the data block's source: a bundled dataset's from a table, a file's
    read and checked (DataError naming the file and column)."""
    source = source_of(data)
    if source in BUNDLED:
        return ({str(i): n for i, n in enumerate(BUNDLED_COUNTS[source])}, f"scikit-learn's {source} dataset",
                BUNDLED_FEATURES[source])
    features, codes, classes = load_source(data, root)
    return counts_of(codes, classes), str(root / source), features.shape[1]


def check_split(data: dict, counts: dict[str, int], where: str) -> dict:
    """The split's sizes, or a DataError if a part would be empty or a class too small to reach every part."""
    n = sum(counts.values())
    n_test = int(np.ceil(data["test_size"] * n))
    sizes = {"train": n - n_test - data["val_size"], "val": data["val_size"], "test": n_test}
    if sizes["train"] < 1:
        raise DataError(f"{where}: {n} samples leave {sizes['train']} for training after {n_test} test and "
                        f"{data['val_size']} validation samples; expected at least 1", "data.val_size")
    small = min(counts, key=counts.get)
    if counts[small] < 3:
        raise DataError(f"{where}: class {small!r} of the label column has {counts[small]} samples; a split into "
                        "training, validation and test needs at least 3 of each class", "data.label")
    if data.get("stratify") and min(sizes.values()) < len(counts):
        part = min(sizes, key=sizes.get)
        field = "data.val_size" if part == "val" else "data.test_size"
        raise DataError(f"{where}: a stratified split puts every one of the {len(counts)} classes in each part; the "
                        f"{part} part has {sizes[part]} samples", field)
    return sizes


def split_frame(data: dict, root: Path = Path(".")) -> tuple[pd.DataFrame, dict]:
    """The split frame of the data block's source, and its description (classes, features, image shape).

    The split is two train_test_split calls, as the lesson's: `test_size` of the samples for test, then `val_size`
    validation samples out of the rest, both with `split_seed` (stratified by class where `stratify: true`).
    """
    from sklearn.model_selection import train_test_split  # here: training jobs never need sklearn (~1 s)

    features, codes, classes = load_source(data, root)
    check_split(data, counts_of(codes, classes), source_of(data))
    index = np.arange(len(codes))
    strata = (lambda idx: codes[idx]) if data.get("stratify") else (lambda idx: None)
    rest, test = train_test_split(index, test_size=data["test_size"], random_state=data["split_seed"],
                                  stratify=strata(index))
    train, val = train_test_split(rest, test_size=data["val_size"], random_state=data["split_seed"],
                                  stratify=strata(rest))
    parts = [("train", train), ("val", val), ("test", test)]
    frame = pd.DataFrame({"sample": np.concatenate([idx for _, idx in parts]),
                          "split": np.concatenate([[name] * len(idx) for name, idx in parts])})
    frame["label"] = codes[frame["sample"]]
    frame = pd.concat([frame, features.iloc[frame["sample"]].reset_index(drop=True)], axis=1)
    return frame, {"source": source_of(data), "classes": classes, "features": list(features.columns),
                   "image_shape": data.get("image_shape", IMAGE_SHAPES.get(source_of(data)))}


def feature_names(frame: pd.DataFrame) -> list[str]:
    """The feature columns of a split frame (every column but sample, split and label)."""
    return [c for c in frame.columns if c not in META]


def fit_scaler(frame: pd.DataFrame, scaler_fit: str) -> dict:
    """Per-feature shift and scale (a feature becomes (x - mean) / scale): StandardScaler's fitted on the training
    part (`train`) or on all samples (`all`); MinMaxScaler's on the training part (`minmax`: each feature's training
    range to [0, 1]); `none`: the features as they are (mean 0, scale 1)."""
    names = feature_names(frame)
    if scaler_fit == "none":  # no sklearn import: a training job of raw features does without it (~1 s)
        return {"fit_on": "none", "n_samples": 0, "mean": [0.0] * len(names), "scale": [1.0] * len(names)}
    from sklearn.preprocessing import MinMaxScaler, StandardScaler

    rows = frame if scaler_fit == "all" else frame[frame["split"] == "train"]
    if scaler_fit == "minmax":
        scaler = MinMaxScaler().fit(rows[names].to_numpy())  # scale_ = 1 / range, a constant feature's 1
        return {"fit_on": "train (min-max)", "n_samples": len(rows), "mean": scaler.data_min_.tolist(),
                "scale": (1 / scaler.scale_).tolist()}
    scaler = StandardScaler().fit(rows[names].to_numpy())
    return {"fit_on": scaler_fit, "n_samples": len(rows),
            "mean": scaler.mean_.tolist(), "scale": scaler.scale_.tolist()}


SUBSET_SEED = 0  # the one fixed order of the training part a `preprocess.train_size` takes its first rows from


def preprocess(frame: pd.DataFrame, scaler: dict, settings: dict | None) -> tuple[pd.DataFrame, dict]:
    """The split frame and scaler one experiment trains on, from its `preprocess` settings (None: the lesson's as
    prepare_data made them).

    `train_size: n` keeps the first n rows of the training part in one fixed random order, the same for every
    experiment (so a smaller training set is a subset of a larger); validation and test rows are untouched.
    `scaling`: `standardise` is the lesson's scaler (fitted as its data block's `scaler_fit` says), `minmax`
    maps each feature's range on the experiment's own training rows to [0, 1], `none` feeds the raw features.
    """
    settings = settings or {}
    size = settings.get("train_size")
    if size is not None:
        train = np.flatnonzero(frame["split"].to_numpy() == "train")
        if size > len(train):
            raise ValueError(f"preprocess.train_size {size} is more than the {len(train)} training samples of the "
                             "split")
        order = np.random.default_rng(SUBSET_SEED).permutation(len(train))
        dropped = train[np.sort(order[size:])]
        frame = frame.drop(index=frame.index[dropped]).reset_index(drop=True)
    scaling = settings.get("scaling", "standardise")
    return frame, (scaler if scaling == "standardise" else fit_scaler(frame, scaling))


def read_scaler(path) -> dict:
    with open(path) as fh:
        return json.load(fh)


def load_part(frame: pd.DataFrame, scaler: dict, part: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Standardised features (float32) and labels (int64) of one split part."""
    import torch  # here: the figure steps read the split and need no torch (a second of start-up)

    rows = frame[frame["split"] == part]
    x = (rows[feature_names(frame)].to_numpy() - np.asarray(scaler["mean"])) / np.asarray(scaler["scale"])
    return torch.tensor(x, dtype=torch.float32), torch.tensor(rows["label"].to_numpy(), dtype=torch.int64)


def load_parts(frame: pd.DataFrame, scaler: dict, parts=("train", "val"), classes: int | None = None) -> dict:
    """{part: (x, y)} of these parts, and `shape`: (features, classes) of the model that reads them. The classes
    are those of the frame's labels unless given (a frame without the test part, the search's, may miss one:
    give the dataset's, from dataset.json)."""
    data = {part: load_part(frame, scaler, part) for part in parts}
    data["shape"] = (len(feature_names(frame)), classes or int(frame["label"].max()) + 1)
    return data


def prepare_data_step(args) -> None:
    settings = args.data
    frame, description = split_frame(settings)
    write_parquet(frame, args.split)
    write_parquet(frame[frame["split"] != "test"].reset_index(drop=True), args.train_val)  # all the search may read
    write_json(fit_scaler(frame, settings["scaler_fit"]), args.scaler)
    write_json(description, args.dataset)
    log(f"{description['source']}: {len(description['features'])} features, {len(description['classes'])} classes; "
        f"split {frame['split'].value_counts().to_dict()}; scaler fitted on {settings['scaler_fit']}")
