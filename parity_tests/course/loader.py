"""Read a learner's ``.py`` file or ``.ipynb`` notebook *without running it*: only its imports,
definitions and simple constants are executed, into a fresh module.

What runs, exactly (top-level statements of the file, or of each notebook code cell, in order):

- ``import …`` and ``from … import …`` — each on its own; one that fails (a course helper such
  as ``lr_utils`` that is not installed) is skipped and listed. The file's folder is on
  ``sys.path`` meanwhile, so local helpers import as they would for the learner;
- ``def`` / ``async def`` / ``class`` statements — which do run code, as Python always does when
  it defines them: the decorators, the default argument values, and a class's whole body;
- assignments of literal constants to plain names: ``n_h = 4``, ``layers_dims = [12288, 20, 1]``,
  ``learning_rate: float = 0.0075`` — values ``ast.literal_eval`` accepts (numbers, strings,
  tuples, lists, dicts, sets, ``True``/``False``/``None``).

Nothing else runs: no calls (``load_dataset()``, ``plt.show()``, ``model(...)``), loops, ``if``,
``with`` or ``try`` blocks, no ``if __name__ == "__main__":``. In a notebook, lines that start
with ``%`` or ``!`` (magics, shell commands) are dropped, a cell that starts with a cell magic
(``%%…``) is skipped whole, and a cell that still does not parse is skipped and listed in
``syntax_errors`` (which makes ``dlparity check`` exit 1). An import runs the module imported, a
local one next to the file whole. ``sys.exit()`` or ``KeyboardInterrupt`` in a statement that runs
is caught and listed in ``stopped``.

Where it runs: ``check_course(path)`` and ``dlparity check`` load the file (and check every
function) in a child process with a time limit, see :mod:`parity_tests.course.contain`; a
statement that hangs or ends that process is listed in ``stopped`` and not run again.

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
import importlib.util
import io
import json
import linecache
import re
import sys
import tokenize
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from parity_tests.course import helpers

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
    supplied: list[str] = field(default_factory=list)  # course helpers dlparity put in their place
    not_supplied: list[str] = field(default_factory=list)  # names of absent course modules left out
    syntax_errors: list[str] = field(default_factory=list)  # notebook cells that do not parse
    stopped: list[str] = field(default_factory=list)  # statements that exited, hung or crashed the load
    output: str = ""  # what loading printed (a contained run captures it)

    def __getstate__(self) -> dict:
        """Pickled without its module (a module cannot cross to another process): a contained
        run sends the parent what was loaded, never the learner's objects."""
        state = dict(self.__dict__)
        state["module"] = self.module.__name__
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self.module = types.ModuleType(state["module"])  # an empty stand-in

    unbound: dict[str, str] = field(default_factory=dict)  # names the file binds where nothing ran: why


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
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _a(v: object) -> str:
    """``a str``, ``an int``: what a JSON value is, for a message."""
    name = type(v).__name__
    return f"{'an' if name[0] in 'aeiou' else 'a'} {name}"


def _cell_source(cell: dict, where: str) -> str:
    """A cell's ``source`` (a string or a list of strings), or a :class:`CourseFileError` naming
    the bad field, e.g. ``cells[3].source[2] is an int, expected a string``."""
    src = cell.get("source", "")
    if isinstance(src, str):
        return src
    if not isinstance(src, list):
        raise CourseFileError(f"{where}.source is {_a(src)}, expected a string or a list of strings")
    for j, piece in enumerate(src):
        if not isinstance(piece, str):
            raise CourseFileError(f"{where}.source[{j}] is {_a(piece)}, expected a string")
    return "".join(src)


