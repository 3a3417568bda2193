"""A package's names imported from their modules on first use (PEP 562), so that importing one light module of
the package does not load the heavy others (torch, OpenCV): what keeps `iqpfr --help` fast."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import Any


def lazy_exports(package: str, modules: dict[str, tuple[str, ...]]) -> tuple[list[str], Callable[[str], Any]]:
    """`__all__` and `__getattr__` for `package`, whose names are those of `modules` (module → its names)."""
    module_of = {name: module for module, names in modules.items() for name in names}

    def find(name: str) -> Any:
        if name not in module_of:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module_of[name]), name)
        setattr(sys.modules[package], name, value)  # found directly from now on
        return value

    return sorted(module_of), find
