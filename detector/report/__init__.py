"""The report: its schema and stable JSON form (:mod:`.schema`), and its tables (:mod:`.tables`)."""

from .schema import SCHEMA_VERSION, DetectionReport, ReportError, Segment
from .stability import CALL_WORDS, PerturbedResult, Stability

__all__ = ["CALL_WORDS", "SCHEMA_VERSION", "DetectionReport", "PerturbedResult", "ReportError", "Segment", "Stability"]
