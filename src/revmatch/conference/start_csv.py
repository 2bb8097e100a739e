"""Reading START (SoftConf) CSV exports: decoding, records, columns found by header name.

Columns are found by header name (an alias list ``A|B`` means either header), whatever
their order. Row numbers in errors are spreadsheet rows: the header is row 1, the first
record row 2 (as a chair sees the file in a spreadsheet; a quoted field may span several
physical lines). The cell helpers (stripped columns, empty and repeated values) serve the
readers of each export.
"""

from __future__ import annotations

import csv
import io
import logging
import sys
from pathlib import Path

import pandas as pd

from revmatch.io import InputError, PathLike
from revmatch.log import MAX_NAMED

logger = logging.getLogger(__name__)

FIRST_DATA_ROW = 2  # spreadsheet row of the first record (the header is row 1)


def read_csv_export(path: PathLike) -> pd.DataFrame:
    """Read a START CSV export as a frame of ``str`` cells (object columns; empty stays ``''``).

    UTF-8 with or without BOM; other bytes fall back to Latin-1 with a warning. Quoted
    fields may span lines. Rows shorter than the header are padded with ``''`` and counted
    (``attrs["short_rows"]``; ``attrs["row_fields"]`` maps each one's row to the fields it
    had, for :func:`cut_before`); extra fields beyond the header must be empty (else
    ``InputError``). Blank rows are skipped and counted; trailing unnamed columns that are
    empty throughout are dropped. Header names are stripped of whitespace. The index holds
    spreadsheet row numbers (header = 1); ``frame.attrs`` records the encoding and the counts
    of what was skipped or padded.
    """
    text, encoding = decode_export(Path(path).read_bytes(), path)
    nul = text.find("\x00")
    if nul >= 0:
        row, field = _record_position(text, nul)
        raise InputError(
            path,
            "NUL byte: not a text CSV (save the export as UTF-8 CSV)",
            row=row,
            column=_field_name(text, row, field),
        )
    records = _parse_csv_records(text, path)
    if not records:
        raise InputError(path, "the file is empty (no header row)")
    header = [name.strip() for name in records[0]]
    n_columns = len(header)
    rows, row_numbers, n_blank, row_fields = [], [], 0, {}
    for row_number, record in enumerate(records[1:], start=FIRST_DATA_ROW):
        if not any(field.strip() for field in record):
            n_blank += 1
            continue
        if len(record) > n_columns:
            if any(field.strip() for field in record[n_columns:]):
                extra = next(k for k in range(n_columns, len(record)) if record[k].strip())
                raise InputError(
                    path,
                    f"{len(record)} fields, but the header has {n_columns} columns",
                    row=row_number,
                    column=f"#{extra + 1}",
                )
            record = record[:n_columns]
        elif len(record) < n_columns:
            row_fields[row_number] = len(record)
            record = record + [""] * (n_columns - len(record))
        rows.append(record)
        row_numbers.append(row_number)
    n_keep = _count_columns_to_keep(header, rows)
    n_dropped = n_columns - n_keep
    if n_dropped:
        header = header[:n_keep]
        rows = [row[:n_keep] for row in rows]
    row_fields = {row: n for row, n in row_fields.items() if n < n_keep}  # not short of dropped columns
    if n_blank:
        logger.info("%s: skipped %d blank rows", path, n_blank)
    if row_fields:
        logger.info(
            "%s: %d rows shorter than the header (%d columns), padded with empty cells: rows %s",
            path, len(row_fields), n_keep, _named(list(row_fields)),
        )
    if n_dropped:
        logger.info("%s: dropped %d trailing unnamed empty columns", path, n_dropped)
    index = pd.Index(row_numbers, name="row", dtype="int64")
    frame = pd.DataFrame(rows, columns=header, index=index, dtype=object)
    frame.attrs.update(
        {
            "path": str(path),
            "encoding": encoding,
            "blank_rows": n_blank,
            "dropped_columns": n_dropped,
            "short_rows": len(row_fields),
            "row_fields": row_fields,
        }
    )
    return frame


def cut_before(frame: pd.DataFrame, column: str) -> pd.Series:
    """Rows of a :func:`read_csv_export` frame whose record ended before ``column`` (padded, not read)."""
    position = [str(c) for c in frame.columns].index(str(column))
    fields = pd.Series(frame.attrs.get("row_fields", {}), dtype="int64")
    fields = fields.reindex(frame.index, fill_value=len(frame.columns))
    return fields <= position


def short_rows_report(frame: pd.DataFrame) -> dict:
    """The count of a frame's rows shorter than its header and the first of them, for a report."""
    rows = list(frame.attrs.get("row_fields", {}))
    return {"short_rows": len(rows), "short_row_numbers": rows[:MAX_NAMED]}


def _named(values: list) -> str:
    """The first ``MAX_NAMED`` values, and how many more there are."""
    more = f" and {len(values) - MAX_NAMED} more" if len(values) > MAX_NAMED else ""
    return ", ".join(str(v) for v in values[:MAX_NAMED]) + more


def decode_export(raw: bytes, path: PathLike) -> tuple[str, str]:
    """Bytes of an export -> (text, encoding name).

    UTF-8 with or without BOM; UTF-16 when it starts with a UTF-16 BOM (Excel's "Unicode
    text"); anything else that is not UTF-8 is read as Latin-1, with a warning.
    """
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return raw.decode("utf-16"), "utf-16"
        except UnicodeDecodeError as exc:
            raise InputError(path, f"starts with a UTF-16 mark but is not UTF-16 (byte {exc.start})") from exc
    try:
        return raw.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError as exc:
        logger.warning("%s is not UTF-8 (invalid byte at offset %d); reading it as Latin-1", path, exc.start)
        return raw.decode("latin-1"), "latin-1"


