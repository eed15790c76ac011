"""What the workbench keeps: the SQLite history of analyses, its CSV export, named threshold profiles."""

from .export import export_csv, rows_table
from .profiles import MAX_QUERY_CHARS, ProfileLibrary, check_name, from_query, to_query
from .store import (
    DB_ENV, SCHEMA_VERSION, HistoryRow, HistoryStore, NotAHistoryDatabaseError, ReportUnreadableError,
    RowNotFoundError, SchemaTooNewError, StoreError, default_path,
)

__all__ = [
    "DB_ENV", "MAX_QUERY_CHARS", "SCHEMA_VERSION", "HistoryRow", "HistoryStore", "NotAHistoryDatabaseError",
    "ProfileLibrary", "ReportUnreadableError", "RowNotFoundError", "SchemaTooNewError", "StoreError", "check_name",
    "default_path", "export_csv", "from_query", "rows_table", "to_query",
]
