"""Which package modules a step runs: its module and everything it imports from the package, transitively.

The workflow lists these files as each step's inputs (checksummed), so a real edit of any module a step
imports, directly or not, at the top of a file or inside a function, reruns that step, and only the
steps that import it. Read with `ast`, nothing is imported or run.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

PACKAGE = "lessonbench"
# Every job runs `python -m lessonbench STEP`: the package, its __main__ and the command line come first.
ENTRY = ("__init__", "__main__", "cli")


def imported(path: Path) -> set[str]:
    """Names of the package modules that one source file imports (anywhere in it)."""
    stat = Path(path).stat()  # each file is parsed once per version, however many steps import it
    return set(_imported(str(path), stat.st_mtime_ns, stat.st_size))


@cache
def _imported(name: str, mtime_ns: int, size: int) -> frozenset[str]:
    path = Path(name)
    found = set()
    package = path.parent
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            parts = node.module.split(".")
            if parts[0] != PACKAGE:
                continue
            if len(parts) > 1:
                found.add(parts[1])
            else:  # from lessonbench import fileio, stats
                found |= {alias.name for alias in node.names if (package / f"{alias.name}.py").exists()}
        elif isinstance(node, ast.Import):
            found |= {alias.name.split(".")[1] for alias in node.names
                      if alias.name.startswith(PACKAGE + ".")}
    return frozenset(found)


def closure(package_dir, modules) -> list[str]:
    """The modules `modules` import from the package, transitively, themselves and ENTRY included; sorted."""
    package_dir = Path(package_dir)
    seen: set[str] = set()
    todo = list(ENTRY) + list(modules)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        path = package_dir / f"{name}.py"
        if not path.exists():
            raise FileNotFoundError(f"{path}: module {name!r} of the package is missing")
        seen.add(name)
        todo.extend(imported(path) - seen)
    return sorted(seen)


def source_files(package_dir, modules) -> list[str]:
    """The source files of closure(package_dir, modules), as paths under package_dir."""
    return [f"{Path(package_dir).as_posix().rstrip('/')}/{name}.py" for name in closure(package_dir, modules)]