def _parse_csv_records(text: str, path: PathLike) -> list[list[str]]:
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    records = []
    try:
        for record in reader:
            records.append(record)
    except csv.Error as exc:
        row, field, what = _csv_error_position(text)
        if row is None:  # the scanner found nothing: fall back on the reader's position
            row, field, what = len(records) + 1, 0, str(exc)
        raise InputError(
            path,
            f"malformed CSV: {what} (a quote opened in this row may have swallowed the rows after it)",
            row=row,
            column=_field_name(text, row, field, records[0] if records else None),
        ) from exc
    return records


def _csv_error_position(text: str) -> tuple[int | None, int, str]:
    """(spreadsheet row, field index, what is wrong) of the first quoting error in ``text``.

    Follows the ``csv`` module's strict dialect: a quote opens a quoted field only at a
    field's start; after the closing quote only a comma or a line end may follow; a
    quoted field must end before the end of the file.
    """
    row, field, i, n = 1, 0, 0, len(text)
    at_start, quote_row, quote_field = True, 0, 0
    while i < n:
        char = text[i]
        if char == '"' and at_start:
            quote_row, quote_field = row, field
            close = i + 1
            while True:
                close = text.find('"', close)
                if close < 0:
                    return quote_row, quote_field, "a quoted field never ends"
                if text.startswith('""', close):
                    close += 2
                    continue
                break
            i = close + 1
            if i < n and text[i] not in ",\r\n":
                return quote_row, quote_field, f"{text[i]!r} after the closing quote of a field"
            at_start = False
            continue
        if char == ",":
            field, at_start = field + 1, True
        elif char in "\r\n":
            if char == "\r" and text.startswith("\n", i + 1):
                i += 1
            row, field, at_start = row + 1, 0, True
        else:
            at_start = False
        i += 1
    return None, 0, ""


def _record_position(text: str, offset: int) -> tuple[int, int]:
    """(spreadsheet row, field index) of character ``offset`` (quoted line breaks stay in their row)."""
    prefix = text[:offset]
    records = list(csv.reader(io.StringIO(prefix, newline="")))
    if not records or prefix.endswith(("\n", "\r")):
        return len(records) + 1, 0
    return len(records), len(records[-1]) - 1


def _field_name(text: str, row: int, field: int, header: list[str] | None = None) -> str:
    """The header name of field ``field`` (0-based), else its position."""
    if header is None and row > 1:
        first = next(csv.reader(io.StringIO(text.split("\n", 1)[0].rstrip("\r"))), [])
        header = first
    if header is not None and row > 1 and field < len(header) and header[field].strip():
        return header[field].strip()
    return f"#{field + 1}"


def _count_columns_to_keep(header: list[str], rows: list[list[str]]) -> int:
    n_keep = len(header)
    while n_keep > 0 and header[n_keep - 1] == "" and not any(row[n_keep - 1].strip() for row in rows):
        n_keep -= 1
    return n_keep


def find_column(frame: pd.DataFrame, aliases: str, path: PathLike) -> str | None:
    """The column of ``frame`` named by one of ``aliases`` (``A|B``), else ``None``.

    An exact header match wins over a case-insensitive one; two columns answering the
    same name raise ``InputError``.
    """
    names = [name.strip() for name in aliases.split("|")]
    columns = [str(c) for c in frame.columns]
    for match in (lambda c, n: c == n, lambda c, n: c.casefold() == n.casefold()):
        for name in names:
            found = [c for c in columns if match(c, name)]
            if len(found) > 1:
                raise InputError(path, f"{len(found)} columns are named {name!r}", column=name)
            if found:
                return found[0]
    return None


def find_columns(
    frame: pd.DataFrame,
    required: dict[str, str],
    path: PathLike,
    optional: dict[str, str] | None = None,
) -> dict[str, str | None]:
    """Map keys to the frame's column names; every missing required column is named at once."""
    found = {key: find_column(frame, aliases, path) for key, aliases in required.items()}
    missing = [aliases for key, aliases in required.items() if found[key] is None]
    if missing:
        raise InputError(
            path,
            f"missing required column(s) {', '.join(repr(m) for m in missing)}; "
            f"the header has {', '.join(repr(str(c)) for c in frame.columns)}",
            row=1,
            column=missing[0],
        )
    for key, aliases in (optional or {}).items():
        found[key] = find_column(frame, aliases, path)
        if found[key] is None:
            logger.info("%s: no column %r", path, aliases)
    return found


def _stripped(frame: pd.DataFrame, column: str | None) -> pd.Series:
    if column is None:
        return pd.Series("", index=frame.index, dtype=str)
    return frame[column].astype(str).str.strip()


def _raise_if_empty(path: PathLike, values: pd.Series, what: str, column: str) -> None:
    empty = values == ""
    if empty.any():
        raise InputError(path, f"empty {what}", row=int(values.index[empty][0]), column=column)


def _duplicates_error(path: PathLike, values: pd.Series, what: str, column: str) -> InputError | None:
    """An ``InputError`` naming the first repeated value and both its rows, else ``None``."""
    folded = values.str.casefold()
    repeated = folded[folded.duplicated(keep=False)]
    if repeated.empty:
        return None
    rows = repeated.index[repeated == repeated.iloc[0]].tolist()
    first, second = values[rows[0]], values[rows[1]]
    same = repr(first) if first == second else f"{first!r} (as {second!r})"
    return InputError(
        path, f"{what} {same} appears in rows {rows[0]} and {rows[1]}", row=rows[1], column=column
    )
