"""Checked numbers of input cells: finite, whole where a count is meant, within the bounds a
chair can mean; the first bad cell is an ``InputError`` naming its file, row and column.

One :class:`NumberRule` a kind of value (a quota, a bid, a score, a count of the matcher's
files); every numeric reader of the conference stage and of OpenReview's matcher inputs parses
through one. ``inf``, ``nan``, ``1e309`` and integers beyond the bounds are refused with the
reason, never passed on to overflow deep inside a later step. Cells are parsed vectorised
(``pandas.to_numeric``); only the first bad one is described.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from revmatch.io import InputError, PathLike

#: The largest count (a quota, a maximum load, a demand): more papers than any conference has,
#: and small enough that sums of counts stay exact in the int32 flows of the viability check.
MAX_COUNT = 1_000_000
#: The largest magnitude of a score, a weight or a default score of the matcher's files:
#: weighted sums over every pair stay far from float overflow and from the solver's infinity.
MAX_SCORE = 1e6
_MAX_BITS = 4000  # a JSON integer longer than this is refused before str() (Python limits its digits)


def _bound(value: float) -> str:
    """A bound as a chair writes it: ``1000000``, ``-1``, ``0.5``."""
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


@dataclass(frozen=True)
class NumberRule:
    """What a numeric cell must be: a whole number or not, and inclusive bounds.

    ``what`` names the value in messages (``quota``, ``bid``); ``expected`` replaces the
    clause built from the bounds (``expected a non-negative integer (at most 1000000)``). A
    refused cell reads ``quota '1e309' is too large: expected ...``; the reasons are
    ``empty``, ``not a number``, ``NaN``, ``infinite``, ``too large`` / ``too small`` (beyond
    a float), ``not a whole number``, ``below`` / ``above`` a bound.
    """

    what: str
    integer: bool = False
    minimum: float | None = None
    maximum: float | None = None
    expected: str | None = None

    def expectation(self) -> str:
        """What the rule accepts, as a message clause."""
        if self.expected is not None:
            return self.expected
        kind = "a whole number" if self.integer else "a finite number"
        if self.integer and self.minimum == 0:
            kind = "a non-negative integer"
            return f"expected {kind}" + ("" if self.maximum is None else f" (at most {_bound(self.maximum)})")
        if self.minimum is not None and self.maximum is not None:
            return f"expected {kind} from {_bound(self.minimum)} to {_bound(self.maximum)}"
        if self.minimum is not None:
            return f"expected {kind} of at least {_bound(self.minimum)}"
        if self.maximum is not None:
            return f"expected {kind} of at most {_bound(self.maximum)}"
        return f"expected {kind}"

    def parse(self, texts: pd.Series | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(values as float64, mask of the cells this rule refuses) of text cells (stripped here)."""
        cells = pd.Series(np.asarray(texts, dtype=object).ravel(), dtype=object).astype(str).str.strip()
        values = pd.to_numeric(cells, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        with np.errstate(invalid="ignore"):
            bad = ~np.isfinite(values)
            if self.integer:
                bad |= np.where(bad, False, values != np.round(values))
            if self.minimum is not None:
                bad |= values < self.minimum
            if self.maximum is not None:
                bad |= values > self.maximum
        shape = np.shape(texts)
        return values.reshape(shape), bad.reshape(shape)

    def problem(self, text: str) -> str:
        """Why this rule refuses ``text`` (``''`` when it accepts it)."""
        stripped = str(text).strip()
        value = pd.to_numeric(pd.Series([stripped], dtype=object), errors="coerce").iloc[0]
        folded = stripped.casefold().lstrip("+-")
        if stripped == "":
            return "empty"
        if value != value:
            return "NaN (not a number)" if folded == "nan" else "not a number"
        if math.isinf(value):
            if folded.startswith("inf"):
                return "infinite"
            return "too large" if value > 0 else "too small"
        if self.integer and not float(value).is_integer():
            return "not a whole number"
        if self.minimum is not None and value < self.minimum:
            return f"below {_bound(self.minimum)}"
        if self.maximum is not None and value > self.maximum:
            return f"above {_bound(self.maximum)}"
        return ""

    def error(
        self, path: PathLike, text: object, row: int | None, column: str | None, hint: str = ""
    ) -> InputError:
        """The ``InputError`` of a refused cell: what it is, why, and what is expected."""
        problem = self.problem(str(text)) or "refused"
        return InputError(path, f"{self.what} {_shown(text)} is {problem}: {self.expectation()}{hint}",
                          row=row, column=column)

    def check(
        self, cells: pd.Series, path: PathLike, column: str | None = None, first_row_hint: str = ""
    ) -> np.ndarray:
        """The values of text ``cells`` (index: their rows; ``column`` defaults to the series' name),
        ``int64`` for a whole-number rule; the first refused cell raises ``InputError``.

        ``first_row_hint`` is added when row 1 holds no number at all (a header row in a file
        that has none).
        """
        values, bad = self.parse(cells.to_numpy(dtype=object))
        if bad.any():
            first = int(np.argmax(bad))
            text, row = cells.iloc[first], _row(cells.index[first])
            name = column if column is not None else (None if cells.name is None else str(cells.name))
            hint = first_row_hint if row == 1 and self.problem(str(text)) == "not a number" else ""
            raise self.error(path, text, row, name, hint)
        return values.astype(np.int64) if self.integer else values

    def check_value(
        self, value: object, path: PathLike, row: int | None = None, column: str | None = None
    ) -> int | float:
        """One JSON value: a number (not a boolean, not a string) this rule accepts, else ``InputError``."""
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InputError(path, f"{self.what} {_shown(value)} is not a number: {self.expectation()}",
                             row=row, column=column)
        if isinstance(value, int) and value.bit_length() > _MAX_BITS:  # beyond str()'s digit limit
            size = "large" if value > 0 else "small"
            raise InputError(path, f"{self.what} (an integer of {value.bit_length()} bits) is too {size}: "
                             f"{self.expectation()}", row=row, column=column)
        text = str(value) if isinstance(value, int) else repr(float(value))
        checked = self.check(pd.Series([text], index=[row], dtype=object), path, column)[0]
        return int(checked) if self.integer else float(checked)


def _shown(text: object, most: int = 40) -> str:
    """``repr`` of a cell, a long one cut (a 400-digit number need not fill the message)."""
    shown = repr(text)
    if len(shown) <= most:
        return shown
    return f"{shown[:most - 10]}...{shown[-6:]} ({len(str(text))} characters)"


def _row(label: object) -> int | None:
    return None if label is None or (isinstance(label, float) and math.isnan(label)) else int(label)


def count_rule(what: str) -> NumberRule:
    """A count of papers (a load, a quota, a demand): a whole number from 0 to ``MAX_COUNT``."""
    return NumberRule(what, integer=True, minimum=0, maximum=MAX_COUNT)


def score_rule(what: str) -> NumberRule:
    """A score, weight or default: a finite number of magnitude at most ``MAX_SCORE``."""
    return NumberRule(what, minimum=-MAX_SCORE, maximum=MAX_SCORE)