def _code_cells(nb: object, name: str) -> list[dict]:
    """The notebook's code cells, after checking the structure they are read from."""
    if not isinstance(nb, dict):
        raise CourseFileError(f"{name}: the notebook is {_a(nb)}, expected a JSON object with 'cells'")
    if "cells" not in nb:
        raise CourseFileError(f"{name}: not a Jupyter notebook: no 'cells' (it has {sorted(nb)[:8]})")
    cells = nb["cells"]
    if not isinstance(cells, list):
        raise CourseFileError(f"{name}: 'cells' is {_a(cells)}, expected a list")
    code = []
    for i, cell in enumerate(cells):
        if not isinstance(cell, dict):
            raise CourseFileError(f"{name}: cells[{i}] is {_a(cell)}, expected an object")
        if not isinstance(cell.get("cell_type", ""), str):
            raise CourseFileError(
                f"{name}: cells[{i}].cell_type is {_a(cell['cell_type'])}, expected a string"
            )
        if cell.get("cell_type") == "code":
            cell = dict(cell, source=_cell_source(cell, f"{name}: cells[{i}]"))
            code.append(cell)
    return code


_HELP = re.compile(r"\s*(\?{1,2}[\w.]+|[\w.]+\?{1,2})\s*")  # IPython's help: np.dot? / ?np.dot / f??


def notebook_sources(text: str, name: str = "notebook") -> tuple[list[tuple[str, str]], list[str]]:
    """``([(label, python source) per code cell], [skipped cells])`` of a notebook's JSON text.

    Raises :class:`CourseFileError` naming the field when the JSON is not a notebook's
    structure (``'cells' is a str, expected a list``, ``cells[3].source is an int, …``)."""
    try:
        nb = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CourseFileError(f"{name}: not a Jupyter notebook (not JSON: {exc})") from None
    sources, skipped = [], []
    for i, cell in enumerate(_code_cells(nb, name)):
        label = f"cell {i + 1}"
        lines = cell["source"].splitlines()
        if lines and lines[0].lstrip().startswith("%%"):
            skipped.append(f"{label}: cell magic {lines[0].strip()!r}")
            continue
        kept = ["" if ln.lstrip().startswith(("%", "!")) or _HELP.fullmatch(ln) else ln for ln in lines]
        sources.append((label, "\n".join(kept) + "\n"))
    return sources, skipped


def _bound_names(node: ast.stmt) -> list[str]:
    """The module-level names a top-level statement binds (assignments, loop and ``with``
    targets, imports, definitions) — not those bound inside the functions it defines."""
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return [(a.asname or a.name).split(".")[0] for a in node.names if a.name != "*"]
    if isinstance(node, (*_DEFINITIONS,)):
        return [node.name]
    names: list[str] = []
    todo: list[ast.AST] = [node]
    while todo:
        n = todo.pop()
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            if not isinstance(n, ast.Lambda):
                names.append(n.name)
            continue
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store):
            names.append(n.id)
        todo.extend(ast.iter_child_nodes(n))
    return names


def _unbind(loaded: LoadedFile, names: list[str], why: str) -> None:
    namespace = loaded.module.__dict__
    for name in names:
        if name not in namespace:
            loaded.unbound.setdefault(name, why)


def _run_source(
    loaded: LoadedFile,
    source: str,
    label: str,
    filename: str,
    *,
    on_statement: Callable[[str], None] | None = None,
    stop: Mapping[str, str] | None = None,
) -> None:
    stop = stop or {}
    if label != "file":  # a notebook cell: let tracebacks show its lines
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    try:
        tree = ast.parse(source, filename=filename)
    except SyntaxError as exc:
        if label == "file":
            raise CourseFileError(f"{filename}: line {exc.lineno}: SyntaxError: {exc.msg}") from None
        loaded.skipped.append(f"{label}: does not parse (SyntaxError line {exc.lineno}: {exc.msg})")
        loaded.syntax_errors.append(f"{label}, line {exc.lineno}: {exc.msg}")
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
            _unbind(loaded, _bound_names(node), f"set at {where} {node.lineno}, which dlparity does not run")
            continue
        code = compile(ast.Module(body=[node], type_ignores=[]), filename, "exec")
        key = f"{where} {node.lineno}"
        if key in stop:  # it exited, hung or crashed an earlier (contained) load: not again
            loaded.stopped.append(f"{key}: {_summary(source, node)} ({stop[key]})")
            continue
        if on_statement is not None:
            on_statement(key)
        try:
            exec(code, namespace)  # only imports, definitions and literal constants reach here
        except SystemExit as exc:  # sys.exit() in a local module they import: never ends the check
            loaded.stopped.append(f"{key}: {_summary(source, node)} (called sys.exit({exc.code!r}))")
            continue
        except KeyboardInterrupt:
            loaded.stopped.append(f"{key}: {_summary(source, node)} (raised KeyboardInterrupt)")
            continue
        except Exception as exc:  # a missing course helper module, a decorator that fails
            is_import = isinstance(node, (ast.Import, ast.ImportFrom))
            if is_import and supply_helpers(loaded, node, namespace, exc):
                continue
            loaded.failed.append(
                f"{where} {node.lineno}: {_summary(source, node)} ({type(exc).__name__}: {exc})"
            )
            _unbind(loaded, _bound_names(node), f"{where} {node.lineno} failed: {type(exc).__name__}: {exc}")
            continue
        kind.append(getattr(node, "name", None) or _summary(source, node))


