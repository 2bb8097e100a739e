"""A job's results in the Expertise API's shape: the document (``results_document``), its
``metadata`` block, and ``write_results``, which streams the JSON and the CSV block by
block.

Two outputs (``OUTPUTS``). OpenReview's (``openreview``, a job's default), read by
OpenReview's own readers: the CSV of its service's score files (no header; rows
``submission,user,score``, or ``a,b,score`` for two groups; scores as Python prints ``round(score, 4)``, ``round(score, 2)`` for two groups, as its
group aggregation rounds), the metadata of its ``metadata.json`` (``archives_count`` an
integer total) and result entries in the order its ``get_expertise_results`` builds them.
The project's (``project``): scores with ``SCORE_DECIMALS`` decimals, a CSV with a header
row, ``archives_count`` (current schema) per member.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np

from revmatch.affinity.job_config import JOB_MODES, OUTPUTS, SCHEMAS
from revmatch.io import PathLike, atomic_path
from revmatch.log import progress

SCORE_DECIMALS = 7
#: OpenReview's decimals: its predictors round to 4, its group-group aggregation to 2
OPENREVIEW_DECIMALS = 4
OPENREVIEW_GROUP_DECIMALS = 2


def score_decimals(mode: str, output: str = "project") -> int:
    """The decimals of a job's scores: ``SCORE_DECIMALS``, or OpenReview's for its output."""
    if output not in OUTPUTS:
        raise ValueError(f"output must be one of {OUTPUTS}, got {output!r}")
    if output == "project":
        return SCORE_DECIMALS
    return OPENREVIEW_GROUP_DECIMALS if mode == "group_group" else OPENREVIEW_DECIMALS


def _entry_keys(mode: str, schema: str) -> tuple[str, str]:
    """Names of entity A and entity B in a result entry."""
    if schema == "current":
        return "entityA", "entityB"
    if schema != "legacy":
        raise ValueError(f"schema must be one of {SCHEMAS}, got {schema!r}")
    if mode not in JOB_MODES:
        raise ValueError(f"mode must be one of {JOB_MODES}, got {mode!r}")
    return ("match_member", "submission_member") if mode == "group_group" else ("user", "submission")


def results_columns(mode: str, schema: str = "legacy", output: str = "project") -> list[str]:
    """Column order of the results CSV (the keys of one result entry): submission first but
    for two groups (OpenReview's score files), except the project's current schema (A, B)."""
    a_key, b_key = _entry_keys(mode, schema)
    if mode != "group_group" and (schema == "legacy" or output == "openreview"):
        return [b_key, a_key, "score"]
    return [a_key, b_key, "score"]


def results_document(
    scores: np.ndarray,
    row_ids: Sequence[str],
    col_ids: Sequence[str],
    mode: str,
    metadata: dict,
    schema: str = "legacy",
    output: str = "project",
) -> dict:
    """The Expertise API results document for a score matrix (``output``: ``OUTPUTS``).

    ``scores`` is (A x B): rows are entity A (group members: ``user`` / ``match_member`` /
    ``entityA``), columns entity B (submissions: ``submission``, or the other group's
    members: ``submission_member``; ``entityB``). NaN entries (no publications) are left
    out; entries run row by row. ``metadata`` must give ``no_profile``,
    ``no_profile_submission``, ``no_publications`` and ``submission_count``, and for the
    current schema ``archives_count``; ``no_publications_count`` is derived.
    """
    scores = np.asarray(scores, dtype=np.float64)
    if scores.shape != (len(row_ids), len(col_ids)):
        raise ValueError(f"scores {scores.shape} do not match {len(row_ids)} rows x {len(col_ids)} columns")
    columns = results_columns(mode, schema, output)
    a_key, b_key = _entry_keys(mode, schema)
    rows, cols = np.nonzero(np.isfinite(scores))
    row_ids = np.asarray([str(r) for r in row_ids], dtype=object)
    col_ids = np.asarray([str(c) for c in col_ids], dtype=object)
    values = {
        a_key: row_ids[rows].tolist(), b_key: col_ids[cols].tolist(), "score": scores[rows, cols].tolist()
    }
    entries = zip(*(values[c] for c in columns), strict=True)
    results = [dict(zip(columns, entry, strict=True)) for entry in entries]
    return {"metadata": results_metadata(metadata, schema, output, mode), "results": results}


def results_metadata(metadata: dict, schema: str = "legacy", output: str = "project",
                     mode: str | None = None) -> dict:
    """The ``metadata`` block of a results document, keys in the Expertise API's order.

    ``metadata`` gives ``no_profile``, ``no_profile_submission``, ``no_publications``,
    ``submission_count`` and, for the current schema, ``archives_count`` (papers a member's
    scores rest on); ``no_publications_count`` is derived. OpenReview's output: see
    ``openreview_metadata``.
    """
    if output == "openreview":
        return openreview_metadata(metadata, mode or "group_submissions")
    no_publications = [str(m) for m in metadata["no_publications"]]
    meta = {
        "no_profile": [str(m) for m in metadata["no_profile"]],
        "no_profile_submission": [str(s) for s in metadata["no_profile_submission"]],
        "no_publications": no_publications,
        "no_publications_count": len(no_publications),
        "submission_count": int(metadata["submission_count"]),
    }
    if schema == "current":
        meta["archives_count"] = {str(k): int(v) for k, v in metadata["archives_count"].items()}
    return meta


def openreview_metadata(metadata: dict, mode: str) -> dict:
    """The metadata of OpenReview's ``metadata.json``, in its keys' order: ``submission_count``
    (submissions scored; for two groups, the second group's publications, which OpenReview
    scores as submissions), ``no_publications_count``, ``no_publications`` and
    ``no_profile`` (of the first group), ``archives_count`` (the first group's publications,
    an integer total) and, for two groups, ``no_profile_submission`` (the second group's
    members not found).

    ``metadata`` as ``results_metadata``'s, with the first group's ``no_profile_group``,
    ``no_publications_group`` and ``publications`` and the second's ``no_profile_alternate``
    and ``alternate_publications`` when they differ from the merged lists.
    """
    no_publications = [str(m) for m in metadata.get("no_publications_group", metadata["no_publications"])]
    group_pairs = mode == "group_group"
    count = metadata.get("alternate_publications") if group_pairs else None
    total = metadata.get("publications")
    if total is None:
        total = sum(int(v) for v in dict(metadata.get("archives_count") or {}).values())
    meta = {
        "submission_count": int(metadata["submission_count"] if count is None else count),
        "no_publications_count": len(no_publications),
        "no_publications": no_publications,
        "no_profile": [str(m) for m in metadata.get("no_profile_group", metadata["no_profile"])],
        "archives_count": int(total),
    }
    if group_pairs:
        meta["no_profile_submission"] = [
            str(m) for m in metadata.get("no_profile_alternate", metadata["no_profile_submission"])
        ]
    return meta


def _csv_field(text: str) -> str:
    """``text`` as one CSV field (quoted only when it must be, as the csv module does)."""
    if any(ch in text for ch in ',"\r\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


def _byte_table(texts: Sequence[str]) -> np.ndarray:
    """UTF-8 ``texts`` as a (n, width) uint8 table, NUL-padded on the right."""
    encoded = np.array([t.encode("utf-8") for t in texts], dtype=bytes)
    if encoded.itemsize == 0 or len(encoded) == 0:
        return np.zeros((len(encoded), 0), dtype=np.uint8)
    return encoded.view(np.uint8).reshape(len(encoded), encoded.itemsize)


def score_digits(scores: np.ndarray, decimals: int = SCORE_DECIMALS, shortest: bool = False) -> np.ndarray:
    """Scores in [0, 1] as ``d.ddd`` text (``decimals`` decimals): (..., 2 + decimals) uint8.

    The same digits as ``f"{round(s, decimals):.{decimals}f}"``, computed on the whole array
    at once. ``shortest``: trailing zeros (but the first decimal) become NUL, giving Python's
    ``repr(round(s, decimals))`` once NULs are dropped (OpenReview's score files).
    """
    units = np.rint(np.asarray(scores, dtype=np.float64) * 10**decimals).astype(np.int64)
    out = np.empty((*units.shape, 2 + decimals), dtype=np.uint8)
    out[..., 0] = 48 + units // 10**decimals
    out[..., 1] = ord(".")
    rest = units % 10**decimals
    for position in range(1 + decimals, 1, -1):
        quotient = rest // 10
        out[..., position] = 48 + (rest - quotient * 10)
        rest = quotient
    if shortest:
        trailing = np.ones(units.shape, dtype=bool)
        for position in range(1 + decimals, 2, -1):
            trailing &= out[..., position] == ord("0")
            out[..., position][trailing] = 0
    return out


def _entry_bytes(
    digits: np.ndarray, finite: np.ndarray, a_text: np.ndarray, b_text: np.ndarray, a_first: bool,
    separators: Sequence[bytes],
) -> bytes | np.ndarray:
    """The entries of a block of the score matrix as bytes, NaN cells left out.

    An entry is ``s0 X s1 Y s2 score s3`` with (X, Y) = (A, B) when ``a_first`` else (B, A);
    ``digits`` (rows x cols x width) are the formatted scores (``score_digits``), ``finite``
    marks the cells with a score, ``a_text`` (rows x wa) and ``b_text`` (cols x wb) are
    NUL-padded byte tables. Built in one (rows, cols, width) byte array; NUL padding (of
    shorter ids and of NaN cells) is then removed.
    """
    widths = [len(separators[0]), 0, len(separators[1]), 0, len(separators[2]), digits.shape[2],
              len(separators[3])]
    first, second = (a_text, b_text) if a_first else (b_text, a_text)
    widths[1], widths[3] = first.shape[1], second.shape[1]
    ends = np.cumsum(widths)
    slot = [slice(int(e - w), int(e)) for e, w in zip(ends, widths, strict=True)]
    n_rows, n_cols = finite.shape
    buf = np.empty((n_rows, n_cols, int(ends[-1])), dtype=np.uint8)
    for k, sep in zip((0, 2, 4, 6), separators, strict=True):
        buf[:, :, slot[k]] = np.frombuffer(sep, dtype=np.uint8)
    a_slot, b_slot = (slot[1], slot[3]) if a_first else (slot[3], slot[1])
    buf[:, :, a_slot] = a_text[:, None, :]
    buf[:, :, b_slot] = b_text[None, :, :]
    buf[:, :, slot[5]] = digits
    padded = not (finite.all() and a_text.all() and b_text.all() and digits.all())
    if not padded:
        return buf.reshape(-1)
    buf[~finite] = 0
    return buf.tobytes().replace(b"\0", b"")


def write_results(
    scores: np.ndarray,
    row_ids: Sequence[str],
    col_ids: Sequence[str],
    mode: str,
    metadata: dict,
    schema: str,
    out_json: PathLike,
    out_csv: PathLike,
    block_entries: int = 1 << 21,
    output: str = "project",
) -> int:
    """Write ``results_document(...)`` as JSON and its entries as CSV, a block of rows at a time.

    The document is never held in memory as Python objects (an ACL-sized job has 5 x 10^7
    entries): each block of rows becomes bytes in one vectorised pass (``score_digits``
    formats the scores with ``score_decimals`` decimals), one entry a line, about
    ``block_entries`` matrix cells at a time. Scores must be NaN or in [0, 1]. ``output``:
    the project's files (a CSV header) or OpenReview's (no header, its number format).
    Returns the number of entries.
    """
    scores = np.asarray(scores)
    if scores.shape != (len(row_ids), len(col_ids)):
        raise ValueError(f"scores {scores.shape} do not match {len(row_ids)} rows x {len(col_ids)} columns")
    columns = results_columns(mode, schema, output)
    a_first = columns[0] == _entry_keys(mode, schema)[0]
    decimals, theirs = score_decimals(mode, output), output == "openreview"
    rows_txt, cols_txt = [str(r) for r in row_ids], [str(c) for c in col_ids]
    json_a = _byte_table([json.dumps(v, ensure_ascii=False) for v in rows_txt])
    json_b = _byte_table([json.dumps(v, ensure_ascii=False) for v in cols_txt])
    csv_a = _byte_table([_csv_field(v) for v in rows_txt])
    csv_b = _byte_table([_csv_field(v) for v in cols_txt])
    json_separators = [
        f',\n{{"{columns[0]}": '.encode(), f', "{columns[1]}": '.encode(), b', "score": ', b"}"
    ]
    csv_separators = [b"", b",", b",", b"\n"]
    meta = results_metadata(metadata, schema, output, mode)
    head = json.dumps({"metadata": meta}, ensure_ascii=False)[:-1]
    n_entries = 0
    with (
        atomic_path(out_json) as tmp_json,
        atomic_path(out_csv) as tmp_csv,
        open(tmp_json, "wb") as js,
        open(tmp_csv, "wb") as cs,
    ):
        js.write((head + ', "results": [').encode("utf-8"))
        if not theirs:
            cs.write((",".join(columns) + "\n").encode("utf-8"))
        block_rows = max(1, block_entries // max(1, scores.shape[1]))
        starts = range(0, scores.shape[0], block_rows)
        for lo in progress(starts, desc="write results", total=len(starts), unit="block"):
            block = np.asarray(scores[lo : lo + block_rows], dtype=np.float64)
            finite = np.isfinite(block)
            count = int(finite.sum())
            if count == 0:
                continue
            if block[finite].min() < 0.0 or block[finite].max() > 1.0:
                raise ValueError("scores must lie in [0, 1] to be written")
            rows = slice(lo, lo + block_rows)
            digits = score_digits(np.where(finite, block, 0.0), decimals, shortest=theirs)
            text = _entry_bytes(digits, finite, json_a[rows], json_b, a_first, json_separators)
            js.write(text[1:] if n_entries == 0 else text)
            cs.write(_entry_bytes(digits, finite, csv_a[rows], csv_b, a_first, csv_separators))
            n_entries += count
        js.write(b"\n]}\n")
    return n_entries
