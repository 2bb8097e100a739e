"""Writing a step's outputs all or nothing, so that bad input or a failed write leaves no
partial set of outputs behind."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from revmatch.io import PathLike


def write_all_or_nothing(writers: list[tuple[PathLike, Callable[[PathLike], object]]]) -> None:
    """Call each ``write(path)`` (each atomic); if one fails, remove the files already written."""
    written: list[Path] = []
    try:
        for path, write in writers:
            write(path)
            written.append(Path(path))
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise
