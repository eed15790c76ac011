"""Catalogue scans on Ray Data: a folder or manifest of files to a resumable Parquet dataset.

:func:`scan_items` lists what to scan, :func:`run_scan` runs it (an embedded local Ray
cluster by default), :func:`read_scan` reads an output folder back (the dashboard's view).
Each row equals :func:`detector.analysis.analyze` on its file, timings aside.

The names load their module on first use (``lazy_loader``, see :mod:`detector`).
"""

import lazy_loader as _lazy

__getattr__, __dir__, __all__ = _lazy.attach(__name__, submod_attrs={
    "output": ["OutputError", "ScanOutput", "ScanTable", "read_scan"],
    "pipeline": ["ScanError", "ScanProgress", "ScanSummary", "run_scan", "start_ray"],
    "rows": ["ROW_COLUMNS", "STATUSES", "failure_reason", "row_report"],
    "sources": ["ScanItem", "SourceError", "scan_items"],
    "worker": ["ScanConfig", "ScanWorker", "load_detector"],
})
