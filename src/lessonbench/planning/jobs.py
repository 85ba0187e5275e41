"""What a rule hands its step: one JSON job of its named inputs, outputs and params (cli.read_job reads it)."""

from __future__ import annotations

import json
from pathlib import Path


def job_json(inputs: dict, outputs: dict, params: dict) -> str:
    """The JSON job a rule hands its step (cli.read_job reads it): the rule's named inputs (its code inputs left
    out: a step does not read them), outputs and params, a list where the rule has a list."""
    def plain(block: dict) -> dict:
        return {name: list(value) if isinstance(value, list) else value for name, value in block.items()}

    return json.dumps({"input": plain({k: v for k, v in inputs.items() if k != "code"}), "output": plain(outputs),
                       "params": plain(params)}, sort_keys=True, default=str)


def files_hash(paths) -> str:
    """Short SHA-256 of the files' contents: names a search study after the code that fills it."""
    import hashlib

    digest = hashlib.sha256()
    for path in paths:
        digest.update(Path(path).read_bytes())
    return digest.hexdigest()[:12]
