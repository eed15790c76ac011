"""A scan's rows for people: filters, counts, the dashboard's table and a CSV export.

Everything the Batch & history page shows of a scan is computed here, from the table
:func:`~detector.jobs.scan.output.read_scan` returns (without the reports), so the page only draws.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from ...history.export import csv_cell
from ...layers.heuristics import CALLS

TABLE_COLUMNS = ("name", "call", "score", "decided_by", "artifacts", "stability", "label", "duration", "format",
                 "status", "reason", "error", "folder", "analysed_utc", "path")


@dataclass(frozen=True)
class ScanFilter:
    """Which rows to show. Empty ``calls`` / ``statuses``: any; ``search``: part of the path, any case."""

    calls: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    min_score: float = 0.0
    max_score: float = 1.0
    search: str = ""
    fingerprint_only: bool = False
    label: str = "any"
    """``"any"``, ``"human"``, ``"ai"``, ``"unlabelled"``, or ``"disagrees"`` (a labelled row whose call is the
    other class)."""

    def apply(self, rows: pd.DataFrame) -> pd.DataFrame:
        keep = pd.Series(True, index=rows.index)
        if self.calls:
            keep &= rows["call"].isin(self.calls)
        if self.statuses:
            keep &= rows["status"].isin(self.statuses)
        if self.min_score > 0.0 or self.max_score < 1.0:  # failed rows have no score: a score range hides them
            keep &= rows["score"].between(self.min_score, self.max_score)
        if self.search:
            keep &= rows["path"].str.contains(self.search, case=False, regex=False, na=False)
        if self.fingerprint_only:
            keep &= rows["artifacts_found"].fillna(False).astype(bool)
        labels = rows["label"].fillna("")
        if self.label in ("human", "ai"):
            keep &= labels == self.label
        elif self.label == "unlabelled":
            keep &= labels == ""
        elif self.label == "disagrees":
            keep &= labels.isin(["human", "ai"]) & rows["call"].isin(["human", "ai"]) & (labels != rows["call"])
        return rows[keep]


def profiles(rows: pd.DataFrame) -> list[tuple[str, str, int]]:
    """``(profile id, its name, rows)`` for each profile in the scan, the most used first."""
    if not len(rows):
        return []
    counts = rows.groupby("profile", dropna=False).agg(name=("profile_name", "last"), n=("path", "size"))
    counts = counts.sort_values("n", ascending=False, kind="stable")
    return [(str(p), str(r["name"] or ""), int(r["n"])) for p, r in counts.iterrows()]


@dataclass(frozen=True)
class ScanCounts:
    """What a scan (or a filtered part of it) holds."""

    files: int
    analysed: int
    failed: int
    calls: dict[str, int]
    audio_hours: float
    reasons: dict[str, int]
    fingerprints: int


def counts(rows: pd.DataFrame) -> ScanCounts:
    ok = rows[rows["status"] == "ok"]
    bad = rows[rows["status"] != "ok"]
    return ScanCounts(
        files=len(rows), analysed=len(ok), failed=len(bad),
        calls={c: int((ok["call"] == c).sum()) for c in CALLS},
        audio_hours=float(ok["duration"].fillna(0).sum()) / 3600.0,
        reasons={str(k): int(v) for k, v in bad["reason"].fillna("other").value_counts().items()},
        fingerprints=int(ok["artifacts_found"].fillna(False).astype(bool).sum()) if "artifacts_found" in ok else 0)


def table(rows: pd.DataFrame) -> pd.DataFrame:
    """The dashboard's table: the file's name and folder first, the call as a one-item list (a coloured tag)."""
    out = pd.DataFrame({
        "name": rows["path"].map(os.path.basename),
        "call": rows["call"].map(lambda c: [c] if isinstance(c, str) and c else []),
        "score": rows["score"],
        "decided_by": rows["decided_by"],
        "artifacts": rows["artifacts"],
        "stability": rows["stability"] if "stability" in rows else None,
        "label": rows["label"].fillna(""),
        "duration": rows["duration"],
        "format": rows["format"],
        "status": rows["status"],
        "reason": rows["reason"],
        "error": rows["error"],
        "folder": rows["path"].map(os.path.dirname),
        "analysed_utc": rows["analysed_utc"].fillna("").str.replace("T", " ").str.replace("+00:00", ""),
        "path": rows["path"],
    }, columns=list(TABLE_COLUMNS))
    return out.reset_index(drop=True)


def export_csv(rows: pd.DataFrame, *, leading: Sequence[str] = ("path", "label", "status", "reason", "error",
                                                                  "call", "score", "decided_by")) -> str:
    """The rows as CSV (every column but the stored reports), safe to open in a spreadsheet (:func:`csv_cell`)."""
    columns = [c for c in leading if c in rows] + [c for c in rows.columns if c not in leading and c != "report_json"]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for record in rows[columns].itertuples(index=False, name=None):
        writer.writerow([csv_cell(_plain(v)) for v in record])
    return out.getvalue()


def _plain(value):
    """A cell's value as CSV wants it: NaN and None empty, lists joined with "; "."""
    if isinstance(value, (list, tuple)) or hasattr(value, "tolist") and not isinstance(value, (str, float, int)):
        items = value.tolist() if hasattr(value, "tolist") else value
        return "; ".join(map(str, items))
    if value is None or (isinstance(value, float) and value != value):
        return None
    return value


__all__ = ["ScanCounts", "ScanFilter", "TABLE_COLUMNS", "counts", "export_csv", "profiles", "table"]
