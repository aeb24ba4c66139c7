"""Read a learner's ``.py`` file or ``.ipynb`` notebook *without running it*: only its imports,
definitions and simple constants are executed, into a fresh module.

What runs, exactly (top-level statements of the file, or of each notebook code cell, in order):

- ``import …`` and ``from … import …`` — each on its own; one that fails (a course helper such
  as ``lr_utils`` that is not installed) is skipped and listed. The file's folder is on
  ``sys.path`` meanwhile, so local helpers import as they would for the learner;
- ``def`` / ``async def`` / ``class`` statements (Python evaluates their decorators and
  default values when it defines them, as always);
- assignments of literal constants to plain names: ``n_h = 4``, ``layers_dims = [12288, 20, 1]``,
  ``learning_rate: float = 0.0075`` — values ``ast.literal_eval`` accepts (numbers, strings,
  tuples, lists, dicts, sets, ``True``/``False``/``None``).

Nothing else runs: no calls (``load_dataset()``, ``plt.show()``, ``model(...)``), loops, ``if``,
``with`` or ``try`` blocks, no ``if __name__ == "__main__":``. In a notebook, lines that start
with ``%`` or ``!`` (magics, shell commands) are dropped, a cell that starts with a cell magic
(``%%…``) is skipped whole, and a cell that still does not parse is skipped and listed.

Example:
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> path = folder / "mine.py"
    >>> _ = path.write_text("import math\\nK = 2\\ndef f(x):\\n    return K * x\\nprint(f(1))\\n")
    >>> loaded = load_course_file(path)
    >>> loaded.module.f(3), loaded.skipped
    (6, ['line 5: print(f(1))'])
"""

from __future__ import annotations

import ast
import json
import linecache
import sys
import types
from dataclasses import dataclass, field
from pathlib import Path

SUFFIXES = (".py", ".ipynb")
_DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


class CourseFileError(ValueError):
    """The file cannot be read as course code (missing, wrong suffix, not parsable)."""


@dataclass
class LoadedFile:
    """A learner's file loaded as a module, with what ran and what did not."""

    path: Path
    module: types.ModuleType
    imports: list[str] = field(default_factory=list)
    definitions: list[str] = field(default_factory=list)
    constants: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # top-level statements not run
    failed: list[str] = field(default_factory=list)  # kept statements that raised (imports mostly)


def _is_constant_assignment(node: ast.stmt) -> bool:
    if isinstance(node, ast.Assign):
        targets, value = node.targets, node.value
    elif isinstance(node, ast.AnnAssign) and node.value is not None:
        targets, value = [node.target], node.value
    else:
        return False
    if not all(isinstance(t, ast.Name) for t in targets):
        return False
    try:
        ast.literal_eval(value)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False
    return True


def _summary(source: str, node: ast.stmt, limit: int = 60) -> str:
    text = (ast.get_source_segment(source, node) or type(node).__name__).splitlines()[0].strip()
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _cell_source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else str(src)


def notebook_sources(text: str, name: str = "notebook") -> tuple[list[tuple[str, str]], list[str]]:
    """``([(label, python source) per code cell], [skipped cells])`` of a notebook's JSON text."""
    try:
        nb = json.loads(text)
        cells = nb["cells"]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise CourseFileError(f"{name}: not a Jupyter notebook (JSON with 'cells'): {exc}") from None
    sources, skipped = [], []
    for i, cell in enumerate(c for c in cells if isinstance(c, dict) and c.get("cell_type") == "code"):
        label = f"cell {i + 1}"
        lines = _cell_source(cell).splitlines()
        if lines and lines[0].lstrip().startswith("%%"):
            skipped.append(f"{label}: cell magic {lines[0].strip()!r}")
            continue
        kept = ["" if ln.lstrip().startswith(("%", "!")) else ln for ln in lines]
        sources.append((label, "\n".join(kept) + "\n"))
    return sources, skipped


def _run_source(loaded: LoadedFile, source: str, label: str, filename: str) -> None:
    if label != "file":  # a notebook cell: let tracebacks show its lines
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    try:
        tree = ast.parse(source, filename=filename)
    except SyntaxError as exc:
        if label == "file":
            raise CourseFileError(f"{filename}: line {exc.lineno}: SyntaxError: {exc.msg}") from None
        loaded.skipped.append(f"{label}: does not parse (SyntaxError line {exc.lineno}: {exc.msg})")
        return
    where = "line" if label == "file" else f"{label}, line"
    namespace = loaded.module.__dict__
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            kind = loaded.imports
        elif isinstance(node, _DEFINITIONS):
            kind = loaded.definitions
        elif _is_constant_assignment(node):
            kind = loaded.constants
        else:
            loaded.skipped.append(f"{where} {node.lineno}: {_summary(source, node)}")
            continue
        code = compile(ast.Module(body=[node], type_ignores=[]), filename, "exec")
        try:
            exec(code, namespace)  # only imports, definitions and literal constants reach here
        except Exception as exc:  # a missing course helper module, a decorator that fails
            loaded.failed.append(f"{where} {node.lineno}: {_summary(source, node)} "
                                 f"({type(exc).__name__}: {exc})")
            continue
        kind.append(getattr(node, "name", None) or _summary(source, node))


def load_course_file(path: str | Path) -> LoadedFile:
    """Load ``path`` (``.py`` or ``.ipynb``) as described in this module's docstring.

    Raises :class:`CourseFileError` (a ``ValueError``) when the file is missing, has another
    suffix, or (a ``.py`` file) does not parse.
    """
    path = Path(path)
    if path.suffix not in SUFFIXES:
        raise CourseFileError(f"path: expected a .py file or a .ipynb notebook, got {str(path)!r}")
    if not path.is_file():
        raise CourseFileError(f"path: no such file: {str(path)!r}")
    text = path.read_text(encoding="utf-8")
    module = types.ModuleType(f"dlparity_course_{path.stem}")
    module.__file__ = str(path)
    loaded = LoadedFile(path, module)
    folder = str(path.resolve().parent)
    sys.path.insert(0, folder)
    try:
        if path.suffix == ".py":
            _run_source(loaded, text, "file", str(path))
        else:
            sources, loaded.skipped = notebook_sources(text, str(path))
            for label, source in sources:
                _run_source(loaded, source, label, f"{path}:{label}")
    finally:
        if folder in sys.path:
            sys.path.remove(folder)
    return loaded
