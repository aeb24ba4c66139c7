"""Which part of the course a file follows, as :func:`parity_tests.course.catalogue.detect` tells
it. Its own module, light to import: ``dlparity check``'s parent process reads it back from the
child without loading the checks (and torch)."""

from __future__ import annotations

from dataclasses import dataclass, field

PARTS = ("logreg", "shallow", "deep", "kmeans", "anomaly", "init", "conv", "rnn", "charlm")
"""The parts of the course ``dlparity check`` knows, in the order their checks run."""


@dataclass
class Detection:
    """Which part a file follows: ``part`` (``None`` when ``tied``), the names and signatures
    that say so, the part each shared name is checked as, and the course version the part's
    functions follow (:func:`course_version`)."""

    part: str | None
    reasons: list[str]
    tied: list[str]
    assigned: dict[str, str]
    version: str | None = None  # the course version the part follows, e.g. "2021 on (compute_cost(A2, Y))"
    version_reasons: list[str] = field(default_factory=list)  # the contracts that tell it
