"""History rows as tables and as CSV, safe to open in a spreadsheet.

:func:`history_table` is what the history page lists; :func:`export_csv` what its
download and ``python -m detector history --csv`` write: every stored column, the
analyst's label, the profile's name and, given :meth:`HistoryStore.layer_features`,
each layer's score and features flattened (``spectral.mfcc_variance``).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from dataclasses import asdict
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from .store import ROW_COLUMNS, HistoryRow

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd  # imported where used: over 0.3 s, which the dashboard's first page has no use for

CSV_COLUMNS = ("id", "analysed_utc", "source_name", "sha256", "score", "call", "verdict", "label", "profile_name",
               "profile", "decided_by", "is_ai", "duration", "format", "artifacts", "report_schema", "user")
"""The CSV's leading columns; each layer's ``<layer>.score`` and ``<layer>.<feature>`` follow."""
_LAYER_ORDER = ("spectral", "clap", "artifacts", "classifier")
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def analysed_utc(created_at: str, *, seconds: bool = True) -> str:
    """A stored ISO timestamp as ``YYYY-MM-DD HH:MM:SS`` in UTC (``HH:MM`` without ``seconds``)."""
    try:
        when = datetime.fromisoformat(created_at)
    except (TypeError, ValueError):
        return str(created_at)[:19 if seconds else 16].replace("T", " ")
    if when.tzinfo is not None:
        when = when.astimezone(timezone.utc)
    return when.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def profile_title(row: HistoryRow) -> str:
    """The profile an analysis was made with, for people: its name, else ``unnamed (3d2b…)``."""
    return row.profile_name or f"unnamed ({row.profile[:4]}…)"


def rows_table(rows: Iterable[HistoryRow]) -> pd.DataFrame:
    """One row per stored analysis, with the columns of :class:`HistoryRow`."""
    import pandas as pd

    return pd.DataFrame([asdict(r) for r in rows], columns=list(ROW_COLUMNS))


HISTORY_COLUMNS = ("id", "analysed", "user", "source_name", "verdict", "score", "stability", "label", "profile",
                   "decided_by", "artifacts", "duration", "format", "sha256")


def history_table(rows: Iterable[HistoryRow], stability: Mapping[int, str] | None = None) -> pd.DataFrame:
    """The history page's table: one row per analysis, newest first as given.

    ``verdict`` is ``[call]`` and ``label`` ``[label]`` or ``[]`` (one-item lists, so a
    page can show them as coloured tags); ``analysed`` is ``YYYY-MM-DD HH:MM`` UTC and
    ``profile`` the profile's :func:`profile_title`; ``user`` who ran it (empty where not recorded);
    ``stability`` the stored stability check's summary (:meth:`HistoryStore.stability_summaries`: ``"stable"``,
    ``"fragile"`` or ``"inconclusive"``), empty where none was run.
    """
    import pandas as pd

    stability = stability or {}
    return pd.DataFrame([{"id": r.id, "analysed": analysed_utc(r.created_at, seconds=False), "user": r.user or "",
                          "source_name": r.source_name, "verdict": [r.call], "score": r.score,
                          "stability": stability.get(r.id, ""), "label": [r.label] if r.label else [],
                          "profile": profile_title(r),
                          "decided_by": r.decided_by, "artifacts": r.artifacts, "duration": r.duration,
                          "format": r.format, "sha256": r.sha256} for r in rows], columns=list(HISTORY_COLUMNS))


def _layer_columns(layers: Mapping[int, Mapping[str, Mapping]]) -> list[tuple[str, str | None]]:
    """``(layer, feature or None for its score)`` for every layer and feature present, in a stable order."""
    found: dict[str, set[str]] = {}
    for by_layer in layers.values():
        for name, layer in by_layer.items():
            found.setdefault(name, set()).update(layer.get("features") or {})
    order = sorted(found, key=lambda n: (_LAYER_ORDER.index(n) if n in _LAYER_ORDER else len(_LAYER_ORDER), n))
    return [(name, feature) for name in order for feature in (None, *sorted(found[name]))]


def csv_cell(value):
    """A CSV cell: text that a spreadsheet would run as a formula gets a leading apostrophe."""
    if isinstance(value, str) and value[:1] in _FORMULA:
        return "'" + value
    if isinstance(value, float):
        return value + 0.0  # no "-0.0"
    return "" if value is None else value


def export_csv(rows: Iterable[HistoryRow], layers: Mapping[int, Mapping[str, Mapping]] | None = None,
               stability: Mapping[int, str] | None = None) -> str:
    """The rows as CSV text (header first), safe to open in a spreadsheet.

    Parameters
    ----------
    rows : iterable of HistoryRow
        The analyses, in the order to write them.
    layers : mapping, optional
        :meth:`HistoryStore.layer_features` of the rows: adds ``<layer>.score`` and
        ``<layer>.<feature>`` columns (empty where a row's analysis lacks that layer).
    stability : mapping, optional
        :meth:`HistoryStore.stability_summaries` of the rows: adds a ``stability`` column after
        the fixed ones (empty where no stability check was run).

    Notes
    -----
    ``analysed_utc`` is ``YYYY-MM-DD HH:MM:SS`` in UTC. Text cells that a spreadsheet
    would run as a formula (starting with ``=``, ``+``, ``-``, ``@``, a tab or a
    carriage return) are prefixed with an apostrophe.
    """
    layers = layers or {}
    extra = _layer_columns(layers)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    checked = ("stability",) if stability is not None else ()
    writer.writerow([*CSV_COLUMNS, *checked, *(f"{layer}.{feature or 'score'}" for layer, feature in extra)])
    for row in rows:
        values = {**asdict(row), "analysed_utc": analysed_utc(row.created_at)}
        cells = [csv_cell(values[name]) for name in CSV_COLUMNS] + [csv_cell(stability.get(row.id)) for _ in checked]
        mine = layers.get(row.id, {})
        for layer, feature in extra:
            found = mine.get(layer)
            value = None if found is None else found.get("score") if feature is None else found["features"].get(feature)
            cells.append(csv_cell(value))
        writer.writerow(cells)
    return out.getvalue()


__all__ = ["CSV_COLUMNS", "HISTORY_COLUMNS", "analysed_utc", "csv_cell", "export_csv", "history_table", "profile_title",
           "rows_table"]
