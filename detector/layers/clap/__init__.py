"""The LAION-CLAP audio layer: find or download a checkpoint, load it, embed whole tracks.

Modules, in the order a checkpoint travels through them:

``checkpoint``  where checkpoints are found, and reading their audio tensors safely
``download``    fetching the music checkpoint, resumable
``install``     taking a checkpoint file that was handed over (an upload), checked before it is kept
``laion``       laion-clap's own model code imported offline, architecture from the weights
``windows``     deterministic 10 s windows at 48 kHz, as laion-clap prepares them
``htsat``       the fast HTSAT inference pass over laion-clap's modules
``precision``   the linear layers' precision (fp32, int8, bf16) and how reports record it
``encoder``     :class:`ClapEncoder`: a loaded, verified encoder that embeds tracks
``registry``    one encoder per checkpoint per process; why the layer is off

Importing this package is cheap: torch and laion-clap are imported when a checkpoint
is loaded, not before.
"""

from .checkpoint import (
    ENDPOINT_ENV, ENV_VAR, MUSIC_CHECKPOINT, MUSIC_CHECKPOINT_URL, checkpoint_dir, checkpoint_url, find_checkpoint,
    how_to_enable, read_audio_state,
)
from .download import download_checkpoint
from .encoder import DEFAULT_BATCH_SIZE, ClapEncoder, default_threads, library_versions, load_encoder
from .errors import CheckpointError, CheckpointNotFound, ClapUnavailable, DownloadError
from .install import MAX_CHECKPOINT_MIB, checkpoint_name, install_checkpoint, installed_note
from .laion import infer_architecture, write_random_checkpoint
from .precision import (
    DEFAULT_PRECISION, PRECISION_LABELS, PRECISIONS, check_precision, precision_warnings, recorded_precision,
)
from .registry import availability, get_encoder, preload, skipped_layer
from .windows import (
    EMBED_DIM, SAMPLE_RATE, WINDOW_SAMPLES, WINDOW_SECONDS, ClapEmbedding, aggregate, quantize, repeat_pad,
    window_bounds, windows,
)

__all__ = [
    "DEFAULT_BATCH_SIZE", "DEFAULT_PRECISION", "EMBED_DIM", "ENDPOINT_ENV", "ENV_VAR", "MAX_CHECKPOINT_MIB", "MUSIC_CHECKPOINT",
    "MUSIC_CHECKPOINT_URL", "PRECISIONS", "PRECISION_LABELS", "SAMPLE_RATE", "WINDOW_SAMPLES", "WINDOW_SECONDS", "CheckpointError", "CheckpointNotFound",
    "ClapEmbedding", "ClapEncoder", "ClapUnavailable", "DownloadError", "aggregate", "availability", "check_precision",
    "checkpoint_dir",
    "checkpoint_name", "checkpoint_url", "default_threads", "download_checkpoint", "find_checkpoint", "get_encoder", "preload",
    "how_to_enable", "infer_architecture", "install_checkpoint", "installed_note", "library_versions", "load_encoder",
    "precision_warnings", "quantize", "read_audio_state", "recorded_precision", "repeat_pad", "skipped_layer", "window_bounds", "windows",
    "write_random_checkpoint",
]
