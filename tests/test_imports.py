"""A step's code inputs: its module and what it imports from the package, transitively, found with ast."""

from __future__ import annotations

import pytest

from lessonbench.imports import closure, imported

from .conftest import ROOT


def package(tmp_path, files: dict[str, str]):
    """A package folder named lessonbench with these modules ('sub/name' puts one in a subpackage)."""
    root = tmp_path / "lessonbench"
    for name in ("__init__", "__main__", "cli", *files):
        path = root / f"{name}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.parent != root:
            (path.parent / "__init__.py").touch()
        path.write_text(files.get(name, ""))
    return root


def test_imports_are_followed_wherever_they_are_written(tmp_path):
    pkg = package(tmp_path, {
        "step": "import os\n\ndef run():\n    from lessonbench.helper import thing\n",  # inside a function
        "helper": "from lessonbench import deep, unused_name\nthing = 1\n",  # `from lessonbench import module`
        "deep": "import lessonbench.deeper\n",  # `import lessonbench.module`
        "deeper": "from lessonbench.sub import inner\n",  # a module of a subpackage
        "sub/inner": "from lessonbench.sub.other import x\n",
        "sub/other": "x = 1\n",
        "other": "from lessonbench import helper\n",  # not imported by step
    })
    assert imported(pkg / "helper.py") == {"deep"}  # unused_name is no module of the package
    assert imported(pkg / "deeper.py") == {"sub", "sub.inner"}  # a subpackage's __init__ runs first
    assert closure(pkg, ["step"]) == ["__init__", "__main__", "cli", "deep", "deeper", "helper", "step", "sub",
                                      "sub.inner", "sub.other"]  # a subpackage's __init__ runs: it counts
    (pkg / "deeper.py").write_text("from lessonbench.missing import x\n")
    with pytest.raises(FileNotFoundError, match="module 'missing' of the package is missing"):
        closure(pkg, ["step"])


STEP = '''"""Docs.

from lessonbench import a  (prose in a docstring, not a statement)
"""
import os, lessonbench.b
from lessonbench import (
    c,
    os_path,
)


def f():
    from lessonbench.d import \\
        thing
'''
PLAIN = """from lessonbench import (a,
  b)
x = '''
import lessonbench.c as c
'''
"""


def test_only_the_statements_naming_the_package_are_parsed_and_they_give_what_the_whole_file_gives(tmp_path):
    import ast

    pkg = package(tmp_path, {"a": "", "b": "", "c": "", "d": "", "step": STEP, "plain": PLAIN})
    assert imported(pkg / "step.py") == {"b", "c", "d"}  # the docstring's line does not parse: the whole file is read
    assert imported(pkg / "plain.py") == {"a", "b", "c"}  # a string that parses as an import counts: one rerun too
    # many, never one too few
    lib = ROOT / "src" / "lessonbench"
    for path in sorted(lib.rglob("*.py")):  # the package: its statements alone give what a walk of a whole file gives
        whole = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("lessonbench"):
                base = node.module.partition(".")[2]
                if base:
                    whole.add(base)
                whole |= {f"{base}.{a.name}".strip(".") for a in node.names
                          if (lib / f"{base}/{a.name}".strip("/")).with_suffix(".py").exists()
                          or (lib / f"{base}/{a.name}".strip("/")).is_dir()}
            elif isinstance(node, ast.Import):
                whole |= {a.name.split(".", 1)[1] for a in node.names if a.name.startswith("lessonbench.")}
        assert imported(path) == whole, path


def test_the_report_step_runs_the_ledger_and_not_training():
    modules = closure(ROOT / "src" / "lessonbench", ["report.render"])
    assert {"report.render", "analysis.ledger", "analysis.claims", "analysis.stats", "report.provenance"} <= set(
        modules)
    assert "store" not in modules  # the content store keeps training results only
    assert not {"engine.training", "engine.stacked", "analysis.tables", "report.figures"} & set(modules)


def test_the_table_and_figure_steps_start_without_torch_scipy_or_seaborn():
    """Each costs a second or more of start-up, paid by every job of the change loop; these steps need none
    of them until they draw a confusion matrix or an interval of fewer than five values."""
    import subprocess
    import sys

    modules = ["lessonbench.analysis.tables", "lessonbench.report.figures", "lessonbench.report.figures_claims",
               "lessonbench.report.render", "lessonbench.analysis.claims"]
    code = (f"import sys; import {', '.join(modules)}; "
            "print(sorted(m for m in ('torch', 'scipy', 'seaborn', 'sklearn') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": str(ROOT / "src"), "PATH": ""})
    assert out.stdout.strip() == "[]"
