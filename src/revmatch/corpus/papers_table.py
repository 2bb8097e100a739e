"""The corpus table: its columns and Parquet schema, normalised papers as a frame, and
reading and writing the Parquet files."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from revmatch.io import InputError, PathLike, atomic_path

CORPUS_COLUMNS = ("paper_id", "title", "abstract", "year", "venue", "authors", "acl_id")

PAPERS_SCHEMA = pa.schema(
    [
        ("paper_id", pa.string()),
        ("title", pa.string()),
        ("abstract", pa.string()),
        ("year", pa.int64()),
        ("venue", pa.string()),
        ("authors", pa.list_(pa.struct([("id", pa.string()), ("name", pa.string())]))),
        ("acl_id", pa.string()),
    ]
)


def papers_frame(papers: list[dict]) -> pd.DataFrame:
    """Normalised papers as a corpus frame (``CORPUS_COLUMNS``, ``year`` as Int64)."""
    frame = pd.DataFrame(
        {
            "paper_id": pd.Series([p["paper_id"] for p in papers], dtype="str"),
            "title": pd.Series([p["title"] for p in papers], dtype="str"),
            "abstract": pd.Series([p["abstract"] for p in papers], dtype="str"),
            "year": pd.array([p["year"] for p in papers], dtype="Int64"),
            "venue": pd.Series([p["venue"] for p in papers], dtype="str"),
            "authors": pd.Series([p["authors"] for p in papers], dtype=object),
            "acl_id": pd.Series([p["acl_id"] for p in papers], dtype="str"),
        }
    )
    return frame.loc[:, list(CORPUS_COLUMNS)]


def write_papers(frame: pd.DataFrame, path: PathLike) -> None:
    """Write a corpus frame as Parquet atomically, with the fixed ``PAPERS_SCHEMA``."""
    columns = frame.loc[:, list(CORPUS_COLUMNS)]
    table = pa.Table.from_pandas(columns, schema=PAPERS_SCHEMA, preserve_index=False)
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)


def read_papers(path: PathLike) -> pd.DataFrame:
    """Read a corpus Parquet file; missing columns raise ``InputError``."""
    table = pq.read_table(path)
    missing = [c for c in CORPUS_COLUMNS if c not in table.column_names]
    if missing:
        raise InputError(path, f"missing corpus columns {missing}")
    frame = table.to_pandas()
    frame["year"] = frame["year"].astype("Int64")
    return frame
