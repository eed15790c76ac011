"""The report: its schema and stable JSON form (:mod:`.schema`), and its tables (:mod:`.tables`)."""

from .schema import SCHEMA_VERSION, DetectionReport, ReportError, Segment

__all__ = ["SCHEMA_VERSION", "DetectionReport", "ReportError", "Segment"]
