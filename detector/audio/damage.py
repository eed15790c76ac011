"""What decoders say about damaged data they skipped, and hearing mpg123 say it.

libsndfile notes what its Ogg, Opus and FLAC readers skip in its log
(``SoundFile.extra_info``), but the mpg123 inside it writes its skips ("Skipped 261
bytes in input") only to the process's stderr. :class:`StderrTap` collects those lines
around each read, and :func:`damage_in` counts the messages and the bytes they skipped.
"""

from __future__ import annotations

import os
import re
import tempfile
import threading
from typing import Iterable

# How decoders say they skipped damaged data: mpg123 on stderr, libsndfile's Ogg, Opus and FLAC readers in its log.
_DAMAGE = re.compile(
    r"^(?:Note: (?:Illegal Audio-MPEG-Header|Trying to resync|Skipped \d+ bytes)"
    r"|\[[^\]]*libmpg123[^\]]*\] error:"
    r"|Ogg : (?:Skipped \d+ bytes|Warning, libogg reports a hole)|Opus : Hole found"
    r"|ERROR : FLAC__STREAM_DECODER_ERROR_STATUS_)"
)
_SKIPPED = re.compile(r"Skipped (\d+) bytes")


def damage_in(lines: Iterable[str]) -> tuple[int, int]:
    """How many decoder messages in ``lines`` report skipped damage, and the bytes they say were skipped."""
    events = skipped = 0
    for line in lines:
        line = line.strip()
        if _DAMAGE.match(line):
            events += 1
            if found := _SKIPPED.search(line):
                skipped += int(found.group(1))
    return events, skipped


_STDERR_LOCK = threading.Lock()
_stderr_file = None  # one anonymous temporary file for every tap, used only under _STDERR_LOCK


class StderrTap:
    """Collects what C code (mpg123, inside libsndfile) writes to file descriptor 2 within ``with tap:``.

    mpg123 reports the damaged data it skips only on stderr. File descriptor 2 belongs to
    the whole process, so one lock lets a single tap hold it at a time (concurrent MP3
    decodes take turns block by block, a few milliseconds each), and whatever anything else
    wrote meanwhile, another thread's log line say, is passed on to the real stderr when
    the block is done: delayed, never lost. Without a usable fd 2 or temporary file the tap
    collects nothing and decoding goes on. The tap writes into one anonymous temporary file
    shared by every tap (under the lock), so a decode that fails midway leaves nothing open.

    Attributes
    ----------
    lines : list of str
        Every line written to fd 2 while the tap held it.
    """

    def __init__(self) -> None:
        self.lines: list[str] = []
        self._saved: int | None = None

    def __enter__(self) -> "StderrTap":
        global _stderr_file
        _STDERR_LOCK.acquire()
        try:
            if _stderr_file is None:
                _stderr_file = tempfile.TemporaryFile(buffering=0)  # anonymous (O_TMPFILE) on Linux
            self._saved = os.dup(2)
            os.dup2(_stderr_file.fileno(), 2)
        except OSError:
            if self._saved is not None:
                os.close(self._saved)
            self._saved = None
        return self

    def __exit__(self, *exc_info) -> None:
        try:
            if self._saved is not None:
                os.dup2(self._saved, 2)
                os.close(self._saved)
                self._saved = None
                _stderr_file.seek(0)
                data = _stderr_file.read()
                _stderr_file.seek(0)  # fd 2 shared this file's offset: the next block writes from the start again
                _stderr_file.truncate()
                if data:
                    self.lines += data.decode("utf-8", "replace").splitlines()
                    view = memoryview(data)
                    while view:
                        view = view[os.write(2, view):]
        except OSError:
            pass
        finally:
            _STDERR_LOCK.release()


__all__ = ["StderrTap", "damage_in"]
