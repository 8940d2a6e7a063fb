"""Reproducible benchmarks, run as ``holocall bench NAME``.

Every module in this package is one benchmark. It defines ``add_arguments(parser)`` and
``run(args) -> int``, plus a one-line module docstring used as its help. Heavy imports stay inside
``run`` so that ``holocall --help`` stays fast. Results are printed as a Markdown table together
with the command line that reproduced them, ready for ``docs/benchmarks.md``.
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType


def available() -> dict[str, ModuleType]:
    found: dict[str, ModuleType] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        found[info.name] = importlib.import_module(f"{__name__}.{info.name}")
    return found
