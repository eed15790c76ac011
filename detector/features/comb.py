"""A training-free comb detector: evenly spaced narrow peaks in a fakeprint.

A stride-k transposed convolution at internal rate R puts lines at multiples of R/k.
Generators run at 8-48 kHz inside and are often resampled afterwards (which keeps every
line where it is in Hz), so the search does not assume the file's rate: it tries every
spacing ``R / k`` for the usual internal rates ``R`` (:data:`INTERNAL_RATES`) and every
integer ``k`` (``MIN_SPACING_HZ`` and up), and every offset (a tone at f images to
``j R / k +- f``), and keeps the comb least likely to arise by chance.

The chance is derived, not guessed. Under the null hypothesis (no decoder), the
residual's narrow peaks fall at unrelated places: with ``n`` peaks among ``B`` live
bins, an expected position of a comb catches a peak within its tolerance window of
``w`` bins with probability ``q = 1 - exp(-n w / B)``. A comb with ``h`` hits among
``m`` expected positions has the binomial tail ``p = P(Bin(m, q) >= h)``, and the
search tries ``M`` effectively independent combs, so ``false_alarm = min(1, M p)``
bounds the chance that a track without a decoder shows a comb this regular
(Bonferroni). :mod:`detector.layers.artifacts` turns ``-log10(false_alarm)`` and the
comb's consistency across segments into the layer's score.

Musical harmonics are combs too: a sustained note or a drone at f0 puts peaks at
multiples of f0, in every segment. Three things keep them out. Most notes' f0 is no
``R / k`` (A = 440 Hz tuning rarely lands on one), so the comb search drifts off their
partials within a few positions; a comb must catch peaks at ``MIN_HIT_SHARE`` of its
positions. Before the search, notes are recognised and their partials set aside
(:func:`_notes`): a note's first partials are strong, louder than its partials in the
band (they weaken with their order) and near the loudest level of the track (a
sustained note dominates), while a decoder's lines sit far below the music. A comb that
still turns out to be such a series (offset 0) is flagged ``harmonic`` and carries no
evidence.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

from .fakeprint import Fakeprint, Residual

# scipy's PeakPropertyWarning "some peaks have a prominence (width) of 0": a z-peak on a flat excess, which counts
# as narrow (width 0), as it should. Filtered for the whole process (by its words: scipy.signal is imported only
# when a comb is searched), as ``warnings.catch_warnings`` is not thread-safe and the stability check analyses two
# copies at a time.
warnings.filterwarnings("ignore", message="some peaks have a (prominence|width) of 0", category=RuntimeWarning)

PEAK_Z = 4.0
"""A bin is a peak when it is a local maximum this many robust spreads above the floor."""
PEAK_DB = 6.0
"""... or this many dB above it (where lines crowd the band, the spread itself is inflated)."""
PEAK_MAX_WIDTH = 4.0
"""... and at most this many bins wide at half its height (musical partials are wider)."""
TOLERANCE_BINS = 1.5
"""An expected position catches a peak within this many bins on either side."""
MIN_SPACING_HZ = 150.0
CUTOFF_HZ = 500.0
"""The band ends where less than half of this width below is live."""
INTERNAL_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)
"""Rates a decoder may run at inside a generator; its layers' spacings are these over an integer."""
MIN_POSITIONS = 4
"""A comb needs at least this many expected positions in the live band."""
MIN_HIT_SHARE = 0.4
"""... and peaks at this share of them at least: a few coincidences among many positions are no comb."""
HARMONIC_DB = 10.0
"""A comb whose positions below the fakeprint's band stand this far above the spectrum's
floor is a sustained note's harmonic series."""
HARMONIC_MARGIN_DB = 8.0
DOMINANT_DB = 10.0
PARTIAL_SPREAD = 25.0
"""A note's n-th partial is looked for within ``tolerance * (1 + n / PARTIAL_SPREAD)``."""
MAX_EVIDENCE = 30.0
CANDIDATE_CHANCE = 0.1
"""A comb more likely than this to arise by chance is not worth naming or drawing."""
"""``-log10(false_alarm)`` is capped here (the bound is meaningless far below 1e-30)."""