def supply_helpers(
    loaded: LoadedFile, node: ast.Import | ast.ImportFrom, namespace: dict, exc: Exception
) -> bool:
    """When ``node`` imports one of the course's helper modules that cannot be imported, put
    dlparity's implementations (:mod:`parity_tests.course.helpers`) of the names it imports in
    ``namespace`` and record them; ``False`` (nothing done) for any other failing import."""
    modules = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
    if not modules or not all(helpers.family(m.split(".")[0]) for m in modules):
        return False
    absent = isinstance(exc, ModuleNotFoundError) and exc.name in modules
    reason = "absent" if absent else f"could not be imported: {type(exc).__name__}: {exc}"
    if isinstance(node, ast.Import):
        for alias in node.names:
            stand_in = helpers.as_module(alias.name)
            namespace[alias.asname or alias.name] = stand_in
            names = sorted(k for k in vars(stand_in) if not k.startswith("_"))
            loaded.supplied.append(f"{alias.name} ({reason}): " + (", ".join(names) or "nothing needed"))
        return True
    module = node.module or ""
    known = helpers.MODULES[helpers.family(module) or module]
    wanted = list(known) if any(a.name == "*" for a in node.names) else [a.name for a in node.names]
    left: list[str] = []
    for alias in node.names:
        if alias.name == "*":
            namespace.update(known)
        elif alias.name in known:
            namespace[alias.asname or alias.name] = known[alias.name]
        else:
            why = helpers.why_not_supplied(module, alias.name)
            left.append(f"{alias.name} ({why})")
            loaded.unbound.setdefault(
                alias.asname or alias.name,
                f"imported from {module} ({reason}), which dlparity does not supply: {why}",
            )
            continue
    given = [n for n in wanted if n in known]
    if given:
        loaded.supplied.append(f"{module} ({reason}): {', '.join(given)}")
    if left:
        loaded.not_supplied.append(f"{module}: {', '.join(left)}")
    if not given and not left:
        loaded.supplied.append(f"{module} ({reason}): nothing needed")
    return True


def read_source(path: Path) -> str:
    """The text of a ``.py`` file (BOM, PEP 263 coding line, else UTF-8) or a notebook (UTF-8),
    or a :class:`CourseFileError` naming the file and the first byte that does not decode."""
    data = path.read_bytes()
    encoding = "utf-8-sig"
    if path.suffix == ".py":
        try:
            encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        except SyntaxError as exc:  # an unknown codec in the coding line, or one against the BOM
            raise CourseFileError(f"{path}: {exc}") from None
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise CourseFileError(
            f"{path}: byte {exc.start} (line {line}) is 0x{data[exc.start]:02x}, not valid {encoding}: "
            "save the file as UTF-8"
            + (
                " or declare its encoding on line 1 or 2 (# -*- coding: latin-1 -*-)"
                if path.suffix == ".py"
                else ""
            )
        ) from None


