"""An Ogg Opus file restarted at one of its pages, so that two decoders can share it (:mod:`.parallel`).

libsndfile's Opus seek decodes its way from the start of the stream to the target, so two
cores seeking into one file do more work than one reading it. A stream *restarted* at a
page needs no seek: it is the file's header pages, renumbered so that the page sequence
runs on unbroken into the chosen page and with the pre-skip set to 0 (the restart is
mid-stream), then the file's own pages from there. libopus decodes it to the samples of the
whole file from the restart on, exactly once its state has converged (about half a second
of music in the measurements); :mod:`.parallel` starts each chunk two seconds early and
checks every chunk's first block against the previous chunk bit for bit, so a stream that
does not converge is decoded serially instead.

Only the page framing is read here (RFC 3533, RFC 7845); the decoding, and every check
of the audio data, is libsndfile's and libopus's.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

_HEADER = struct.Struct("<4sBBqIIIB")  # capture, version, type, granule, serial, sequence, CRC, segments
_CONTINUED, _BOS, _EOS = 0x01, 0x02, 0x04
PREROLL_SECONDS = 2.0
"""How far before a chunk's first sample its restarted stream begins (libopus converges within about 0.6 s)."""


@lru_cache(maxsize=1)
def _crc_table() -> tuple[int, ...]:
    """Ogg's CRC-32: polynomial 0x04C11DB7, not reflected, initial value 0 (RFC 3533; not zlib's CRC-32)."""
    table = []
    for byte in range(256):
        r = byte << 24
        for _ in range(8):
            r = ((r << 1) ^ 0x04C11DB7) if r & 0x80000000 else r << 1
        table.append(r & 0xFFFFFFFF)
    return tuple(table)


def _with_crc(page: bytearray) -> bytes:
    page[22:26] = bytes(4)
    crc, table = 0, _crc_table()
    for byte in page:
        crc = ((crc << 8) & 0xFFFFFFFF) ^ table[(crc >> 24) ^ byte]
    page[22:26] = crc.to_bytes(4, "little")
    return bytes(page)


@dataclass(frozen=True)
class OpusPages:
    """Where an Ogg Opus file's pages lie, and where a decoder may restart.

    ``restarts`` are the byte offsets of the audio pages that begin a packet (after a page
    that ends one), ``restart_frames`` the decoded frame each one's first packet begins
    with (the previous page's granule position minus the pre-skip).
    """

    data: bytes
    header_pages: tuple[tuple[int, int], ...]
    preskip: int
    restarts: np.ndarray
    restart_frames: np.ndarray

    @classmethod
    def parse(cls, data: bytes) -> OpusPages | None:
        """The pages of ``data``, or None for anything but one plain Ogg Opus stream: chained or multiplexed
        streams (a second beginning, an end before the last page, another serial number), pages out of
        sequence, granule positions that go back, a damaged page, a header that is not RFC 7845's."""
        pages, pos, serial, first = [], 0, None, 0
        while pos < len(data):
            if len(data) - pos < _HEADER.size:
                return None
            capture, version, kind, granule, page_serial, sequence, _, count = _HEADER.unpack_from(data, pos)
            end = pos + _HEADER.size + count
            first = first if pages else sequence
            if (capture != b"OggS" or version != 0 or end > len(data) or sequence != first + len(pages)
                    or (serial is not None and page_serial != serial) or (pages and kind & _BOS)
                    or (pages and pages[-1][2] & _EOS)):
                return None
            lacing = data[pos + _HEADER.size:end]
            serial, size = page_serial, end - pos + sum(lacing)
            if pos + size > len(data):
                return None
            pages.append((pos, size, kind, granule, count == 0 or lacing[-1] < 255))
            pos += size
        if len(pages) < 3 or not pages[0][2] & _BOS:
            return None
        body = pages[0][0] + _HEADER.size + data[pages[0][0] + 26]
        if data[body:body + 8] != b"OpusHead" or pages[0][3] != 0:
            return None
        preskip = struct.unpack_from("<H", data, body + 10)[0]
        n_header = next((i for i, p in enumerate(pages) if i and p[3] != 0), len(pages))
        granules = [p[3] for p in pages[n_header:] if p[3] != -1]
        if any(b < a for a, b in zip(granules, granules[1:])):
            return None
        restarts = [(p[0], prev[3] - preskip) for prev, p in zip(pages[n_header:], pages[n_header + 1:])
                    if prev[4] and prev[3] >= preskip and not p[2] & _CONTINUED]
        if n_header < 2 or not restarts:
            return None
        offsets, frames = zip(*restarts)
        if any(b <= a for a, b in zip(frames, frames[1:])):
            return None
        return cls(data, tuple((p[0], p[1]) for p in pages[:n_header]), preskip, np.array(offsets),
                   np.array(frames))

    def restart(self, frame: int) -> tuple[bytes, int]:
        """A stream that starts at least :data:`PREROLL_SECONDS` (at 48 kHz) before ``frame``, and the frame
        of the whole file its first sample is; ``(data, 0)``, the file itself, when no restart is that early."""
        i = int(np.searchsorted(self.restart_frames, frame - PREROLL_SECONDS * 48000, side="right")) - 1
        if i < 0 or self.restart_frames[i] <= 0:
            return self.data, 0
        first_sequence = struct.unpack_from("<I", self.data, int(self.restarts[i]) + 18)[0] - len(self.header_pages)
        head = b""
        for n, (pos, size) in enumerate(self.header_pages):
            page = bytearray(self.data[pos:pos + size])
            page[18:22] = (first_sequence + n).to_bytes(4, "little")
            if n == 0:
                body = _HEADER.size + page[26]
                page[body + 10:body + 12] = bytes(2)  # pre-skip 0: the restart is mid-stream
            head += _with_crc(page)
        return head + self.data[int(self.restarts[i]):], int(self.restart_frames[i])


__all__ = ["PREROLL_SECONDS", "OpusPages"]
