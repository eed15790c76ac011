"""A small labelled set of encoded tracks: music-like material, and the same kinds through a decoder.

For checks that need a classifier's decisions (e.g. whether reduced-precision CLAP
embeddings change them): "human" tracks are :func:`material` of every kind; "AI"
tracks are other seeds of the same kinds passed through a transposed-convolution
decoder and mixed back with the original at a random share, so that the two classes
overlap and some decisions are close.
"""

from __future__ import annotations

import numpy as np

from .codecs import encode
from .decoders import DecoderSpec, through_decoder
from .signals import KINDS, material

DECODER = DecoderSpec(strides=(4, 4), rate=16000, seed=0)


def labelled_set(per_kind: int, seconds: float = 10.0, sr: int = 44100, *, codec: str = "MP3", kbps: int = 128,
                 seed: int = 0) -> tuple[list[bytes], np.ndarray]:
    """``per_kind`` human and ``per_kind`` AI tracks of every kind in :data:`KINDS`, encoded as ``codec``.

    Returns
    -------
    tracks : list of bytes
        The encoded files, human and AI interleaved.
    labels : np.ndarray [shape=(len(tracks),)]
        0 human, 1 AI.
    """
    rng = np.random.default_rng(seed)
    tracks, labels = [], []
    for kind in KINDS:
        for i in range(per_kind):
            s = seed + 2 * i
            tracks.append(encode(material(kind, seconds, sr, seed=s), sr, codec, kbps=kbps))
            labels.append(0)
            original = material(kind, seconds, sr, seed=s + 1)
            decoded = through_decoder(original, sr, DECODER)
            decoded = np.pad(decoded, (0, max(0, original.size - decoded.size)))[:original.size]
            share = rng.uniform(0.25, 0.75)
            mix = share * decoded / (np.abs(decoded).max() + 1e-9) + (1 - share) * original / np.abs(original).max()
            tracks.append(encode((0.5 * mix / np.abs(mix).max()).astype(np.float32), sr, codec, kbps=kbps))
            labels.append(1)
    return tracks, np.array(labels)


__all__ = ["DECODER", "labelled_set"]
