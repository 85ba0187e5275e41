"""Reading and checking the lesson's files: YAML with no repeated key, JSON Schema, one wording for every error."""

from __future__ import annotations

import difflib
import json
from importlib import resources
from pathlib import Path

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

# The schemas are package data (importlib.resources): found the same in a checkout and in an installed wheel.
SCHEMAS = resources.files("lessonbench.spec") / "schemas"


SCHEMA_PATH = SCHEMAS / "experiments.schema.yaml"


class ConfigError(ValueError):
    """A problem in an experiment file: says which file, which field, what was expected."""

    def __init__(self, path, field: str, problem: str):
        self.path, self.field, self.problem = str(path), field, problem
        super().__init__(f"{path}: {field or '(top level)'}: {problem}")


# libyaml's parser where PyYAML has it (the same documents, parsed ~10x faster: every Snakemake start reads them)
_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def parse_yaml(text: str):
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
    return parse_yaml(SCHEMA_PATH.read_text())


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
    validate(config, "config (config/config.yaml and --config)", parse_yaml(Path(schema_path).read_text()))


def canonical_json(obj) -> str:
    """A JSON text that is the same for equal values whatever the key order."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))
