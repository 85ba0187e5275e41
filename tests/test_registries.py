"""Registries and the JSON Schema agree with each other and with torch's own signatures."""

from __future__ import annotations

import inspect

import pytest

from lessonbench.spec.files import load_schema
from lessonbench.spec.registries import ACTIVATIONS, INITS, OPTIMIZERS

SCHEMA = load_schema()["$defs"]


def allowed_keys(block: str) -> dict[str, set[str]]:
    """name -> keyword arguments the schema lets an experiment give it."""
    out = {}
    for rule in SCHEMA[block]["allOf"]:
        cond = rule["if"]["properties"]["name"]
        names = [cond["const"]] if "const" in cond else cond["enum"]
        for name in names:
            out[name] = set(rule["then"]["propertyNames"]["enum"]) - {"name"}
    return out


def test_schema_names_are_registry_names():
    assert SCHEMA["optimizer"]["properties"]["name"]["enum"] == list(OPTIMIZERS)
    assert SCHEMA["init"]["properties"]["name"]["enum"] == list(INITS)
    assert SCHEMA["model"]["properties"]["activation"]["enum"] == list(ACTIVATIONS)


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_optimizer_keys_are_torch_arguments(name):
    keys = allowed_keys("optimizer")[name]
    assert "lr" in keys
    assert keys <= set(inspect.signature(OPTIMIZERS[name]).parameters), name


@pytest.mark.parametrize("name", list(INITS))
def test_init_keys_are_torch_arguments(name):
    params = set(inspect.signature(INITS[name]).parameters) - {"tensor", "generator"}
    assert allowed_keys("init")[name] <= params