@dataclass(frozen=True)
class Comb:
    """The most regular comb found in a fakeprint, and how it holds up.

    Attributes
    ----------
    spacing_hz, offset_hz : float
        The comb's positions are ``offset_hz + j * spacing_hz`` inside the live band.
    positions_hz : tuple of float
        The expected positions in the live band.
    hits : tuple of bool
        Whether each expected position carries a peak.
    prominence_db : float
        The median height of the hit peaks above the floor, in dB.
    false_alarm : float
        Upper bound of the chance that a track without a decoder shows a comb this
        regular (see the module's docstring).
    segment_hits : tuple of float or None
        For each segment, the share of the comb's hit positions that the segment's own
        spectrum carries (``None`` where the segment is too short).
    harmonic : bool
        The comb is the harmonic series of a recognised note (spacing its f0, offset 0): music,
        so it carries no evidence.
    peaks : int
        The number of narrow peaks in the live band.
    band_hz : tuple of float
        The live band searched.
    notes : tuple of float
        Fundamentals of sustained notes whose harmonics were set aside before the search.
    explained : int
        How many of the peaks those notes explain.
    """

    spacing_hz: float
    offset_hz: float
    positions_hz: tuple[float, ...]
    hits: tuple[bool, ...]
    prominence_db: float
    false_alarm: float
    segment_hits: tuple[float | None, ...]
    harmonic: bool
    peaks: int
    band_hz: tuple[float, float]
    notes: tuple[float, ...] = ()
    explained: int = 0

    @property
    def evidence(self) -> float:
        """``-log10(false_alarm)``, from 0 (nothing unusual) to ``MAX_EVIDENCE``."""
        return min(MAX_EVIDENCE, -math.log10(max(self.false_alarm, 10.0 ** -MAX_EVIDENCE)))

    @property
    def is_candidate(self) -> bool:
        """Whether the comb is regular enough to name and draw (chance below ``CANDIDATE_CHANCE``)."""
        return bool(self.hits) and self.false_alarm < CANDIDATE_CHANCE

    @property
    def hit_count(self) -> int:
        return int(sum(self.hits))

    @property
    def consistency(self) -> float:
        """The share of segments that carry at least half of the comb's hits."""
        carried = [s for s in self.segment_hits if s is not None]
        return float(np.mean([s >= 0.5 for s in carried])) if carried else 0.0

    def features(self) -> dict[str, float]:
        """The numbers the artifact layer scores (harmonic combs carry no evidence)."""
        return {
            "comb_evidence": 0.0 if self.harmonic else self.evidence,
            "comb_consistency": self.consistency,
            "comb_spacing_hz": self.spacing_hz,
            "comb_hits": float(self.hit_count),
            "comb_positions": float(len(self.hits)),
            "comb_prominence_db": self.prominence_db,
        }

    def describe(self) -> str:
        """The finding in words, for example "peaks every 1,378 Hz at 11 of 11 expected positions"."""
        band = f"{self.band_hz[0] / 1000:.1f}-{self.band_hz[1] / 1000:.1f} kHz"
        notes = ""
        if self.notes:
            notes = (f"; {self.explained} of the {self.peaks} narrow peaks are harmonics of sustained notes at "
                     f"{', '.join(f'{f:,.0f}' for f in self.notes)} Hz and were set aside")
        if not self.is_candidate:
            return f"no regular comb among the {self.peaks - self.explained} unexplained narrow peaks in {band}{notes}"
        carried = [s for s in self.segment_hits if s is not None]
        n_carry = sum(s >= 0.5 for s in carried)
        where = f"peaks every {self.spacing_hz:,.0f} Hz"
        if min(self.offset_hz, self.spacing_hz - self.offset_hz) > 0.02 * self.spacing_hz:
            where += f" (offset {self.offset_hz:,.0f} Hz)"
        text = (f"{where} at {self.hit_count} of {len(self.hits)} expected positions in {band}, "
                f"{self.prominence_db:.1f} dB "
                f"above the floor, in {n_carry} of {len(carried)} segments; chance of a comb this regular "
                f"without a decoder: {_chance(self.false_alarm)}")
        text += notes
        if self.harmonic:
            text += ". The comb lies on a sustained note's harmonic series, so it reads as music, not as a decoder"
        return text


def _chance(p: float) -> str:
    if p >= 0.01:
        return f"{p:.0%}" if p < 0.995 else "certain"
    return f"below 1 in {10 ** math.floor(-math.log10(max(p, 1e-30))):,}"


