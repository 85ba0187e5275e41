"""Which package modules a step runs: its module and everything it imports from the package, transitively.

The workflow lists these files as each step's inputs (checksummed), so a real edit of any module a step
imports, directly or not, at the top of a file or inside a function, reruns that step, and only the
steps that import it. Read with `ast`, nothing is imported or run: only the statements that name the
package are parsed (every Snakemake start reads the whole package; parsing all of it took 0.17 s), the
whole file where a line that names the package is not a statement of its own.
"""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

PACKAGE = "lessonbench"
# Every job runs `python -m lessonbench STEP`: the package, its __main__ and the command line come first.
ENTRY = ("__init__", "__main__", "cli")


def imported(path: Path) -> set[str]:
    """Dotted names (under the package: 'analysis.stats', 'fileio') of the package modules that one source file
    imports (anywhere in it); a name a subpackage's __init__ defines counts as that subpackage."""
    stat = Path(path).stat()  # each file is parsed once per version, however many steps import it
    return set(_imported(str(path), stat.st_mtime_ns, stat.st_size))


# A line that starts an import statement naming the package (`from lessonbench...`, `import ... lessonbench.x`)
IMPORT_LINE = re.compile(rf"^[ \t]*(?:from[ \t]+{PACKAGE}\b|import[ \t][^\n#]*\b{PACKAGE}\.)[^\n]*", re.M)


def import_statements(text: str) -> str:
    """The import statements of a source text that name the package, one per line (continuations joined)."""
    statements = []
    for match in IMPORT_LINE.finditer(text):
        end = match.end()
        if "(" in match.group() and ")" not in match.group():  # from lessonbench import (\n a,\n b,\n)
            end = text.find(")", end) + 1 or len(text)
        while end and text[end - 1] == "\\":  # a backslash continuation: the next line too
            newline = text.find("\n", end + 1)
            end = newline if newline >= 0 else len(text)
        statements.append(text[match.start():end].strip())
    return "\n".join(statements)


@cache
def _imported(name: str, mtime_ns: int, size: int) -> frozenset[str]:
    path = Path(name)
    root = package_root(path)
    found = set()
    text = path.read_text()
    try:
        tree = ast.parse(import_statements(text))
    except SyntaxError:  # a matching line inside a string or a statement shared with others: read all of it
        tree = ast.parse(text, filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            parts = node.module.split(".")
            if parts[0] != PACKAGE:
                continue
            base = ".".join(parts[1:])
            if base and is_module(root, base):  # from lessonbench.analysis.stats import mean_test
                found.add(base)
            for alias in node.names:  # from lessonbench.analysis import stats; from lessonbench import fileio
                dotted = f"{base}.{alias.name}" if base else alias.name
                if is_module(root, dotted):
                    found.add(dotted)
                elif base:
                    found.add(base)  # a name defined in the subpackage's __init__
        elif isinstance(node, ast.Import):
            found |= {alias.name.split(".", 1)[1] for alias in node.names if alias.name.startswith(PACKAGE + ".")}
    return frozenset(found)


def package_root(path: Path) -> Path:
    """The package's folder (the one named PACKAGE) above a source file."""
    for parent in Path(path).resolve().parents:
        if parent.name == PACKAGE:
            return parent
    raise ValueError(f"{path} is not inside the {PACKAGE} package")


def module_file(package_dir: Path, dotted: str) -> Path:
    """'analysis.stats' -> package_dir/analysis/stats.py; 'analysis' (a subpackage) -> its __init__.py."""
    base = Path(package_dir) / dotted.replace(".", "/")
    return base / "__init__.py" if base.is_dir() else base.with_suffix(".py")


def is_module(package_dir: Path, dotted: str) -> bool:
    return module_file(package_dir, dotted).exists()


def with_parents(dotted: str) -> list[str]:
    """A module and the subpackages Python runs on the way to it: 'analysis.stats' -> ['analysis', 'analysis.stats']."""
    parts = dotted.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts) + 1)]


def closure(package_dir, modules) -> list[str]:
    """The modules `modules` import from the package, transitively, themselves, the subpackages on the way
    (their __init__) and ENTRY included, as dotted names; sorted."""
    package_dir = Path(package_dir)
    seen: set[str] = set()
    todo = list(ENTRY) + list(modules)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        path = module_file(package_dir, name)
        if not path.exists():
            raise FileNotFoundError(f"{path}: module {name!r} of the package is missing")
        seen.add(name)
        todo.extend(set(with_parents(name)) - seen)
        todo.extend(imported(path) - seen)
    return sorted(seen)


def source_files(package_dir, modules) -> list[str]:
    """The source files of closure(package_dir, modules), as paths under package_dir."""
    root = Path(package_dir)
    return [module_file(root, name).as_posix() for name in closure(root, modules)]
