"""History rows as a table and as CSV, safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import asdict

import pandas as pd

from .store import ROW_COLUMNS, HistoryRow


def rows_table(rows: Iterable[HistoryRow]) -> pd.DataFrame:
    """One row per stored analysis, with the columns of :class:`HistoryRow`."""
    return pd.DataFrame([asdict(r) for r in rows], columns=list(ROW_COLUMNS))


def export_csv(rows: Iterable[HistoryRow]) -> str:
    """The rows as CSV text (header first), safe to open in a spreadsheet.

    Text cells that a spreadsheet would run as a formula (starting with ``=``,
    ``+``, ``-``, ``@``) are prefixed with an apostrophe.
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(ROW_COLUMNS)
    for row in rows:
        cells = []
        for name in ROW_COLUMNS:
            value = getattr(row, name)
            if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
                value = "'" + value
            cells.append(value)
        writer.writerow(cells)
    return out.getvalue()


__all__ = ["export_csv", "rows_table"]
