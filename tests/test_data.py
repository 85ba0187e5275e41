"""The split and scaler reproduce the lesson's code; the default scaler sees training data only."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn import datasets
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from lessonbench.engine.data import (
    BUNDLED_COUNTS,
    PIXELS,
    feature_names,
    fit_scaler,
    load_part,
    load_parts,
    split_frame,
)
from lessonbench.spec.config import resolve_experiments
from lessonbench.spec.files import ConfigError


def lesson_split():
    """The lesson's own code, verbatim in substance: scale on all, then two splits."""
    digits = datasets.load_digits()
    x = StandardScaler().fit(digits.data).transform(digits.data)
    train_x, test_x, train_y, test_y = train_test_split(x, digits.target, test_size=0.2, random_state=42)
    train_x, val_x, train_y, val_y = train_test_split(train_x, train_y, test_size=360, random_state=42)
    return {"train": (train_x, train_y), "val": (val_x, val_y), "test": (test_x, test_y)}


def test_split_sizes_and_disjoint(split_frame):
    assert split_frame["split"].value_counts().to_dict() == {"train": 1077, "val": 360, "test": 360}
    assert split_frame["sample"].is_unique and len(split_frame) == 1797


def test_scaler_all_reproduces_the_lesson_exactly(split_frame):
    scaler = fit_scaler(split_frame, "all")
    for part, (x, y) in lesson_split().items():
        ours_x, ours_y = load_part(split_frame, scaler, part)
        assert torch.equal(ours_y, torch.LongTensor(y))
        assert torch.equal(ours_x, torch.FloatTensor(x)), part


def test_default_scaler_uses_training_rows_only(split_frame):
    scaler = fit_scaler(split_frame, "train")
    train = split_frame[split_frame["split"] == "train"][PIXELS].to_numpy()
    assert scaler["n_samples"] == 1077
    np.testing.assert_allclose(scaler["mean"], train.mean(0))
    x, _ = load_part(split_frame, scaler, "train")
    np.testing.assert_allclose(x.mean(0).numpy(), 0, atol=1e-5)


LESSON_FILE = """data: {DATA}
experiments:
  one: {epochs: 1, seeds: 1, batch_size: 4, model: {hidden: [3], activation: relu, batchnorm: false, dropout: 0.0,
        init: {name: kaiming_uniform}}, optimizer: {name: sgd, lr: 0.1}}
"""


def lesson_with(tmp_path, data: str, table: pd.DataFrame | None = None, name: str = "rows.csv"):
    """An experiment file with this data block in tmp_path (beside `table`, written as `name`), resolved."""
    if table is not None:
        (table.to_csv(tmp_path / name, index=False) if name.endswith(".csv") else
         table.to_parquet(tmp_path / name))
    path = tmp_path / "lesson.yaml"
    path.write_text(LESSON_FILE.replace("{DATA}", data))
    return resolve_experiments([path])


def table_of(rows: int = 60, classes=("cat", "dog", "emu")) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({"height": rng.normal(size=rows), "weight": rng.normal(size=rows),
                         "kind": [classes[i % len(classes)] for i in range(rows)]})


@pytest.mark.parametrize("name, features, classes", [("iris", 4, 3), ("wine", 13, 3), ("breast_cancer", 30, 2),
                                                     ("digits", 64, 10)])
def test_bundled_datasets_by_name(name, features, classes):
    data = {"source": name, "test_size": 0.2, "val_size": 20, "split_seed": 0, "stratify": True}
    frame, description = split_frame(data)
    assert len(feature_names(frame)) == features == len(description["features"])
    assert len(description["classes"]) == classes == frame["label"].nunique()
    assert description["image_shape"] == ([8, 8] if name == "digits" else None)
    counts = frame.groupby("label").size().tolist()
    assert counts == BUNDLED_COUNTS[name]  # the table the plan checks a split with, before any job
    assert load_parts(frame, fit_scaler(frame, "train"))["shape"] == (features, classes)


@pytest.mark.parametrize("name", ["rows.csv", "rows.parquet"])
def test_a_table_of_data_with_string_labels(tmp_path, name):
    data, _ = lesson_with(tmp_path, f"{{source: {name}, label: kind, val_size: 12, stratify: true}}", table_of(),
                          name)
    frame, description = split_frame(data)
    assert description["classes"] == ["cat", "dog", "emu"] and description["features"] == ["height", "weight"]
    assert frame["split"].value_counts().to_dict() == {"train": 36, "val": 12, "test": 12}
    assert frame.groupby(["split", "label"]).size().min() == 4  # stratified: each class in each part
    scaler = fit_scaler(frame, "none")
    x, y = load_part(frame, scaler, "test")
    rows = table_of().iloc[frame.loc[frame["split"] == "test", "sample"]]
    np.testing.assert_allclose(x.numpy(), rows[["height", "weight"]].to_numpy(), rtol=1e-6)
    assert [description["classes"][i] for i in y] == rows["kind"].tolist()


def broken(column: str, value) -> pd.DataFrame:
    table = table_of()
    table[column] = table[column].astype(object)
    table.loc[5, column] = value
    return table


