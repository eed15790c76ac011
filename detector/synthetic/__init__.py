"""Known-answer material: music-like signals and small transposed-convolution decoders.

Used by the tests, the benchmark and ``python -m detector.evaluation``; the analysis
never imports it.
"""

from .codecs import encode
from .decoders import DecoderSpec, through_decoder
from .labelled import labelled_set
from .signals import KINDS, chords, drone, drums, harmonic_tone, material, noise, song, speech

__all__ = [
    "KINDS", "DecoderSpec", "chords", "encode", "drone", "drums", "harmonic_tone", "labelled_set", "material", "noise",
    "song", "speech", "through_decoder",
]