def narrow_peaks(residual: Residual) -> np.ndarray:
    """Indices of live peaks ``PEAK_Z`` spreads or ``PEAK_DB`` above the floor and at most
    ``PEAK_MAX_WIDTH`` bins wide where their excess power falls to half (their -3 dB width)."""
    from scipy.signal import find_peaks, peak_widths

    z = np.where(residual.live, residual.z, 0.0)
    idx, _ = find_peaks(z)
    idx = idx[(z[idx] >= PEAK_Z) | (residual.residual_db[idx] >= PEAK_DB)]
    if idx.size == 0:
        return idx
    excess = np.maximum(10.0 ** (residual.residual_db.astype(np.float64) / 10.0) - 1.0, 0.0)
    widths = peak_widths(excess, idx, rel_height=0.5)[0]  # a z-peak on a flat excess has width 0 (see above)
    return idx[widths <= PEAK_MAX_WIDTH]


def _live_band(fp: Fakeprint) -> tuple[int, int] | None:
    """First and last bin of the band to search: from the first live bin up to the last point
    where at least half of the ``CUTOFF_HZ`` below is live (a codec's or resampler's cut-off)."""
    live = fp.whole.live
    if not live.any():
        return None
    width = max(3, int(CUTOFF_HZ / fp.bin_hz))
    share = np.convolve(live.astype(np.float64), np.ones(width) / width, mode="full")[: live.size]
    ends = np.flatnonzero(share >= 0.5)
    first = int(np.argmax(live))
    if ends.size == 0 or ends[-1] <= first:
        return None
    return first, int(ends[-1])


MAX_PEAKS = 96
MAX_NOTES = 4
"""At most this many sustained notes are recognised and set aside."""
"""The search uses the tallest peaks, at most this many (the null's density counts the same peaks)."""