BAD_DATA = [  # (data block, table, the field named, words of the message)
    ("{source: rows.csv, label: class}", table_of(), "data.label", ["rows.csv", "no label column 'class'",
                                                                     "'kind'"]),
    ("{source: rows.csv, label: kind}", broken("height", "tall"), "data.source", ["rows.csv", "'height'",
                                                                                  "not numeric ('tall' at row 5)"]),
    ("{source: rows.csv, label: kind}", broken("weight", float("nan")), "data.source",
     ["rows.csv", "'weight'", "1 NaN or infinite", "row 5"]),
    ("{source: rows.csv, label: kind}", broken("weight", float("inf")), "data.source", ["'weight'", "infinite"]),
    ("{source: rows.csv, label: kind}", table_of(classes=("cat",)), "data.label", ["single class ('cat')"]),
    ("{source: rows.csv, label: kind, val_size: 5}", pd.concat([table_of(), table_of(2, ("yak",))]),
     "data.label", ["class 'yak'", "2 samples", "at least 3 of each class"]),
    ("{source: rows.csv, label: kind, val_size: 100}", table_of(), "data.val_size", ["60 samples", "at least 1"]),
    ("{source: rows.csv, label: kind}", table_of().rename(columns={"height": "seed"}), "data.source",
     ["'seed'", "a name lessonbench's tables use"]),
    ("{source: rows.csv, label: kind}", table_of().head(0), "data.source", ["rows.csv: no rows of data"]),
    ("{source: rows.csv, label: kind, image_shape: [3, 3]}", table_of(), "data.image_shape",
     ["image_shape [3, 3] holds 9 values", "2 features"]),
    ("{source: rows.csv, label: kind, stratify: true, val_size: 2}", table_of(), "data.val_size",
     ["every one of the 3 classes", "the val part has 2 samples"]),
    ("{source: wine, stratify: true, test_size: 0.01, val_size: 20}", None, "data.test_size",
     ["scikit-learn's wine dataset", "the test part has 2 samples"]),
    ("{source: mnist}", None, "data.source", ["'mnist'", "digits, iris, wine, breast_cancer"]),
    ("{source: missing.csv}", None, "data.source", ["missing.csv does not exist"]),
]


@pytest.mark.parametrize("block, table, field, words", BAD_DATA, ids=[w[-1] for *_, w in BAD_DATA])
def test_bad_data_is_one_message_naming_the_file_and_column(tmp_path, block, table, field, words):
    with pytest.raises(ConfigError) as err:
        lesson_with(tmp_path, block, table)
    message = str(err.value)
    assert "lesson.yaml" in message and f": {field}:" in message, message
    for word in words:
        assert word in message, (word, message)


def test_an_unreadable_data_file_is_one_message(tmp_path):
    (tmp_path / "rows.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(ConfigError, match=r"lesson.yaml: data.source: .*rows.parquet: not a readable PARQUET file"):
        lesson_with(tmp_path, "{source: rows.parquet}")


def test_an_experiments_training_set_is_a_fixed_subset_of_the_lessons(split_frame):
    """preprocess.train_size keeps the first n training rows of one fixed order (a smaller set is a subset of a
    larger one); validation and test rows are the lesson's."""
    from lessonbench.engine.data import preprocess

    scaler = fit_scaler(split_frame, "train")
    small, small_scaler = preprocess(split_frame, scaler, {"train_size": 100})
    large, _ = preprocess(split_frame, scaler, {"train_size": 500})
    assert small_scaler == scaler  # the lesson's scaler: one factor at a time
    assert (small["split"] == "train").sum() == 100 and (large["split"] == "train").sum() == 500
    samples = {name: set(f.loc[f["split"] == "train", "sample"]) for name, f in (("small", small), ("large", large))}
    assert samples["small"] < samples["large"]
    for part in ("val", "test"):
        assert small.loc[small["split"] == part, "sample"].tolist() == \
            split_frame.loc[split_frame["split"] == part, "sample"].tolist()
    with pytest.raises(ValueError, match="1077 training samples"):
        preprocess(split_frame, scaler, {"train_size": 2000})


def test_an_experiments_scaling(split_frame):
    """scaling none feeds the raw pixels; minmax maps each pixel's training range to [0, 1]; standardise (or no
    preprocess block) is the lesson's scaler."""
    from lessonbench.engine.data import preprocess

    scaler = fit_scaler(split_frame, "train")
    raw = load_part(*preprocess(split_frame, scaler, {"scaling": "none"}), "train")[0]
    train = split_frame[split_frame["split"] == "train"][PIXELS].to_numpy()
    assert torch.equal(raw, torch.tensor(train, dtype=torch.float32))
    unit = load_part(*preprocess(split_frame, scaler, {"scaling": "minmax"}), "train")[0]
    assert float(unit.min()) == 0.0 and float(unit.max()) == 1.0
    assert preprocess(split_frame, scaler, None)[1] == preprocess(split_frame, scaler, {"scaling": "standardise"})[1]
