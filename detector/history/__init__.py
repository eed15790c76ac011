"""What the workbench keeps: the SQLite history of analyses, its CSV export, named threshold profiles."""

from .export import CSV_COLUMNS, analysed_utc, export_csv, history_table, profile_title, rows_table
from .profiles import MAX_QUERY_CHARS, ProfileLibrary, check_name, from_query, to_query
from .reopen import Rescored, made_with, rescored
from .database import DB_ENV, NotAHistoryDatabaseError, SchemaTooNewError, StoreError, default_path
from .migrations import SCHEMA_VERSION
from .store import LABELS, HistoryRow, HistoryStore, ReportUnreadableError, RowNotFoundError

__all__ = [
    "CSV_COLUMNS", "Rescored", "analysed_utc", "history_table", "made_with", "profile_title", "rescored",
    "DB_ENV", "LABELS", "MAX_QUERY_CHARS", "SCHEMA_VERSION", "HistoryRow", "HistoryStore", "NotAHistoryDatabaseError",
    "ProfileLibrary", "ReportUnreadableError", "RowNotFoundError", "SchemaTooNewError", "StoreError", "check_name",
    "default_path", "export_csv", "from_query", "rows_table", "to_query",
]
