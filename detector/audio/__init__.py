"""Bytes to audio: decoding with validation and limits, and the accepted formats.

:func:`decode` turns a path, bytes or a file object into mono float32 samples at any
rate, or raises :class:`AudioError` with a message for the user.
"""

from .decode import (
    DEFAULT_MAX_DURATION, DEFAULT_MIN_DURATION, Audio, AudioError, AudioSource, decode, decode_rates, sha256_of,
)
from .formats import AUDIO_EXTENSIONS, SUPPORTED_FORMATS, UPLOAD_TYPES, is_audio_file, iter_audio_files

__all__ = [
    "AUDIO_EXTENSIONS", "DEFAULT_MAX_DURATION", "DEFAULT_MIN_DURATION", "SUPPORTED_FORMATS", "UPLOAD_TYPES", "Audio",
    "AudioError", "AudioSource", "decode", "decode_rates", "is_audio_file", "iter_audio_files", "sha256_of",
]