def spacings_for(lo: float, hi: float) -> np.ndarray:
    """Candidate spacings: ``R / k`` for every internal rate ``R`` and integer ``k``, from
    ``MIN_SPACING_HZ`` up to a ``MIN_POSITIONS``-th of the band ``[lo, hi]``, without duplicates."""
    top = (hi - lo) / (MIN_POSITIONS - 1)
    out = [rate / k for rate in INTERNAL_RATES for k in range(2, int(rate // MIN_SPACING_HZ) + 1) if rate / k <= top]
    return np.unique(np.round(np.asarray(out, dtype=np.float64), 6))


def _search(peak_hz: np.ndarray, lo: float, hi: float, tol_hz: float, n_live: int, bin_hz: float):
    """Best ``(p, spacing, offset)`` over spacings and offsets, and the search's number of trials."""
    from scipy.stats import binom  # here, not at import: scipy.stats alone takes most of a second to import

    spacings = spacings_for(lo, hi)
    if spacings.size == 0 or peak_hz.size < MIN_POSITIONS:
        return None, 1.0
    window_bins = 2 * tol_hz / bin_hz
    q = 1.0 - math.exp(-peak_hz.size * window_bins / n_live)
    trials = float(np.sum(spacings / (2 * tol_hz)))  # every spacing, times its offsets (spacing / window)
    n = peak_hz.size
    phase = np.sort(np.mod(peak_hz[None, :], spacings[:, None]), axis=1)  # (spacings, peaks)
    wrapped = np.concatenate([phase, phase + spacings[:, None]], axis=1)
    # Hits of the offset window that starts at each peak's phase: peaks within [phase, phase + 2 tol], circularly.
    row = np.arange(spacings.size)[:, None] * (4.0 * spacings.max() + 1.0)
    flat = (wrapped + row).ravel()
    ends = np.searchsorted(flat, (phase + 2 * tol_hz + row).ravel(), side="right")
    starts = (np.arange(spacings.size)[:, None] * 2 * n + np.arange(n)[None, :]).ravel()
    hits = np.minimum(ends - starts, n).reshape(phase.shape)
    j = np.argmax(hits, axis=1)
    rows = np.arange(spacings.size)
    h = hits[rows, j]
    offset = np.mod(phase[rows, j] + tol_hz, spacings)  # the window's centre
    m = np.floor((hi - offset) / spacings) - np.ceil((lo - offset) / spacings) + 1
    m = np.maximum(m, h)
    p = np.where((m >= MIN_POSITIONS) & (h >= MIN_HIT_SHARE * m), binom.sf(h - 1, m, q), 1.0)
    k = int(np.argmin(p))
    return (float(p[k]), float(spacings[k]), float(offset[k])), trials


def _hits(peak_hz: np.ndarray, positions: np.ndarray, tol_hz: float) -> np.ndarray:
    """For each expected position, whether a peak of ``peak_hz`` lies within tolerance."""
    if peak_hz.size == 0:
        return np.zeros(positions.size, bool)
    return np.min(np.abs(positions[:, None] - peak_hz[None, :]), axis=1) <= tol_hz


def _is_note(fp: Fakeprint, f0: float, band_levels: np.ndarray, tol_hz: float) -> bool:
    """Whether a harmonic series on ``f0`` is a sustained note rather than a decoder's lines.

    At least two of its first three partials must stand ``HARMONIC_DB`` over the floor and
    ``HARMONIC_MARGIN_DB`` louder than the median of its partials in the band (a note's
    partials weaken with their order), and the loudest of them must be within
    ``DOMINANT_DB`` of the loudest level of the whole spectrum (a sustained note dominates
    what it sounds in; a decoder's lines sit far below the music).
    """
    first = [k * f0 for k in (1, 2, 3) if k * f0 < fp.freqs[-1]]
    if not first or band_levels.size == 0:
        return False
    height = np.array([_height(fp, f, tol_hz) for f in first])
    level = np.array([_height(fp, f, tol_hz, level=True) for f in first])
    loudest = float(np.max(fp.whole.spectrum_db[fp.freqs >= 40.0]))
    strong = (height >= HARMONIC_DB) & (level >= float(np.median(band_levels)) + HARMONIC_MARGIN_DB)
    return int(strong.sum()) >= min(2, len(first)) and float(level.max()) >= loudest - DOMINANT_DB


def peak_frequencies(fp: Fakeprint, idx: np.ndarray) -> np.ndarray:
    """The frequencies of the peaks at bins ``idx``, to a fraction of a bin: the vertex of the
    parabola through each peak's dB value and its two neighbours."""
    db = fp.whole.spectrum_db.astype(np.float64)
    k = np.clip(np.asarray(idx), 1, db.size - 2)
    a, b, c = db[k - 1], db[k], db[k + 1]
    denom = a - 2 * b + c
    shift = np.where(denom < 0, 0.5 * (a - c) / np.where(denom < 0, denom, -1.0), 0.0)
    return (k + np.clip(shift, -0.5, 0.5)) * fp.bin_hz


def _tallest_peaks(fp: Fakeprint) -> np.ndarray:
    """Frequencies of the tallest peaks of the spectrum (candidates for notes' first partials)."""
    from scipy.signal import find_peaks

    idx, _ = find_peaks(fp.whole.residual_db, height=HARMONIC_DB)
    idx = idx[fp.freqs[idx] >= 40.0]
    return peak_frequencies(fp, idx[np.argsort(-fp.whole.spectrum_db[idx])[:MAX_NOTES * 2]])


def _height(fp: Fakeprint, f: float, tol: float, level: bool = False) -> float:
    """The tallest residual (dB over the floor), or with ``level`` the loudest level (dB), within ``tol`` Hz of ``f``."""
    values = fp.whole.spectrum_db if level else fp.whole.residual_db
    return float(values[np.abs(fp.freqs - f) <= tol].max(initial=-np.inf))


def _note_partials(f0: float, low_hz: np.ndarray, peak_hz: np.ndarray, tol_hz: float) -> tuple[float, np.ndarray]:
    """Refine ``f0`` on the peaks near its multiples, reaching higher partials as the estimate
    sharpens; return it and which of the band's peaks ``peak_hz`` it explains."""
    every = np.concatenate([low_hz, peak_hz])
    for reach in (4, 8, 16, 32, 64, 128):
        n = np.round(every / f0)
        near = (n >= 1) & (n <= reach) & (np.abs(every - n * f0) <= tol_hz)
        if near.sum() >= 2:
            f0 = float(np.sum(every[near] * n[near]) / np.sum(n[near] ** 2))
    n = np.round(peak_hz / f0)
    # f0 is known to a fraction of a bin, so its n-th partial to n times that: widen the reach with n
    return f0, (n >= 1) & (np.abs(peak_hz - n * f0) <= tol_hz * (1.0 + n / PARTIAL_SPREAD))


def _notes(fp: Fakeprint, peak_hz: np.ndarray, tol_hz: float) -> tuple[tuple[float, ...], np.ndarray]:
    """Sustained notes whose harmonic series explain peaks of the band, and which peaks they explain.

    A candidate fundamental comes from one of the spectrum's loudest peaks (itself, or a
    half or a third of it); :func:`_is_note` decides.
    """
    explained = np.zeros(peak_hz.size, bool)
    notes: list[float] = []
    low_hz = _tallest_peaks(fp)
    for f in low_hz:
        for m in (1, 2, 3):
            f0 = f / m
            if f0 < 40.0 or any(abs(f0 / g - round(f0 / g)) * g < tol_hz for g in notes):
                continue  # already explained as a partial of a note found before
            f0, mask = _note_partials(f0, low_hz, peak_hz, tol_hz)
            if mask.sum() < 2:
                continue
            band_levels = np.array([_height(fp, h, tol_hz, level=True) for h in peak_hz[mask]])
            if _is_note(fp, f0, band_levels, tol_hz):
                notes.append(f0)
                explained |= mask
                break
        if len(notes) >= MAX_NOTES:
            break
    return tuple(notes), explained


def _thin(fp: Fakeprint, peak_hz: np.ndarray, gap: float) -> np.ndarray:
    """``peak_hz`` (sorted) without peaks within ``gap`` Hz of a taller one, so one position counts one hit."""
    if peak_hz.size < 2:
        return peak_hz
    height = np.array([_height(fp, f, fp.bin_hz) for f in peak_hz])
    keep = np.ones(peak_hz.size, bool)
    for i in np.argsort(-height):
        if keep[i]:
            close = np.abs(peak_hz - peak_hz[i]) < gap
            close[i] = False
            keep &= ~close
    return peak_hz[keep]


def find_comb(fp: Fakeprint) -> Comb | None:
    """The most regular comb of narrow peaks in ``fp``, or ``None`` when there is no band to search.

    Peaks that sustained notes' harmonic series explain (:func:`_notes`) are set aside
    first; the decoder search runs on the rest.
    """
    band = _live_band(fp)
    if band is None:
        return None
    a, b = band
    lo, hi = float(fp.freqs[a]), float(fp.freqs[b])
    tol_hz = TOLERANCE_BINS * fp.bin_hz
    idx = narrow_peaks(fp.whole)
    idx = idx[(idx >= a) & (idx <= b)]
    idx = idx[np.argsort(-fp.whole.z[idx])[:MAX_PEAKS]]
    peak_hz = np.sort(peak_frequencies(fp, idx))
    notes, explained = _notes(fp, peak_hz, tol_hz)
    searched = _thin(fp, peak_hz[~explained], 2 * tol_hz)
    found, trials = _search(searched, lo, hi, tol_hz, b - a + 1, fp.bin_hz)
    segments_none = tuple(None for _ in fp.segments)
    if found is None:  # too few peaks, or too narrow a band, for any comb
        return Comb(0.0, 0.0, (), (), 0.0, 1.0, segments_none, False, int(peak_hz.size), (lo, hi), notes,
                    int(explained.sum()))
    p, spacing, offset = found
    start = offset + math.ceil((lo - offset) / spacing) * spacing
    positions = np.arange(start, hi + tol_hz, spacing)
    positions = positions[positions <= hi]
    hits = _hits(searched, positions, tol_hz)
    hit_positions = positions[hits]
    prominence = float(np.median([_height(fp, f, tol_hz) for f in hit_positions])) if hits.any() else 0.0
    segment_hits = tuple(
        None if seg is None or not hit_positions.size
        else float(_hits(fp.freqs[narrow_peaks(seg)], hit_positions, tol_hz + fp.bin_hz / 2).mean())
        for seg in fp.segments
    )
    return Comb(
        spacing_hz=spacing,
        offset_hz=offset,
        positions_hz=tuple(float(f) for f in positions),
        hits=tuple(bool(h) for h in hits),
        prominence_db=prominence,
        false_alarm=min(1.0, p * trials),
        segment_hits=segment_hits,
        harmonic=min(offset, spacing - offset) < tol_hz and any(abs(spacing - f0) < tol_hz for f0 in notes),
        peaks=int(peak_hz.size),
        band_hz=(lo, hi),
        notes=notes,
        explained=int(explained.sum()),
    )


__all__ = ["Comb", "find_comb", "narrow_peaks"]
