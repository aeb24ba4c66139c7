"""One row of ``dlparity report``: a check run at one device and dtype (:func:`run_one`), and
its :class:`Row`. Both the report's own process and its workers (:mod:`parity_tests.workers`)
run checks through this module, which imports neither of them.
"""

from __future__ import annotations

import json
import random
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from parity_tests.compare import CheckResult
from parity_tests.registry import CheckUnavailable, ParityCheck, seed_for


@dataclass
class Row:
    """One line of the report: a check at one device and dtype."""

    concept: str
    case: str
    level: str
    device: str
    dtype: str
    verdict: str  # PASS, FAIL, INCONCLUSIVE (could not have failed: never a pass), ERROR, UNAVAILABLE
    worst_error: str = ""
    tolerance: str = ""
    diagnosis: str = ""
    seconds: float = 0.0
    result: CheckResult | None = field(default=None, repr=False)
    plot: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d = {
            k: getattr(self, k)
            for k in (
                "concept",
                "case",
                "level",
                "device",
                "dtype",
                "verdict",
                "worst_error",
                "tolerance",
                "diagnosis",
                "seconds",
                "plot",
            )
        }
        if self.result is not None:
            d["records"] = self.result.to_dict()["records"]
            d["extra"] = json.loads(json.dumps(self.result.extra, default=_plain))
        return d


def _plain(o: Any) -> Any:
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)


def _summarize(result: CheckResult) -> tuple[str, str, str]:
    worst = result.worst
    if worst is None:
        return "", "", result.diagnosis or ""
    if worst.shape_actual != worst.shape_expected:
        err = f"shape {worst.shape_actual} vs {worst.shape_expected}"
    else:
        err = f"{worst.max_abs_err:.2e} abs / {worst.max_rel_err:.1e} rel"
        if worst.step is not None:
            err += f" @ step {worst.step}"
    tol = f"rtol {worst.rtol:.0e}, atol {worst.atol:.0e}"
    failing = [r for r in result.records if not r.passed]
    diag = result.diagnosis or (failing[0].diagnosis if failing and failing[0].diagnosis else "")
    if failing and not diag:
        diag = f"{failing[0].name} differs"
    return err, tol, diag


def run_one(check: ParityCheck, device: str, dtype: str) -> Row:
    """Run one check at one device and dtype, as a :class:`Row`; never raises for a failing,
    crashing or unavailable check. NumPy's, torch's and Python's global generators are seeded
    first from the check's id, device and dtype (:func:`~parity_tests.registry.seed_for`), so a
    check that draws from them still gives the same row whatever ran before it in the process
    (``--jobs`` changes which process that is)."""
    t0 = time.perf_counter()
    _seed_globals(seed_for(check.id, device, dtype))
    try:
        result = check.run(device, dtype)
        err, tol, diag = _summarize(result)
        verdict = result.status  # PASS, FAIL or INCONCLUSIVE
        if not result.records:
            verdict, diag = "ERROR", "nothing was compared: the check produced no records"
        row = Row(
            check.concept, check.case, check.level, device, dtype, verdict, err, tol, diag, result=result
        )
    except CheckUnavailable as exc:
        row = Row(check.concept, check.case, check.level, device, dtype, "UNAVAILABLE", diagnosis=str(exc))
    except Exception as exc:  # a crashing check is a failure, reported with its cause
        tb = traceback.extract_tb(exc.__traceback__)[-1]
        row = Row(
            check.concept,
            check.case,
            check.level,
            device,
            dtype,
            "ERROR",
            diagnosis=f"{type(exc).__name__}: {exc} ({Path(tb.filename).name}:{tb.lineno})",
        )
    row.seconds = time.perf_counter() - t0
    return row


def _seed_globals(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


__all__ = ["Row", "run_one"]
