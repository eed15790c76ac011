"""One scan row per file: a report flattened into columns, or a failure in words.

Every row has the same leading columns (:data:`ROW_COLUMNS`). A row of an analysed file
adds each layer's score and features as ``<layer>.score`` / ``<layer>.<feature>`` (the
names of the history's CSV export), the stages' timings as ``timing.<stage>``, and the
whole report as JSON (``report_json``), so that the dashboard can open the analysis
exactly as it was made and a scan row can be compared with :func:`detector.analysis.analyze`.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from ...audio import AudioError
from ...report import DetectionReport
from .sources import ScanItem

STATUSES = ("ok", "failed", "missing")
"""``ok``: analysed; ``failed``: the file's bytes cannot be analysed (the same bytes would fail again, so a
rerun skips them); ``missing``: the file could not be opened (a rerun tries it again)."""

ROW_COLUMNS = ("path", "label", "status", "reason", "error", "sha256", "size_bytes", "profile", "profile_name",
               "analysed_utc", "worker", "duration", "format", "sample_rate", "score", "call", "verdict",
               "decided_by", "artifacts", "artifacts_found", "artifacts_spacing_hz", "artifacts_prominence_db",
               "artifacts_false_alarm", "artifacts_consistency", "artifacts_summary", "stability", "stability_spread",
               "stability_flips", "warnings", "versions", "report_schema", "report_json")
"""The columns every row has, in order (``None`` where they do not apply)."""

_REASONS = (
    # (what the message starts with or contains, the reason's name): the messages of detector.audio
    ("File not found", "missing"),
    ("is a folder", "not a file"),
    ("Cannot open", "unreadable"),
    ("The file is empty", "empty file"),
    ("not a readable audio file", "not audio or corrupt"),
    ("audio data is corrupt", "corrupt audio data"),
    ("is not supported", "unsupported format"),
    ("files are not supported", "unsupported format"),
    ("header is invalid", "invalid header"),
    ("no audio samples", "no audio"),
    ("too short", "too short"),
    ("too long", "too long"),
    ("is silent", "silent"),
    ("NaN or infinite", "damaged samples"),
    ("sample values reach", "damaged samples"),
)


def failure_reason(message: str) -> str:
    """A short name for why a file could not be analysed (what the scan's summary counts), from its message."""
    for needle, reason in _REASONS:
        if needle in message:
            return reason
    return "other"


def report_row(report: DetectionReport, item: ScanItem, *, profile: str, profile_name: str, size: int,
               analysed_utc: str, worker: str) -> dict[str, Any]:
    """The row of an analysed file."""
    finding, stability = report.artifacts, report.stability
    row = empty_row(item, profile=profile, profile_name=profile_name, analysed_utc=analysed_utc, worker=worker)
    row.update({
        "status": "ok", "sha256": report.sha256, "size_bytes": size, "duration": float(report.duration),
        "format": report.format, "sample_rate": int(report.sample_rate),
        "score": float(report.score), "call": report.call, "verdict": report.verdict, "decided_by": report.decided_by,
        "warnings": list(report.warnings), "versions": json.dumps(report.versions, sort_keys=True),
        "report_schema": int(report.schema_version), "report_json": report.to_json(indent=None),
    })
    if finding is not None:
        row.update({"artifacts": finding.label, "artifacts_found": bool(finding.found),
                    "artifacts_spacing_hz": float(finding.spacing_hz),
                    "artifacts_prominence_db": float(finding.prominence_db),
                    "artifacts_false_alarm": float(finding.false_alarm),
                    "artifacts_consistency": float(finding.consistency), "artifacts_summary": finding.summary})
    if stability is not None:
        row.update({"stability": stability.summary, "stability_spread": float(stability.spread),
                    "stability_flips": len(stability.flips)})
    row.update(layer_columns(report))
    row.update({f"timing.{stage}": float(seconds) for stage, seconds in sorted(report.timings.items())})
    return row


def layer_columns(report: DetectionReport) -> dict[str, float]:
    """``{"<layer>.score": …, "<layer>.<feature>": …}`` for every layer that ran."""
    out: dict[str, float] = {}
    for name, layer in report.layers.items():
        out[f"{name}.score"] = float(layer.score)
        out.update({f"{name}.{feature}": float(value) for feature, value in sorted(layer.features.items())})
    return out


def failure_row(item: ScanItem, error: Exception | str, *, profile: str, profile_name: str, analysed_utc: str,
                worker: str, sha256: str | None = None, size: int | None = None) -> dict[str, Any]:
    """The row of a file that could not be analysed: the reason and the message, in words."""
    message = str(error)
    status = "missing" if sha256 is None else "failed"
    row = empty_row(item, profile=profile, profile_name=profile_name, analysed_utc=analysed_utc, worker=worker)
    row.update({"status": status, "reason": failure_reason(message) if isinstance(error, (AudioError, str))
                else f"error ({type(error).__name__})", "error": message, "sha256": sha256, "size_bytes": size})
    return row


def empty_row(item: ScanItem, *, profile: str, profile_name: str, analysed_utc: str, worker: str) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(ROW_COLUMNS)
    row.update({"path": item.path, "label": item.label, "profile": profile, "profile_name": profile_name,
                "analysed_utc": analysed_utc, "worker": worker, "warnings": []})
    return row


def reasons(rows: Iterable[Mapping[str, Any]]) -> Counter[str]:
    """How many rows failed for each reason."""
    return Counter(str(r.get("reason")) for r in rows if r.get("status") != "ok")


def row_report(row: Mapping[str, Any]) -> DetectionReport | None:
    """The full report kept in an ``ok`` row (None for a failure)."""
    text = row.get("report_json")
    return DetectionReport.from_json(text) if isinstance(text, str) and text else None


__all__ = ["ROW_COLUMNS", "STATUSES", "failure_reason", "failure_row", "layer_columns", "reasons", "report_row",
           "row_report"]
