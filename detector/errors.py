"""The root of the detector's exceptions.

Every error the detector raises for a user to read derives from :class:`DetectorError`
(and, for backward compatibility, from the built-in it always was: ``ValueError`` for
bad input, ``RuntimeError`` for an unusable resource). ``str(err)`` is written for the
user, so pages show ``st.error(str(err))`` and the CLI prints it and exits non-zero.
"""

from __future__ import annotations


class DetectorError(Exception):
    """Something the user can fix: a bad file, parameter, profile, model or database."""


__all__ = ["DetectorError"]
