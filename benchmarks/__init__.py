"""dlparity's benchmarks: ratios measured in one run (scratch vs torch, loop vs vectorized).

Run them all with ``python -m benchmarks`` (or one: ``python -m benchmarks logreg``); each
prints a table and writes JSON under ``benchmarks/results/``. Timing rules live in
:mod:`benchmarks._common` (see ``PERFORMANCE.md``'s traps).
"""