def check_readable(path: str | Path) -> None:
    """Raise the :class:`CourseFileError` :func:`load_course_file` would for a file it cannot read
    (missing, another suffix, bytes that do not decode, not a notebook's structure, a ``.py`` file
    that does not parse), without running any of it."""
    path = Path(path)
    if path.suffix not in SUFFIXES:
        raise CourseFileError(f"path: expected a .py file or a .ipynb notebook, got {str(path)!r}")
    if not path.is_file():
        raise CourseFileError(f"path: no such file: {str(path)!r}")
    text = read_source(path)
    if path.suffix == ".ipynb":
        notebook_sources(text, str(path))
        return
    try:
        ast.parse(text, filename=str(path))
    except SyntaxError as exc:  # (a NUL byte has no line)
        where = f"line {exc.lineno}: " if exc.lineno else ""
        raise CourseFileError(f"{path}: {where}SyntaxError: {exc.msg}") from None
    except ValueError as exc:  # a NUL byte (older Pythons)
        raise CourseFileError(f"{path}: {exc}") from None


DEFERRED_MODULES = ("matplotlib.pyplot",)
"""Modules the course's files import for plotting only, loaded when first used rather than by
the ``import`` line: ``import matplotlib.pyplot as plt`` costs about a second here (a third of a
``dlparity check``), and no check looks at a plot. A learner function that does plot (the
course's ``model`` draws its costs) loads the real module at its first ``plt.…``."""


class _Deferred(types.ModuleType):
    """Stands in for a module of :data:`DEFERRED_MODULES` in ``sys.modules`` until code reads an
    attribute it lacks: then the real module is imported (the stand-in leaves ``sys.modules``
    first) and the stand-in takes its namespace, so a learner's ``plt`` works as the real one.
    (Not :class:`importlib.util.LazyLoader`: on Python 3.11 the ``import`` statement itself
    reads the module's ``__spec__``, which makes a lazy module load at once.)"""

    def __getattr__(self, attr: str) -> Any:
        name = self.__name__
        if sys.modules.get(name) is self:
            del sys.modules[name]
        real = importlib.import_module(name)
        vars(self).update(vars(real))
        return getattr(real, attr)


def defer_plotting_imports() -> None:
    """Put a :class:`_Deferred` stand-in for each of :data:`DEFERRED_MODULES` in ``sys.modules``
    (and on its parent package) unless it is imported already or not installed."""
    for name in DEFERRED_MODULES:
        if name in sys.modules:
            continue
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):  # not installed: the learner's import fails as it would
            continue
        if spec is None:
            continue
        module = _Deferred(name)
        module.__spec__ = spec
        sys.modules[name] = module
        parent, _, child = name.rpartition(".")
        if parent in sys.modules:
            setattr(sys.modules[parent], child, module)


def load_course_file(
    path: str | Path,
    *,
    on_statement: Callable[[str], None] | None = None,
    stop: Mapping[str, str] | None = None,
) -> LoadedFile:
    """Load ``path`` (``.py`` or ``.ipynb``) as described in this module's docstring.

    Raises :class:`CourseFileError` (a ``ValueError``) when the file is missing, has another
    suffix, cannot be decoded (a ``.py`` file is read in the encoding its BOM or PEP 263
    ``# -*- coding: … -*-`` line declares, UTF-8 otherwise; a notebook as UTF-8, BOM or not),
    is not a notebook's structure, or (a ``.py`` file) does not parse.

    ``on_statement`` (called with ``"line 3"`` / ``"cell 2, line 3"`` before each statement
    runs) and ``stop`` (such keys, with the reason, to not run again) serve a contained run
    (:mod:`parity_tests.course.contain`).
    """
    path = Path(path)
    if path.suffix not in SUFFIXES:
        raise CourseFileError(f"path: expected a .py file or a .ipynb notebook, got {str(path)!r}")
    if not path.is_file():
        raise CourseFileError(f"path: no such file: {str(path)!r}")
    text = read_source(path)
    defer_plotting_imports()
    module = types.ModuleType(f"dlparity_course_{path.stem}")
    module.__file__ = str(path)
    loaded = LoadedFile(path, module)
    folder = str(path.resolve().parent)
    sys.path.insert(0, folder)
    try:
        if path.suffix == ".py":
            _run_source(loaded, text, "file", str(path), on_statement=on_statement, stop=stop)
        else:
            sources, loaded.skipped = notebook_sources(text, str(path))
            for label, source in sources:
                _run_source(loaded, source, label, f"{path}:{label}", on_statement=on_statement, stop=stop)
    finally:
        if folder in sys.path:
            sys.path.remove(folder)
    return loaded
