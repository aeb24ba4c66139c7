"""Drawing a computation graph: one text line per node, or Graphviz DOT.

Example:
    >>> from scratch.compgraph.engine import Tensor
    >>> w = Tensor(2.0, label="w")
    >>> print(to_text((w * 3.0).sigmoid()))
    n0 = const '3.0' ()  data=3.  grad=None
    n1 = leaf 'w' ()  data=2.  grad=0.
    n2 = mul(n1, n0) ()  data=6.  grad=None
    n3 = sigmoid(n2) ()  data=0.9975  grad=None
"""

from __future__ import annotations

import numpy as np

from scratch.compgraph.engine import Tensor, topological_order


def _fmt(a: np.ndarray | None, max_entries: int) -> str:
    if a is None:
        return "None"
    if a.size <= max_entries:
        return np.array2string(np.asarray(a), precision=4, separator=", ").replace("\n", "")
    return f"<{a.shape} mean {np.mean(a):.4g}>"


def to_text(root: Tensor, max_entries: int = 6) -> str:
    """One line per node, inputs first: ``n3 = sigmoid(n2)  'a'  data=… grad=…``."""
    order = topological_order(root, all_nodes=True)
    name = {id(n): f"n{i}" for i, n in enumerate(order)}
    lines = []
    for n in order:
        rhs = (
            f"{n.op}({', '.join(name[id(p)] for p in n._parents)})"
            if n._parents
            else ("leaf" if n.requires_grad else "const")
        )
        label = f" {n.label!r}" if n.label else ""
        lines.append(
            f"{name[id(n)]} = {rhs}{label} {n.shape}  data={_fmt(n.data, max_entries)}  "
            f"grad={_fmt(n.grad, max_entries)}"
        )
    return "\n".join(lines)


def to_dot(root: Tensor, max_entries: int = 6) -> str:
    """The graph in Graphviz DOT (text; render with ``dot -Tsvg`` if you have Graphviz): a box
    per tensor (label, shape, data, grad) and an ellipse per operation, edges input → output."""

    def esc(s: str) -> str:
        return s.replace("\\", "\\\\").replace('"', '\\"')

    newline = "\\n"  # DOT's line break inside a label
    order = topological_order(root, all_nodes=True)
    name = {id(n): f"n{i}" for i, n in enumerate(order)}
    lines = ["digraph compgraph {", "  rankdir=LR;", "  node [fontname=monospace];"]
    for n in order:
        parts = [
            f"{n.label + ' ' if n.label else ''}{n.shape}",
            f"data {_fmt(n.data, max_entries)}",
            f"grad {_fmt(n.grad, max_entries)}",
        ]
        lines.append(f'  {name[id(n)]} [shape=box, label="{newline.join(map(esc, parts))}"];')
        if n._parents:
            lines.append(f'  {name[id(n)]}_op [shape=ellipse, label="{esc(n.op)}"];')
            lines.append(f"  {name[id(n)]}_op -> {name[id(n)]};")
            lines.extend(f"  {name[id(p)]} -> {name[id(n)]}_op;" for p in n._parents)
    lines.append("}")
    return "\n".join(lines)
