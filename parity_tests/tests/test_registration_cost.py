"""Registering every check builds nothing (issues 21 and 23).

``load_concepts()`` only declares: a module built on ``meta`` (its ``reset_parameters`` draws with
``normal_``) or a first torch optimizer imports ``torch._dynamo``, ~1.5 s of CPU in every process
that lists, reports or checks. Whatever needs a module — the functional torch side, a layer's
skeleton — is built when a check runs; the layouts are read off the declarations. The networks'
declarations (``concepts/_networks``, which the course checker reads too) register nothing.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import json, sys
import torch
from torch import nn

built = []
module_init, optimizer_init = nn.Module.__init__, torch.optim.Optimizer.__init__

def counted_module(self, *args, **kwargs):
    built.append(type(self).__name__)
    module_init(self, *args, **kwargs)

def counted_optimizer(self, *args, **kwargs):
    built.append(type(self).__name__)
    optimizer_init(self, *args, **kwargs)

nn.Module.__init__, torch.optim.Optimizer.__init__ = counted_module, counted_optimizer
import parity_tests.concepts._networks  # the declarations the course checker reads
from parity_tests.registry import _REGISTRY, load_concepts

declared_only = len(_REGISTRY)
load_concepts()
print(json.dumps({"dynamo": "torch._dynamo" in sys.modules, "built": sorted(set(built)),
                  "declared_only": declared_only, "checks": len(_REGISTRY)}))
"""


def test_registration_builds_no_module_and_imports_no_dynamo() -> None:
    proc = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, check=True)
    found = json.loads(proc.stdout.strip().splitlines()[-1])
    assert found["declared_only"] == 0, "importing concepts/_networks registered checks"
    assert found["checks"] > 100, found
    assert found["built"] == [], f"registration built {found['built']} (build them when a check runs)"
    assert not found["dynamo"], "load_concepts() imported torch._dynamo"
