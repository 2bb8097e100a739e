"""File I/O at the edges: atomic writes, JSON lines, arrays and frames, input errors."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

PathLike = str | os.PathLike

_UMASK = os.umask(0)
os.umask(_UMASK)


class InputError(ValueError):
    """Bad input, located by file and, where known, row and column."""

    def __init__(
        self,
        path: PathLike,
        message: str,
        row: int | None = None,
        column: str | None = None,
    ) -> None:
        self.path = str(path)
        self.row = row
        self.column = column
        self.message = message
        where = self.path
        if row is not None:
            where += f", row {row}"
        if column is not None:
            where += f", column {column!r}"
        super().__init__(f"{where}: {message}")


@contextlib.contextmanager
def atomic_path(path: PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it to ``path`` on success.

    On an exception the temporary file is removed and ``path`` is left untouched, so no
    half-written output is ever visible under its final name. ``suffix`` defaults to the
    final name's suffix (libraries such as numpy append ``.npy`` otherwise).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = path.suffix if suffix is None else suffix
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".tmp{suffix}", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        if tmp_path.is_file():
            os.chmod(tmp_path, 0o666 & ~_UMASK)
        os.replace(tmp_path, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        raise


def write_text(text: str, path: PathLike) -> None:
    """Write ``text`` (UTF-8) atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(obj: Any, path: PathLike, indent: int | None = 2) -> None:
    """Write one JSON document atomically."""
    write_text(json.dumps(obj, indent=indent, ensure_ascii=False, default=_json_default) + "\n", path)


def read_json(path: PathLike) -> Any:
    """Read one JSON document."""
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def write_jsonl(records: Iterable[dict], path: PathLike) -> int:
    """Write one JSON object a line atomically; return the number of lines."""
    n = 0
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        for rec in records:
            fh.write(json.dumps(rec, ensure_ascii=False, default=_json_default) + "\n")
            n += 1
    return n


def read_jsonl(path: PathLike) -> list[dict]:
    """Read a JSON-lines file; a malformed line raises ``InputError`` naming it."""
    out = []
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise InputError(path, f"invalid JSON ({exc.msg})", row=lineno) from exc
    return out


def save_npy(array: np.ndarray, path: PathLike) -> None:
    """Save an array as ``.npy`` atomically."""
    with atomic_path(path, suffix=".npy") as tmp:
        np.save(tmp, array)


def write_csv(frame: pd.DataFrame, path: PathLike, **kwargs: Any) -> None:
    """Write a frame as CSV atomically (no index unless asked)."""
    kwargs.setdefault("index", False)
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, **kwargs)


def write_parquet(frame: pd.DataFrame, path: PathLike) -> None:
    """Write a frame as Parquet atomically."""
    with atomic_path(path) as tmp:
        frame.to_parquet(tmp, index=False)


def write_lines(lines: Iterable[str], path: PathLike) -> int:
    """Write one string a line atomically; return the number of lines."""
    n = 0
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        for line in lines:
            fh.write(line + "\n")
            n += 1
    return n


def read_lines(path: PathLike) -> list[str]:
    """Read a text file as lines without their newline."""
    with open(path, encoding="utf-8") as fh:
        return fh.read().splitlines()


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")
