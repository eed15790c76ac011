"""Catalogue scans on Ray Data: a folder or manifest of files to a resumable Parquet dataset.

:func:`scan_items` lists what to scan, :func:`run_scan` runs it (an embedded local Ray
cluster by default), :func:`read_scan` reads an output folder back (the dashboard's view).
Each row equals :func:`detector.analysis.analyze` on its file, timings aside.
"""

from .output import OutputError, ScanOutput, ScanTable, read_scan
from .pipeline import ScanError, ScanProgress, ScanSummary, run_scan, start_ray
from .rows import ROW_COLUMNS, STATUSES, failure_reason, row_report
from .sources import ScanItem, SourceError, scan_items
from .worker import ScanConfig, ScanWorker, load_detector

__all__ = ["ROW_COLUMNS", "STATUSES", "OutputError", "ScanConfig", "ScanError", "ScanItem", "ScanOutput",
           "ScanProgress", "ScanSummary", "ScanTable", "ScanWorker", "SourceError", "failure_reason", "load_detector",
           "read_scan", "row_report", "run_scan", "scan_items", "start_ray"]
