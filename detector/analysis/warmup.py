"""A warm-up analysis, for a server to run in the background before its first real one.

The first analysis in a process pays about a second on top of its own work (on 2 cores):
it imports scipy's statistics and signal modules (imported where used, so that the
dashboard's first page does not wait for them) and librosa compiles its numba kernels.
The dashboard runs :func:`warm_up` once per server, after drawing its first page.
"""

from __future__ import annotations

import io

import numpy as np
import soundfile as sf

from .extraction import extract
from .scoring import score

WARM_UP_SECONDS = 2.0
WARM_UP_RATE = 44100


def warm_up() -> None:
    """Analyse two seconds of generated stereo noise (a WAV in memory) and discard the report."""
    noise = np.random.default_rng(0).standard_normal((int(WARM_UP_SECONDS * WARM_UP_RATE), 2)) * 0.1
    wav = io.BytesIO()
    sf.write(wav, noise.astype(np.float32), WARM_UP_RATE, format="WAV", subtype="FLOAT")
    score(extract(wav.getvalue(), name="warm-up"))


__all__ = ["WARM_UP_SECONDS", "warm_up"]
