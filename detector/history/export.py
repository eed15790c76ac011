"""History rows as CSV, safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

from .store import ROW_COLUMNS, HistoryRow


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


__all__ = ["export_csv"]
