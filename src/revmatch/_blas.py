"""PyTensor's BLAS flag for the calibration model: no BLAS search, no BLAS warning.

The first time PyTensor needs its ``blas__ldflags`` it compiles test programs against every
BLAS it can find (about 1 s a process) and, on a pip install, finds none and warns that
"operations that might benefit from BLAS will be severely degraded". The calibration model
has no such operation: its log density and gradient are indexing, elementwise special
functions, sums and a cumulative sum, with no matrix product (the tests check the compiled
graphs; ``benchmarks/calibration_blas.py`` measured the demo calibration with OpenBLAS linked
and without: no difference beyond noise, ``benchmarks/README.md``). So, unless the user set
the flag (``PYTENSOR_FLAGS`` or a ``.pytensorrc``), ``skip_blas_search`` sets it empty before
pytensor is imported: in the environment, so that sampler processes inherit it.
"""

from __future__ import annotations

import configparser
import logging
import os
import shlex
import sys
from collections.abc import MutableMapping
from pathlib import Path

logger = logging.getLogger(__name__)

BLAS_FLAG = "blas__ldflags"


def _flags(text: str) -> dict[str, str]:
    """``PYTENSOR_FLAGS`` as PyTensor parses it: comma-separated ``key=value``, shell quotes."""
    splitter = shlex.shlex(text, posix=True)
    splitter.whitespace, splitter.whitespace_split = ",", True
    pairs = (item.strip().split("=", 1) for item in splitter)
    return {pair[0]: pair[1] for pair in pairs if len(pair) == 2}


def _rc_files(environ: MutableMapping[str, str]) -> list[Path]:
    """The ``.pytensorrc`` files PyTensor reads (``PYTENSORRC``, default ``~/.pytensorrc``)."""
    return [Path(item).expanduser() for item in environ.get("PYTENSORRC", "~/.pytensorrc").split(os.pathsep)]


def user_sets_blas(environ: MutableMapping[str, str]) -> bool:
    """Whether ``PYTENSOR_FLAGS`` or a ``.pytensorrc`` of ``environ`` sets ``blas__ldflags``."""
    if BLAS_FLAG in _flags(environ.get("PYTENSOR_FLAGS", "")):
        return True
    parser = configparser.RawConfigParser()
    try:
        parser.read([path for path in _rc_files(environ) if path.is_file()], encoding="utf-8")
    except (configparser.Error, OSError, UnicodeDecodeError):
        return False  # PyTensor itself will complain about an unreadable file
    return parser.has_option("blas", "ldflags")


def skip_blas_search(environ: MutableMapping[str, str] | None = None) -> bool:
    """Set ``blas__ldflags`` empty in ``PYTENSOR_FLAGS`` of ``environ`` (``os.environ``) unless
    the user set it or pytensor is already imported (its config is read then); return whether
    it was set."""
    environ = os.environ if environ is None else environ
    if "pytensor" in sys.modules or user_sets_blas(environ):
        return False
    current = environ.get("PYTENSOR_FLAGS", "").strip().strip(",")
    environ["PYTENSOR_FLAGS"] = f"{current},{BLAS_FLAG}=" if current else f"{BLAS_FLAG}="
    logger.debug("PYTENSOR_FLAGS=%s (the calibration model has no BLAS operation)", environ["PYTENSOR_FLAGS"])
    return True
