"""Run the course checks on a learner's functions: find them, tell the part, check each in the
course's order, catch everything their code raises, and say which failures come from a
function they use."""

from __future__ import annotations

import inspect
import types
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from parity_tests.course import contain
from parity_tests.course.catalogue import (
    CATALOGUE,
    PARTS,
    Detection,
    Entry,
    detect,
    entry_for,
    fits,
    parts_of,
    signature_of,
)
from parity_tests.course.common import (
    ContractError,
    FunctionResult,
    Learner,
    LearnerError,
    NotCheckable,
    names_used,
    user_interrupts,
)
from parity_tests.course.loader import LoadedFile, load_course_file
from parity_tests.course.report import CourseReport, link_dependencies


def _namespace(source: Any) -> tuple[dict[str, Any], str, LoadedFile | None]:
    if isinstance(source, (str, Path)):
        loaded = load_course_file(source)
        return loaded.module.__dict__, str(source), loaded
    if isinstance(source, types.ModuleType):
        return source.__dict__, source.__name__, None
    if isinstance(source, Mapping):
        return source, str(source.get("__name__", "namespace")), None  # type: ignore[return-value]
    raise TypeError(
        f"source: expected globals() (a dict), a module or a path to a .py/.ipynb file, "
        f"got {type(source).__name__}"
    )


def own_functions(namespace: Mapping[str, Any]) -> dict[str, Callable[..., Any]]:
    """The functions *defined* in ``namespace`` (not imported from a course helper module)."""
    return {
        k: v
        for k, v in namespace.items()
        if inspect.isfunction(v) and not k.startswith("_") and v.__globals__ is namespace
    }


def _choose(
    functions: Mapping[str, Callable], det: Detection, part: str | None
) -> tuple[dict[str, Entry], list[tuple[str, str]]]:
    file_part = part or det.part or (det.tied[0] if det.tied else None)
    chosen: dict[str, Entry] = {}
    not_checked: list[tuple[str, str]] = []
    for name, fn in functions.items():
        parts = parts_of(name)
        if not parts:
            not_checked.append((name, "not one of the course functions dlparity knows"))
            continue
        p = (
            part
            if part in parts
            else det.assigned.get(name) or (file_part if file_part in parts else parts[0])
        )
        e = entry_for(name, p)
        assert e is not None
        if not fits(fn, e):
            not_checked.append(
                (name, f"{name}{inspect.signature(fn)} does not take the course's {signature_of(e)}")
            )
            continue
        chosen[name] = e
    return chosen, not_checked


def _run_one(e: Entry, learner: Learner) -> FunctionResult:
    result = FunctionResult(e.name, e.part, signature_of(e))
    learner.warnings = []
    try:
        e.check(learner, result)
    except NotCheckable as exc:
        result.needs.append(exc.name)
        result.error = str(exc)
    except LearnerError as exc:
        result.error = str(exc)
    except ContractError as exc:
        result.problems.append(str(exc))
    except Exception as exc:  # what they returned broke a check: report it, never crash the run
        result.error = f"could not be checked: {type(exc).__name__}: {exc}"
    result.notes += [f"warning during the check: {w}" for w in learner.warnings]
    return result


def plan(
    found: Mapping[str, Callable],
    wanted: Iterable[str],
    learner: Learner,
    part: str | None,
    det: Detection | None = None,
) -> tuple[Detection, list[Entry], list[tuple[str, str]]]:
    """The part (``det``, detected unless given), the course entries to check in the course's
    order, and the functions not checked with why."""
    det = det or detect(found, learner)
    chosen, not_checked = _choose({n: found[n] for n in wanted}, det, part)
    order = [e for p in PARTS for e in CATALOGUE[p] if chosen.get(e.name) is e]
    return det, order, not_checked


def uses_of(e: Entry, fn: Callable) -> set[str]:
    """The learner functions a check of ``e`` feeds or its code calls."""
    return set(e.uses) | names_used(fn.__code__)


def learner_for(
    found: Mapping[str, Callable], loaded: LoadedFile | None, factory: type[Learner] = Learner
) -> Learner:
    """The :class:`Learner` over ``found`` (every function of theirs stays callable: a backward
    runs on their forward)."""
    return factory(found, loaded.unbound if loaded else None)


def defined_functions(
    namespace: Mapping[str, Any], label: str, functions: Iterable[str] | None
) -> tuple[dict[str, Callable[..., Any]], list[str]]:
    """``(own functions, the names to check)``; a ``ValueError`` for a name it does not define."""
    found = own_functions(namespace)
    wanted = list(found) if functions is None else list(functions)
    missing = [n for n in wanted if n not in found]
    if missing:
        raise ValueError(f"functions: {missing} are not defined in {label} (it defines {sorted(found)})")
    return found, wanted


def check_course(
    source: Any, part: str | None = None, functions: Iterable[str] | None = None, timeout: float = 60.0
) -> CourseReport:
    """Check every course function defined in ``source`` against torch.

    Args:
        source: ``globals()`` of a notebook or script, a module, or the path of a ``.py`` file
            or ``.ipynb`` notebook (loaded without running its top-level statements, see
            :mod:`parity_tests.course.loader`).
        part: ``"logreg"``, ``"shallow"`` or ``"deep"`` — settles which course function a shared
            name (``predict``, ``sigmoid``, ``update_parameters`` …) means; detected otherwise.
        functions: check only these names.
        timeout: for a path: the seconds loading the file, and checking each function, may take.
            A path is checked in a child process (:mod:`parity_tests.course.contain`): a function
            that hangs, exits or crashes it is a FAIL and the others are still checked.
            ``globals()`` and modules are checked in this process (there is no file to hand to
            another), where ``sys.exit()`` and ``KeyboardInterrupt`` in their code are FAILs too.

    Returns:
        A :class:`~parity_tests.course.report.CourseReport`: ``print`` it, ``.to_dict()`` for
        JSON, or let Jupyter render it as a table.
    """
    if part is not None and part not in PARTS:
        raise ValueError(f"part: expected one of {list(PARTS)}, got {part!r}")
    if isinstance(source, (str, Path)) and contain.AVAILABLE:
        return contain.check_file(Path(source), part, functions, timeout)
    namespace, label, loaded = _namespace(source)
    found, wanted = defined_functions(namespace, label, functions)
    learner = learner_for(found, loaded)
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: one thread, no busy-waiting pool (PERFORMANCE.md)
    try:
        with user_interrupts():  # the user's Ctrl-C stops the check; a KeyboardInterrupt their code
            # raises is a FAIL of that function
            det, order, not_checked = plan(found, wanted, learner, part)
            results = [_run_one(e, learner) for e in order]
    finally:
        torch.set_num_threads(threads)
    link_dependencies(results, {e.name: uses_of(e, found[e.name]) for e in order})
    return CourseReport(label, part, det, results, not_checked, loaded)
