"""Logging for rules and the CLI: one log file per job, tqdm progress into it."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

from tqdm.auto import tqdm

T = TypeVar("T")

logger = logging.getLogger("revmatch")

#: Most ids, pairs or values named in one log line or error message.
MAX_NAMED = 20


def setup_logging(path: str | os.PathLike | None = None, level: int = logging.INFO) -> logging.Logger:
    """Send revmatch's log records (and Python warnings) to ``path``, else to stderr.

    In a Snakemake job, stderr is also redirected to the log so that tqdm progress bars
    and tracebacks land in the rule's ``log:`` file.
    """
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    if path is not None:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        stream = open(path, "a", encoding="utf-8", buffering=1)  # noqa: SIM115 (lives with the process)
        sys.stderr = stream
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(level)
    logging.captureWarnings(True)
    return logger


def progress(iterable: Iterable[T], desc: str, total: int | None = None, unit: str = "it") -> Iterator[T]:
    """Wrap ``iterable`` in a tqdm bar written to stderr (the rule log), a few updates a minute."""
    return iter(
        tqdm(iterable, desc=desc, total=total, unit=unit, file=sys.stderr, mininterval=5.0, dynamic_ncols=False, ascii=True)
    )
