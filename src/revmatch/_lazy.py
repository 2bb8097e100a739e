"""Lazy exports of the stage subpackages: a name is imported from its module on first use, so
that a rule that needs one module of a stage does not load every dependency of the others."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence

#: package -> {exported name: module}, for the layout test's import graph
EXPORTS: dict[str, dict[str, str]] = {}


def attach(package: str, exports: Mapping[str, Sequence[str]]) -> tuple[list[str], Callable, Callable]:
    """``__all__``, ``__getattr__`` and ``__dir__`` of ``package`` exporting ``exports``
    (module name -> the names it offers)."""
    home = {name: module for module, names in exports.items() for name in names}
    EXPORTS[package] = home

    def __getattr__(name: str):
        if name in home:
            return getattr(importlib.import_module(f"{package}.{home[name]}"), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted(home)

    return sorted(home), __getattr__, __dir__
