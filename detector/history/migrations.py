"""The history database's schema, as ordered steps.

``MIGRATIONS[i]`` brings a database from version ``i`` to ``i + 1``; ``PRAGMA
user_version`` holds the version a file is at. :class:`~detector.history.store.HistoryStore`
applies the steps a database lacks, in one transaction, when it opens it.
"""

from __future__ import annotations


# Ordered schema steps: MIGRATIONS[i] brings a database from version i to i + 1.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    # v0 -> v1: the analyses table, keyed by (sha256, profile).
    (
        """CREATE TABLE analyses (
            id          INTEGER PRIMARY KEY AUTOINCREMENT,
            sha256      TEXT    NOT NULL,
            profile     TEXT    NOT NULL,
            created_at  TEXT    NOT NULL,
            source_name TEXT    NOT NULL,
            score       REAL    NOT NULL,
            verdict     TEXT    NOT NULL,
            is_ai       INTEGER NOT NULL,
            decided_by  TEXT    NOT NULL,
            duration    REAL    NOT NULL,
            format      TEXT    NOT NULL,
            report_json TEXT    NOT NULL,
            UNIQUE (sha256, profile)
        )""",
    ),
    # v1 -> v2: remember each report's own schema version (backfilled from its JSON)
    # and index the columns the history page sorts and searches on.
    (
        "ALTER TABLE analyses ADD COLUMN report_schema INTEGER NOT NULL DEFAULT 1",
        """UPDATE analyses SET report_schema = COALESCE(
               CASE WHEN json_valid(report_json) THEN json_extract(report_json, '$.schema_version') END, 1)""",
        "CREATE INDEX analyses_created_at ON analyses (created_at)",
        "CREATE INDEX analyses_source_name ON analyses (source_name)",
    ),
    # v2 -> v3: the artifact layer's finding as a short label (NULL where the layer did not run),
    # backfilled from reports that carry one; the same words as ArtifactFinding.label.
    (
        "ALTER TABLE analyses ADD COLUMN artifacts TEXT",
        """UPDATE analyses SET artifacts = CASE
               WHEN json_valid(report_json) AND json_type(report_json, '$.artifacts') = 'object' THEN
                   CASE WHEN json_extract(report_json, '$.artifacts.found')
                        THEN 'fingerprint every ' || printf('%.0f', json_extract(report_json, '$.artifacts.spacing_hz'))
                             || ' Hz'
                        ELSE 'no fingerprint' END
               END""",
    ),
    # v3 -> v4: the three-way verdict (two-way before: backfilled from is_ai); the analyst's labels,
    # one per audio (SHA-256), whatever profile analysed it; the names of saved profiles, by profile id.
    (
        "ALTER TABLE analyses ADD COLUMN call TEXT NOT NULL DEFAULT 'human'",
        "UPDATE analyses SET call = CASE WHEN is_ai THEN 'ai' ELSE 'human' END",
        """CREATE TABLE labels (
            sha256      TEXT PRIMARY KEY,
            label       TEXT NOT NULL CHECK (label IN ('human', 'ai')),
            source_name TEXT NOT NULL,
            updated_at  TEXT NOT NULL
        )""",
        """CREATE TABLE profiles (
            profile    TEXT PRIMARY KEY,
            name       TEXT NOT NULL,
            thresholds TEXT NOT NULL,
            saved_at   TEXT NOT NULL
        )""",
        # a compact waveform and spectrogram per audio (detector.features.overview), to redraw a reopened analysis
        "CREATE TABLE overviews (sha256 TEXT PRIMARY KEY, data BLOB NOT NULL)",
    ),
    # v4 -> v5: who did it, on a shared server (the signed-in user's e-mail, "local" on one's own machine):
    # who ran each analysis, saved or named each profile, set each label. NULL: not recorded (rows written
    # before v5, or by the command line).
    (
        "ALTER TABLE analyses ADD COLUMN user TEXT",
        "ALTER TABLE profiles ADD COLUMN user TEXT",
        "ALTER TABLE labels ADD COLUMN user TEXT",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)


__all__ = ["MIGRATIONS", "SCHEMA_VERSION"]
