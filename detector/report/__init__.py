"""The report: its schema and stable JSON form (:mod:`.schema`), and its tables (:mod:`.tables`)."""

from .schema import SCHEMA_VERSION, DetectionReport, ReportError, Segment
from .stability import PerturbedResult, Stability

__all__ = ["SCHEMA_VERSION", "DetectionReport", "PerturbedResult", "ReportError", "Segment", "Stability"]
